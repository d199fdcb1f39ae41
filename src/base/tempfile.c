/* tempfile.c — registered temporary files (see minima/tempfile.h).
 *
 * A fixed array of atomic pointers: registering claims an empty slot with a
 * compare-and-swap, the handler takes each name with an exchange, so a name
 * is unlinked at most once and no lock is ever held (a handler that
 * interrupts a registration cannot deadlock). */
#include "minima/tempfile.h"

#include <stdio.h>

#include "minima/dist.h"

#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>

/* Lock-free pointers are what makes the handler's side async-signal-safe. */
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "minima_tempfile needs lock-free atomic pointers");

static _Atomic(const char *) slots[MINIMA_TEMPFILE_SLOTS];

int minima_tempfile_register(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < MINIMA_TEMPFILE_SLOTS; i++) {
        const char *empty = NULL;
        if (atomic_compare_exchange_strong(&slots[i], &empty, name)) return i;
    }
    return -1;
}

void minima_tempfile_unregister(int slot)
{
    if (slot < 0 || slot >= MINIMA_TEMPFILE_SLOTS) return;
    atomic_store(&slots[slot], (const char *)NULL);
}

void minima_tempfile_remove_all(void)
{
    for (int i = 0; i < MINIMA_TEMPFILE_SLOTS; i++) {
        const char *name = atomic_exchange(&slots[i], (const char *)NULL);
        if (name) unlink(name);
    }
}

int minima_tempfile_commit(const char *tmp, const char *path)
{
    if (!minima_dist_writer()) {
        unlink(tmp);
        return 0;
    }
    return rename(tmp, path);
}
