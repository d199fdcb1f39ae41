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

/* opts->max_bytes, or the default when it is 0. */
uint64_t minima_data_limit(uint64_t max_bytes);
/* Fails with MINIMA_ERANGE: "<what> needs <need> bytes, more than the
 * data-size limit of <limit> bytes", and how to raise it. */
minima_status minima_data_limit_error(const char *what, uint64_t need, uint64_t limit);

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

/* Loaders behind minima_data_load. Each honours o->subset, o->max_bytes
 * and the label rule (o->labels_use, o->n_outputs), and returns a data set
 * that is not yet validated. n_classes > 0 fixes the number of classes
 * (Fashion-MNIST: 10). */
minima_status minima_data_load_idx(const char *images, const char *labels,
                                   const minima_data_options *o, int n_classes,
                                   minima_dataset **out);
minima_status minima_data_load_npy(const char *features, const char *labels,
                                   const minima_data_options *o, minima_dataset **out);
minima_status minima_data_load_csv(const char *path, const minima_data_options *o,
                                   minima_dataset **out);

/* Reads a labels file (.npy by its name, else IDX, gzipped or not) whose
 * first dimension must be `n_expected` (the features' declared count),
 * keeping the first data->n entries, and sets them as labels or targets by
 * minima_data_set_labels. */
minima_status minima_data_attach_labels(minima_dataset *data, const char *path,
                                        size_t n_expected, const minima_data_options *o,
                                        int n_classes);

/* Where label values come from, for the rule and its messages. */
typedef struct {
    const char *file;        /* "labels file 'y.npy'", "CSV file 'd.csv'" */
    const char *shape;       /* the file's shape as Python prints it, e.g. "(60, 2)" */
    const size_t *lines;     /* CSV: the line of each entry ("line L, column 1"), or NULL
                                ("entry i", from 0) */
    int integer_type;        /* the values were stored as integers (integer dtype, or CSV
                                text written as integers) */
    int ndim;                /* dimensions of the labels array (CSV: 1) */
} minima_label_source;

/* Decides whether the (n, width) values v are class labels or regression
 * targets (the rule of minima_labels_use, docs/data.md) and stores the
 * first data->n rows in data->labels or data->targets. n_classes > 0 fixes
 * the number of classes; else it is the largest label + 1 over all n. */
minima_status minima_data_set_labels(minima_dataset *data, const minima_label_source *src,
                                     const double *v, size_t n, size_t width,
                                     const minima_data_options *o, int n_classes);

#endif
