/* net.c — loss, gradient and exact curvature products over a data set.
 *
 * Notation of docs/engine.md, for one batch of b examples (rows):
 *
 *   A_0 = X (b, d_0);  Z_k = A_{k-1} W_k^T + 1 b_k^T (b, d_k);  A_k = phi(Z_k)
 *   G_K = dL/dZ_K;  G_{k-1} = (G_k W_k) .* phi'(Z_{k-1})
 *
 * Hidden activations are stored in place of Z_k: phi'(Z) can be recovered
 * from A = phi(Z) for every activation offered (ReLU/leaky: A > 0 iff Z > 0;
 * tanh: phi' = 1 - A^2, phi'' = -2 A (1 - A^2)). Layer indices in this file
 * run k = 1..K as in the mathematics; arrays indexed by k have K+1 slots.
 */
#include "minima/net.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "minima/alloc.h"

#define MAX_LAYERS 63

/* What the R-passes of one precision read and write (net_rpass.h). */
#define RPASS_STRUCT(REAL_T, NAME) typedef struct { \
    const REAL_T *x;                /* (N, d_0) the data */ \
    const REAL_T *theta0;           /* (P) the anchor */ \
    REAL_T *rz[MAX_LAYERS + 1];     /* (B, d_k) R{Z_k} */ \
    REAL_T *ra[MAX_LAYERS + 1];     /* (B, d_k) R{A_k} */ \
    REAL_T *rg[MAX_LAYERS + 1];     /* (B, d_k) R{G_k} */ \
    REAL_T *gw;                     /* (B, max d) scratch: G_k W_k for tanh */ \
} NAME;
RPASS_STRUCT(double, rpass_f64)
RPASS_STRUCT(float, rpass_f32)

struct minima_net {
    const minima_model *model;
    const minima_dataset *data;
    minima_net_params params;
    int K;
    const int *d;              /* (K+1) widths, the model's */
    size_t P, N, B;            /* parameters, examples, batch rows */
    double *theta0;            /* (P) anchor */
    double *theta_tmp;         /* (P) scratch for the dense Hessian's unit vectors */
    double *col;               /* (P) scratch column */

    /* Batch workspaces, (B, d_k) each, k = 1..K. */
    double *act[MAX_LAYERS + 1];   /* A_k (k < K) or Z_K */
    double *sig[MAX_LAYERS + 1];   /* G_k */
    double *prob;              /* (B, d_K) softmax */
    rpass_f64 r64;             /* R-pass workspaces; x and theta0 view data->x, theta0 */
    const double *targets;     /* (N, d_K) MSE targets: the data's, or onehot */
    double *onehot;            /* (N, d_K) one-hot labels for MSE on class labels, or NULL */

    /* Cache at the anchor: A_k (k < K), G_k (k <= K), softmax; (N, d_k). */
    int cache_enabled;
    int cache_valid;
    double anchor_loss;
    double *cache_act[MAX_LAYERS + 1];
    double *cache_sig[MAX_LAYERS + 1];
    double *cache_prob;

    /* float32 curvature products (params.float32): the data, the anchor,
     * the cache and the batch workspaces in single precision. The cache is
     * computed in float64 and rounded, so only the products' own
     * arithmetic is single precision. */
    rpass_f32 r32;
    float *x32;                /* (N, d_0) */
    float *theta32;            /* (P) the anchor, rounded */
    float *v32, *hv32;         /* (P) a product's input and output */
    float *act32[MAX_LAYERS + 1], *sig32[MAX_LAYERS + 1], *prob32;        /* (B, d_k) */
    float *cache_act32[MAX_LAYERS + 1], *cache_sig32[MAX_LAYERS + 1], *cache_prob32; /* (N, d_k) */
    int cache32_valid;

    size_t n_products;
};

minima_net_params minima_net_default_params(const minima_model *model)
{
    minima_net_params p;
    p.loss = model ? model->loss : MINIMA_LOSS_CE;
    p.batch_size = 1000;
    p.cache_limit = (size_t)8 << 30;
    p.float32 = 0;
    return p;
}

static size_t cache_bytes_for(const minima_model *m, size_t n, minima_loss loss, int float32)
{
    size_t per_example = 0;
    for (int k = 1; k <= m->n_layers; k++) {
        if (k < m->n_layers) per_example += (size_t)m->widths[k];   /* A_k */
        per_example += (size_t)m->widths[k];                        /* G_k */
    }
    if (loss == MINIMA_LOSS_CE) per_example += (size_t)m->widths[m->n_layers];
    return n * per_example * (sizeof(double) + (float32 ? sizeof(float) : 0));
}

void minima_net_free(minima_net *net)
{
    if (!net) return;
    for (int k = 0; k <= net->K && k <= MAX_LAYERS; k++) {
        minima_free(net->act[k]);
        minima_free(net->sig[k]);
        minima_free(net->r64.rz[k]);
        minima_free(net->r64.ra[k]);
        minima_free(net->r64.rg[k]);
        minima_free(net->cache_act[k]);
        minima_free(net->cache_sig[k]);
        minima_free(net->r32.rz[k]);
        minima_free(net->r32.ra[k]);
        minima_free(net->r32.rg[k]);
        minima_free(net->act32[k]);
        minima_free(net->sig32[k]);
        minima_free(net->cache_act32[k]);
        minima_free(net->cache_sig32[k]);
    }
    minima_free(net->cache_prob);
    minima_free(net->cache_prob32);
    minima_free(net->prob32);
    minima_free(net->r64.gw);
    minima_free(net->r32.gw);
    minima_free(net->x32);
    minima_free(net->theta32);
    minima_free(net->v32);
    minima_free(net->hv32);
    minima_free(net->prob);
    minima_free(net->onehot);
    minima_free(net->theta0);
    minima_free(net->theta_tmp);
    minima_free(net->col);
    minima_free(net);
}

static minima_status check_data(const minima_model *m, const minima_dataset *x, minima_loss loss)
{
    const char *name = x->name ? x->name : "data";
    int dK = m->widths[m->n_layers];
    if (x->n == 0) MINIMA_FAIL(MINIMA_EINVAL, "%s: the data set has no examples", name);
    if (!x->x) MINIMA_FAIL(MINIMA_EINVAL, "%s: the data set has no features", name);
    if (x->d != m->widths[0])
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: examples have %d features but the network's input "
                    "width d_0 is %d", name, x->d, m->widths[0]);
    if (loss == MINIMA_LOSS_CE) {
        if (!x->labels)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: cross-entropy needs integer class labels, and the "
                        "data set has none (use --loss mse for regression targets)", name);
        for (size_t i = 0; i < x->n; i++)
            if (x->labels[i] < 0 || x->labels[i] >= dK)
                MINIMA_FAIL(MINIMA_ERANGE, "%s: label of example %zu is %d; expected a class in "
                            "[0, %d) for a network with %d outputs", name, i, (int)x->labels[i],
                            dK, dK);
    } else if (!x->targets) {
        /* MSE on class labels: one-hot targets, as F.one_hot(y).double(). */
        if (!x->labels)
            MINIMA_FAIL(MINIMA_EINVAL, "%s: the MSE loss needs float targets or class labels, "
                        "and the data set has neither", name);
        for (size_t i = 0; i < x->n; i++)
            if (x->labels[i] < 0 || x->labels[i] >= dK)
                MINIMA_FAIL(MINIMA_ERANGE, "%s: label of example %zu is %d; one-hot MSE targets "
                            "need a class in [0, %d)", name, i, (int)x->labels[i], dK);
    } else {
        if (x->d_target != dK)
            MINIMA_FAIL(MINIMA_ESHAPE, "%s: targets have %d columns but the network has %d "
                        "outputs", name, x->d_target, dK);
        for (size_t i = 0; i < x->n * (size_t)dK; i++)
            if (!isfinite(x->targets[i]))
                MINIMA_FAIL(MINIMA_ENONFINITE, "%s: target [%zu, %zu] is %g; expected a finite "
                            "number", name, i / (size_t)dK, i % (size_t)dK, x->targets[i]);
    }
    for (size_t i = 0; i < x->n * (size_t)x->d; i++)
        if (!isfinite(x->x[i]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "%s: feature [%zu, %zu] is %g; expected a finite number",
                        name, i / (size_t)x->d, i % (size_t)x->d, x->x[i]);
    return MINIMA_OK;
}

minima_status minima_net_create(minima_net **out, const minima_model *model,
                                const minima_dataset *data, const minima_net_params *params)
{
    if (!out || !model || !data) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_create: NULL argument");
    *out = NULL;
    minima_net_params p = params ? *params : minima_net_default_params(model);
    if (p.loss != MINIMA_LOSS_CE && p.loss != MINIMA_LOSS_MSE)
        MINIMA_FAIL(MINIMA_EINVAL, "unknown loss code %d", (int)p.loss);
    if (model->n_layers > MAX_LAYERS)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "networks of more than %d layers are not supported "
                    "(this one has %d)", MAX_LAYERS, model->n_layers);
    MINIMA_TRY(check_data(model, data, p.loss));
    MINIMA_TRY(minima_model_check_finite(model));

    minima_net *net = minima_calloc(1, sizeof *net);
    if (!net) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory creating the network workspace");
    net->model = model;
    net->data = data;
    net->params = p;
    net->K = model->n_layers;
    net->d = model->widths;
    net->P = model->n_params;
    net->N = data->n;
    net->B = (p.batch_size == 0 || p.batch_size > data->n) ? data->n : p.batch_size;
    size_t maxd = 0;
    for (int k = 0; k <= net->K; k++)
        if ((size_t)net->d[k] > maxd) maxd = (size_t)net->d[k];

    net->theta0 = minima_alloc(net->P, sizeof(double));
    net->theta_tmp = minima_calloc(net->P, sizeof(double));
    net->col = minima_alloc(net->P, sizeof(double));
    net->r64.gw = minima_alloc(net->B * maxd, sizeof(double));
    net->prob = minima_alloc(net->B * (size_t)net->d[net->K], sizeof(double));
    if (!net->theta0 || !net->theta_tmp || !net->col || !net->r64.gw || !net->prob) goto nomem;
    for (int k = 1; k <= net->K; k++) {
        size_t sz = net->B * (size_t)net->d[k];
        net->act[k] = minima_alloc(sz, sizeof(double));
        net->sig[k] = minima_alloc(sz, sizeof(double));
        net->r64.rz[k] = minima_alloc(sz, sizeof(double));
        net->r64.ra[k] = minima_alloc(sz, sizeof(double));
        net->r64.rg[k] = minima_alloc(sz, sizeof(double));
        if (!net->act[k] || !net->sig[k] || !net->r64.rz[k] || !net->r64.ra[k] || !net->r64.rg[k])
            goto nomem;
    }
    memcpy(net->theta0, model->theta, net->P * sizeof(double));
    net->r64.x = data->x;
    net->r64.theta0 = net->theta0;
    if (p.float32) {
        size_t nx = net->N * (size_t)net->d[0];
        net->x32 = minima_alloc(nx, sizeof(float));
        net->theta32 = minima_alloc(net->P, sizeof(float));
        net->v32 = minima_alloc(net->P, sizeof(float));
        net->hv32 = minima_alloc(net->P, sizeof(float));
        net->r32.gw = minima_alloc(net->B * maxd, sizeof(float));
        net->prob32 = minima_alloc(net->B * (size_t)net->d[net->K], sizeof(float));
        if (!net->x32 || !net->theta32 || !net->v32 || !net->hv32 || !net->r32.gw || !net->prob32)
            goto nomem;
        for (int k = 1; k <= net->K; k++) {
            size_t sz = net->B * (size_t)net->d[k];
            net->act32[k] = minima_alloc(sz, sizeof(float));
            net->sig32[k] = minima_alloc(sz, sizeof(float));
            net->r32.rz[k] = minima_alloc(sz, sizeof(float));
            net->r32.ra[k] = minima_alloc(sz, sizeof(float));
            net->r32.rg[k] = minima_alloc(sz, sizeof(float));
            if (!net->act32[k] || !net->sig32[k] || !net->r32.rz[k] || !net->r32.ra[k] ||
                !net->r32.rg[k])
                goto nomem;
        }
        for (size_t i = 0; i < nx; i++) net->x32[i] = (float)data->x[i];
        for (size_t i = 0; i < net->P; i++) net->theta32[i] = (float)net->theta0[i];
        net->r32.x = net->x32;
        net->r32.theta0 = net->theta32;
    }
    net->targets = data->targets;
    if (p.loss == MINIMA_LOSS_MSE && !data->targets) {
        size_t dK = (size_t)net->d[net->K];
        if (!(net->onehot = minima_calloc(net->N * dK, sizeof(double)))) goto nomem;
        for (size_t i = 0; i < net->N; i++) net->onehot[i * dK + (size_t)data->labels[i]] = 1.0;
        net->targets = net->onehot;
    }

    size_t need = cache_bytes_for(model, net->N, p.loss, p.float32);
    net->cache_enabled = need <= p.cache_limit;
    if (net->cache_enabled) {
        int ok = 1;
        int ce = p.loss == MINIMA_LOSS_CE;
        for (int k = 1; k <= net->K; k++) {
            size_t sz = net->N * (size_t)net->d[k];
            if (k < net->K) ok = ok && (net->cache_act[k] = minima_alloc(sz, sizeof(double)));
            ok = ok && (net->cache_sig[k] = minima_alloc(sz, sizeof(double)));
            if (p.float32) {
                if (k < net->K) ok = ok && (net->cache_act32[k] = minima_alloc(sz, sizeof(float)));
                ok = ok && (net->cache_sig32[k] = minima_alloc(sz, sizeof(float)));
            }
        }
        size_t np = net->N * (size_t)net->d[net->K];
        if (ce) ok = ok && (net->cache_prob = minima_alloc(np, sizeof(double)));
        if (ce && p.float32) ok = ok && (net->cache_prob32 = minima_alloc(np, sizeof(float)));
        if (!ok) {
            /* Not enough memory for the cache: fall back to recomputation. */
            for (int k = 1; k <= net->K; k++) {
                minima_free(net->cache_act[k]);
                minima_free(net->cache_sig[k]);
                minima_free(net->cache_act32[k]);
                minima_free(net->cache_sig32[k]);
                net->cache_act[k] = net->cache_sig[k] = NULL;
                net->cache_act32[k] = net->cache_sig32[k] = NULL;
            }
            minima_free(net->cache_prob);
            minima_free(net->cache_prob32);
            net->cache_prob = NULL;
            net->cache_prob32 = NULL;
            net->cache_enabled = 0;
            minima_log(MINIMA_LOG_WARN, "could not allocate the %zu-byte curvature cache; "
                       "products will recompute activations", need);
        }
    } else {
        minima_log(MINIMA_LOG_INFO, "curvature cache of %zu bytes exceeds the limit of %zu; "
                   "products will recompute activations", need, p.cache_limit);
    }
    *out = net;
    return MINIMA_OK;
nomem:
    minima_net_free(net);
    MINIMA_FAIL(MINIMA_ENOMEM, "out of memory allocating network workspaces for a batch of "
                "%zu examples", data->n);
}

size_t minima_net_n_params(const minima_net *net) { return net->P; }
size_t minima_net_n_examples(const minima_net *net) { return net->N; }
const minima_model *minima_net_model(const minima_net *net) { return net->model; }
const minima_dataset *minima_net_data(const minima_net *net) { return net->data; }
minima_loss minima_net_loss_kind(const minima_net *net) { return net->params.loss; }
minima_net_params minima_net_get_params(const minima_net *net) { return net->params; }
const double *minima_net_point(const minima_net *net) { return net->theta0; }
size_t minima_net_n_products(const minima_net *net) { return net->n_products; }
int minima_net_cache_enabled(const minima_net *net) { return net->cache_enabled; }

size_t minima_net_cache_bytes(const minima_net *net)
{
    return cache_bytes_for(net->model, net->N, net->params.loss, net->params.float32);
}

static minima_status check_theta(const minima_net *net, const double *theta)
{
    for (size_t i = 0; i < net->P; i++)
        if (!isfinite(theta[i]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "parameter %zu is %g; expected a finite number", i,
                        theta[i]);
    return MINIMA_OK;
}

minima_status minima_net_set_point(minima_net *net, const double *theta)
{
    if (!net || !theta) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_set_point: NULL argument");
    MINIMA_TRY(check_theta(net, theta));
    memcpy(net->theta0, theta, net->P * sizeof(double));
    if (net->theta32)
        for (size_t i = 0; i < net->P; i++) net->theta32[i] = (float)theta[i];
    net->cache_valid = 0;
    net->cache32_valid = 0;
    return MINIMA_OK;
}

/* ---- per-layer views of a parameter vector --------------------------- */

static const double *W(const minima_net *net, const double *theta, int k)
{
    return theta + net->model->weight_offset[k - 1];
}

static const double *Bias(const minima_net *net, const double *theta, int k)
{
    return net->model->has_bias ? theta + net->model->bias_offset[k - 1] : NULL;
}

static double *Wm(const minima_net *net, double *theta, int k)
{
    return theta + net->model->weight_offset[k - 1];
}

static double *Biasm(const minima_net *net, double *theta, int k)
{
    return net->model->has_bias ? theta + net->model->bias_offset[k - 1] : NULL;
}

/* ---- elementwise pieces ---------------------------------------------- */

static void activate(const minima_net *net, double *z, size_t n)
{
    switch (net->model->activation) {
    case MINIMA_ACT_RELU:
        for (size_t i = 0; i < n; i++) z[i] = z[i] > 0 ? z[i] : 0.0;
        break;
    case MINIMA_ACT_LEAKY_RELU: {
        double a = net->model->leaky_slope;
        for (size_t i = 0; i < n; i++) z[i] = z[i] > 0 ? z[i] : a * z[i];
        break;
    }
    case MINIMA_ACT_TANH:
        for (size_t i = 0; i < n; i++) z[i] = tanh(z[i]);
        break;
    }
}

/* The per-batch kernels, in float64 and in float32. */
#define REAL double
#define SFX(x) x##_f64
#define GEMM cblas_dgemm
#include "engine/net_rpass.h"
#undef REAL
#undef SFX
#undef GEMM
#define REAL float
#define SFX(x) x##_f32
#define GEMM cblas_sgemm
#include "engine/net_rpass.h"
#undef REAL
#undef SFX
#undef GEMM

/* ---- forward and backward over one batch ----------------------------- */

/* Forward pass for rows [s, s+b): act[k] (b, d_k) gets A_k for k < K and
 * Z_K for k = K. */
static void forward(const minima_net *net, const double *theta, size_t s, size_t b, double **act)
{
    const double *x = net->data->x + s * (size_t)net->d[0];
    for (int k = 1; k <= net->K; k++) {
        const double *in = k == 1 ? x : act[k - 1];
        linear_forward_f64(b, net->d[k], net->d[k - 1], in, W(net, theta, k), Bias(net, theta, k),
                           0.0, act[k]);
        if (k < net->K) activate(net, act[k], b * (size_t)net->d[k]);
    }
}

/* Loss summed over rows [s, s+b) (not yet divided), correct count, and
 * G_K (b, d_K) = dL/dZ_K for the mean loss over all N, and the softmax
 * (b, d_K) for cross-entropy when prob is not NULL. */
static void loss_and_output_signal(const minima_net *net, size_t s, size_t b, const double *z,
                                   double *g, double *prob, double *loss_sum, size_t *correct)
{
    int dK = net->d[net->K];
    double N = (double)net->N;
    double lsum = 0;
    size_t ok = 0;
    for (size_t i = 0; i < b; i++) {
        const double *zi = z + i * (size_t)dK;
        int arg = 0;
        for (int j = 1; j < dK; j++)
            if (zi[j] > zi[arg]) arg = j;
        if (net->data->labels && arg == net->data->labels[s + i]) ok++;
        if (net->params.loss == MINIMA_LOSS_CE) {
            int y = net->data->labels[s + i];
            double m = zi[arg], sum = 0;
            for (int j = 0; j < dK; j++) sum += exp(zi[j] - m);
            double lse = m + log(sum);
            lsum += lse - zi[y];
            if (g || prob) {
                for (int j = 0; j < dK; j++) {
                    double pj = exp(zi[j] - lse);
                    if (prob) prob[i * (size_t)dK + (size_t)j] = pj;
                    if (g) g[i * (size_t)dK + (size_t)j] = (pj - (j == y)) / N;
                }
            }
        } else {
            const double *ti = net->targets + (s + i) * (size_t)dK;
            double scale = 2.0 / (N * dK);
            for (int j = 0; j < dK; j++) {
                double r = zi[j] - ti[j];
                lsum += r * r;
                if (g) g[i * (size_t)dK + (size_t)j] = scale * r;
            }
        }
    }
    *loss_sum += lsum;
    *correct += ok;
}

static double finish_loss(const minima_net *net, double loss_sum)
{
    double denom = (double)net->N;
    if (net->params.loss == MINIMA_LOSS_MSE) denom *= net->d[net->K];
    return loss_sum / denom;
}

/* Backward signals G_k for k = K-1 .. 1, given G_K in sig[K]. */
static void backward_signals(const minima_net *net, const double *theta, size_t b, double **act,
                             double **sig)
{
    for (int k = net->K; k >= 2; k--) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, net->d[k - 1], net->d[k],
                    1.0, sig[k], net->d[k], W(net, theta, k), net->d[k - 1], 0.0, sig[k - 1],
                    net->d[k - 1]);
        times_dphi_f64(net, act[k - 1], sig[k - 1], b * (size_t)net->d[k - 1]);
    }
}

static void param_gradient(const minima_net *net, size_t s, size_t b, double **act, double **sig,
                           double *grad)
{
    const double *x = net->data->x + s * (size_t)net->d[0];
    for (int k = 1; k <= net->K; k++)
        linear_backward_params_f64(b, net->d[k], net->d[k - 1], sig[k], k == 1 ? x : act[k - 1],
                               Wm(net, grad, k), Biasm(net, grad, k));
}

/* ---- the cache ------------------------------------------------------- */

/* Pointers to A_k, G_k and the softmax of rows [s, s+b) at the anchor:
 * views into the cache when it is valid, else computed into the batch
 * workspaces. */
static void anchor_batch(minima_net *net, size_t s, size_t b, double **act, double **sig,
                         double **prob)
{
    if (net->cache_valid) {
        for (int k = 1; k <= net->K; k++) {
            act[k] = k < net->K ? net->cache_act[k] + s * (size_t)net->d[k] : NULL;
            sig[k] = net->cache_sig[k] + s * (size_t)net->d[k];
        }
        *prob = net->cache_prob ? net->cache_prob + s * (size_t)net->d[net->K] : NULL;
        return;
    }
    for (int k = 1; k <= net->K; k++) {
        act[k] = net->act[k];
        sig[k] = net->sig[k];
    }
    *prob = net->prob;
    forward(net, net->theta0, s, b, act);
    double lsum = 0;
    size_t ok = 0;
    loss_and_output_signal(net, s, b, act[net->K], sig[net->K],
                           net->params.loss == MINIMA_LOSS_CE ? *prob : NULL, &lsum, &ok);
    backward_signals(net, net->theta0, b, act, sig);
}

/* Fill the cache at the anchor if it is enabled and not yet valid. */
static minima_status ensure_cache(minima_net *net)
{
    if (!net->cache_enabled || net->cache_valid) return MINIMA_OK;
    double lsum = 0;
    size_t ok = 0;
    double *act[MAX_LAYERS + 1], *sig[MAX_LAYERS + 1];
    for (size_t s = 0; s < net->N; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->N - s < net->B ? net->N - s : net->B;
        for (int k = 1; k <= net->K; k++) {
            /* Z_K need not be kept: the softmax and G_K carry what products use. */
            act[k] = k < net->K ? net->cache_act[k] + s * (size_t)net->d[k] : net->act[k];
            sig[k] = net->cache_sig[k] + s * (size_t)net->d[k];
        }
        double *prob = net->cache_prob ? net->cache_prob + s * (size_t)net->d[net->K] : NULL;
        forward(net, net->theta0, s, b, act);
        loss_and_output_signal(net, s, b, act[net->K], sig[net->K], prob, &lsum, &ok);
        backward_signals(net, net->theta0, b, act, sig);
    }
    net->anchor_loss = finish_loss(net, lsum);
    net->cache_valid = 1;
    return MINIMA_OK;
}

/* ---- loss, outputs, gradient ------------------------------------------ */

minima_status minima_net_loss(minima_net *net, const double *theta, double *loss, double *accuracy)
{
    if (!net || !loss) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_loss: NULL argument");
    if (theta) MINIMA_TRY(check_theta(net, theta));
    else theta = net->theta0;
    double lsum = 0;
    size_t ok = 0;
    for (size_t s = 0; s < net->N; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->N - s < net->B ? net->N - s : net->B;
        forward(net, theta, s, b, net->act);
        loss_and_output_signal(net, s, b, net->act[net->K], NULL, NULL, &lsum, &ok);
    }
    *loss = finish_loss(net, lsum);
    if (accuracy) *accuracy = net->data->labels ? (double)ok / (double)net->N : NAN;
    return MINIMA_OK;
}

minima_status minima_net_outputs(minima_net *net, const double *theta, double *outputs)
{
    if (!net || !outputs) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_outputs: NULL argument");
    if (theta) MINIMA_TRY(check_theta(net, theta));
    else theta = net->theta0;
    size_t dK = (size_t)net->d[net->K];
    for (size_t s = 0; s < net->N; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->N - s < net->B ? net->N - s : net->B;
        forward(net, theta, s, b, net->act);
        memcpy(outputs + s * dK, net->act[net->K], b * dK * sizeof(double));
    }
    return MINIMA_OK;
}

minima_status minima_net_gradient(minima_net *net, const double *theta, double *loss, double *grad)
{
    if (!net || !grad) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_gradient: NULL argument");
    memset(grad, 0, net->P * sizeof(double));
    if (!theta && net->cache_enabled) {
        /* At the anchor, the cached signals give the gradient directly. */
        MINIMA_TRY(ensure_cache(net));
        double *act[MAX_LAYERS + 1], *sig[MAX_LAYERS + 1], *prob;
        for (size_t s = 0; s < net->N; s += net->B) {
            size_t b = net->N - s < net->B ? net->N - s : net->B;
            anchor_batch(net, s, b, act, sig, &prob);
            param_gradient(net, s, b, act, sig, grad);
        }
        if (loss) *loss = net->anchor_loss;
        return MINIMA_OK;
    }
    if (theta) MINIMA_TRY(check_theta(net, theta));
    else theta = net->theta0;
    double lsum = 0;
    size_t ok = 0;
    for (size_t s = 0; s < net->N; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->N - s < net->B ? net->N - s : net->B;
        forward(net, theta, s, b, net->act);
        loss_and_output_signal(net, s, b, net->act[net->K], net->sig[net->K], NULL, &lsum, &ok);
        backward_signals(net, theta, b, net->act, net->sig);
        param_gradient(net, s, b, net->act, net->sig, grad);
    }
    if (loss) *loss = finish_loss(net, lsum);
    return MINIMA_OK;
}

/* ---- curvature products ----------------------------------------------- */

static void to_float(float *dst, const double *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

/* Round the float64 cache to float32 once per anchor. */
static minima_status ensure_cache32(minima_net *net)
{
    if (!net->cache_enabled || net->cache32_valid) return MINIMA_OK;
    MINIMA_TRY(ensure_cache(net));
    for (int k = 1; k <= net->K; k++) {
        size_t sz = net->N * (size_t)net->d[k];
        if (k < net->K) to_float(net->cache_act32[k], net->cache_act[k], sz);
        to_float(net->cache_sig32[k], net->cache_sig[k], sz);
    }
    if (net->cache_prob)
        to_float(net->cache_prob32, net->cache_prob, net->N * (size_t)net->d[net->K]);
    net->cache32_valid = 1;
    return MINIMA_OK;
}

/* anchor_batch in float32: views into the float32 cache, or the float64
 * batch rounded into the float32 workspaces. */
static void anchor_batch_f32(minima_net *net, size_t s, size_t b, float **act, float **sig,
                             float **prob)
{
    if (net->cache32_valid) {
        for (int k = 1; k <= net->K; k++) {
            act[k] = k < net->K ? net->cache_act32[k] + s * (size_t)net->d[k] : NULL;
            sig[k] = net->cache_sig32[k] + s * (size_t)net->d[k];
        }
        *prob = net->cache_prob32 ? net->cache_prob32 + s * (size_t)net->d[net->K] : NULL;
        return;
    }
    double *a64[MAX_LAYERS + 1], *g64[MAX_LAYERS + 1], *p64;
    anchor_batch(net, s, b, a64, g64, &p64);
    for (int k = 1; k <= net->K; k++) {
        size_t sz = b * (size_t)net->d[k];
        if (k < net->K) to_float(net->act32[k], a64[k], sz);
        to_float(net->sig32[k], g64[k], sz);
        act[k] = net->act32[k];
        sig[k] = net->sig32[k];
    }
    *prob = NULL;
    if (net->params.loss == MINIMA_LOSS_CE) {
        to_float(net->prob32, p64, b * (size_t)net->d[net->K]);
        *prob = net->prob32;
    }
}

static minima_status curvature_product_f32(minima_net *net, const double *v, double *out, int full)
{
    MINIMA_TRY(ensure_cache32(net));
    to_float(net->v32, v, net->P);
    memset(net->hv32, 0, net->P * sizeof(float));
    float *act[MAX_LAYERS + 1], *sig[MAX_LAYERS + 1], *prob;
    for (size_t s = 0; s < net->N; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->N - s < net->B ? net->N - s : net->B;
        anchor_batch_f32(net, s, b, act, sig, &prob);
        r_forward_f32(net, &net->r32, net->v32, s, b, act);
        r_output_signal_f32(net, &net->r32, b, prob);
        r_backward_f32(net, &net->r32, net->v32, s, b, act, sig, full, net->hv32);
    }
    for (size_t i = 0; i < net->P; i++) out[i] = net->hv32[i];
    net->n_products++;
    return MINIMA_OK;
}

static minima_status curvature_product(minima_net *net, const double *v, double *out, int full)
{
    if (!net || !v || !out) MINIMA_FAIL(MINIMA_EINVAL, "curvature product: NULL argument");
    if (v == out) MINIMA_FAIL(MINIMA_EINVAL, "curvature product: input and output must differ");
    if (net->params.float32) return curvature_product_f32(net, v, out, full);
    MINIMA_TRY(ensure_cache(net));
    memset(out, 0, net->P * sizeof(double));
    double *act[MAX_LAYERS + 1], *sig[MAX_LAYERS + 1], *prob;
    for (size_t s = 0; s < net->N; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->N - s < net->B ? net->N - s : net->B;
        anchor_batch(net, s, b, act, sig, &prob);
        r_forward_f64(net, &net->r64, v, s, b, act);
        r_output_signal_f64(net, &net->r64, b, prob);
        r_backward_f64(net, &net->r64, v, s, b, act, sig, full, out);
    }
    net->n_products++;
    return MINIMA_OK;
}

minima_status minima_net_hvp(minima_net *net, const double *v, double *hv)
{
    return curvature_product(net, v, hv, 1);
}

minima_status minima_net_ggnvp(minima_net *net, const double *v, double *gv)
{
    return curvature_product(net, v, gv, 0);
}

minima_status minima_net_jvp(minima_net *net, const double *v, double *rz)
{
    if (!net || !v || !rz) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_jvp: NULL argument");
    MINIMA_TRY(ensure_cache(net));
    size_t dK = (size_t)net->d[net->K];
    double *act[MAX_LAYERS + 1], *sig[MAX_LAYERS + 1], *prob;
    for (size_t s = 0; s < net->N; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->N - s < net->B ? net->N - s : net->B;
        anchor_batch(net, s, b, act, sig, &prob);
        r_forward_f64(net, &net->r64, v, s, b, act);
        memcpy(rz + s * dK, net->r64.rz[net->K], b * dK * sizeof(double));
    }
    net->n_products++;
    return MINIMA_OK;
}

minima_status minima_net_hessian(minima_net *net, double *hessian)
{
    if (!net || !hessian) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_hessian: NULL argument");
    size_t P = net->P;
    memset(net->theta_tmp, 0, P * sizeof(double));
    for (size_t j = 0; j < P; j++) {
        net->theta_tmp[j] = 1.0;
        minima_status st = minima_net_hvp(net, net->theta_tmp, net->col);
        net->theta_tmp[j] = 0.0;
        if (st != MINIMA_OK) return st;
        for (size_t i = 0; i < P; i++) hessian[i * P + j] = net->col[i];
        minima_progress("dense Hessian", (double)(j + 1), (double)P);
    }
    for (size_t i = 0; i < P; i++)
        for (size_t j = i + 1; j < P; j++) {
            double avg = 0.5 * (hessian[i * P + j] + hessian[j * P + i]);
            hessian[i * P + j] = hessian[j * P + i] = avg;
        }
    return MINIMA_OK;
}
