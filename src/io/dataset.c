/* dataset.c — data sets in memory, and minima_data_load's dispatch on the
 * source string (docs/data.md). */
#include "minima/data.h"
#include "minima/dist.h"
#include "minima/tempfile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "io/data_impl.h"
#include "minima/alloc.h"
#include "minima/format.h"
#include "minima/idx.h"
#include "minima/npy.h"
#include "minima/synthetic.h"

minima_data_options minima_data_default_options(void)
{
    minima_data_options o;
    memset(&o, 0, sizeof o);
    o.max_bytes = MINIMA_DATA_DEFAULT_MAX_BYTES;
    o.labels_use = MINIMA_LABELS_AUTO;
    return o;
}

void minima_dataset_free(minima_dataset *data)
{
    if (!data) return;
    minima_free(data->x);
    minima_free(data->labels);
    minima_free(data->targets);
    minima_free(data->name);
    minima_free(data);
}

minima_status minima_dataset_adopt(minima_dataset **out, size_t n, int d, double *x,
                                   int n_classes, int d_target)
{
    if (!out) {
        minima_free(x);
        MINIMA_FAIL(MINIMA_EINVAL, "minima_dataset_adopt: NULL argument");
    }
    *out = NULL;
    if (d < 1 || n_classes < 0 || d_target < 0) {
        minima_free(x);
        MINIMA_FAIL(MINIMA_EINVAL, "a data set needs d >= 1 features, n_classes >= 0 and "
                    "d_target >= 0; got d = %d, n_classes = %d, d_target = %d", d, n_classes,
                    d_target);
    }
    minima_dataset *data = minima_calloc(1, sizeof *data);
    if (!data) goto nomem;
    data->n = n;
    data->d = d;
    data->x = x;
    x = NULL;
    data->n_classes = n_classes;
    data->d_target = d_target;
    if (n_classes > 0 && !(data->labels = minima_calloc(n, sizeof *data->labels))) goto nomem;
    if (d_target > 0 && !(data->targets = minima_calloc(n, (size_t)d_target * sizeof(double))))
        goto nomem;
    *out = data;
    return MINIMA_OK;
nomem:
    minima_free(x);
    minima_dataset_free(data);
    MINIMA_FAIL(MINIMA_ENOMEM, "out of memory for a data set of %zu examples", n);
}

minima_status minima_dataset_create(minima_dataset **out, size_t n, int d, int n_classes,
                                    int d_target)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_dataset_create: NULL argument");
    *out = NULL;
    if (d < 1) MINIMA_FAIL(MINIMA_EINVAL, "a data set needs d >= 1 features, got %d", d);
    double *x = minima_calloc(n, (size_t)d * sizeof *x);
    if (!x) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory for %zu examples of %d features", n, d);
    return minima_dataset_adopt(out, n, d, x, n_classes, d_target);
}

minima_status minima_dataset_set_name(minima_dataset *data, const char *name)
{
    char *copy = minima_strdup(name ? name : "");
    if (!copy) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    minima_free(data->name);
    data->name = copy;
    return MINIMA_OK;
}

minima_status minima_dataset_slice(const minima_dataset *data, size_t start, size_t count,
                                   minima_dataset **out)
{
    if (!data || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_dataset_slice: NULL argument");
    *out = NULL;
    if (start > data->n || count > data->n - start)
        MINIMA_FAIL(MINIMA_EINVAL, "slice [%zu, %zu + %zu) is outside the %zu examples of '%s'",
                    start, start, count, data->n, data->name ? data->name : "");
    minima_dataset *s = NULL;
    MINIMA_TRY(minima_dataset_create(&s, count, data->d, data->n_classes, data->d_target));
    size_t d = (size_t)data->d, t = (size_t)data->d_target;
    if (count) {
        memcpy(s->x, data->x + start * d, count * d * sizeof *s->x);
        if (data->labels && s->labels)
            memcpy(s->labels, data->labels + start, count * sizeof *s->labels);
        if (data->targets && s->targets)
            memcpy(s->targets, data->targets + start * t, count * t * sizeof *s->targets);
    }
    minima_status st = minima_dataset_set_name(s, data->name);
    if (st) {
        minima_dataset_free(s);
        return st;
    }
    *out = s;
    return MINIMA_OK;
}

minima_status minima_dataset_validate(const minima_dataset *data)
{
    if (!data) MINIMA_FAIL(MINIMA_EINVAL, "minima_dataset_validate: NULL argument");
    const char *name = data->name ? data->name : "(unnamed)";
    if (data->d < 1 || !data->x)
        MINIMA_FAIL(MINIMA_EINVAL, "data set '%s' has no features (d = %d)", name, data->d);
    size_t d = (size_t)data->d;
    for (size_t i = 0; i < data->n; i++) {
        const double *row = data->x + i * d;   /* (d) */
        for (size_t j = 0; j < d; j++)
            if (!isfinite(row[j]))
                MINIMA_FAIL(MINIMA_ENONFINITE,
                            "data set '%s': feature at example %zu, column %zu is %s: expected a "
                            "finite number", name, i, j, isnan(row[j]) ? "NaN" : "Inf");
    }
    if (data->n_classes > 0) {
        if (!data->labels)
            MINIMA_FAIL(MINIMA_EINVAL, "data set '%s' has %d classes but no labels", name,
                        data->n_classes);
        for (size_t i = 0; i < data->n; i++)
            if (data->labels[i] < 0 || data->labels[i] >= data->n_classes)
                MINIMA_FAIL(MINIMA_ERANGE,
                            "data set '%s': label of example %zu is %d: expected 0 to %d "
                            "(%d classes)", name, i, (int)data->labels[i], data->n_classes - 1,
                            data->n_classes);
    }
    if (data->d_target > 0) {
        if (!data->targets)
            MINIMA_FAIL(MINIMA_EINVAL, "data set '%s' has d_target = %d but no targets", name,
                        data->d_target);
        size_t t = (size_t)data->d_target;
        for (size_t i = 0; i < data->n; i++)
            for (size_t j = 0; j < t; j++)
                if (!isfinite(data->targets[i * t + j]))
                    MINIMA_FAIL(MINIMA_ENONFINITE,
                                "data set '%s': target at example %zu, column %zu is %s: expected "
                                "a finite number", name, i, j,
                                isnan(data->targets[i * t + j]) ? "NaN" : "Inf");
    }
    return MINIMA_OK;
}

/* ---- the data-size limit ---------------------------------------------- */

uint64_t minima_data_limit(uint64_t max_bytes)
{
    return max_bytes ? max_bytes : MINIMA_DATA_DEFAULT_MAX_BYTES;
}

minima_status minima_data_parse_size(const char *text, uint64_t *bytes)
{
    if (!text || !bytes) MINIMA_FAIL(MINIMA_EINVAL, "minima_data_parse_size: NULL argument");
    const char *p = text;
    uint64_t v = 0;
    int digits = 0, overflow = 0;
    while (*p >= '0' && *p <= '9') {
        unsigned dgt = (unsigned)(*p++ - '0');
        if (v > (UINT64_MAX - dgt) / 10) overflow = 1;
        else v = v * 10 + dgt;
        digits++;
    }
    int shift = 0;
    switch (*p) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: break;
    }
    if (shift) {
        p++;
        if (*p == 'i' || *p == 'I') p++;
    }
    if (*p == 'b' || *p == 'B') p++;
    if (!digits || *p)
        MINIMA_FAIL(MINIMA_EINVAL, "expected a size such as 4G, 512M or 1000000 (bytes; K, M, G, "
                    "T are powers of 1024), found '%s'", text);
    if (overflow || v > (UINT64_MAX >> shift))
        MINIMA_FAIL(MINIMA_EINVAL, "size '%s' is too large: expected at most 2^64-1 bytes", text);
    if (v == 0)
        MINIMA_FAIL(MINIMA_EINVAL, "size '%s': expected at least 1 byte", text);
    *bytes = v << shift;
    return MINIMA_OK;
}

/* "16G" for an exact multiple of a binary unit, else "" . */
static void size_suffix(uint64_t n, char *buf, size_t size)
{
    static const char units[] = "KMGTPE";
    buf[0] = '\0';
    for (int k = 6; k >= 1; k--) {
        uint64_t u = (uint64_t)1 << (10 * k);
        if (n >= u && n % u == 0) {
            snprintf(buf, size, " (%lluG)", (unsigned long long)(n / u));
            buf[strlen(buf) - 2] = units[k - 1];
            return;
        }
    }
}

minima_status minima_data_limit_error(const char *what, uint64_t need, uint64_t limit)
{
    char sfx[32];
    size_suffix(limit, sfx, sizeof sfx);
    MINIMA_FAIL(MINIMA_ERANGE, "%s needs %llu bytes, more than the data-size limit of %llu "
                "bytes%s: raise the limit with --max-data-bytes SIZE (e.g. 64G), or keep fewer "
                "examples with --subset N", what, (unsigned long long)need,
                (unsigned long long)limit, sfx);
}

/* ---- temporary files --------------------------------------------------- */

char *minima_data_tmp_path(const char *path)
{
    size_t n = strlen(path) + 32;
    char *tmp = minima_alloc(n, 1);
    if (tmp) snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
    return tmp;
}

minima_status minima_data_commit_tmp(const char *tmp, const char *path)
{
    /* On disk before the rename, so a crash leaves the old file or the new
     * one, never a truncated one under the final name. */
    int fd = open(tmp, O_RDONLY);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        remove(tmp);
        MINIMA_FAIL(MINIMA_EIO, "cannot flush '%s' to disk: %s", tmp, strerror(e));
    }
    close(fd);
    if (minima_tempfile_commit(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        MINIMA_FAIL(MINIMA_EIO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(e));
    }
    return MINIMA_OK;
}

/* ---- IDX images and labels ------------------------------------------- */

minima_status minima_data_load_idx(const char *images, const char *labels,
                                   const minima_data_options *o, int n_classes,
                                   minima_dataset **out)
{
    *out = NULL;
    minima_idx_array a;
    MINIMA_TRY(minima_idx_read_limited(images, o->subset, o->max_bytes, &a));
    if (a.item_size > MINIMA_DATA_MAX_FEATURES) {
        minima_idx_array_free(&a);
        MINIMA_FAIL(MINIMA_EFORMAT, "IDX file '%s': %zu values per example: expected at most %d",
                    images, a.item_size, MINIMA_DATA_MAX_FEATURES);
    }
    if (a.type == MINIMA_IDX_U8) {
        size_t m = a.n_items * a.item_size;
        for (size_t i = 0; i < m; i++) a.data[i] /= 255.0;
    }
    size_t declared = a.dims[0];
    minima_dataset *data = NULL;
    minima_status s = minima_dataset_adopt(&data, a.n_items, (int)a.item_size, a.data, 0, 0);
    a.data = NULL;
    if (s) return s;
    if ((s = minima_dataset_set_name(data, images))) goto fail;
    if ((s = minima_data_attach_labels(data, labels, declared, o, n_classes))) goto fail;
    *out = data;
    return MINIMA_OK;
fail:
    minima_dataset_free(data);
    return s;
}

/* ---- .npy features and labels ----------------------------------------- */

minima_status minima_data_load_npy(const char *features, const char *labels,
                                   const minima_data_options *o, minima_dataset **out)
{
    *out = NULL;
    minima_npy_array a;
    MINIMA_TRY(minima_npy_read_limited(features, o->subset, o->max_bytes, &a));
    minima_status s = MINIMA_OK;
    char shp[128];
    minima_npy_format_shape(a.ndim, a.shape, shp, sizeof shp);
    int zero_dim = -1;
    for (int k = a.ndim - 1; k >= 0; k--)
        if (a.shape[k] == 0) zero_dim = k;
    if (a.ndim == 0)
        s = minima_error(MINIMA_ESHAPE, "npy file '%s': features of shape () (a 0-d array, one "
                         "number): expected (N, d) or (N, ...), one row per example", features);
    else if (zero_dim > 0)
        s = minima_error(MINIMA_ESHAPE, "npy file '%s': features of shape %s: dimension %d is 0, "
                         "so every example has no features: expected (N, d) with d >= 1",
                         features, shp, zero_dim);
    else if (zero_dim == 0)
        s = minima_error(MINIMA_EFORMAT, "npy file '%s': features of shape %s hold no examples: "
                         "expected N >= 1 rows", features, shp);
    else if (a.row_size > MINIMA_DATA_MAX_FEATURES)
        s = minima_error(MINIMA_ESHAPE, "npy file '%s': features of shape %s have %zu values per "
                         "example: expected at most %d", features, shp, a.row_size,
                         MINIMA_DATA_MAX_FEATURES);
    if (s) {
        minima_npy_array_free(&a);
        return s;
    }
    if (a.kind == 'u' && a.itemsize == 1) {
        size_t m = a.n_rows * a.row_size;
        for (size_t i = 0; i < m; i++) a.data[i] /= 255.0;
    }
    size_t declared = a.shape[0];
    minima_dataset *data = NULL;
    s = minima_dataset_adopt(&data, a.n_rows, (int)a.row_size, a.data, 0, 0);
    a.data = NULL;
    if (s) return s;
    if ((s = minima_dataset_set_name(data, features))) goto fail;
    if (labels && (s = minima_data_attach_labels(data, labels, declared, o, 0))) goto fail;
    *out = data;
    return MINIMA_OK;
fail:
    minima_dataset_free(data);
    return s;
}

/* ---- labels: classes or targets ---------------------------------------- */

/* "entry 17" or "line 19, column 1" */
static const char *where(const minima_label_source *src, size_t i, char *buf, size_t size)
{
    if (src->lines) snprintf(buf, size, "line %zu, column 1", src->lines[i]);
    else snprintf(buf, size, "entry %zu", i);
    return buf;
}

minima_status minima_data_set_labels(minima_dataset *data, const minima_label_source *src,
                                     const double *v, size_t n, size_t width,
                                     const minima_data_options *o, int n_classes)
{
    size_t keep = data->n < n ? data->n : n;
    minima_labels_use use = o->labels_use;
    int outputs = o->n_outputs > 0 ? o->n_outputs : 0;
    int one_per_example = width == 1 && src->ndim <= 2;
    /* The largest class + 1 a value may be: the network's outputs, the
     * fixed number of classes, the format's ceiling. */
    long bound = MINIMA_DATA_MAX_CLASSES;
    if (n_classes > 0 && n_classes < bound) bound = n_classes;
    if (outputs > 0 && outputs < bound && use != MINIMA_LABELS_AUTO) bound = outputs;
    size_t first_fraction = SIZE_MAX, first_outside = SIZE_MAX;
    double vmax = -1;
    for (size_t i = 0; i < n * width; i++) {
        double x = v[i];
        if (!(x == floor(x))) {   /* also NaN and Inf */
            if (first_fraction == SIZE_MAX) first_fraction = i;
        } else if (!(x >= 0 && x < (double)bound)) {
            if (first_outside == SIZE_MAX) first_outside = i;
        } else if (x > vmax) {
            vmax = x;
        }
    }
    size_t first_bad = first_fraction < first_outside ? first_fraction : first_outside;
    int classes;
    char pbuf[200];
    const char *purpose = "";
    switch (use) {
    case MINIMA_LABELS_CLASSES:
        classes = 1;
        purpose = " for cross-entropy (or use --loss mse for regression targets)";
        break;
    case MINIMA_LABELS_TARGETS:
        /* One integer per example is a class, for one-hot targets, unless
         * the network has a single output: then it is the target itself. */
        classes = one_per_example && outputs != 1 && first_fraction == SIZE_MAX;
        if (classes) {
            char nb[64];
            if (outputs) snprintf(nb, sizeof nb, " of a network with %d outputs", outputs);
            else nb[0] = '\0';
            snprintf(pbuf, sizeof pbuf, " for one-hot MSE targets%s (or give float targets of "
                     "shape (N, d_K))", nb);
            purpose = pbuf;
        }
        break;
    default:   /* integer types hold classes; floats only if every value is one */
        classes = src->integer_type || (one_per_example && first_bad == SIZE_MAX);
        break;
    }
    if (!classes) {
        if (width < 1 || width > MINIMA_DATA_MAX_FEATURES || src->ndim > 2)
            MINIMA_FAIL(MINIMA_ESHAPE, "%s has shape %s: expected regression targets of shape "
                        "(%zu,) or (%zu, k)", src->file, src->shape, n, n);
        data->d_target = (int)width;
        data->n_classes = 0;
        minima_free(data->labels);
        data->labels = NULL;
        minima_free(data->targets);
        if (!(data->targets = minima_alloc(keep, width * sizeof *data->targets)))
            MINIMA_FAIL(MINIMA_ENOMEM, "out of memory for the targets of %s", src->file);
        if (keep) memcpy(data->targets, v, keep * width * sizeof *v);
        return MINIMA_OK;
    }
    if (!one_per_example)
        MINIMA_FAIL(MINIMA_ESHAPE, "%s has shape %s: expected one class label per example, "
                    "shape (%zu,)%s", src->file, src->shape, n, purpose);
    if (first_bad != SIZE_MAX) {
        char at[64], val[MINIMA_DOUBLE_CHARS];
        double x = v[first_bad];
        if (x == floor(x) && fabs(x) < 9007199254740992.0) snprintf(val, sizeof val, "%.0f", x);
        else minima_format_double(val, sizeof val, x);
        MINIMA_FAIL(MINIMA_ERANGE, "%s: %s is %s: expected an integer class in 0..%ld%s",
                    src->file, where(src, first_bad, at, sizeof at), val, bound - 1, purpose);
    }
    data->n_classes = n_classes > 0 ? n_classes : (int)vmax + 1;
    if (data->n_classes < 1) data->n_classes = 1;   /* no entries at all */
    minima_free(data->labels);
    if (!(data->labels = minima_alloc(keep, sizeof *data->labels)))
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory for the labels of %s", src->file);
    for (size_t i = 0; i < keep; i++) data->labels[i] = (int32_t)v[i];
    return MINIMA_OK;
}

static int ends_with(const char *s, const char *suffix);

minima_status minima_data_attach_labels(minima_dataset *data, const char *path,
                                        size_t n_expected, const minima_data_options *o,
                                        int n_classes)
{
    const char *what = data->name ? data->name : "the features";
    /* The whole labels file is read (it is small) so that the number of
     * classes does not depend on --subset. */
    double *v = NULL;            /* (n_decl, width) */
    size_t n_decl, width;
    int ndim, integer_type;
    size_t shape[MINIMA_NPY_MAX_DIMS];
    minima_status s = MINIMA_OK;
    if (!ends_with(path, ".npy")) {   /* IDX, whatever its name */
        minima_idx_array a;
        MINIMA_TRY(minima_idx_read_limited(path, 0, o->max_bytes, &a));
        v = a.data;
        n_decl = a.dims[0];
        width = a.item_size;
        ndim = a.ndims;
        for (int k = 0; k < ndim; k++) shape[k] = a.dims[k];
        integer_type = a.type != MINIMA_IDX_F32 && a.type != MINIMA_IDX_F64;
    } else {
        minima_npy_array a;
        MINIMA_TRY(minima_npy_read_limited(path, 0, o->max_bytes, &a));
        v = a.data;
        ndim = a.ndim;
        n_decl = a.ndim ? a.shape[0] : 1;
        width = a.row_size;
        for (int k = 0; k < ndim; k++) shape[k] = a.shape[k];
        integer_type = a.kind != 'f';
    }
    char file[600], shp[128];
    snprintf(file, sizeof file, "labels file '%s'", path);
    minima_npy_format_shape(ndim, shape, shp, sizeof shp);
    if (ndim == 0) {
        s = minima_error(MINIMA_ESHAPE, "%s has shape () (a 0-d array, one number): expected "
                         "one label per example, shape (%zu,)", file, n_expected);
        goto done;
    }
    if (n_decl != n_expected) {
        s = minima_error(MINIMA_ESHAPE, "%s (shape %s) holds %zu labels but '%s' holds %zu "
                         "examples", file, shp, n_decl, what, n_expected);
        goto done;
    }
    minima_label_source src = {file, shp, NULL, integer_type, ndim};
    s = minima_data_set_labels(data, &src, v, n_decl, width, o, n_classes);
done:
    minima_free(v);
    return s;
}

/* ---- dispatch ---------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int is_idx_name(const char *path)
{
    return ends_with(path, ".idx") || ends_with(path, ".idx.gz") || ends_with(path, "-ubyte") ||
           ends_with(path, "-ubyte.gz");
}

static minima_status load_here(const char *source, const minima_data_options *opts,
                               minima_dataset **out)
{
    if (!source || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_data_load: NULL argument");
    *out = NULL;
    minima_data_options o = opts ? *opts : minima_data_default_options();
    const char *labels = o.labels_path && o.labels_path[0] ? o.labels_path : NULL;
    minima_dataset *data = NULL;
    minima_status s;

    if (strcmp(source, "fashion-mnist") == 0 || strncmp(source, "fashion-mnist:", 14) == 0) {
        const char *split = source[13] ? source + 14 : "train";
        if (labels)
            MINIMA_FAIL(MINIMA_EINVAL, "data source '%s' brings its own labels: drop the labels "
                        "file '%s'", source, labels);
        if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0)
            MINIMA_FAIL(MINIMA_EINVAL, "data source '%s': unknown split '%s', expected "
                        "fashion-mnist, fashion-mnist:train or fashion-mnist:test", source, split);
        char *im = NULL, *lb = NULL;
        MINIMA_TRY(minima_fashion_mnist_locate(split, &im, &lb));
        s = minima_data_load_idx(im, lb, &o, MINIMA_FASHION_MNIST_CLASSES, &data);
        minima_free(im);
        minima_free(lb);
        if (s) return s;
        char name[64];
        snprintf(name, sizeof name, "fashion-mnist:%s", split);
        if ((s = minima_dataset_set_name(data, name))) goto fail;
    } else if (strncmp(source, "synthetic:", 10) == 0) {
        if (labels)
            MINIMA_FAIL(MINIMA_EINVAL, "data source '%s' brings its own labels: drop the labels "
                        "file '%s'", source, labels);
        MINIMA_TRY(minima_synthetic_load_limited(source + 10, o.seed, o.max_bytes, &data));
        if (o.subset && o.subset < data->n) {
            minima_dataset *sub = NULL;
            s = minima_dataset_slice(data, 0, o.subset, &sub);
            minima_dataset_free(data);
            data = sub;
            if (s) return s;
        }
    } else if (is_idx_name(source)) {
        if (!labels)
            MINIMA_FAIL(MINIMA_EINVAL, "IDX images '%s' need a labels file (--labels "
                        "LABELS.idx[.gz] or LABELS.npy)", source);
        MINIMA_TRY(minima_data_load_idx(source, labels, &o, 0, &data));
    } else if (ends_with(source, ".npy")) {
        MINIMA_TRY(minima_data_load_npy(source, labels, &o, &data));
    } else if (ends_with(source, ".csv")) {
        if (labels)
            MINIMA_FAIL(MINIMA_EINVAL, "CSV file '%s' has its labels in its first column: drop "
                        "the labels file '%s'", source, labels);
        MINIMA_TRY(minima_data_load_csv(source, &o, &data));
    } else {
        MINIMA_FAIL(MINIMA_EINVAL, "unknown data source '%s': expected fashion-mnist[:train|:test], "
                    "synthetic:NAME[:N], or a file ending in .idx, .idx.gz, -ubyte, -ubyte.gz, "
                    ".npy or .csv", source);
    }
    if (data->n == 0) {
        s = minima_error(MINIMA_EFORMAT, "data source '%s' holds no examples", source);
        goto fail;
    }
    if ((s = minima_dataset_validate(data))) goto fail;
    *out = data;
    return MINIMA_OK;
fail:
    minima_dataset_free(data);
    return s;
}

/* In a distributed run every rank reads the source, and all succeed or all
 * fail with the message of the first that failed (minima/dist.h): a rank
 * that cannot read its file stops every rank, none waits for it. */
minima_status minima_data_load(const char *source, const minima_data_options *opts,
                               minima_dataset **out)
{
    minima_status st = minima_dist_agree(load_here(source, opts, out));
    if (st != MINIMA_OK && out && *out) {
        minima_dataset_free(*out);
        *out = NULL;
    }
    return st;
}
