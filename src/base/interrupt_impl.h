/* base/interrupt_impl.h — how the ranks of a distributed run agree on an
 * interrupt (status.c keeps the flags, dist.c agrees on them). */
#ifndef MINIMA_BASE_INTERRUPT_IMPL_H
#define MINIMA_BASE_INTERRUPT_IMPL_H

/* From now on minima_interrupted() reports the agreed flag, not this
 * process's own request. */
void minima_interrupt_set_shared(int shared);
/* Some rank asked to stop, and every rank now knows it. */
void minima_interrupt_set_agreed(void);

#endif
