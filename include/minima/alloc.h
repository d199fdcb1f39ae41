/* minima/alloc.h — the library's allocator.
 *
 * All library allocations go through these functions so that tests can
 * make the n-th allocation fail and prove that every out-of-memory path
 * returns MINIMA_ENOMEM and leaks nothing. Counts are checked for
 * overflow: minima_alloc(count, size) fails cleanly if count*size
 * overflows. */
#ifndef MINIMA_ALLOC_H
#define MINIMA_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* count*size bytes, uninitialised; NULL on failure or overflow (and for a
 * zero size, a valid unique pointer). */
void *minima_alloc(size_t count, size_t size);
/* count*size bytes, zeroed. */
void *minima_calloc(size_t count, size_t size);
/* Resize; on failure returns NULL and leaves p untouched. */
void *minima_realloc(void *p, size_t count, size_t size);
void minima_free(void *p);
/* strdup through the allocator. */
char *minima_strdup(const char *s);

/* Test hook: the next `n` allocations succeed, every one after fails
 * (n < 0 disables failure injection, the default). */
void minima_alloc_fail_after(long n);

#ifdef __cplusplus
}
#endif
#endif
