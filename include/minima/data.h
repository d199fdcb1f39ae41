/* minima/data.h — data sets in memory, and where they come from.
 *
 * A data set is N examples of d features, float64, one example per row,
 * with either integer class labels (classification, cross-entropy) or
 * float targets (regression, MSE), or both (a teacher set provides
 * targets and their argmax labels).
 *
 * Sources (docs/data.md): "fashion-mnist", "fashion-mnist:test" (Debian's
 * dataset-fashion-mnist, or $MINIMA_DATA_DIR), "IMAGES.idx[.gz]" with a
 * labels file, "X.npy" with a labels file, "FILE.csv" (label in the first
 * column), "synthetic:NAME[:N]". Integer pixel data (uint8) is divided by
 * 255; floating-point inputs are used as they are. */
#ifndef MINIMA_DATA_H
#define MINIMA_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t n;            /* N examples */
    int d;               /* d_0 features per example */
    double *x;           /* (N, d) row-major */
    int n_classes;       /* > 0 if labels are present: labels in [0, n_classes) */
    int32_t *labels;     /* (N) or NULL */
    int d_target;        /* > 0 if regression targets are present */
    double *targets;     /* (N, d_target) or NULL */
    char *name;          /* where it came from, for messages */
} minima_dataset;

/* How the values of a labels file (or a CSV file's label column) are used.
 * A value is a class if it is an integer (whatever the file's dtype: 3 and
 * 3.0 alike) in [0, K), where K is the network's outputs if known, else
 * 65536 (Fashion-MNIST: 10). */
typedef enum {
    MINIMA_LABELS_AUTO = 0,   /* classes if there is one value per example and every
                                 value is a class; else regression targets. Integer
                                 dtypes must hold classes. */
    MINIMA_LABELS_CLASSES,    /* cross-entropy: one class per example, or an error
                                 naming the file, the entry and its value */
    MINIMA_LABELS_TARGETS     /* MSE: regression targets (N,) or (N, k); but one
                                 integer per example with n_outputs != 1 is a class,
                                 for one-hot targets (see docs/data.md) */
} minima_labels_use;

/* The default data-size limit: 16 GiB. */
#define MINIMA_DATA_DEFAULT_MAX_BYTES ((uint64_t)16 << 30)

/* Options of minima_data_load. */
typedef struct {
    const char *labels_path;   /* --labels: labels file for IDX / .npy images, or NULL */
    size_t subset;             /* keep the first `subset` examples; 0 = all */
    uint64_t seed;             /* for synthetic sources */
    /* Data-size limit in bytes (0: MINIMA_DATA_DEFAULT_MAX_BYTES): no array
     * the loader builds may exceed it — the kept features as float64, a
     * labels file as float64, a CSV file's text. A header declaring more is
     * refused before anything is allocated, and buffers grow only as data
     * arrives, so a lying header costs no memory. */
    uint64_t max_bytes;
    minima_labels_use labels_use;   /* default MINIMA_LABELS_AUTO */
    int n_outputs;             /* the network's outputs d_K if known, else 0 */
} minima_data_options;

minima_data_options minima_data_default_options(void);

/* Parses a size for the data-size limit: a positive whole number of bytes,
 * optionally followed by K, M, G or T (powers of 1024; "KiB", "GB" and the
 * like are read the same, any case): "4G", "512M", "1000000". MINIMA_EINVAL
 * names the text and what was expected. */
minima_status minima_data_parse_size(const char *text, uint64_t *bytes);

/* Load a data set from a source string (see above). Every failure names
 * the file, the offset or field, what was expected and what was found. */
minima_status minima_data_load(const char *source, const minima_data_options *opts,
                               minima_dataset **out);

/* An empty data set with room for n examples of d features (x zeroed);
 * labels/targets are allocated if n_classes > 0 / d_target > 0. */
minima_status minima_dataset_create(minima_dataset **out, size_t n, int d,
                                    int n_classes, int d_target);
void minima_dataset_free(minima_dataset *data);
/* A copy of examples [start, start+count). */
minima_status minima_dataset_slice(const minima_dataset *data, size_t start, size_t count,
                                   minima_dataset **out);
/* MINIMA_ENONFINITE / MINIMA_ERANGE if x or targets hold NaN/Inf or a
 * label is outside [0, n_classes). */
minima_status minima_dataset_validate(const minima_dataset *data);


/* ---- additions ---------------------------------------------------------
 *
 * Every source and format in detail, for users: docs/data.md. The readers
 * behind minima_data_load are public too: minima/idx.h (IDX, gzip or raw),
 * minima/npy.h (.npy), minima/synthetic.h (generators and their
 * parameters). minima_data_load's rules in short:
 *   - IDX images need opts->labels_path (an IDX file, or .npy); .npy
 *     features take it optionally; CSV, fashion-mnist and synthetic sources
 *     carry their labels, and a labels_path with them is an error.
 *   - Labels (a labels file, a CSV label column) are classes or targets
 *     by opts->labels_use and opts->n_outputs (minima_labels_use above):
 *     a class is a whole number in any dtype. n_classes = 10 for
 *     Fashion-MNIST, else the largest label + 1 over the whole labels file
 *     (independent of subset). Errors name the labels file, the entry (CSV:
 *     line) and the value.
 *   - opts->max_bytes bounds every array the loader builds (MINIMA_ERANGE,
 *     saying how to raise it, when a file declares more).
 *   - subset keeps the first N examples; file readers convert only those
 *     (the whole file is still read, to check its size and integrity).
 *   - The result is validated (minima_dataset_validate) and named: the
 *     path, "fashion-mnist:train" or the synthetic source string. */

/* ---- locating Fashion-MNIST ------------------------------------------ */

/* Finds the IDX files of Fashion-MNIST's `split` ("train": 60 000
 * examples, or "test": 10 000), 28x28 uint8 images and labels in [0, 10).
 * Looks in $MINIMA_DATA_DIR (and its subdirectory fashion-mnist) when that
 * variable is set and not empty, else where Debian's dataset-fashion-mnist
 * installs them (/usr/share/datasets/fashion-mnist), then
 * /usr/local/share/datasets/fashion-mnist. Each file may be gzipped
 * ("train-images-idx3-ubyte.gz", preferred) or raw
 * ("train-images-idx3-ubyte"). On success *images and *labels are paths the
 * caller frees with minima_free; MINIMA_EIO names the directories searched
 * and the package to install when the files are missing. */
minima_status minima_fashion_mnist_locate(const char *split, char **images, char **labels);

/* Number of classes of Fashion-MNIST. */
#define MINIMA_FASHION_MNIST_CLASSES 10

#ifdef __cplusplus
}
#endif
#endif
