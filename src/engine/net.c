/* net.c — the engine: loss, gradient and exact curvature products of a
 * model's graph over a data set (minima/net.h, docs/engine.md).
 *
 * The engine walks the graph's nodes in order and calls each node's kind
 * (engine/layer.h) for one batch of rows at a time:
 *
 *   forward     V_i = f_i(V_inputs; w_i)          i = 1 .. n-1
 *   loss        G_out = dL/dV_out (and the softmax)
 *   backward    G_inputs += J^T G_i               i = n-1 .. 1
 *   R-forward   R{V_i} = J_x R{V_inputs} + J_w v
 *   R-backward  R{G_inputs} += ...,  Hv_i += ...  (engine/layer.h)
 *
 * V_0 is the data and never moves (R{V_0} = 0, no signal). At the anchor,
 * the values, signals and per-node state the R-passes read do not depend on
 * the product's direction: they are computed once and kept (the cache) when
 * they fit in params.cache_limit. Only what the kinds declare is kept: a
 * node's value when a reader needs its inputs (LAYER_NEEDS_X) or the node
 * its output (LAYER_NEEDS_Y); a node's signal when it needs it
 * (LAYER_NEEDS_GY); every kind's aux. */
#include "minima/net.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/layer.h"
#include "engine/layer_elementwise.h"
#include "engine/parallel.h"
#include "minima/alloc.h"
#include "minima/dist.h"

/* The batch workspaces of all nodes together stay under this many bytes:
 * the batch is made smaller when they would not (results do not depend on
 * the batch size beyond rounding). */
#define WORKSPACE_BUDGET ((size_t)1 << 30)

/* Per-node facts fixed at creation. */
typedef struct {
    const layer_kind *kind;
    const minima_node *node;
    const minima_shape *in_shape[2];
    size_t size;               /* values per example */
    size_t aux;                /* aux bytes per example */
    int keep_value;            /* the R-passes read this node's value */
    int keep_signal;           /* the full R-backward reads this node's signal */
} node_plan;

/* One precision's view of a batch: a pointer per node. */
typedef struct { double **v; double **g; double **rv; double **rg; } views_f64;
typedef struct { float **v; float **g; float **rv; float **rg; } views_f32;

struct minima_net {
    const minima_model *model;
    const minima_dataset *data;
    minima_net_params params;
    int n;                     /* nodes, including the input */
    node_plan *plan;           /* (n) */
    size_t P, N, B;            /* parameters, examples, rows per batch */
    /* This rank's block of examples [lo, hi) (all of them with one rank;
     * minima/dist.h): every pass runs over it, every mean divides by N. */
    size_t lo, hi;
    size_t block_max;          /* the largest block of any rank: sizes the cache */
    double *reduce_buf;        /* (P + 2) a gradient and its loss, summed over ranks */
    size_t d_in, d_out;        /* values per example in and out */
    double *theta0;            /* (P) anchor */
    double *theta_tmp;         /* (P) unit vectors of the dense Hessian */
    double *col;               /* (P) a column of it */
    const double *targets;     /* (N, d_out) MSE targets: the data's, or one-hot */
    double *onehot;

    /* Batch workspaces: (B, size) per node, carved from one arena. */
    void *arena;
    double **val, **sig, **rval, **rsig;   /* (n) each; [0] unused */
    unsigned char **aux;       /* (n) B * aux bytes, or NULL */
    double *prob;              /* (B, d_out) softmax */
    void *scratch;             /* the largest scratch a kind asks for */
    double *row_loss;          /* (B) each row's loss, summed in row order (elementwise section) */
    unsigned char *row_ok;     /* (B) each row's prediction is right */
    /* Views of the current batch: into the cache or the workspaces. */
    double **cur_v, **cur_g;
    unsigned char **cur_aux;

    /* The cache at the anchor: (N, size) per kept node, one block. */
    int cache_enabled, cache_valid;
    double anchor_loss;
    void *cache;
    double **cval, **csig;     /* (n) */
    unsigned char **caux;      /* (n) */
    double *cprob;             /* (N, d_out) for cross-entropy */

    /* float32 curvature products (params.float32). */
    float *x32, *theta32, *v32, *hv32;
    float **val32, **sig32, **rval32, **rsig32, *prob32;   /* batch */
    float **cval32, **csig32, *cprob32;                    /* cache, rounded */
    float **cur_v32, **cur_g32;
    int cache32_valid;
    /* float32 products on a float64 net: allocated on first use (the
     * section "float32 products on demand" at the end of this file). */
    void *arena32, *cache32;

    size_t n_products;
    struct block_state *blk;   /* block products: workspaces (section at the end) */
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

/* ---- the plan: what each node reads, keeps and needs ------------------ */

static minima_status make_plan(minima_net *net)
{
    const minima_model *m = net->model;
    net->n = m->n_nodes;
    net->plan = minima_calloc((size_t)net->n, sizeof *net->plan);
    if (!net->plan) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory planning the network");
    for (int i = 0; i < net->n; i++) {
        node_plan *p = &net->plan[i];
        p->node = &m->nodes[i];
        p->size = minima_shape_size(p->node->shape);
        if (i == 0) continue;
        p->kind = layer_kind_of(p->node->kind);
        if (!p->kind)
            MINIMA_FAIL(MINIMA_EUNSUPPORTED, "node %d: kind %s is not built into this engine", i,
                        minima_node_kind_name(p->node->kind));
        for (int k = 0; k < 2; k++) {
            int src = p->node->inputs[k < p->node->n_inputs ? k : 0];
            p->in_shape[k] = &m->nodes[src].shape;
        }
        p->aux = p->kind->aux_bytes ? p->kind->aux_bytes(p->node, p->in_shape) : 0;
        p->keep_value |= (p->kind->needs & LAYER_NEEDS_Y) != 0;
        /* A parametric node's signal is kept too: the gradient at the anchor
         * is read from the cache. */
        p->keep_signal = (p->kind->needs & LAYER_NEEDS_GY) || p->kind->has_params;
        if ((p->kind->needs & LAYER_NEEDS_X) || p->kind->has_params)
            for (int k = 0; k < p->node->n_inputs; k++) net->plan[p->node->inputs[k]].keep_value = 1;
    }
    net->plan[0].keep_value = 0;   /* the data is always there */
    return MINIMA_OK;
}

static size_t cache_bytes_of(const minima_net *net)
{
    size_t per_example = 0, aux = 0;
    for (int i = 1; i < net->n; i++) {
        per_example += net->plan[i].keep_value ? net->plan[i].size : 0;
        per_example += net->plan[i].keep_signal ? net->plan[i].size : 0;
        aux += net->plan[i].aux;
    }
    if (net->params.loss == MINIMA_LOSS_CE) per_example += net->d_out;
    size_t real = sizeof(double) + (net->params.float32 || net->cache32 ? sizeof(float) : 0);
    return net->block_max * (per_example * real + aux);
}

/* Bytes of the batch workspaces for b rows (excluding scratch). */
static size_t workspace_bytes_per_row(const minima_net *net)
{
    size_t per = 0;
    size_t real = sizeof(double) + (net->params.float32 ? sizeof(float) : 0);
    for (int i = 1; i < net->n; i++) per += 4 * net->plan[i].size * real + net->plan[i].aux;
    return per + net->d_out * real;
}

/* ---- creation ---------------------------------------------------------- */

static minima_status check_data(const minima_net *net, const minima_dataset *x, minima_loss loss)
{
    const char *name = x->name ? x->name : "data";
    int dK = (int)net->d_out;
    if (x->n == 0) MINIMA_FAIL(MINIMA_EINVAL, "%s: the data set has no examples", name);
    if (!x->x) MINIMA_FAIL(MINIMA_EINVAL, "%s: the data set has no features", name);
    if ((size_t)x->d != net->d_in) {
        char s[64];
        minima_shape_string(net->model->nodes[0].shape, s, sizeof s);
        if (net->model->nodes[0].shape.rank == 1)
            MINIMA_FAIL(MINIMA_ESHAPE, "%s: examples have %d features but the network's input "
                        "width d_0 is %zu", name, x->d, net->d_in);
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: examples have %d features but the network's input is %s "
                    "(%zu values)", name, x->d, s, net->d_in);
    }
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

/* A bump allocator over one block: every piece 64-byte aligned. */
typedef struct { unsigned char *base; size_t used; } carver;

static void *carve(carver *c, size_t bytes)
{
    size_t at = (c->used + 63) & ~(size_t)63;
    c->used = at + bytes;
    return c->base ? c->base + at : NULL;
}

/* Lay out (base NULL: measure) the batch workspaces. */
static size_t layout_workspaces(minima_net *net, unsigned char *base, size_t scratch)
{
    carver c = {base, 0};
    size_t B = net->B;
    int f32 = net->params.float32;
    for (int i = 1; i < net->n; i++) {
        size_t sz = B * net->plan[i].size;
        net->val[i] = carve(&c, sz * sizeof(double));
        net->sig[i] = carve(&c, sz * sizeof(double));
        net->rval[i] = carve(&c, sz * sizeof(double));
        net->rsig[i] = carve(&c, sz * sizeof(double));
        net->aux[i] = net->plan[i].aux ? carve(&c, B * net->plan[i].aux) : NULL;
        if (f32) {
            net->val32[i] = carve(&c, sz * sizeof(float));
            net->sig32[i] = carve(&c, sz * sizeof(float));
            net->rval32[i] = carve(&c, sz * sizeof(float));
            net->rsig32[i] = carve(&c, sz * sizeof(float));
        }
    }
    net->prob = carve(&c, B * net->d_out * sizeof(double));
    net->row_loss = carve(&c, B * sizeof(double));
    net->row_ok = carve(&c, B);
    if (f32) net->prob32 = carve(&c, B * net->d_out * sizeof(float));
    net->scratch = carve(&c, scratch ? scratch : 1);
    return c.used + 64;
}

/* Lay out (base NULL: measure) the cache. */
static size_t layout_cache(minima_net *net, unsigned char *base)
{
    carver c = {base, 0};
    size_t N = net->hi - net->lo;   /* this rank's rows */
    int f32 = net->params.float32;
    for (int i = 1; i < net->n; i++) {
        const node_plan *p = &net->plan[i];
        net->cval[i] = p->keep_value ? carve(&c, N * p->size * sizeof(double)) : NULL;
        net->csig[i] = p->keep_signal ? carve(&c, N * p->size * sizeof(double)) : NULL;
        net->caux[i] = p->aux ? carve(&c, N * p->aux) : NULL;
        if (f32) {
            net->cval32[i] = p->keep_value ? carve(&c, N * p->size * sizeof(float)) : NULL;
            net->csig32[i] = p->keep_signal ? carve(&c, N * p->size * sizeof(float)) : NULL;
        }
    }
    int ce = net->params.loss == MINIMA_LOSS_CE;
    net->cprob = ce ? carve(&c, N * net->d_out * sizeof(double)) : NULL;
    if (f32) net->cprob32 = ce ? carve(&c, N * net->d_out * sizeof(float)) : NULL;
    return c.used + 64;
}

static void block_free(struct block_state *k);

void minima_net_free(minima_net *net)
{
    if (!net) return;
    block_free(net->blk);
    minima_free(net->arena);
    minima_free(net->cache);
    minima_free(net->arena32);
    minima_free(net->cache32);
    void *lists[] = {net->val, net->sig, net->rval, net->rsig, net->aux, net->cur_v, net->cur_g,
                     net->cur_aux, net->cval, net->csig, net->caux, net->val32, net->sig32,
                     net->rval32, net->rsig32, net->cval32, net->csig32, net->cur_v32,
                     net->cur_g32};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) minima_free(lists[i]);
    minima_free(net->plan);
    minima_free(net->x32);
    minima_free(net->theta32);
    minima_free(net->v32);
    minima_free(net->hv32);
    minima_free(net->onehot);
    minima_free(net->theta0);
    minima_free(net->theta_tmp);
    minima_free(net->col);
    minima_free(net->reduce_buf);
    minima_free(net);
    minima_par_release();   /* the last network joins the engine's threads */
}

static int alloc_lists(minima_net *net)
{
    size_t n = (size_t)net->n;
    int ok = (net->val = minima_calloc(n, sizeof(double *))) &&
             (net->sig = minima_calloc(n, sizeof(double *))) &&
             (net->rval = minima_calloc(n, sizeof(double *))) &&
             (net->rsig = minima_calloc(n, sizeof(double *))) &&
             (net->aux = minima_calloc(n, sizeof(unsigned char *))) &&
             (net->cur_v = minima_calloc(n, sizeof(double *))) &&
             (net->cur_g = minima_calloc(n, sizeof(double *))) &&
             (net->cur_aux = minima_calloc(n, sizeof(unsigned char *))) &&
             (net->cval = minima_calloc(n, sizeof(double *))) &&
             (net->csig = minima_calloc(n, sizeof(double *))) &&
             (net->caux = minima_calloc(n, sizeof(unsigned char *)));
    if (ok && net->params.float32)
        ok = (net->val32 = minima_calloc(n, sizeof(float *))) &&
             (net->sig32 = minima_calloc(n, sizeof(float *))) &&
             (net->rval32 = minima_calloc(n, sizeof(float *))) &&
             (net->rsig32 = minima_calloc(n, sizeof(float *))) &&
             (net->cval32 = minima_calloc(n, sizeof(float *))) &&
             (net->csig32 = minima_calloc(n, sizeof(float *))) &&
             (net->cur_v32 = minima_calloc(n, sizeof(float *))) &&
             (net->cur_g32 = minima_calloc(n, sizeof(float *)));
    return ok;
}

minima_status minima_net_create(minima_net **out, const minima_model *model,
                                const minima_dataset *data, const minima_net_params *params)
{
    if (!out || !model || !data) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_create: NULL argument");
    *out = NULL;
    minima_net_params p = params ? *params : minima_net_default_params(model);
    if (p.loss != MINIMA_LOSS_CE && p.loss != MINIMA_LOSS_MSE)
        MINIMA_FAIL(MINIMA_EINVAL, "unknown loss code %d", (int)p.loss);
    if (!model->nodes || model->n_nodes < 2)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_net_create: the model has no graph");
    MINIMA_TRY(minima_model_check_activation(model));
    const minima_node *last = &model->nodes[model->n_nodes - 1];
    if (last->shape.rank != 1) {
        char label[160];
        minima_model_node_label(model, model->n_nodes - 1, label, sizeof label);
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: the network's output must be flat (end with flatten, gap "
                    "or a linear layer)", label);
    }

    minima_net *net = minima_calloc(1, sizeof *net);
    if (!net) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory creating the network workspace");
    minima_par_retain();
    net->model = model;
    net->data = data;
    net->params = p;
    net->P = model->n_params;
    net->N = data->n;
    minima_dist_block(net->N, &net->lo, &net->hi);
    net->block_max = (net->N + (size_t)minima_dist_size() - 1) / (size_t)minima_dist_size();
    net->d_in = minima_model_n_inputs(model);
    net->d_out = (size_t)minima_model_n_outputs(model);
    minima_status st = make_plan(net);
    if (st == MINIMA_OK) st = check_data(net, data, p.loss);
    if (st == MINIMA_OK) st = minima_model_check_finite(model);
    if (st != MINIMA_OK) {
        minima_net_free(net);
        return minima_dist_agree(st);
    }
    if (!alloc_lists(net)) goto nomem;

    /* Rows per batch: as asked, within the workspace budget. */
    net->B = (p.batch_size == 0 || p.batch_size > net->block_max) ? net->block_max : p.batch_size;
    size_t per_row = workspace_bytes_per_row(net);
    if (net->B * per_row > WORKSPACE_BUDGET) {
        size_t fit = WORKSPACE_BUDGET / per_row;
        net->B = fit ? fit : 1;
        minima_log(MINIMA_LOG_DEBUG, "batches of %zu examples keep the workspaces under %zu MiB",
                   net->B, WORKSPACE_BUDGET >> 20);
    }
    size_t scratch = 0;
    for (int i = 1; i < net->n; i++) {
        const node_plan *pl = &net->plan[i];
        const minima_shape *in[2] = {pl->in_shape[0], pl->in_shape[1]};
        size_t s = pl->kind->scratch_bytes ? pl->kind->scratch_bytes(pl->node, in, net->B) : 0;
        if (s > scratch) scratch = s;
    }
    size_t ws = layout_workspaces(net, NULL, scratch);
    if (!(net->arena = minima_alloc(ws, 1))) goto nomem;
    unsigned char *base = (unsigned char *)(((uintptr_t)net->arena + 63) & ~(uintptr_t)63);
    layout_workspaces(net, base, scratch);

    net->theta0 = minima_alloc(net->P, sizeof(double));
    net->theta_tmp = minima_calloc(net->P, sizeof(double));
    net->col = minima_alloc(net->P, sizeof(double));
    net->reduce_buf = minima_alloc(net->P + 2, sizeof(double));
    if (!net->theta0 || !net->theta_tmp || !net->col || !net->reduce_buf) goto nomem;
    memcpy(net->theta0, model->theta, net->P * sizeof(double));
    if (p.float32) {
        size_t nx = (net->hi - net->lo) * net->d_in;   /* this rank's rows */
        net->x32 = minima_alloc(nx ? nx : 1, sizeof(float));
        net->theta32 = minima_alloc(net->P, sizeof(float));
        net->v32 = minima_alloc(net->P, sizeof(float));
        net->hv32 = minima_alloc(net->P, sizeof(float));
        if (!net->x32 || !net->theta32 || !net->v32 || !net->hv32) goto nomem;
        for (size_t i = 0; i < nx; i++) net->x32[i] = (float)data->x[net->lo * net->d_in + i];
        for (size_t i = 0; i < net->P; i++) net->theta32[i] = (float)net->theta0[i];
    }
    net->targets = data->targets;
    if (p.loss == MINIMA_LOSS_MSE && !data->targets) {
        size_t dK = net->d_out;
        if (!(net->onehot = minima_calloc(net->N * dK, sizeof(double)))) goto nomem;
        for (size_t i = 0; i < net->N; i++) net->onehot[i * dK + (size_t)data->labels[i]] = 1.0;
        net->targets = net->onehot;
    }

    size_t need = cache_bytes_of(net);
    net->cache_enabled = need <= p.cache_limit;
    if (net->cache_enabled) {
        size_t bytes = layout_cache(net, NULL);
        net->cache = minima_alloc(bytes, 1);
        if (!net->cache) {
            net->cache_enabled = 0;
            minima_log(MINIMA_LOG_WARN, "could not allocate the %zu-byte curvature cache; "
                       "products will recompute activations", need);
        } else {
            layout_cache(net, (unsigned char *)(((uintptr_t)net->cache + 63) & ~(uintptr_t)63));
        }
    } else {
        minima_log(MINIMA_LOG_INFO, "curvature cache of %zu bytes exceeds the limit of %zu; "
                   "products will recompute activations", need, p.cache_limit);
    }
    /* Every rank caches, or none: the products' passes must match. */
    if (minima_dist_min_int(net->cache_enabled) != net->cache_enabled) {
        minima_free(net->cache);
        net->cache = NULL;
        net->cache_enabled = 0;
    }
    minima_status agreed = minima_dist_agree(MINIMA_OK);
    if (agreed != MINIMA_OK) {
        minima_net_free(net);
        return agreed;
    }
    *out = net;
    return MINIMA_OK;
nomem:
    minima_net_free(net);
    return minima_dist_agree(minima_error(MINIMA_ENOMEM, "out of memory allocating network "
                                          "workspaces for a batch of %zu examples", data->n));
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
size_t minima_net_cache_bytes(const minima_net *net) { return cache_bytes_of(net); }
size_t minima_net_batch_rows(const minima_net *net) { return net->B; }

size_t minima_net_activation_bytes(const minima_net *net)
{
    size_t per = 0;
    for (int i = 1; i < net->n; i++) per += net->plan[i].size;
    return net->block_max * per * sizeof(double);
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

/* ---- one batch: the calls ---------------------------------------------- */

/* The call on node i for rows [s, s+b) with values V, aux A, parameters theta. */
static layer_call_f64 call_f64(const minima_net *net, int i, size_t s, size_t b, double **V,
                               unsigned char **A, const double *theta)
{
    const node_plan *p = &net->plan[i];
    const minima_node *nd = p->node;
    layer_call_f64 c;
    c.model = net->model;
    c.node = nd;
    c.in_shape[0] = p->in_shape[0];
    c.in_shape[1] = p->in_shape[1];
    c.b = b;
    for (int k = 0; k < 2; k++) {
        int src = k < nd->n_inputs ? nd->inputs[k] : -1;
        c.x[k] = src < 0 ? NULL : src == 0 ? net->data->x + s * net->d_in : V[src];
    }
    c.y = V[i];
    c.w = nd->n_weight ? theta + nd->weight_offset : NULL;
    c.bias = nd->n_bias ? theta + nd->bias_offset : NULL;
    c.aux = A[i];
    c.scratch = net->scratch;
    return c;
}

static layer_call_f32 call_f32(const minima_net *net, int i, size_t s, size_t b, float **V,
                               unsigned char **A, const float *theta)
{
    const node_plan *p = &net->plan[i];
    const minima_node *nd = p->node;
    layer_call_f32 c;
    c.model = net->model;
    c.node = nd;
    c.in_shape[0] = p->in_shape[0];
    c.in_shape[1] = p->in_shape[1];
    c.b = b;
    for (int k = 0; k < 2; k++) {
        int src = k < nd->n_inputs ? nd->inputs[k] : -1;
        c.x[k] = src < 0 ? NULL : src == 0 ? net->x32 + (s - net->lo) * net->d_in : V[src];
    }
    c.y = V[i];
    c.w = nd->n_weight ? theta + nd->weight_offset : NULL;
    c.bias = nd->n_bias ? theta + nd->bias_offset : NULL;
    c.aux = A[i];
    c.scratch = net->scratch;
    return c;
}

/* Forward pass of rows [s, s+b) at theta into V (and aux into A). */
static void forward(const minima_net *net, const double *theta, size_t s, size_t b, double **V,
                    unsigned char **A)
{
    for (int i = 1; i < net->n; i++) {
        layer_call_f64 c = call_f64(net, i, s, b, V, A, theta);
        net->plan[i].kind->forward(&c, V[i]);
    }
}

/* ==== element-wise passes on the engine's threads (engine/parallel.h) ====
 * The loss's rows, the softmax and the output signals are independent row
 * by row: each thread takes a block of rows. The loss of each row is kept
 * (row_loss) and summed in row order after the threads are done, so the
 * sum is the same whatever the split. */

typedef struct {
    const minima_net *net;
    size_t s;
    const double *z;
    double *g, *prob;
} output_rows_task;

static void output_rows(void *ctx, size_t i0, size_t i1)
{
    const output_rows_task *t = ctx;
    const minima_net *net = t->net;
    int dK = (int)net->d_out;
    double N = (double)net->N;
    double *g = t->g, *prob = t->prob;
    for (size_t i = i0; i < i1; i++) {
        const double *zi = t->z + i * (size_t)dK;
        int arg = 0;
        for (int j = 1; j < dK; j++)
            if (zi[j] > zi[arg]) arg = j;
        net->row_ok[i] = net->data->labels && arg == net->data->labels[t->s + i];
        if (net->params.loss == MINIMA_LOSS_CE) {
            int y = net->data->labels[t->s + i];
            double m = zi[arg], sum = 0;
            for (int j = 0; j < dK; j++) sum += exp(zi[j] - m);
            double lse = m + log(sum);
            net->row_loss[i] = lse - zi[y];
            if (g || prob) {
                for (int j = 0; j < dK; j++) {
                    double pj = exp(zi[j] - lse);
                    if (prob) prob[i * (size_t)dK + (size_t)j] = pj;
                    if (g) g[i * (size_t)dK + (size_t)j] = (pj - (j == y)) / N;
                }
            }
        } else if (g) {
            const double *ti = net->targets + (t->s + i) * (size_t)dK;
            double scale = 2.0 / (N * dK);
            for (int j = 0; j < dK; j++) g[i * (size_t)dK + (size_t)j] = scale * (zi[j] - ti[j]);
        }
    }
}

/* Loss summed over rows [s, s+b) (not yet divided), correct count, and
 * the output signal g (b, d_out) = dL/dZ for the mean loss over all N, and
 * the softmax for cross-entropy when prob is not NULL. */
static void loss_and_output_signal(const minima_net *net, size_t s, size_t b, const double *z,
                                   double *g, double *prob, double *loss_sum, size_t *correct)
{
    int dK = (int)net->d_out;
    output_rows_task t = {net, s, z, g, prob};
    minima_par_for(b, (size_t)dK * 16, 1, output_rows, &t);
    double lsum = 0;
    size_t ok = 0;
    for (size_t i = 0; i < b; i++) {
        ok += net->row_ok[i];
        if (net->params.loss == MINIMA_LOSS_CE) {
            lsum += net->row_loss[i];
        } else {
            const double *zi = z + i * (size_t)dK, *ti = net->targets + (s + i) * (size_t)dK;
            for (int j = 0; j < dK; j++) {
                double r = zi[j] - ti[j];
                lsum += r * r;
            }
        }
    }
    *loss_sum += lsum;
    *correct += ok;
}

/* Zero the signals of the nodes other than the output, rows [0, b). */
static void zero_signals_f64(const minima_net *net, size_t b, double **G)
{
    for (int i = 1; i < net->n - 1; i++)
        ew_f64(EW_ZERO, b * net->plan[i].size, (ew_args){.out = G[i]});
}

static void zero_signals_f32(const minima_net *net, size_t b, float **G)
{
    for (int i = 1; i < net->n - 1; i++)
        ew_f32(EW_ZERO, b * net->plan[i].size, (ew_args){.out = G[i]});
}

/* R{G_out} from R{Z}, rows [i0, i1): the output Hessian of the loss. */
typedef struct { const minima_net *net; const void *rz, *prob; void *rg; } r_output_task;

static void r_output_rows_f64(void *ctx, size_t i0, size_t i1)
{
    const r_output_task *t = ctx;
    int dK = (int)t->net->d_out;
    double inv_n = 1.0 / (double)t->net->N;
    const double *rz = t->rz, *prob = t->prob;
    double *rg = t->rg;
    if (t->net->params.loss == MINIMA_LOSS_CE) {
        for (size_t i = i0; i < i1; i++) {
            const double *p = prob + i * (size_t)dK, *r = rz + i * (size_t)dK;
            double pr = 0;
            for (int j = 0; j < dK; j++) pr += p[j] * r[j];
            for (int j = 0; j < dK; j++) rg[i * (size_t)dK + (size_t)j] = p[j] * (r[j] - pr) * inv_n;
        }
    } else {
        double scale = 2.0 / ((double)t->net->N * dK);
        for (size_t i = i0 * (size_t)dK; i < i1 * (size_t)dK; i++) rg[i] = scale * rz[i];
    }
}

static void r_output_rows_f32(void *ctx, size_t i0, size_t i1)
{
    const r_output_task *t = ctx;
    int dK = (int)t->net->d_out;
    float inv_n = (float)(1.0 / (double)t->net->N);
    const float *rz = t->rz, *prob = t->prob;
    float *rg = t->rg;
    if (t->net->params.loss == MINIMA_LOSS_CE) {
        for (size_t i = i0; i < i1; i++) {
            const float *p = prob + i * (size_t)dK, *r = rz + i * (size_t)dK;
            float pr = 0;
            for (int j = 0; j < dK; j++) pr += p[j] * r[j];
            for (int j = 0; j < dK; j++) rg[i * (size_t)dK + (size_t)j] = p[j] * (r[j] - pr) * inv_n;
        }
    } else {
        float scale = (float)(2.0 / ((double)t->net->N * dK));
        for (size_t i = i0 * (size_t)dK; i < i1 * (size_t)dK; i++) rg[i] = scale * rz[i];
    }
}

/* ==== end of the element-wise section ==== */

static double finish_loss(const minima_net *net, double loss_sum)
{
    double denom = (double)net->N;
    if (net->params.loss == MINIMA_LOSS_MSE) denom *= (double)net->d_out;
    return loss_sum / denom;
}

/* Backward pass of rows [s, s+b): G[out] holds dL/dZ; every other node's
 * signal is accumulated (and zeroed first). Parameter gradients go to grad
 * when it is not NULL. */
static void backward(const minima_net *net, const double *theta, size_t s, size_t b, double **V,
                     unsigned char **A, double **G, double *grad)
{
    zero_signals_f64(net, b, G);
    for (int i = net->n - 1; i >= 1; i--) {
        const minima_node *nd = net->plan[i].node;
        layer_call_f64 c = call_f64(net, i, s, b, V, A, theta);
        double *gx[2] = {NULL, NULL};
        for (int k = 0; k < nd->n_inputs; k++)
            gx[k] = nd->inputs[k] == 0 ? NULL : G[nd->inputs[k]];
        double *gw = grad && nd->n_weight ? grad + nd->weight_offset : NULL;
        double *gb = grad && nd->n_bias ? grad + nd->bias_offset : NULL;
        net->plan[i].kind->backward(&c, G[i], gx, gw, gb);
    }
}

/* ---- the anchor and its cache ------------------------------------------ */

/* Point cur_v, cur_g, cur_aux and *prob at the anchor's values of rows
 * [s, s+b): into the cache when it is valid, else computed into the batch
 * workspaces. */
static void anchor_batch(minima_net *net, size_t s, size_t b, double **prob)
{
    if (net->cache_valid) {
        for (int i = 1; i < net->n; i++) {
            size_t sz = net->plan[i].size;
            size_t r = s - net->lo;   /* the cache holds this rank's rows */
            net->cur_v[i] = net->cval[i] ? net->cval[i] + r * sz : NULL;
            net->cur_g[i] = net->csig[i] ? net->csig[i] + r * sz : NULL;
            net->cur_aux[i] = net->caux[i] ? net->caux[i] + r * net->plan[i].aux : NULL;
        }
        *prob = net->cprob ? net->cprob + (s - net->lo) * net->d_out : NULL;
        return;
    }
    for (int i = 1; i < net->n; i++) {
        net->cur_v[i] = net->val[i];
        net->cur_g[i] = net->sig[i];
        net->cur_aux[i] = net->aux[i];
    }
    *prob = net->prob;
    forward(net, net->theta0, s, b, net->cur_v, net->cur_aux);
    double lsum = 0;
    size_t ok = 0;
    loss_and_output_signal(net, s, b, net->cur_v[net->n - 1], net->cur_g[net->n - 1],
                           net->params.loss == MINIMA_LOSS_CE ? *prob : NULL, &lsum, &ok);
    backward(net, net->theta0, s, b, net->cur_v, net->cur_aux, net->cur_g, NULL);
}

/* Fill the cache at the anchor if it is enabled and not yet valid: values,
 * signals and aux of kept nodes go straight to the cache. */
static minima_status ensure_cache(minima_net *net)
{
    if (!net->cache_enabled || net->cache_valid) return MINIMA_OK;
    double lsum = 0;
    size_t ok = 0;
    for (size_t s = net->lo; s < net->hi; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->hi - s < net->B ? net->hi - s : net->B;
        for (int i = 1; i < net->n; i++) {
            size_t sz = net->plan[i].size;
            size_t r = s - net->lo;
            net->cur_v[i] = net->cval[i] ? net->cval[i] + r * sz : net->val[i];
            net->cur_g[i] = net->csig[i] ? net->csig[i] + r * sz : net->sig[i];
            net->cur_aux[i] = net->caux[i] ? net->caux[i] + r * net->plan[i].aux : net->aux[i];
        }
        double *prob = net->cprob ? net->cprob + (s - net->lo) * net->d_out : NULL;
        forward(net, net->theta0, s, b, net->cur_v, net->cur_aux);
        loss_and_output_signal(net, s, b, net->cur_v[net->n - 1], net->cur_g[net->n - 1], prob,
                               &lsum, &ok);
        backward(net, net->theta0, s, b, net->cur_v, net->cur_aux, net->cur_g, NULL);
    }
    MINIMA_TRY(minima_dist_sum(&lsum, 1));
    net->anchor_loss = finish_loss(net, lsum);
    net->cache_valid = 1;
    return MINIMA_OK;
}

/* ---- loss, outputs, gradient ------------------------------------------- */

minima_status minima_net_loss(minima_net *net, const double *theta, double *loss, double *accuracy)
{
    if (!net || !loss) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_loss: NULL argument");
    if (theta) MINIMA_TRY(check_theta(net, theta));
    else theta = net->theta0;
    double lsum = 0;
    size_t ok = 0;
    for (size_t s = net->lo; s < net->hi; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->hi - s < net->B ? net->hi - s : net->B;
        forward(net, theta, s, b, net->val, net->aux);
        loss_and_output_signal(net, s, b, net->val[net->n - 1], NULL, NULL, &lsum, &ok);
    }
    double sums[2] = {lsum, (double)ok};   /* counts are exact in a double below 2^53 */
    MINIMA_TRY(minima_dist_sum(sums, 2));
    *loss = finish_loss(net, sums[0]);
    if (accuracy) *accuracy = net->data->labels ? sums[1] / (double)net->N : NAN;
    return MINIMA_OK;
}

minima_status minima_net_outputs(minima_net *net, const double *theta, double *outputs)
{
    if (!net || !outputs) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_outputs: NULL argument");
    if (theta) MINIMA_TRY(check_theta(net, theta));
    else theta = net->theta0;
    size_t dK = net->d_out;
    for (size_t s = net->lo; s < net->hi; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->hi - s < net->B ? net->hi - s : net->B;
        forward(net, theta, s, b, net->val, net->aux);
        memcpy(outputs + s * dK, net->val[net->n - 1], b * dK * sizeof(double));
    }
    return minima_dist_gather_rows(outputs, 0, net->N, dK, net->N);
}

/* Sum a gradient and its loss over the ranks with one reduction. */
static minima_status sum_with_loss(minima_net *net, double *grad, double *lsum)
{
    if (!minima_dist_active()) return MINIMA_OK;
    memcpy(net->reduce_buf, grad, net->P * sizeof(double));
    net->reduce_buf[net->P] = *lsum;
    MINIMA_TRY(minima_dist_sum(net->reduce_buf, net->P + 1));
    memcpy(grad, net->reduce_buf, net->P * sizeof(double));
    *lsum = net->reduce_buf[net->P];
    return MINIMA_OK;
}

minima_status minima_net_gradient(minima_net *net, const double *theta, double *loss, double *grad)
{
    if (!net || !grad) MINIMA_FAIL(MINIMA_EINVAL, "minima_net_gradient: NULL argument");
    memset(grad, 0, net->P * sizeof(double));
    if (!theta && net->cache_enabled) {
        /* At the anchor, the cached values and signals give the gradient of
         * every parameter directly: a backward call per parametric node. */
        MINIMA_TRY(ensure_cache(net));
        double *prob;
        for (size_t s = net->lo; s < net->hi; s += net->B) {
            size_t b = net->hi - s < net->B ? net->hi - s : net->B;
            anchor_batch(net, s, b, &prob);
            for (int i = 1; i < net->n; i++) {
                const minima_node *nd = net->plan[i].node;
                if (!nd->n_weight) continue;
                layer_call_f64 c = call_f64(net, i, s, b, net->cur_v, net->cur_aux, net->theta0);
                double *gx[2] = {NULL, NULL};
                net->plan[i].kind->backward(&c, net->cur_g[i], gx, grad + nd->weight_offset,
                                            nd->n_bias ? grad + nd->bias_offset : NULL);
            }
        }
        MINIMA_TRY(minima_dist_sum(grad, net->P));
        if (loss) *loss = net->anchor_loss;
        return MINIMA_OK;
    }
    if (theta) MINIMA_TRY(check_theta(net, theta));
    else theta = net->theta0;
    double lsum = 0;
    size_t ok = 0;
    for (size_t s = net->lo; s < net->hi; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->hi - s < net->B ? net->hi - s : net->B;
        forward(net, theta, s, b, net->val, net->aux);
        loss_and_output_signal(net, s, b, net->val[net->n - 1], net->sig[net->n - 1], NULL, &lsum,
                               &ok);
        backward(net, theta, s, b, net->val, net->aux, net->sig, grad);
    }
    MINIMA_TRY(sum_with_loss(net, grad, &lsum));
    if (loss) *loss = finish_loss(net, lsum);
    return MINIMA_OK;
}

/* ---- curvature products in float64 -------------------------------------- */

/* R-forward of rows [s, s+b) along v: R{V_i} into rval. */
static void r_forward_f64(minima_net *net, const double *v, size_t s, size_t b)
{
    for (int i = 1; i < net->n; i++) {
        const minima_node *nd = net->plan[i].node;
        layer_call_f64 c = call_f64(net, i, s, b, net->cur_v, net->cur_aux, net->theta0);
        const double *rx[2] = {NULL, NULL};
        for (int k = 0; k < nd->n_inputs; k++)
            rx[k] = nd->inputs[k] == 0 ? NULL : net->rval[nd->inputs[k]];
        net->plan[i].kind->rforward(&c, rx, nd->n_weight ? v + nd->weight_offset : NULL,
                                    nd->n_bias ? v + nd->bias_offset : NULL, net->rval[i]);
    }
}

/* R{G_out} from R{Z}: the output Hessian of the loss applied row by row
 * (r_output_rows_f64, on the engine's threads). */
static void r_output_signal_f64(const minima_net *net, size_t b, const double *rz,
                                const double *prob, double *rg)
{
    r_output_task t = {net, rz, prob, rg};
    minima_par_for(b, 4 * net->d_out, 1, r_output_rows_f64, &t);
}

/* R-backward of rows [s, s+b), accumulating H v (full) or G v into hv. */
static void r_backward_f64(minima_net *net, const double *v, size_t s, size_t b, int full,
                           double *hv)
{
    zero_signals_f64(net, b, net->rsig);
    for (int i = net->n - 1; i >= 1; i--) {
        const minima_node *nd = net->plan[i].node;
        layer_call_f64 c = call_f64(net, i, s, b, net->cur_v, net->cur_aux, net->theta0);
        const double *rx[2] = {NULL, NULL};
        double *rgx[2] = {NULL, NULL};
        for (int k = 0; k < nd->n_inputs; k++) {
            int src = nd->inputs[k];
            rx[k] = src == 0 ? NULL : net->rval[src];
            rgx[k] = src == 0 ? NULL : net->rsig[src];
        }
        net->plan[i].kind->rbackward(&c, net->cur_g[i], net->rsig[i], rx,
                                     nd->n_weight ? v + nd->weight_offset : NULL, full, rgx,
                                     nd->n_weight ? hv + nd->weight_offset : NULL,
                                     nd->n_bias ? hv + nd->bias_offset : NULL);
    }
}

/* ---- curvature products in float32 -------------------------------------- */

/* (threaded and vectorized: engine/layer_elementwise.h) */
static void to_float(float *dst, const double *src, size_t n)
{
    ew_f64(EW_NARROW, n, (ew_args){.x = src, .out = dst});
}

/* Round the float64 cache to float32 once per anchor. */
static minima_status ensure_cache32(minima_net *net)
{
    if (!net->cache_enabled || net->cache32_valid || (!net->params.float32 && !net->cache32))
        return MINIMA_OK;
    MINIMA_TRY(ensure_cache(net));
    for (int i = 1; i < net->n; i++) {
        size_t sz = (net->hi - net->lo) * net->plan[i].size;
        if (net->cval[i]) to_float(net->cval32[i], net->cval[i], sz);
        if (net->csig[i]) to_float(net->csig32[i], net->csig[i], sz);
    }
    if (net->cprob) to_float(net->cprob32, net->cprob, (net->hi - net->lo) * net->d_out);
    net->cache32_valid = 1;
    return MINIMA_OK;
}

/* anchor_batch in float32: views into the float32 cache, or the float64
 * batch rounded into the float32 workspaces. The aux (indices) is shared. */
static void anchor_batch_f32(minima_net *net, size_t s, size_t b, float **prob)
{
    if (net->cache32_valid) {
        for (int i = 1; i < net->n; i++) {
            size_t sz = net->plan[i].size, r = s - net->lo;
            net->cur_v32[i] = net->cval32[i] ? net->cval32[i] + r * sz : NULL;
            net->cur_g32[i] = net->csig32[i] ? net->csig32[i] + r * sz : NULL;
            net->cur_aux[i] = net->caux[i] ? net->caux[i] + r * net->plan[i].aux : NULL;
        }
        *prob = net->cprob32 ? net->cprob32 + (s - net->lo) * net->d_out : NULL;
        return;
    }
    double *p64;
    anchor_batch(net, s, b, &p64);
    for (int i = 1; i < net->n; i++) {
        /* from the float64 cache (a float64 net without the float32 copy,
         * see "float32 products on demand"), only kept nodes have values */
        size_t sz = b * net->plan[i].size;
        if (net->cur_v[i]) to_float(net->val32[i], net->cur_v[i], sz);
        if (net->cur_g[i]) to_float(net->sig32[i], net->cur_g[i], sz);
        net->cur_v32[i] = net->cur_v[i] ? net->val32[i] : NULL;
        net->cur_g32[i] = net->cur_g[i] ? net->sig32[i] : NULL;
    }
    *prob = NULL;
    if (net->params.loss == MINIMA_LOSS_CE) {
        to_float(net->prob32, p64, b * net->d_out);
        *prob = net->prob32;
    }
}

static void r_forward_f32(minima_net *net, const float *v, size_t s, size_t b)
{
    for (int i = 1; i < net->n; i++) {
        const minima_node *nd = net->plan[i].node;
        layer_call_f32 c = call_f32(net, i, s, b, net->cur_v32, net->cur_aux, net->theta32);
        const float *rx[2] = {NULL, NULL};
        for (int k = 0; k < nd->n_inputs; k++)
            rx[k] = nd->inputs[k] == 0 ? NULL : net->rval32[nd->inputs[k]];
        net->plan[i].kind->rforward_f32(&c, rx, nd->n_weight ? v + nd->weight_offset : NULL,
                                        nd->n_bias ? v + nd->bias_offset : NULL, net->rval32[i]);
    }
}

static void r_output_signal_f32(const minima_net *net, size_t b, const float *rz,
                                const float *prob, float *rg)
{
    r_output_task t = {net, rz, prob, rg};
    minima_par_for(b, 4 * net->d_out, 1, r_output_rows_f32, &t);
}

static void r_backward_f32(minima_net *net, const float *v, size_t s, size_t b, int full,
                           float *hv)
{
    zero_signals_f32(net, b, net->rsig32);
    for (int i = net->n - 1; i >= 1; i--) {
        const minima_node *nd = net->plan[i].node;
        layer_call_f32 c = call_f32(net, i, s, b, net->cur_v32, net->cur_aux, net->theta32);
        const float *rx[2] = {NULL, NULL};
        float *rgx[2] = {NULL, NULL};
        for (int k = 0; k < nd->n_inputs; k++) {
            int src = nd->inputs[k];
            rx[k] = src == 0 ? NULL : net->rval32[src];
            rgx[k] = src == 0 ? NULL : net->rsig32[src];
        }
        net->plan[i].kind->rbackward_f32(&c, net->cur_g32[i], net->rsig32[i], rx,
                                         nd->n_weight ? v + nd->weight_offset : NULL, full, rgx,
                                         nd->n_weight ? hv + nd->weight_offset : NULL,
                                         nd->n_bias ? hv + nd->bias_offset : NULL);
    }
}

static minima_status curvature_product_f32(minima_net *net, const double *v, double *out, int full)
{
    MINIMA_TRY(ensure_cache32(net));
    to_float(net->v32, v, net->P);
    memset(net->hv32, 0, net->P * sizeof(float));
    float *prob;
    int o = net->n - 1;
    for (size_t s = net->lo; s < net->hi; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->hi - s < net->B ? net->hi - s : net->B;
        anchor_batch_f32(net, s, b, &prob);
        r_forward_f32(net, net->v32, s, b);
        r_output_signal_f32(net, b, net->rval32[o], prob, net->rsig32[o]);
        r_backward_f32(net, net->v32, s, b, full, net->hv32);
    }
    ew_f32(EW_WIDEN, net->P, (ew_args){.x = net->hv32, .out = out});
    net->n_products++;
    return minima_dist_sum(out, net->P);
}

static minima_status curvature_product(minima_net *net, const double *v, double *out, int full)
{
    if (!net || !v || !out) MINIMA_FAIL(MINIMA_EINVAL, "curvature product: NULL argument");
    if (v == out) MINIMA_FAIL(MINIMA_EINVAL, "curvature product: input and output must differ");
    if (net->params.float32) return curvature_product_f32(net, v, out, full);
    MINIMA_TRY(ensure_cache(net));
    memset(out, 0, net->P * sizeof(double));
    double *prob;
    int o = net->n - 1;
    for (size_t s = net->lo; s < net->hi; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->hi - s < net->B ? net->hi - s : net->B;
        anchor_batch(net, s, b, &prob);
        r_forward_f64(net, v, s, b);
        r_output_signal_f64(net, b, net->rval[o], prob, net->rsig[o]);
        r_backward_f64(net, v, s, b, full, out);
    }
    net->n_products++;
    return minima_dist_sum(out, net->P);
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
    size_t dK = net->d_out;
    double *prob;
    for (size_t s = net->lo; s < net->hi; s += net->B) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->hi - s < net->B ? net->hi - s : net->B;
        anchor_batch(net, s, b, &prob);
        r_forward_f64(net, v, s, b);
        memcpy(rz + s * dK, net->rval[net->n - 1], b * dK * sizeof(double));
    }
    net->n_products++;
    return minima_dist_gather_rows(rz, 0, net->N, dK, net->N);
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

/* ==== block products: H [v_1 ... v_nb] in one pass (issue 16) ===========
 *
 * minima_net_hvp_block / minima_net_ggnvp_block. One pass over the batches
 * (over the cache at the anchor) serves nb directions: each node's
 * R-values and R-signals for the nb directions sit side by side per
 * example, (rows, nb, size) (engine/layer.h, "Blocks"), so a linear node's
 * GEMMs get nb times wider instead of running nb times. The directions and
 * the product are kept segment-major inside: each weight or bias segment
 * of theta holds its nb directions one after another (nb * offset, then
 * (nb, length)), which is the stacked matrix [V_1; ...; V_nb] the kinds
 * multiply by. A kind without block functions is called once per
 * direction: its inputs' direction j is gathered into the single-product
 * workspaces, and its output (or the signals it accumulates) scattered
 * back, so every kind works and gives the single product's numbers. */

typedef struct block_state {
    size_t slots;              /* rows * nb the node buffers hold */
    size_t np;                 /* nb * P the direction buffers hold */
    void *arena;
    double **rv, **rg;         /* (n) per node: (rows, nb, size) */
    double *vs, *hs;           /* (nb P) the directions and the product, segment-major */
} block_state;

static void block_free(block_state *k)
{
    if (!k) return;
    minima_free(k->arena);
    minima_free(k->rv);
    minima_free(k->rg);
    minima_free(k);
}

/* Examples per batch of a block pass: the net's batch, made smaller when
 * the (rows, nb, size) buffers of all nodes would exceed the workspace
 * budget. */
static size_t block_rows(const minima_net *net, size_t nb)
{
    size_t per = 0;
    for (int i = 1; i < net->n; i++) per += 2 * net->plan[i].size * sizeof(double);
    per *= nb;
    size_t rows = net->B;
    if (rows * per > WORKSPACE_BUDGET) rows = WORKSPACE_BUDGET / per ? WORKSPACE_BUDGET / per : 1;
    return rows;
}

/* The block workspaces for nb directions (grown, never shrunk). */
static minima_status ensure_block(minima_net *net, size_t nb, size_t rows)
{
    block_state *k = net->blk;
    if (k && k->slots >= rows * nb && k->np >= nb * net->P) return MINIMA_OK;
    block_free(k);
    net->blk = k = minima_calloc(1, sizeof *k);
    if (!k) goto nomem;
    k->slots = rows * nb;
    k->np = nb * net->P;
    k->rv = minima_calloc((size_t)net->n, sizeof(double *));
    k->rg = minima_calloc((size_t)net->n, sizeof(double *));
    if (!k->rv || !k->rg) goto nomem;
    for (int pass = 0; pass < 2; pass++) {   /* measure, then carve */
        unsigned char *base =
            pass ? (unsigned char *)(((uintptr_t)k->arena + 63) & ~(uintptr_t)63) : NULL;
        carver c = {base, 0};
        for (int i = 1; i < net->n; i++) {
            k->rv[i] = carve(&c, k->slots * net->plan[i].size * sizeof(double));
            k->rg[i] = carve(&c, k->slots * net->plan[i].size * sizeof(double));
        }
        k->vs = carve(&c, k->np * sizeof(double));
        k->hs = carve(&c, k->np * sizeof(double));
        if (!pass && !(k->arena = minima_alloc(c.used + 64, 1))) goto nomem;
    }
    return MINIMA_OK;
nomem:
    block_free(net->blk);
    net->blk = NULL;
    MINIMA_FAIL(MINIMA_ENOMEM, "out of memory for the workspaces of a block of %zu products", nb);
}

/* Direction j of a (b, nb, sz) block to or from a (b, sz) buffer. */
static void gather_dir(const double *blk, size_t nb, size_t j, size_t b, size_t sz, double *out)
{
    for (size_t r = 0; r < b; r++) memcpy(out + r * sz, blk + (r * nb + j) * sz, sz * sizeof(double));
}

static void scatter_dir(const double *in, size_t nb, size_t j, size_t b, size_t sz, double *blk)
{
    for (size_t r = 0; r < b; r++) memcpy(blk + (r * nb + j) * sz, in + r * sz, sz * sizeof(double));
}

/* V (nb, P) row-major to the segment-major vs, or (to_rows) hs back to rows
 * of out, zero outside the parameter segments as the single product. */
static void block_reorder(const minima_net *net, size_t nb, const double *rows_in, double *seg,
                          double *rows_out, const double *seg_in)
{
    if (rows_out) memset(rows_out, 0, nb * net->P * sizeof(double));
    for (int i = 1; i < net->n; i++) {
        const minima_node *nd = net->plan[i].node;
        size_t off[2] = {nd->weight_offset, nd->bias_offset}, len[2] = {nd->n_weight, nd->n_bias};
        for (int q = 0; q < 2; q++) {
            if (!len[q]) continue;
            for (size_t j = 0; j < nb; j++) {
                if (rows_in)
                    memcpy(seg + nb * off[q] + j * len[q], rows_in + j * net->P + off[q],
                           len[q] * sizeof(double));
                else
                    memcpy(rows_out + j * net->P + off[q], seg_in + nb * off[q] + j * len[q],
                           len[q] * sizeof(double));
            }
        }
    }
}

static void block_forward(minima_net *net, size_t nb, size_t s, size_t b)
{
    block_state *k = net->blk;
    for (int i = 1; i < net->n; i++) {
        const minima_node *nd = net->plan[i].node;
        const layer_kind *kind = net->plan[i].kind;
        layer_call_f64 c = call_f64(net, i, s, b, net->cur_v, net->cur_aux, net->theta0);
        const double *vw = nd->n_weight ? k->vs + nb * nd->weight_offset : NULL;
        const double *vb = nd->n_bias ? k->vs + nb * nd->bias_offset : NULL;
        const double *rx[2] = {NULL, NULL};
        if (kind->rforward_block) {
            for (int q = 0; q < nd->n_inputs; q++)
                rx[q] = nd->inputs[q] == 0 ? NULL : k->rv[nd->inputs[q]];
            kind->rforward_block(&c, nb, rx, vw, vb, k->rv[i]);
            continue;
        }
        for (size_t j = 0; j < nb; j++) {   /* one direction at a time */
            for (int q = 0; q < nd->n_inputs; q++) {
                int src = nd->inputs[q];
                if (src == 0) continue;
                gather_dir(k->rv[src], nb, j, b, net->plan[src].size, net->rval[src]);
                rx[q] = net->rval[src];
            }
            kind->rforward(&c, rx, vw ? vw + j * nd->n_weight : NULL,
                           vb ? vb + j * nd->n_bias : NULL, net->rval[i]);
            scatter_dir(net->rval[i], nb, j, b, net->plan[i].size, k->rv[i]);
        }
    }
}

/* r_output_signal_f64 for the (b, nb, d_out) block: row r*nb + j uses the
 * softmax of example r. */
static void block_output_signal(const minima_net *net, size_t nb, size_t b, const double *rz,
                                const double *prob, double *rg)
{
    if (net->params.loss != MINIMA_LOSS_CE) {
        r_output_signal_f64(net, b * nb, rz, NULL, rg);
        return;
    }
    size_t dK = net->d_out;
    for (size_t r = 0; r < b; r++)
        for (size_t j = 0; j < nb; j++) {
            size_t at = (r * nb + j) * dK;
            r_output_signal_f64(net, 1, rz + at, prob + r * dK, rg + at);
        }
}

static void block_backward(minima_net *net, size_t nb, size_t s, size_t b, int full)
{
    block_state *k = net->blk;
    for (int i = 1; i < net->n - 1; i++)
        memset(k->rg[i], 0, b * nb * net->plan[i].size * sizeof(double));
    for (int i = net->n - 1; i >= 1; i--) {
        const minima_node *nd = net->plan[i].node;
        const layer_kind *kind = net->plan[i].kind;
        layer_call_f64 c = call_f64(net, i, s, b, net->cur_v, net->cur_aux, net->theta0);
        size_t nw = nd->n_weight, nbias = nd->n_bias;
        const double *vw = nw ? k->vs + nb * nd->weight_offset : NULL;
        double *hw = nw ? k->hs + nb * nd->weight_offset : NULL;
        double *hb = nbias ? k->hs + nb * nd->bias_offset : NULL;
        const double *rx[2] = {NULL, NULL};
        double *rgx[2] = {NULL, NULL};
        if (kind->rbackward_block) {
            for (int q = 0; q < nd->n_inputs; q++) {
                int src = nd->inputs[q];
                rx[q] = src == 0 ? NULL : k->rv[src];
                rgx[q] = src == 0 ? NULL : k->rg[src];
            }
            kind->rbackward_block(&c, nb, net->cur_g[i], k->rg[i], rx, vw, full, rgx, hw, hb);
            continue;
        }
        size_t sz = net->plan[i].size;
        for (size_t j = 0; j < nb; j++) {   /* one direction at a time */
            gather_dir(k->rg[i], nb, j, b, sz, net->rsig[i]);
            for (int q = 0; q < nd->n_inputs; q++) {
                int src = nd->inputs[q];
                if (src == 0) continue;
                size_t ssz = net->plan[src].size;
                gather_dir(k->rv[src], nb, j, b, ssz, net->rval[src]);
                gather_dir(k->rg[src], nb, j, b, ssz, net->rsig[src]);
                rx[q] = net->rval[src];
                rgx[q] = net->rsig[src];
            }
            kind->rbackward(&c, net->cur_g[i], net->rsig[i], rx, vw ? vw + j * nw : NULL, full,
                            rgx, hw ? hw + j * nw : NULL, hb ? hb + j * nbias : NULL);
            for (int q = 0; q < nd->n_inputs; q++) {
                int src = nd->inputs[q];
                if (src != 0 && (q == 0 || src != nd->inputs[0]))
                    scatter_dir(net->rsig[src], nb, j, b, net->plan[src].size, k->rg[src]);
            }
        }
    }
}

static minima_status block_product(minima_net *net, size_t nb, const double *V, double *HV,
                                   int full)
{
    const char *name = full ? "minima_net_hvp_block" : "minima_net_ggnvp_block";
    if (!net || !V || !HV) MINIMA_FAIL(MINIMA_EINVAL, "%s: NULL argument", name);
    if (nb == 0) MINIMA_FAIL(MINIMA_EINVAL, "%s: the block has no vectors (b = 0)", name);
    size_t total = nb * net->P;
    if (V < HV + total && HV < V + total)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: the directions and the products must not overlap", name);
    if (net->params.float32) {
        /* The block passes are float64: a float32 net keeps its products. */
        for (size_t j = 0; j < nb; j++)
            MINIMA_TRY(curvature_product(net, V + j * net->P, HV + j * net->P, full));
        return MINIMA_OK;
    }
    MINIMA_TRY(ensure_cache(net));
    size_t rows = block_rows(net, nb);
    MINIMA_TRY(ensure_block(net, nb, rows));
    block_state *k = net->blk;
    block_reorder(net, nb, V, k->vs, NULL, NULL);
    memset(k->hs, 0, total * sizeof(double));
    double *prob;
    int o = net->n - 1;
    for (size_t s = net->lo; s < net->hi; s += rows) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "interrupted");
        size_t b = net->hi - s < rows ? net->hi - s : rows;
        anchor_batch(net, s, b, &prob);
        block_forward(net, nb, s, b);
        block_output_signal(net, nb, b, k->rv[o], prob, k->rg[o]);
        block_backward(net, nb, s, b, full);
    }
    block_reorder(net, nb, NULL, NULL, HV, k->hs);
    net->n_products += nb;
    return minima_dist_sum(HV, total);
}

minima_status minima_net_hvp_block(minima_net *net, size_t b, const double *V, double *HV)
{
    return block_product(net, b, V, HV, 1);
}

minima_status minima_net_ggnvp_block(minima_net *net, size_t b, const double *V, double *GV)
{
    return block_product(net, b, V, GV, 0);
}

/* ==== end of block products ============================================= */

/* ==== float32 products on demand (mixed precision) =======================
 *
 * A float64 net (params.float32 = 0) also gives float32 Hessian and
 * Gauss-Newton products, through the same R-passes as a float32 net
 * (curvature_product_f32), so that a solver can do most of its work in
 * float32 and finish in float64 on ONE net and one cache. What the float32
 * passes need is allocated on the first such product, not at creation:
 * the rounded data and point (x32, theta32), the float32 batch workspaces
 * (arena32) and, when the float64 cache is kept and the float32 copy fits
 * beside it within params.cache_limit, the float32 cache (cache32, counted
 * by minima_net_cache_bytes from then on). Without the float32 cache each
 * float32 product rounds the float64 cache batch by batch (a few per cent
 * slower). A float32 net has everything from creation and uses none of
 * this. ================================================================== */

/* Lay out (base NULL: measure) the float32 batch workspaces of a float64 net. */
static size_t layout_workspaces32(minima_net *net, unsigned char *base)
{
    carver c = {base, 0};
    size_t B = net->B;
    for (int i = 1; i < net->n; i++) {
        size_t sz = B * net->plan[i].size;
        net->val32[i] = carve(&c, sz * sizeof(float));
        net->sig32[i] = carve(&c, sz * sizeof(float));
        net->rval32[i] = carve(&c, sz * sizeof(float));
        net->rsig32[i] = carve(&c, sz * sizeof(float));
    }
    net->prob32 = carve(&c, B * net->d_out * sizeof(float));
    return c.used + 64;
}

/* Lay out (base NULL: measure) the float32 copy of the cache. */
static size_t layout_cache32(minima_net *net, unsigned char *base)
{
    carver c = {base, 0};
    size_t N = net->hi - net->lo;   /* this rank's rows */
    for (int i = 1; i < net->n; i++) {
        const node_plan *p = &net->plan[i];
        net->cval32[i] = p->keep_value ? carve(&c, N * p->size * sizeof(float)) : NULL;
        net->csig32[i] = p->keep_signal ? carve(&c, N * p->size * sizeof(float)) : NULL;
    }
    net->cprob32 = net->params.loss == MINIMA_LOSS_CE ? carve(&c, N * net->d_out * sizeof(float))
                                                      : NULL;
    return c.used + 64;
}

/* Undo a partial ensure_f32: the net is a plain float64 net again. */
static void drop_f32(minima_net *net)
{
    void *lists[] = {net->val32, net->sig32, net->rval32, net->rsig32,
                     net->cval32, net->csig32, net->cur_v32, net->cur_g32};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) minima_free(lists[i]);
    net->val32 = net->sig32 = net->rval32 = net->rsig32 = NULL;
    net->cval32 = net->csig32 = net->cur_v32 = net->cur_g32 = NULL;
    minima_free(net->x32);
    minima_free(net->theta32);
    minima_free(net->v32);
    minima_free(net->hv32);
    net->x32 = net->theta32 = net->v32 = net->hv32 = NULL;
    minima_free(net->arena32);
    minima_free(net->cache32);
    net->arena32 = net->cache32 = NULL;
    net->prob32 = net->cprob32 = NULL;
    net->cache32_valid = 0;
}

/* Everything the float32 R-passes read, on a float64 net: allocated once. */
static minima_status ensure_f32(minima_net *net)
{
    if (net->params.float32 || net->arena32) return MINIMA_OK;
    size_t n = (size_t)net->n, nx = (net->hi - net->lo) * net->d_in;   /* this rank's rows */
    int ok = (net->val32 = minima_calloc(n, sizeof(float *))) &&
             (net->sig32 = minima_calloc(n, sizeof(float *))) &&
             (net->rval32 = minima_calloc(n, sizeof(float *))) &&
             (net->rsig32 = minima_calloc(n, sizeof(float *))) &&
             (net->cval32 = minima_calloc(n, sizeof(float *))) &&
             (net->csig32 = minima_calloc(n, sizeof(float *))) &&
             (net->cur_v32 = minima_calloc(n, sizeof(float *))) &&
             (net->cur_g32 = minima_calloc(n, sizeof(float *))) &&
             (net->x32 = minima_alloc(nx ? nx : 1, sizeof(float))) &&
             (net->theta32 = minima_alloc(net->P, sizeof(float))) &&
             (net->v32 = minima_alloc(net->P, sizeof(float))) &&
             (net->hv32 = minima_alloc(net->P, sizeof(float)));
    size_t ws = 0;
    if (ok) {
        ws = layout_workspaces32(net, NULL);
        ok = (net->arena32 = minima_alloc(ws, 1)) != NULL;
    }
    if (minima_dist_min_int(ok) != ok || !ok) {   /* every rank, or none */
        drop_f32(net);
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory for the float32 workspaces of a batch of %zu "
                    "examples (the float64 products still work)", net->B);
    }
    layout_workspaces32(net, (unsigned char *)(((uintptr_t)net->arena32 + 63) & ~(uintptr_t)63));
    for (size_t i = 0; i < nx; i++) net->x32[i] = (float)net->data->x[net->lo * net->d_in + i];
    for (size_t i = 0; i < net->P; i++) net->theta32[i] = (float)net->theta0[i];

    /* The float32 copy of the cache, when the float64 cache is kept and both
     * fit within the limit; otherwise products round batch by batch. */
    if (net->cache_enabled) {
        size_t f64 = cache_bytes_of(net), bytes = layout_cache32(net, NULL);
        /* The decision is the largest block's, as for the float64 cache (the
         * ranks may differ in whether the copy is kept: the products are
         * the same float32 numbers either way, only their speed differs). */
        size_t bytes_max = net->hi - net->lo ? bytes / (net->hi - net->lo) * net->block_max : bytes;
        if (f64 + bytes_max <= net->params.cache_limit && (net->cache32 = minima_alloc(bytes, 1))) {
            layout_cache32(net,
                           (unsigned char *)(((uintptr_t)net->cache32 + 63) & ~(uintptr_t)63));
        } else {
            for (int i = 1; i < net->n; i++) net->cval32[i] = net->csig32[i] = NULL;
            net->cprob32 = NULL;
            minima_log(MINIMA_LOG_INFO, "the float32 copy of the curvature cache (%zu bytes) is "
                       "not kept; float32 products round the float64 cache batch by batch", bytes);
        }
    }
    net->cache32_valid = 0;
    return MINIMA_OK;
}

static minima_status product_f32(minima_net *net, const double *v, double *out, int full)
{
    if (!net || !v || !out) MINIMA_FAIL(MINIMA_EINVAL, "float32 curvature product: NULL argument");
    if (v == out)
        MINIMA_FAIL(MINIMA_EINVAL, "float32 curvature product: input and output must differ");
    MINIMA_TRY(ensure_f32(net));
    MINIMA_TRY(ensure_cache(net));     /* without a float32 copy: rounded from it per batch */
    return curvature_product_f32(net, v, out, full);
}

minima_status minima_net_hvp_f32(minima_net *net, const double *v, double *hv)
{
    return product_f32(net, v, hv, 1);
}

minima_status minima_net_ggnvp_f32(minima_net *net, const double *v, double *gv)
{
    return product_f32(net, v, gv, 0);
}
/* ==== end of float32 products on demand ================================== */
