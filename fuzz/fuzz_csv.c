/* fuzz_csv.c — CSV data sets (minima_data_load on a "*.csv" path) from
 * arbitrary bytes.
 *
 * The input is the file's text. It is loaded in full and with subset 1;
 * a data set that loads must pass minima_dataset_validate (finite values,
 * labels in range) and both loads must agree on the first example. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "minima/data.h"

static minima_status load(const char *path, size_t subset, minima_dataset **out)
{
    minima_data_options opts = minima_data_default_options();
    opts.subset = subset;
    *out = NULL;
    minima_status s = minima_data_load(path, &opts, out);
    FUZZ_CHECK_FAILURE(s);
    if (s != MINIMA_OK) {
        FUZZ_CHECK(*out == NULL);
        return s;
    }
    const minima_dataset *d = *out;
    FUZZ_CHECK(d->n >= 1 && d->d >= 1);
    if (subset) FUZZ_CHECK(d->n <= subset);
    FUZZ_CHECK((d->labels != NULL) == (d->n_classes > 0));
    FUZZ_CHECK((d->targets != NULL) == (d->d_target > 0));
    FUZZ_CHECK(d->labels || d->targets);
    FUZZ_CHECK(minima_dataset_validate(d) == MINIMA_OK);
    fuzz_touch(d->x, d->n * (size_t)d->d);
    if (d->targets) fuzz_touch(d->targets, d->n * (size_t)d->d_target);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, ".csv", data, size);
    minima_dataset *all = NULL, *one = NULL;
    minima_status s = load(path, 0, &all);
    minima_status s1 = load(path, 1, &one);
    if (s == MINIMA_OK) {
        FUZZ_CHECK(s1 == MINIMA_OK);
        FUZZ_CHECK(one->n == 1 && one->d == all->d);
        FUZZ_CHECK(memcmp(one->x, all->x, (size_t)all->d * sizeof *all->x) == 0);
    }
    minima_dataset_free(all);
    minima_dataset_free(one);
    minima_clear_error();
    return 0;
}
