/* synthetic.c — seeded synthetic data sets (see minima/synthetic.h). */
#include "minima/synthetic.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/data_impl.h"
#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/rng.h"

/* Streams of the seed: inputs, label and target noise. */
enum { STREAM_INPUTS = 1, STREAM_NOISE = 2 };

/* Flips round(fraction * n) labels, chosen at random, to a different
 * class drawn uniformly. */
static minima_status flip_labels(minima_dataset *data, double fraction, minima_rng *rng)
{
    size_t m = (size_t)llround(fraction * (double)data->n);
    if (m == 0) return MINIMA_OK;
    if (data->n_classes < 2)
        MINIMA_FAIL(MINIMA_EINVAL, "label noise needs at least 2 classes, the data has %d",
                    data->n_classes);
    size_t *perm = minima_alloc(data->n, sizeof *perm);
    if (!perm) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory for label noise");
    minima_rng_permutation(rng, perm, data->n);
    uint64_t k = (uint64_t)data->n_classes;
    for (size_t i = 0; i < m; i++) {
        int32_t *y = &data->labels[perm[i]];
        *y = (int32_t)(((uint64_t)*y + 1 + minima_rng_below(rng, k - 1)) % k);
    }
    minima_free(perm);
    return MINIMA_OK;
}

static minima_status check_n(size_t n)
{
    if (n < 1 || n > MINIMA_SYNTHETIC_MAX_N)
        MINIMA_FAIL(MINIMA_EINVAL, "synthetic data: N must be 1 to %d, got %zu",
                    MINIMA_SYNTHETIC_MAX_N, n);
    return MINIMA_OK;
}

static minima_status finish(minima_dataset *data, const char *name, minima_dataset **out)
{
    minima_status s = minima_dataset_set_name(data, name);
    if (s) {
        minima_dataset_free(data);
        return s;
    }
    *out = data;
    return MINIMA_OK;
}

minima_status minima_synthetic_blobs(size_t n, int d, int classes, double sep, double std,
                                     uint64_t seed, minima_dataset **out)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_synthetic_blobs: NULL argument");
    *out = NULL;
    MINIMA_TRY(check_n(n));
    if (d < 2 || d > 100000 || classes < 2 || classes > 1000 || !(sep >= 0 && isfinite(sep)) ||
        !(std >= 0 && isfinite(std)))
        MINIMA_FAIL(MINIMA_EINVAL, "synthetic:blobs: expected d in [2, 100000], classes in "
                    "[2, 1000], sep >= 0, std >= 0; got d=%d classes=%d sep=%g std=%g", d,
                    classes, sep, std);
    minima_dataset *data;
    MINIMA_TRY(minima_dataset_create(&data, n, d, classes, 0));
    minima_rng rng;
    minima_rng_seed2(&rng, seed, STREAM_INPUTS);
    for (size_t i = 0; i < n; i++) {
        int k = (int)(i % (size_t)classes);
        double *x = data->x + i * (size_t)d;   /* (d) */
        minima_rng_fill_normal(&rng, x, (size_t)d);
        for (int j = 0; j < d; j++) x[j] *= std;
        double angle = 2 * M_PI * k / classes;
        x[0] += sep * cos(angle);
        x[1] += sep * sin(angle);
        data->labels[i] = k;
    }
    return finish(data, "synthetic:blobs", out);
}

minima_status minima_synthetic_xor(size_t n, double label_noise, uint64_t seed,
                                   minima_dataset **out)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_synthetic_xor: NULL argument");
    *out = NULL;
    MINIMA_TRY(check_n(n));
    if (!(label_noise >= 0 && label_noise <= 1))
        MINIMA_FAIL(MINIMA_EINVAL, "synthetic:xor: noise must be in [0, 1], got %g", label_noise);
    minima_dataset *data;
    MINIMA_TRY(minima_dataset_create(&data, n, 2, 2, 0));
    minima_rng rng;
    minima_rng_seed2(&rng, seed, STREAM_INPUTS);
    minima_rng_fill_uniform(&rng, data->x, 2 * n, -1, 1);
    for (size_t i = 0; i < n; i++) data->labels[i] = (data->x[2 * i] > 0) != (data->x[2 * i + 1] > 0);
    minima_rng_seed2(&rng, seed, STREAM_NOISE);
    minima_status s = flip_labels(data, label_noise, &rng);
    if (s) {
        minima_dataset_free(data);
        return s;
    }
    return finish(data, "synthetic:xor", out);
}

minima_status minima_synthetic_spiral(size_t n, int classes, double turns, double std,
                                      uint64_t seed, minima_dataset **out)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_synthetic_spiral: NULL argument");
    *out = NULL;
    MINIMA_TRY(check_n(n));
    if (classes < 2 || classes > 100 || !(turns >= 0 && turns <= 100) ||
        !(std >= 0 && isfinite(std)))
        MINIMA_FAIL(MINIMA_EINVAL, "synthetic:spiral: expected classes in [2, 100], turns in "
                    "[0, 100], std >= 0; got classes=%d turns=%g std=%g", classes, turns, std);
    minima_dataset *data;
    MINIMA_TRY(minima_dataset_create(&data, n, 2, classes, 0));
    minima_rng rng;
    minima_rng_seed2(&rng, seed, STREAM_INPUTS);
    for (size_t i = 0; i < n; i++) {
        int k = (int)(i % (size_t)classes);
        double r = minima_rng_uniform(&rng);
        double angle = 2 * M_PI * (turns * r + (double)k / classes);
        data->x[2 * i] = r * cos(angle) + std * minima_rng_normal(&rng);
        data->x[2 * i + 1] = r * sin(angle) + std * minima_rng_normal(&rng);
        data->labels[i] = k;
    }
    return finish(data, "synthetic:spiral", out);
}

minima_status minima_synthetic_teacher(size_t n, int n_layers, const int *widths,
                                       double label_noise, double target_noise, uint64_t seed,
                                       minima_dataset **out)
{
    if (!out || !widths) MINIMA_FAIL(MINIMA_EINVAL, "minima_synthetic_teacher: NULL argument");
    *out = NULL;
    MINIMA_TRY(check_n(n));
    if (!(label_noise >= 0 && label_noise <= 1) || !(target_noise >= 0 && isfinite(target_noise)))
        MINIMA_FAIL(MINIMA_EINVAL, "synthetic:teacher: expected noise in [0, 1] and "
                    "target_noise >= 0; got noise=%g target_noise=%g", label_noise, target_noise);
    minima_model *model = NULL;
    minima_dataset *data = NULL;
    minima_net *net = NULL;
    double *z = NULL;   /* (N, d_K) */
    minima_status s;
    if ((s = minima_model_create(&model, n_layers, widths, 1, MINIMA_ACT_RELU))) goto fail;
    minima_model_init(model, seed);
    int d0 = widths[0], dk = widths[n_layers];
    if ((s = minima_dataset_create(&data, n, d0, dk, dk))) goto fail;
    minima_rng rng;
    minima_rng_seed2(&rng, seed, STREAM_INPUTS);
    minima_rng_fill_normal(&rng, data->x, n * (size_t)d0);

    minima_net_params p = minima_net_default_params(model);
    p.loss = MINIMA_LOSS_MSE;
    p.cache_limit = 0;
    if ((s = minima_net_create(&net, model, data, &p))) goto fail;
    if (!(z = minima_alloc(n, (size_t)dk * sizeof *z))) {
        s = minima_error(MINIMA_ENOMEM, "synthetic:teacher: out of memory for %zu outputs", n);
        goto fail;
    }
    if ((s = minima_net_outputs(net, NULL, z))) goto fail;
    minima_net_free(net);
    net = NULL;
    memcpy(data->targets, z, n * (size_t)dk * sizeof *z);
    for (size_t i = 0; i < n; i++) {
        const double *zi = z + i * (size_t)dk;   /* (d_K) */
        int best = 0;
        for (int j = 1; j < dk; j++)
            if (zi[j] > zi[best]) best = j;
        data->labels[i] = best;
    }
    minima_rng_seed2(&rng, seed, STREAM_NOISE);
    if ((s = flip_labels(data, label_noise, &rng))) goto fail;
    if (target_noise > 0)
        for (size_t i = 0; i < n * (size_t)dk; i++)
            data->targets[i] += target_noise * minima_rng_normal(&rng);
    minima_free(z);
    minima_model_free(model);
    return finish(data, "synthetic:teacher", out);
fail:
    minima_net_free(net);
    minima_free(z);
    minima_dataset_free(data);
    minima_model_free(model);
    return s;
}

/* ---- the source string ----------------------------------------------- */

typedef struct {
    const char *key;
    double value;     /* default, then as given */
    double lo, hi;    /* allowed range */
    int integer;
} param;

static param *find_param(param *ps, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(ps[i].key, key) == 0) return &ps[i];
    return NULL;
}

static minima_status set_param(const char *gen, param *ps, int n, const char *key,
                               const char *value)
{
    param *p = find_param(ps, n, key);
    if (!p) {
        char list[256] = "";
        for (int i = 0; i < n; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, ps[i].key, sizeof list - strlen(list) - 1);
        }
        MINIMA_FAIL(MINIMA_EINVAL, "synthetic:%s: unknown parameter '%s': expected one of %s%s",
                    gen, key, list, strcmp(gen, "teacher") == 0 ? ", arch" : "");
    }
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    if (end == value || *end || errno)
        MINIMA_FAIL(MINIMA_EINVAL, "synthetic:%s: parameter %s='%s': expected a number", gen, key,
                    value);
    if (!(v >= p->lo && v <= p->hi) || (p->integer && v != floor(v)))
        MINIMA_FAIL(MINIMA_EINVAL, "synthetic:%s: parameter %s=%s: expected %s in [%g, %g]", gen,
                    key, value, p->integer ? "an integer" : "a number", p->lo, p->hi);
    p->value = v;
    return MINIMA_OK;
}

/* A parsed source string: the generator, N, its parameters. */
enum { GEN_BLOBS, GEN_TEACHER, GEN_XOR, GEN_SPIRAL };
typedef struct {
    int gen;
    size_t n;
    param blobs[4], teacher[2], xor_[1], spiral[3];
    int *widths;      /* teacher's arch=, or NULL for the default; minima_free */
    int n_layers;
} spec_t;

static minima_status parse_spec(const char *spec, spec_t *sp)
{
    static const spec_t defaults = {
        GEN_BLOBS, MINIMA_SYNTHETIC_DEFAULT_N,
        {{"classes", 4, 2, 1000, 1}, {"d", 2, 2, 100000, 1}, {"sep", 3, 0, 1e6, 0},
         {"std", 1, 0, 1e6, 0}},
        {{"noise", 0, 0, 1, 0}, {"target_noise", 0, 0, 1e6, 0}},
        {{"noise", 0, 0, 1, 0}},
        {{"classes", 3, 2, 100, 1}, {"turns", 1, 0, 100, 0}, {"std", 0.05, 0, 1e6, 0}},
        NULL, 0};
    *sp = defaults;
    char *buf = minima_strdup(spec);
    if (!buf) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    minima_status s = MINIMA_OK;
    char *save = NULL;
    char *name = strtok_r(buf, ":,", &save);
    param *ps = NULL;
    int np = 0;
    if (!name) {
        s = minima_error(MINIMA_EINVAL, "synthetic data source 'synthetic:%s': expected a "
                         "generator name: blobs, teacher, xor or spiral", spec);
        goto done;
    }
    if (strcmp(name, "blobs") == 0) sp->gen = GEN_BLOBS, ps = sp->blobs, np = 4;
    else if (strcmp(name, "teacher") == 0) sp->gen = GEN_TEACHER, ps = sp->teacher, np = 2;
    else if (strcmp(name, "xor") == 0) sp->gen = GEN_XOR, ps = sp->xor_, np = 1;
    else if (strcmp(name, "spiral") == 0) sp->gen = GEN_SPIRAL, ps = sp->spiral, np = 3;
    else {
        s = minima_error(MINIMA_EINVAL, "synthetic data source 'synthetic:%s': unknown generator "
                         "'%s': expected blobs, teacher, xor or spiral", spec, name);
        goto done;
    }
    int have_n = 0;
    for (char *tok = strtok_r(NULL, ":,", &save); tok; tok = strtok_r(NULL, ":,", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(tok, &end, 10);
            if (have_n || tok[0] < '0' || tok[0] > '9' || *end || errno || v < 1 ||
                v > MINIMA_SYNTHETIC_MAX_N) {
                s = minima_error(MINIMA_EINVAL, "synthetic data source 'synthetic:%s': field "
                                 "'%s': expected N (1 to %d, once) or KEY=VALUE", spec, tok,
                                 MINIMA_SYNTHETIC_MAX_N);
                goto done;
            }
            sp->n = (size_t)v;
            have_n = 1;
            continue;
        }
        *eq = '\0';
        if (sp->gen == GEN_TEACHER && strcmp(tok, "arch") == 0) {
            minima_free(sp->widths);
            sp->widths = NULL;
            if ((s = minima_parse_arch(eq + 1, &sp->widths, &sp->n_layers))) goto done;
            continue;
        }
        if ((s = set_param(name, ps, np, tok, eq + 1))) goto done;
    }
done:
    if (s) {
        minima_free(sp->widths);
        sp->widths = NULL;
    }
    minima_free(buf);
    return s;
}

static const int default_teacher[] = {10, 16, 3};

minima_status minima_synthetic_load(const char *spec, uint64_t seed, minima_dataset **out)
{
    return minima_synthetic_load_limited(spec, seed, 0, out);
}

minima_status minima_synthetic_load_limited(const char *spec, uint64_t seed, uint64_t max_bytes,
                                            minima_dataset **out)
{
    if (!spec || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_synthetic_load: NULL argument");
    *out = NULL;
    spec_t sp;
    MINIMA_TRY(parse_spec(spec, &sp));
    minima_status s;
    /* features and targets per example, to bound the memory before
     * generating: blobs' d, teacher's d_0 and d_K, 2 for xor and spiral */
    double per = sp.gen == GEN_BLOBS ? sp.blobs[1].value :
                 sp.gen == GEN_TEACHER ? (sp.widths ? (double)sp.widths[0] + sp.widths[sp.n_layers]
                                                    : (double)default_teacher[0] + default_teacher[2])
                                       : 2.0;
    uint64_t limit = minima_data_limit(max_bytes);
    if ((double)sp.n * (per > 1 ? per : 1) * 8.0 > (double)limit) {
        char what[400];
        snprintf(what, sizeof what, "synthetic data source 'synthetic:%s' (%zu examples of %.0f "
                 "values as float64)", spec, sp.n, per);
        minima_free(sp.widths);
        return minima_data_limit_error(what, (uint64_t)((double)sp.n * per * 8.0), limit);
    }
    switch (sp.gen) {
    case GEN_BLOBS:
        s = minima_synthetic_blobs(sp.n, (int)sp.blobs[1].value, (int)sp.blobs[0].value,
                                   sp.blobs[2].value, sp.blobs[3].value, seed, out);
        break;
    case GEN_XOR:
        s = minima_synthetic_xor(sp.n, sp.xor_[0].value, seed, out);
        break;
    case GEN_SPIRAL:
        s = minima_synthetic_spiral(sp.n, (int)sp.spiral[0].value, sp.spiral[1].value,
                                    sp.spiral[2].value, seed, out);
        break;
    default:
        s = minima_synthetic_teacher(sp.n, sp.widths ? sp.n_layers : 2,
                                     sp.widths ? sp.widths : default_teacher,
                                     sp.teacher[0].value, sp.teacher[1].value, seed, out);
    }
    minima_free(sp.widths);
    if (s == MINIMA_OK) {
        char label[300];
        snprintf(label, sizeof label, "synthetic:%s", spec);
        s = minima_dataset_set_name(*out, label);
        if (s) {
            minima_dataset_free(*out);
            *out = NULL;
        }
    }
    return s;
}

minima_status minima_synthetic_teacher_model(const char *spec, uint64_t seed, minima_model **out)
{
    if (!spec || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_synthetic_teacher_model: NULL argument");
    *out = NULL;
    spec_t sp;
    MINIMA_TRY(parse_spec(spec, &sp));
    minima_status s = MINIMA_OK;
    if (sp.gen != GEN_TEACHER)
        s = minima_error(MINIMA_EINVAL, "synthetic data source 'synthetic:%s' has no teacher "
                         "network: expected synthetic:teacher[...]", spec);
    else {
        s = minima_model_create(out, sp.widths ? sp.n_layers : 2,
                                sp.widths ? sp.widths : default_teacher, 1, MINIMA_ACT_RELU);
        if (s == MINIMA_OK) {
            minima_model_init(*out, seed);
            (*out)->loss = MINIMA_LOSS_MSE;
        }
    }
    minima_free(sp.widths);
    return s;
}
