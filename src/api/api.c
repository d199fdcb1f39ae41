/* api.c — the plain-types C API (minima/api.h): models, data and problems.
 * Each function is a thin layer over the structured API; the commands'
 * computations (spectrum, sharpness, audit) are in api_tasks.c. */
#include "minima/api.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/data_impl.h"
#include "minima/alloc.h"
#include "minima/graph_stage.h"
#include "minima/graph_symmetry.h"
#include "minima/safetensors.h"
#include "minima/symmetry.h"
#include "api/api_request_impl.h"
#include "io/model_tensors_impl.h"

#ifndef MINIMA_VERSION
#define MINIMA_VERSION "0.0.0"
#endif

const char *minima_api_version(void)
{
    return MINIMA_VERSION;
}

/* ---- activations ------------------------------------------------------- */

/* "relu", "tanh", "leaky_relu" or "leaky_relu:SLOPE" (0 < SLOPE < 1; default
 * 0.01, PyTorch's nn.LeakyReLU), as the command line's --activation. */
static minima_status parse_activation(const char *fn, const char *s, minima_activation *act,
                                      double *slope)
{
    char name[32];
    size_t n = strcspn(s, ":");
    if (n >= sizeof name || (snprintf(name, sizeof name, "%.*s", (int)n, s),
                             minima_activation_parse(name, act) != MINIMA_OK))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: activation: expected relu, leaky_relu[:SLOPE] or tanh, "
                    "found '%.60s'", fn, s);
    *slope = 0.01;
    if (s[n] == ':') {
        const char *sv = s + n + 1;
        char *end;
        if (*act != MINIMA_ACT_LEAKY_RELU)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: activation: only leaky_relu takes a slope, found '%.60s'",
                        fn, s);
        errno = 0;
        double a = strtod(sv, &end);
        if (end == sv || *end || errno || !(a > 0 && a < 1))
            MINIMA_FAIL(MINIMA_EINVAL, "%s: activation: the slope must be a number between 0 and 1, "
                        "found '%.60s'", fn, sv);
        *slope = a;
    }
    return MINIMA_OK;
}

/* Load options with the activation (NULL: the file's), order and arch set. */
static minima_status load_options(const char *fn, const char *activation, const char *order,
                                  const char *arch, minima_load_options *lo)
{
    *lo = minima_load_default_options();
    if (order && arch)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: expected an order or an arch, found both (order '%.60s', "
                    "arch '%.60s'): with an arch the tensors fill its nodes module by module, in the "
                    "natural order of their names", fn, order, arch);
    if (activation) {
        MINIMA_TRY(parse_activation(fn, activation, &lo->activation, &lo->leaky_slope));
        lo->activation_set = 1;
    }
    lo->order = order;
    lo->arch = arch;
    return MINIMA_OK;
}

/* ---- models ------------------------------------------------------------ */

minima_status minima_api_model_load(const char *path, const char *activation, const char *order,
                                    const char *arch, minima_model **out)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_api_model_load: NULL argument (out)");
    *out = NULL;
    if (!path) MINIMA_FAIL(MINIMA_EINVAL, "minima_api_model_load: NULL argument (path)");
    minima_load_options lo;
    MINIMA_TRY(load_options("minima_api_model_load", activation, order, arch, &lo));
    MINIMA_TRY(minima_model_load(path, &lo, out));
    if ((*out)->activation_source == MINIMA_FROM_ASSUMED)
        minima_log(MINIMA_LOG_WARN, "%s records no activation; assuming relu (pass the activation "
                   "to set it)", path);
    return MINIMA_OK;
}

minima_status minima_api_model_from_tensors(int n_tensors, const char *const *names, const int *ndims,
                                            const int64_t *shapes, const double *const *values,
                                            const char *order, const char *arch,
                                            const char *activation, const char *loss,
                                            minima_model **out)
{
    static const char fn[] = "minima_api_model_from_tensors";
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (out)", fn);
    *out = NULL;
    if (n_tensors < 1)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: %d tensors; expected at least one \"<layer>.weight\"", fn,
                    n_tensors);
    if (!names || !ndims || !values)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (%s)", fn,
                    !names ? "names" : !ndims ? "ndims" : "values");
    minima_loss lv = MINIMA_LOSS_CE;
    if (loss && minima_loss_parse(loss, &lv) != MINIMA_OK)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: loss: expected ce or mse, found '%.60s'", fn, loss);
    minima_load_options lo;
    MINIMA_TRY(load_options(fn, activation, order, arch, &lo));
    size_t n_dims = 0;
    for (int i = 0; i < n_tensors; i++) {
        if (ndims[i] < 0 || ndims[i] > 8)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: tensor %d ('%.80s') has %d dimensions; expected 0 to 8 "
                        "(a bias 1, a linear weight 2, a conv2d weight 4)", fn, i,
                        names[i] ? names[i] : "(null)", ndims[i]);
        n_dims += (size_t)ndims[i];
    }
    if (n_dims && !shapes) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (shapes)", fn);
    minima_named_tensor *t = minima_alloc((size_t)n_tensors, sizeof *t);
    if (!t) MINIMA_FAIL(MINIMA_ENOMEM, "%s: out of memory for %d tensors", fn, n_tensors);
    size_t at = 0;
    for (int i = 0; i < n_tensors; i++) {
        t[i].name = names[i];
        t[i].ndim = ndims[i];
        t[i].shape = n_dims ? shapes + at : NULL;
        t[i].values = values[i];
        at += (size_t)ndims[i];
    }
    minima_status st = minima_model_from_named_tensors(t, n_tensors, &lo, "state dict", out);
    minima_free(t);
    if (st == MINIMA_OK) (*out)->loss = lv;
    return st;
}

minima_status minima_api_model_create(const char *arch, int bias, const char *activation,
                                      uint64_t seed, minima_model **out)
{
    static const char fn[] = "minima_api_model_create";
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (out)", fn);
    *out = NULL;
    if (!arch) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (arch)", fn);
    minima_activation act = MINIMA_ACT_RELU;
    double slope = 0.01;
    if (activation) MINIMA_TRY(parse_activation(fn, activation, &act, &slope));
    /* "784-128-10" (activation between the layers) or "SHAPE:LAYER,..." */
    MINIMA_TRY(minima_arch_parse(arch, bias != 0, act, slope, out));
    minima_model_init(*out, seed);
    return MINIMA_OK;
}

minima_status minima_api_model_save(const minima_model *model, const char *path, const char *dtype)
{
    if (!model || !path)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_api_model_save: NULL argument (%s)", !model ? "model" : "path");
    minima_dtype d = MINIMA_DTYPE_F64;
    if (dtype) MINIMA_TRY(minima_dtype_parse(dtype, &d));
    return minima_model_save(model, path, d);
}

minima_status minima_api_model_info(const minima_model *model, char **json)
{
    if (!json) MINIMA_FAIL(MINIMA_EINVAL, "minima_api_model_info: NULL argument (json)");
    *json = NULL;
    if (!model) MINIMA_FAIL(MINIMA_EINVAL, "minima_api_model_info: NULL argument (model)");
    return minima_gsym_model_info_json(model, NULL, json);   /* `minima info --json`'s text */
}

size_t minima_api_model_n_params(const minima_model *model)
{
    return model ? model->n_params : 0;
}

minima_status minima_api_model_get_params(const minima_model *model, double *theta)
{
    if (!model || !theta)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_api_model_get_params: NULL argument (%s)",
                    !model ? "model" : "theta");
    memcpy(theta, model->theta, model->n_params * sizeof *theta);
    return MINIMA_OK;
}

minima_status minima_api_model_set_params(minima_model *model, const double *theta)
{
    if (!model || !theta)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_api_model_set_params: NULL argument (%s)",
                    !model ? "model" : "theta");
    for (size_t i = 0; i < model->n_params; i++)
        if (!isfinite(theta[i]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "minima_api_model_set_params: parameter %zu of %zu is %g; "
                        "expected finite values (the model is unchanged)", i, model->n_params,
                        theta[i]);
    memcpy(model->theta, theta, model->n_params * sizeof *theta);
    return MINIMA_OK;
}

/* ---- rescaling --------------------------------------------------------- */

/* "a1;a2;..." into alpha (at most max numbers, each finite and > 0). */
static minima_status parse_alpha(const char *fn, const char *s, double *alpha, int max, int *n)
{
    const char *p = s;
    *n = 0;
    for (;;) {
        char *end;
        errno = 0;
        double a = strtod(p, &end);
        if (end == p || (*end && *end != ';') || errno || !isfinite(a) || !(a > 0) || a > 1e100)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: request: alpha must be numbers in (0, 1e100] separated "
                        "by ';' (e.g. 10;0.1), found '%.60s' in '%.100s'", fn, p, s);
        if (*n >= max)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: request: alpha has more than %d factors, one per layer: "
                        "'%.100s'", fn, max, s);
        alpha[(*n)++] = a;
        if (!*end) break;
        p = end + 1;
    }
    return MINIMA_OK;
}

/* minima_api_model_rescale with its request parsed. */
typedef struct {
    const char *alpha, *neurons, *group;
    int canonical, derive_last, force;
} rescale_request;

/* A graph (not a perceptron) through its group (minima/graph_symmetry.h):
 * alpha is the stage-wise map (n_stages + 1 factors, or n_stages with
 * derive_last), neurons a random point per class after it, canonical the
 * minimum-norm point over every class or (layer) over the stage-wise maps.
 * tanh needs no force: the group fixes the channels tanh reads and writes. */
static minima_status rescale_graph(const char *fn, const minima_model *model, const char *alpha_s,
                                   int derive_last, int neurons, uint64_t seed, double spread,
                                   int canonical, int layer, minima_model **out)
{
    minima_gsym *g = NULL;
    MINIMA_TRY(minima_gsym_create(model, &g));
    int n_alpha = 0, max_alpha = 1;
    /* as many as given: minima_gsym_stage_u names the count it expects */
    for (const char *c = alpha_s ? alpha_s : ""; *c; c++) max_alpha += *c == ';';
    double *alpha = minima_alloc((size_t)max_alpha, sizeof *alpha);
    double *u = minima_alloc(g->n_classes ? (size_t)g->n_classes : 1, sizeof *u);
    minima_model *m = NULL;
    minima_status st = MINIMA_OK;
    if (!alpha || !u) {
        st = minima_error(MINIMA_ENOMEM, "%s: out of memory", fn);
        goto done;
    }
    for (int c = 0; c < g->n_classes; c++) u[c] = 0;
    if ((st = minima_model_copy(model, &m)) != MINIMA_OK) goto done;
    if (canonical) {
        st = layer ? minima_gsym_stage_canonical(g, model, NULL, NULL, u, m->theta, NULL)
                   : minima_gsym_canonical(g, model, NULL, u, m->theta, NULL);
        if (st == MINIMA_ENOCONV) {
            minima_log(MINIMA_LOG_WARN, "%s: %s; the last (shorter) point is used", fn,
                       minima_last_error());
            st = MINIMA_OK;
        }
        if (st != MINIMA_OK) goto done;
    } else {
        if (alpha_s) {
            if ((st = parse_alpha(fn, alpha_s, alpha, max_alpha, &n_alpha)) != MINIMA_OK) goto done;
            if ((st = minima_gsym_stage_u(g, alpha, n_alpha, derive_last, 1e-12, u, NULL)) != MINIMA_OK)
                goto done;
        }
        if (neurons && (st = minima_gsym_random_u(g, seed, spread, u, u)) != MINIMA_OK) goto done;
        if ((st = minima_gsym_apply(g, model, u, NULL, m->theta)) != MINIMA_OK) goto done;
    }
    if ((st = minima_model_check_finite(m)) != MINIMA_OK) goto done;
    *out = m;
    m = NULL;
done:
    minima_model_free(m);
    minima_free(alpha);
    minima_free(u);
    minima_gsym_free(g);
    return st;
}

static minima_status rescale(const char *fn, const minima_model *model, const rescale_request *q,
                             minima_model **out)
{
    const char *alpha_s = q->alpha, *neurons_s = q->neurons, *group_s = q->group;
    int canonical = q->canonical, derive_last = q->derive_last, force = q->force;
    if (!alpha_s && !neurons_s && !canonical)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: one of alpha, neurons or canonical=1 is required", fn);
    if (canonical && (alpha_s || neurons_s))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: canonical cannot be combined with alpha or neurons", fn);
    if (derive_last && !alpha_s) MINIMA_FAIL(MINIMA_EINVAL, "%s: derive_last needs alpha", fn);
    if (group_s && !canonical) MINIMA_FAIL(MINIMA_EINVAL, "%s: group needs canonical=1", fn);
    minima_sym_canonical_params cp = minima_sym_canonical_default_params();
    if (!group_s || !strcmp(group_s, "neuron")) cp.group = MINIMA_SYM_NEURON;
    else if (!strcmp(group_s, "layer")) cp.group = MINIMA_SYM_LAYER;
    else MINIMA_FAIL(MINIMA_EINVAL, "%s: request: group must be neuron or layer, found '%.60s'", fn, group_s);
    uint64_t nseed = 0;
    double spread = 0;
    if (neurons_s) {
        char *end;
        errno = 0;
        unsigned long long sv = strtoull(neurons_s, &end, 10);
        if (end == neurons_s || *end != ':' || errno || neurons_s[0] == '-')
            MINIMA_FAIL(MINIMA_EINVAL, "%s: request: neurons must be SEED:SPREAD (e.g. 1:0.5), "
                        "found '%.60s'", fn, neurons_s);
        const char *sp = end + 1;
        spread = strtod(sp, &end);
        if (end == sp || *end || !isfinite(spread) || spread < 0)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: request: neurons: SPREAD must be a number >= 0, found "
                        "'%.60s'", fn, sp);
        nseed = (uint64_t)sv;
    }
    if (!model->is_mlp)
        return rescale_graph(fn, model, alpha_s, derive_last, neurons_s != NULL, nseed, spread,
                             canonical, cp.group == MINIMA_SYM_LAYER, out);
    if (model->activation == MINIMA_ACT_TANH && !force)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: the model uses tanh (%s), which is not non-negative "
                    "homogeneous: a rescaled model would compute a different function; pass "
                    "force=1 to rescale it anyway", fn,
                    model->activation_source == MINIMA_FROM_OPTION ? "given as its activation"
                                                                   : "recorded in the file");
    if (model->activation == MINIMA_ACT_TANH)
        minima_log(MINIMA_LOG_WARN, "%s: the model uses tanh, which is not non-negative homogeneous: "
                   "the rescaled model computes a DIFFERENT function (force=1)", fn);
    int K = model->n_layers, n_alpha = 0;
    size_t nu = minima_sym_n_units(model);
    double *alpha = minima_alloc((size_t)K, sizeof *alpha);
    double *used = minima_alloc((size_t)K, sizeof *used);
    double *scales = minima_alloc(nu ? nu : 1, sizeof *scales);
    minima_model *m = NULL;
    minima_status st = MINIMA_OK;
    if (!alpha || !used || !scales) {
        st = minima_error(MINIMA_ENOMEM, "%s: out of memory", fn);
        goto done;
    }
    if (alpha_s && (st = parse_alpha(fn, alpha_s, alpha, K, &n_alpha)) != MINIMA_OK) goto done;
    minima_sym_identity(model, scales);
    for (int k = 0; k < K; k++) used[k] = 1.0;
    if (alpha_s &&
        (st = minima_sym_layer_scales(model, alpha, n_alpha, derive_last, 1e-12, scales, used)) != MINIMA_OK)
        goto done;
    if (neurons_s &&
        (st = minima_sym_random_scales(model, nseed, spread, alpha_s ? used : NULL, scales)) != MINIMA_OK)
        goto done;
    minima_sym_canonical_info cinfo;
    if (canonical && (st = minima_sym_canonical(model, NULL, &cp, scales, &cinfo)) != MINIMA_OK) goto done;
    if ((st = minima_model_copy(model, &m)) != MINIMA_OK) goto done;
    minima_sym_apply_model(m, scales);
    if ((st = minima_model_check_finite(m)) != MINIMA_OK) goto done;
    *out = m;
    m = NULL;
done:
    minima_model_free(m);
    minima_free(alpha);
    minima_free(used);
    minima_free(scales);
    return st;
}

minima_status minima_api_model_rescale(const minima_model *model, const char *request_text,
                                       minima_model **out)
{
    static const char fn[] = "minima_api_model_rescale";
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (out)", fn);
    *out = NULL;
    if (!model) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (model)", fn);
    rescale_request q = {0};
    const req_key keys[] = {
        OTHER("alpha", RK_STRING, &q.alpha),
        OTHER("neurons", RK_STRING, &q.neurons),
        OTHER("canonical", RK_BOOL, &q.canonical),
        OTHER("group", RK_STRING, &q.group),
        OTHER("derive_last", RK_BOOL, &q.derive_last),
        OTHER("force", RK_BOOL, &q.force),
        {NULL, RK_INT, NULL, 0, 0, 0, 0},
    };
    char *buf = NULL;
    minima_status st = minima_api_request_parse(fn, request_text, keys, &buf);
    if (st == MINIMA_OK) st = rescale(fn, model, &q, out);
    minima_free(buf);
    return st;
}

/* ---- data -------------------------------------------------------------- */

minima_status minima_api_data_from_arrays(size_t n, int d, const double *x, const int64_t *labels,
                                          int n_classes, const double *targets, int d_target,
                                          minima_dataset **out)
{
    static const char fn[] = "minima_api_data_from_arrays";
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (out)", fn);
    *out = NULL;
    if (n < 1) MINIMA_FAIL(MINIMA_EINVAL, "%s: n = 0 examples; expected at least 1", fn);
    if (d < 1) MINIMA_FAIL(MINIMA_EINVAL, "%s: d = %d features; expected at least 1", fn, d);
    if (!x) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (x)", fn);
    if (!labels == !targets)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: expected exactly one of labels (classes, for ce) and targets "
                    "(for mse), found %s", fn, labels ? "both" : "neither");
    if (n > SIZE_MAX / (size_t)d) MINIMA_FAIL(MINIMA_ENOMEM, "%s: %zu x %d values overflow", fn, n, d);
    for (size_t i = 0; i < n * (size_t)d; i++)
        if (!isfinite(x[i]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "%s: x[%zu, %zu] is %g; expected finite features", fn,
                        i / (size_t)d, i % (size_t)d, x[i]);
    int classes = 0, width = 0;
    if (labels) {
        if (n_classes < 0)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: n_classes = %d; expected >= 1, or 0 (the largest label "
                        "+ 1)", fn, n_classes);
        int64_t hi = n_classes > 0 ? (int64_t)n_classes - 1 : (int64_t)INT32_MAX - 1;
        int64_t largest = 0;
        for (size_t i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] > hi)
                MINIMA_FAIL(MINIMA_ERANGE, "%s: labels[%zu] is %" PRId64 "; expected a class in 0..%"
                            PRId64 "%s", fn, i, labels[i], hi,
                            n_classes > 0 ? " (n_classes given)" : "");
            if (labels[i] > largest) largest = labels[i];
        }
        classes = n_classes > 0 ? n_classes : (int)largest + 1;
    } else {
        if (d_target < 1)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: d_target = %d; expected >= 1 target values per example",
                        fn, d_target);
        if (n > SIZE_MAX / (size_t)d_target)
            MINIMA_FAIL(MINIMA_ENOMEM, "%s: %zu x %d targets overflow", fn, n, d_target);
        for (size_t i = 0; i < n * (size_t)d_target; i++)
            if (!isfinite(targets[i]))
                MINIMA_FAIL(MINIMA_ENONFINITE, "%s: targets[%zu, %zu] is %g; expected finite targets",
                            fn, i / (size_t)d_target, i % (size_t)d_target, targets[i]);
        width = d_target;
    }
    minima_dataset *ds = NULL;
    MINIMA_TRY(minima_dataset_create(&ds, n, d, classes, width));
    memcpy(ds->x, x, n * (size_t)d * sizeof *x);
    if (labels)
        for (size_t i = 0; i < n; i++) ds->labels[i] = (int32_t)labels[i];
    else
        memcpy(ds->targets, targets, n * (size_t)d_target * sizeof *targets);
    minima_status st = minima_dataset_set_name(ds, "arrays");
    if (st != MINIMA_OK) {
        minima_dataset_free(ds);
        return st;
    }
    *out = ds;
    return MINIMA_OK;
}

minima_status minima_api_data_load(const char *source, const char *labels, size_t subset,
                                   minima_dataset **out)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_api_data_load: NULL argument (out)");
    *out = NULL;
    if (!source) MINIMA_FAIL(MINIMA_EINVAL, "minima_api_data_load: NULL argument (source)");
    minima_data_options o = minima_data_default_options();
    o.labels_path = labels;
    o.subset = subset;
    return minima_data_load(source, &o, out);
}

size_t minima_api_data_n(const minima_dataset *data)
{
    return data ? data->n : 0;
}

int minima_api_data_d(const minima_dataset *data)
{
    return data ? data->d : 0;
}

/* ---- problems ---------------------------------------------------------- */

minima_status minima_api_problem(const minima_model *model, const minima_dataset *data,
                                 const char *loss, size_t batch, minima_net **out)
{
    static const char fn[] = "minima_api_problem";
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (out)", fn);
    *out = NULL;
    if (!model || !data) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument (%s)", fn, !model ? "model" : "data");
    minima_net_params np = minima_net_default_params(model);
    if (loss && minima_loss_parse(loss, &np.loss) != MINIMA_OK)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: loss: expected ce or mse, found '%.60s'", fn, loss);
    if (batch) np.batch_size = batch;
    return minima_net_create(out, model, data, &np);
}
