/* fuzz_landscape_csv.c — minima_landscape_read_csv (the slices that
 * `minima landscape --csv` writes) on arbitrary bytes.
 *
 * The input is the file. It is read without a series column, and as
 * series "a" and "b" of a long-format file. A slice that reads must have
 * a consistent grid; written back and read again it must be the same. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "minima/landscape.h"

/* Equal values, any NaN equal to any NaN (the file writes "nan"). */
static void same(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])));
}

static void read_one(const char *path, const char *name)
{
    minima_landscape ls;
    memset(&ls, 0xA5, sizeof ls);
    minima_status s = minima_landscape_read_csv(path, name, &ls);
    FUZZ_CHECK_FAILURE(s);
    if (s != MINIMA_OK) {
        minima_landscape_free(&ls);
        return;
    }
    FUZZ_CHECK(ls.dims == 1 || ls.dims == 2);
    FUZZ_CHECK(ls.nx >= 1 && ls.ny >= 1);
    FUZZ_CHECK(ls.dims == 2 || (ls.ny == 1 && ls.y == NULL));
    size_t n = ls.nx * ls.ny;
    fuzz_touch(ls.x, ls.nx);
    if (ls.y) fuzz_touch(ls.y, ls.ny);
    fuzz_touch(ls.loss, n);
    fuzz_touch(ls.accuracy, n);

    const char *copy = fuzz_path(1, ".csv");
    const minima_landscape *one[1] = {&ls};
    const char *names[1] = {name};
    minima_status ws = minima_landscape_write_csv(copy, one, name ? names : NULL, 1);
    FUZZ_CHECK_FAILURE(ws);
    if (ws == MINIMA_OK) {
        minima_landscape r;
        FUZZ_CHECK(minima_landscape_read_csv(copy, name, &r) == MINIMA_OK);
        FUZZ_CHECK(r.dims == ls.dims && r.nx == ls.nx && r.ny == ls.ny);
        same(r.x, ls.x, ls.nx);
        if (ls.y) same(r.y, ls.y, ls.ny);
        same(r.loss, ls.loss, n);
        same(r.accuracy, ls.accuracy, n);
        minima_landscape_free(&r);
    }
    minima_landscape_free(&ls);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, ".csv", data, size);
    read_one(path, NULL);
    read_one(path, "a");
    read_one(path, "b");
    minima_clear_error();
    return 0;
}
