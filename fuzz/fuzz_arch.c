/* fuzz_arch.c — the --arch grammar (minima_parse_arch, "784-128-10") on
 * arbitrary strings.
 *
 * The input, cut at its first NUL byte, is the string. A string that
 * parses must give at least one layer and widths >= 1, and must read the
 * same once printed back in the canonical form. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "minima/alloc.h"
#include "minima/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    int *w = NULL, n = -1;
    minima_status st = minima_parse_arch(s, &w, &n);
    FUZZ_CHECK_FAILURE(st);
    if (st == MINIMA_OK) {
        FUZZ_CHECK(w != NULL && n >= 1);
        for (int i = 0; i <= n; i++) FUZZ_CHECK(w[i] >= 1);
        /* Canonical form: widths joined by '-'. */
        size_t cap = (size_t)(n + 1) * 12 + 1, len = 0;
        char *c = malloc(cap);
        if (!c) abort();
        for (int i = 0; i <= n; i++)
            len += (size_t)snprintf(c + len, cap - len, i ? "-%d" : "%d", w[i]);
        int *w2 = NULL, n2 = -1;
        FUZZ_CHECK(minima_parse_arch(c, &w2, &n2) == MINIMA_OK);
        FUZZ_CHECK(n2 == n && memcmp(w2, w, (size_t)(n + 1) * sizeof *w) == 0);
        minima_free(w2);
        free(c);
    }
    minima_free(w);
    free(s);
    minima_clear_error();
    return 0;
}
