/* alloc.c — allocation with overflow checks and failure injection. */
#include "minima/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static long fail_countdown = -1;

static int should_fail(void)
{
    if (fail_countdown < 0) return 0;
    if (fail_countdown == 0) return 1;
    fail_countdown--;
    return 0;
}

void minima_alloc_fail_after(long n) { fail_countdown = n; }

void *minima_alloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    if (should_fail()) return NULL;
    size_t bytes = count * size;
    return malloc(bytes ? bytes : 1);
}

void *minima_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    if (should_fail()) return NULL;
    if (count == 0 || size == 0) return calloc(1, 1);
    return calloc(count, size);
}

void *minima_realloc(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    if (should_fail()) return NULL;
    size_t bytes = count * size;
    return realloc(p, bytes ? bytes : 1);
}

void minima_free(void *p) { free(p); }

char *minima_strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = minima_alloc(n, 1);
    if (d) memcpy(d, s, n);
    return d;
}
