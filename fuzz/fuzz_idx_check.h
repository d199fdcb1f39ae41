/* fuzz_idx_check.h — the checks of the two IDX harnesses (fuzz_idx.c,
 * fuzz_idx_gz.c): the file at `path` is read in full and keeping only the
 * first item; a successful read must describe its array consistently. A
 * file that reads in full must also read with one item, and give the same
 * first item (not conversely: items past those kept are not converted). */
#ifndef MINIMA_FUZZ_IDX_CHECK_H
#define MINIMA_FUZZ_IDX_CHECK_H

#include <string.h>

#include "fuzz_common.h"
#include "minima/idx.h"

static minima_status idx_read_checked(const char *path, size_t max_items, minima_idx_array *a)
{
    minima_status s = minima_idx_read(path, max_items, a);
    FUZZ_CHECK_FAILURE(s);
    if (s != MINIMA_OK) {
        FUZZ_CHECK(a->data == NULL);
        return s;
    }
    FUZZ_CHECK(minima_idx_type_size(a->type) != 0);
    FUZZ_CHECK(a->ndims >= 1 && a->ndims <= MINIMA_IDX_MAX_DIMS);
    size_t item = 1;
    for (int i = 0; i < a->ndims; i++) FUZZ_CHECK(a->dims[i] >= 1);
    for (int i = 1; i < a->ndims; i++) item *= a->dims[i];
    FUZZ_CHECK(a->item_size == item);
    FUZZ_CHECK(a->n_items <= a->dims[0]);
    if (max_items) FUZZ_CHECK(a->n_items <= max_items);
    fuzz_touch(a->data, a->n_items * a->item_size);
    return s;
}

static void idx_check_file(const char *path)
{
    minima_idx_array all, one;
    minima_status s = idx_read_checked(path, 0, &all);
    minima_status s1 = idx_read_checked(path, 1, &one);
    if (s == MINIMA_OK) {
        FUZZ_CHECK(s1 == MINIMA_OK);
        FUZZ_CHECK(all.n_items == all.dims[0]);
        FUZZ_CHECK(one.n_items == 1 && one.item_size == all.item_size);
        FUZZ_CHECK(memcmp(one.data, all.data, all.item_size * sizeof *all.data) == 0);
    }
    minima_idx_array_free(&all);
    minima_idx_array_free(&one);
    minima_clear_error();
}

#endif
