/* engine/parallel.h — the engine's own threads for its element-wise passes
 * (docs/threads.md). Not part of the public API.
 *
 * The GEMMs are threaded by OpenBLAS; what lies between them (activation
 * masks, bias rows and sums, the output signal, conversions to float32)
 * would otherwise run on one core while the others wait. minima_par_for
 * splits such a pass into contiguous parts, one per thread, runs the first
 * on the calling thread and the others on a small pool of workers, and
 * returns when all are done.
 *
 * How many threads: openblas_get_num_threads() at the time of the call,
 * that is OPENBLAS_NUM_THREADS, or one per core without it, or what
 * openblas_set_num_threads set last. With 1 no thread is started and the
 * function is called once on the whole range. The workers are started on
 * the first pass that uses them, sleep on a condition variable between
 * passes (they never spin, so they do not take cycles from OpenBLAS's
 * threads), and are joined when the last network is freed
 * (minima_par_release) or at exit.
 *
 * Reproducibility: callers give every index a computation that does not
 * depend on which part it falls in (element-wise work, a sum over rows for
 * each column kept in row order), so the results are the same bit for bit
 * with any number of threads. A pass that finds the pool busy (another
 * thread of the program is using it) runs on its caller alone: same result. */
#ifndef MINIMA_ENGINE_PARALLEL_H
#define MINIMA_ENGINE_PARALLEL_H

#include <stddef.h>

/* Work on indices [begin, end) of a pass. */
typedef void (*minima_par_fn)(void *ctx, size_t begin, size_t end);

/* The most threads the pool runs. */
#define MINIMA_PAR_MAX 64

/* Threads a pass would use now: OpenBLAS's thread count (or the one set by
 * minima_par_configure), 1..MINIMA_PAR_MAX. */
int minima_par_threads(void);

/* fn over [0, n) in up to minima_par_threads() contiguous parts. `cost` is
 * the number of values one index touches: parts get at least
 * MINIMA_PAR_GRAIN values each, so small passes stay on one thread. Part
 * boundaries are multiples of `align` indices (0 or 1: any). */
void minima_par_for(size_t n, size_t cost, size_t align, minima_par_fn fn, void *ctx);
#define MINIMA_PAR_GRAIN ((size_t)32768)

/* A network exists (minima_net_create) / was freed: the workers are joined
 * when the count returns to zero. */
void minima_par_retain(void);
void minima_par_release(void);

/* For tests: workers started now; and a thread count (0: OpenBLAS's) and
 * a grain (0: MINIMA_PAR_GRAIN) to use instead of the defaults. */
int minima_par_workers(void);
void minima_par_configure(int threads, size_t grain);

#endif
