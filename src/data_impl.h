/* data_impl.h — internals shared by the data module's files (dataset.c,
 * idx.c, npy.c, csv.c, synthetic.c). Not part of the public API. */
#ifndef MINIMA_DATA_IMPL_H
#define MINIMA_DATA_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "minima/data.h"
#include "minima/status.h"

/* Largest class index + 1 a labels file may imply: a larger label is
 * almost certainly a corrupt file, not a real data set. */
#define MINIMA_DATA_MAX_CLASSES 65536
/* Largest number of features per example (d is an int in minima_dataset). */
#define MINIMA_DATA_MAX_FEATURES 100000000

/* A path for a temporary file beside `path` ("<path>.tmp<pid>"), to be
 * renamed over `path` once fully written. Caller frees with minima_free. */
char *minima_data_tmp_path(const char *path);
/* rename(tmp, path), or remove tmp and fail with MINIMA_EIO. */
minima_status minima_data_commit_tmp(const char *tmp, const char *path);

/* A data set whose x is given (ownership of x passes to the data set, also
 * on failure); labels/targets allocated as in minima_dataset_create. */
minima_status minima_dataset_adopt(minima_dataset **out, size_t n, int d, double *x,
                                   int n_classes, int d_target);
/* Sets data->name to a copy of name. */
minima_status minima_dataset_set_name(minima_dataset *data, const char *name);

/* Loaders behind minima_data_load. Each honours opts->subset and returns a
 * data set that is not yet validated. */
minima_status minima_data_load_idx(const char *images, const char *labels, size_t subset,
                                   int n_classes, minima_dataset **out);
minima_status minima_data_load_npy(const char *features, const char *labels, size_t subset,
                                   minima_dataset **out);
minima_status minima_data_load_csv(const char *path, size_t subset, minima_dataset **out);

/* Reads a labels file (.npy by its name, else IDX, gzipped or not) whose first dimension must
 * be `n_expected` (the features' declared count), keeping the first `keep`
 * entries. Integer labels go to data->labels with n_classes = the given
 * value if > 0 (labels must be below it), else max label + 1 over the whole
 * file; floating-point .npy labels become data->targets. */
minima_status minima_data_attach_labels(minima_dataset *data, const char *path,
                                        size_t n_expected, int n_classes);

#endif
