/* fuzz_npy.c — minima_npy_read on arbitrary bytes.
 *
 * The input is the whole .npy file. It is read in full and then keeping
 * only the first row; a successful read must describe its array
 * consistently. A file that reads in full must also read with one row,
 * and give the same first row (the converse need not hold: values past
 * the rows kept are not converted, so not checked). */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "minima/npy.h"

static minima_status read_checked(const char *path, size_t max_rows, minima_npy_array *a)
{
    minima_status s = minima_npy_read(path, max_rows, a);
    FUZZ_CHECK_FAILURE(s);
    if (s != MINIMA_OK) {
        FUZZ_CHECK(a->data == NULL);
        return s;
    }
    FUZZ_CHECK(a->version >= 1 && a->version <= 3);
    FUZZ_CHECK(a->ndim >= 0 && a->ndim <= MINIMA_NPY_MAX_DIMS);
    FUZZ_CHECK(a->itemsize == 1 || a->itemsize == 2 || a->itemsize == 4 || a->itemsize == 8);
    FUZZ_CHECK(strchr("fiub", a->kind) != NULL);
    if (a->ndim == 0) {
        FUZZ_CHECK(a->n_rows == 1 && a->row_size == 1);
    } else {
        size_t row = 1;
        for (int i = 1; i < a->ndim; i++) row *= a->shape[i];
        FUZZ_CHECK(a->row_size == (a->ndim <= 1 ? 1 : row));
        FUZZ_CHECK(a->n_rows <= a->shape[0]);
        if (max_rows) FUZZ_CHECK(a->n_rows <= max_rows);
    }
    fuzz_touch(a->data, a->n_rows * a->row_size);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, ".npy", data, size);
    minima_npy_array all, one;
    minima_status s = read_checked(path, 0, &all);
    minima_status s1 = read_checked(path, 1, &one);
    if (s == MINIMA_OK) FUZZ_CHECK(s1 == MINIMA_OK);
    if (s == MINIMA_OK && all.n_rows >= 1 && all.row_size) {
        FUZZ_CHECK(one.n_rows == 1 && one.row_size == all.row_size);
        FUZZ_CHECK(memcmp(one.data, all.data, all.row_size * sizeof *all.data) == 0);
    }
    minima_npy_array_free(&all);
    minima_npy_array_free(&one);
    minima_clear_error();
    return 0;
}
