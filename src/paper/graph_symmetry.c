/* graph_symmetry.c — the rescaling group of any graph: scaling classes by
 * union-find over (node, channel), the diagonal map, the canonical
 * (minimum-norm) representative by Newton's method, a description.
 * See minima/graph_symmetry.h for the contract and docs/symmetry.md for
 * the mathematics. */
#include "minima/graph_symmetry.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/text_impl.h"
#include "paper/graph_symmetry_impl.h"
#include "minima/alloc.h"
#include "minima/rng.h"

#define CANON_MAX_ITER 100
#define CANON_GRAD_TOL 1e-13      /* ||grad F|| <= CANON_GRAD_TOL * F */
#define CANON_ARMIJO 1e-4
#define CANON_FULL_STEP 1e-3    /* max |step| below which the full Newton step is taken */

/* ---- union-find ---------------------------------------------------------- */

static size_t uf_find(size_t *parent, size_t a)
{
    while (parent[a] != a) {
        parent[a] = parent[parent[a]];
        a = parent[a];
    }
    return a;
}

/* The larger root becomes the parent, so FIXED (the largest element) stays
 * the root of its class. */
static void uf_union(size_t *parent, size_t a, size_t b)
{
    size_t ra = uf_find(parent, a), rb = uf_find(parent, b);
    if (ra == rb) return;
    if (ra < rb) parent[ra] = rb;
    else parent[rb] = ra;
}

/* ---- the group ------------------------------------------------------------ */

void minima_gsym_free(minima_gsym *g)
{
    if (!g) return;
    minima_free(g->n_channels);
    minima_free(g->channel_offset);
    minima_free(g->class_of);
    minima_free(g->node_fixed);
    minima_free(g->stage_of_class);
    minima_free(g->node_stage);
    minima_free(g);
}

static int is_parametric(minima_node_kind k)
{
    return k == MINIMA_NODE_LINEAR || k == MINIMA_NODE_CONV2D;
}

/* Ties channel c of node i one to one to channel c of node j (same count). */
static minima_status tie_channels(const minima_model *m, const minima_gsym *g, size_t *parent,
                                  int i, int j)
{
    if (g->n_channels[i] != g->n_channels[j]) {
        char a[96], b[96];
        minima_model_node_label(m, i, a, sizeof a);
        minima_model_node_label(m, j, b, sizeof b);
        MINIMA_FAIL(MINIMA_ESHAPE, "rescaling group: %s should have the channels of its input "
                    "%s (%d), found %d", a, b, g->n_channels[j], g->n_channels[i]);
    }
    for (int c = 0; c < g->n_channels[i]; c++)
        uf_union(parent, g->channel_offset[i] + (size_t)c, g->channel_offset[j] + (size_t)c);
    return MINIMA_OK;
}

static void tie_fixed(const minima_gsym *g, size_t *parent, int i, size_t fixed)
{
    for (int c = 0; c < g->n_channels[i]; c++)
        uf_union(parent, g->channel_offset[i] + (size_t)c, fixed);
}

static minima_status build_classes(const minima_model *m, minima_gsym *g, size_t *parent)
{
    size_t fixed = g->n_pairs;
    for (size_t a = 0; a <= fixed; a++) parent[a] = a;
    for (int i = 0; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        int in0 = nd->n_inputs > 0 ? nd->inputs[0] : -1;
        char label[96];
        switch (nd->kind) {
        case MINIMA_NODE_INPUT:
            tie_fixed(g, parent, i, fixed);
            break;
        case MINIMA_NODE_LINEAR:
        case MINIMA_NODE_CONV2D:
            break;                                   /* free output channels */
        case MINIMA_NODE_RELU:
        case MINIMA_NODE_LEAKY_RELU:
        case MINIMA_NODE_IDENTITY:
        case MINIMA_NODE_MAXPOOL2D:
        case MINIMA_NODE_AVGPOOL2D:
        case MINIMA_NODE_GLOBAL_AVGPOOL:
            MINIMA_TRY(tie_channels(m, g, parent, i, in0));
            break;
        case MINIMA_NODE_ADD:
            MINIMA_TRY(tie_channels(m, g, parent, i, in0));
            MINIMA_TRY(tie_channels(m, g, parent, i, nd->inputs[1]));
            break;
        case MINIMA_NODE_FLATTEN: {
            const minima_shape *s = &m->nodes[in0].shape;
            size_t hw = (size_t)s->h * (size_t)s->w;
            if ((size_t)g->n_channels[i] != (size_t)s->c * hw) {
                minima_model_node_label(m, i, label, sizeof label);
                MINIMA_FAIL(MINIMA_ESHAPE, "rescaling group: %s should have %zu features (its "
                            "input's C*H*W), found %d", label, (size_t)s->c * hw,
                            g->n_channels[i]);
            }
            for (int f = 0; f < g->n_channels[i]; f++)
                uf_union(parent, g->channel_offset[i] + (size_t)f,
                         g->channel_offset[in0] + (size_t)f / hw);
            break;
        }
        case MINIMA_NODE_TANH:
            tie_fixed(g, parent, i, fixed);
            tie_fixed(g, parent, in0, fixed);
            break;
        default:
            minima_model_node_label(m, i, label, sizeof label);
            MINIMA_FAIL(MINIMA_EUNSUPPORTED, "rescaling group: %s is of kind %d, which the group "
                        "does not know (expected input, linear, conv2d, maxpool2d, avgpool2d, "
                        "global_avgpool, flatten, add, relu, leaky_relu, tanh or identity)",
                        label, (int)nd->kind);
        }
    }
    tie_fixed(g, parent, m->n_nodes - 1, fixed);     /* the logits */
    return MINIMA_OK;
}

/* Stages: the free classes of one parametric node's output channels belong
 * to one stage, and stages that share a class merge (a residual stream's
 * convolutions). Union-find over the classes; stages are numbered in the
 * order of their smallest class, i.e. of the first node that creates them. */
static minima_status build_stages(const minima_model *m, minima_gsym *g)
{
    int n = g->n_classes;
    g->stage_of_class = minima_alloc(n ? (size_t)n : 1, sizeof *g->stage_of_class);
    g->node_stage = minima_alloc((size_t)m->n_nodes, sizeof *g->node_stage);
    size_t *parent = minima_alloc(n ? (size_t)n : 1, sizeof *parent);
    if (!g->stage_of_class || !g->node_stage || !parent) {
        minima_free(parent);
        MINIMA_FAIL(MINIMA_ENOMEM, "rescaling group: out of memory");
    }
    for (int k = 0; k < n; k++) parent[k] = (size_t)k;
    for (int i = 0; i < m->n_nodes; i++) {
        g->node_stage[i] = -1;
        if (!is_parametric(m->nodes[i].kind)) continue;
        const int *cls = g->class_of + g->channel_offset[i];
        int first = -1;
        for (int c = 0; c < g->n_channels[i]; c++) {
            if (cls[c] < 0) continue;
            if (first < 0) first = cls[c];
            else uf_union(parent, (size_t)first, (size_t)cls[c]);
        }
    }
    /* label roots in class order; uf_union keeps the larger index as the root,
     * so the label is attached to the root and given on first sight */
    int *label = minima_alloc(n ? (size_t)n : 1, sizeof *label);
    if (!label) {
        minima_free(parent);
        MINIMA_FAIL(MINIMA_ENOMEM, "rescaling group: out of memory");
    }
    for (int k = 0; k < n; k++) label[k] = -1;
    int ns = 0;
    for (int k = 0; k < n; k++) {
        size_t r = uf_find(parent, (size_t)k);
        if (label[r] < 0) label[r] = ns++;
        g->stage_of_class[k] = label[r];
    }
    g->n_stages = ns;
    for (int i = 0; i < m->n_nodes; i++) {
        if (!is_parametric(m->nodes[i].kind)) continue;
        const int *cls = g->class_of + g->channel_offset[i];
        for (int c = 0; c < g->n_channels[i] && g->node_stage[i] < 0; c++)
            if (cls[c] >= 0) g->node_stage[i] = g->stage_of_class[cls[c]];
    }
    minima_free(label);
    minima_free(parent);
    return MINIMA_OK;
}

minima_status minima_gsym_create(const minima_model *m, minima_gsym **out)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_create: NULL output");
    *out = NULL;
    if (!m) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_create: NULL model");
    if (m->n_nodes < 2 || !m->nodes || m->nodes[0].kind != MINIMA_NODE_INPUT)
        MINIMA_FAIL(MINIMA_EINVAL, "rescaling group: expected a graph whose node 0 is the input "
                    "and which has at least 2 nodes, found %d node(s)", m->n_nodes);
    minima_gsym *g = minima_calloc(1, sizeof *g);
    if (!g) MINIMA_FAIL(MINIMA_ENOMEM, "rescaling group: out of memory");
    g->n_nodes = m->n_nodes;
    g->n_params = m->n_params;
    g->n_channels = minima_alloc((size_t)m->n_nodes, sizeof *g->n_channels);
    g->channel_offset = minima_alloc((size_t)m->n_nodes, sizeof *g->channel_offset);
    g->node_fixed = minima_calloc((size_t)m->n_nodes, sizeof *g->node_fixed);
    if (!g->n_channels || !g->channel_offset || !g->node_fixed) {
        minima_gsym_free(g);
        MINIMA_FAIL(MINIMA_ENOMEM, "rescaling group: out of memory");
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        for (int k = 0; k < nd->n_inputs; k++)
            if (nd->inputs[k] < 0 || nd->inputs[k] >= i) {
                char label[96];
                minima_model_node_label(m, i, label, sizeof label);
                minima_gsym_free(g);
                MINIMA_FAIL(MINIMA_EINVAL, "rescaling group: %s reads node %d; expected an "
                            "earlier node", label, nd->inputs[k]);
            }
        g->n_channels[i] = nd->shape.c;
        g->channel_offset[i] = g->n_pairs;
        g->n_pairs += (size_t)nd->shape.c;
    }
    size_t *parent = minima_alloc(g->n_pairs + 1, sizeof *parent);
    g->class_of = minima_alloc(g->n_pairs ? g->n_pairs : 1, sizeof *g->class_of);
    int *label_of_root = minima_alloc(g->n_pairs + 1, sizeof *label_of_root);
    if (!parent || !g->class_of || !label_of_root) {
        minima_free(parent);
        minima_free(label_of_root);
        minima_gsym_free(g);
        MINIMA_FAIL(MINIMA_ENOMEM, "rescaling group: out of memory");
    }
    minima_status st = build_classes(m, g, parent);
    if (st != MINIMA_OK) {
        minima_free(parent);
        minima_free(label_of_root);
        minima_gsym_free(g);
        return st;
    }
    size_t fixed = g->n_pairs;
    for (size_t a = 0; a <= fixed; a++) label_of_root[a] = -1;
    int n = 0;
    for (size_t a = 0; a < g->n_pairs; a++) {
        size_t r = uf_find(parent, a);
        if (r == fixed) {
            g->class_of[a] = -1;
            continue;
        }
        if (label_of_root[r] < 0) label_of_root[r] = n++;
        g->class_of[a] = label_of_root[r];
    }
    g->n_classes = n;

    /* The description. */
    char *residual = minima_calloc(n ? (size_t)n : 1, 1);
    if (!residual) {
        minima_free(parent);
        minima_free(label_of_root);
        minima_gsym_free(g);
        MINIMA_FAIL(MINIMA_ENOMEM, "rescaling group: out of memory");
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        const int *cls = g->class_of + g->channel_offset[i];
        if (nd->kind == MINIMA_NODE_ADD)
            for (int c = 0; c < g->n_channels[i]; c++)
                if (cls[c] >= 0) residual[cls[c]] = 1;
        if (is_parametric(nd->kind)) {
            g->n_parametric++;
            int all = 1;
            for (int c = 0; c < g->n_channels[i]; c++) all &= cls[c] < 0;
            g->node_fixed[i] = all;
            if (all && i != m->n_nodes - 1) g->n_fixed_nodes++;
        }
    }
    for (int k = 0; k < n; k++) g->n_residual_classes += residual[k];
    if (st == MINIMA_OK) st = build_stages(m, g);
    if (st != MINIMA_OK) {
        minima_free(residual);
        minima_free(parent);
        minima_free(label_of_root);
        minima_gsym_free(g);
        return st;
    }
    for (size_t a = 0; a < g->n_pairs; a++)
        if (g->class_of[a] >= 0 && residual[g->class_of[a]]) g->n_residual_pairs++;
    minima_free(residual);
    minima_free(parent);
    minima_free(label_of_root);
    *out = g;
    return MINIMA_OK;
}

int minima_gsym_class(const minima_gsym *g, int node, int channel)
{
    if (!g || node < 0 || node >= g->n_nodes || channel < 0 || channel >= g->n_channels[node])
        return -2;
    return g->class_of[g->channel_offset[node] + (size_t)channel];
}

/* ---- the map ------------------------------------------------------------------ */

static minima_status check_pair(const minima_gsym *g, const minima_model *m, const char *what)
{
    if (g->n_nodes != m->n_nodes || g->n_params != m->n_params)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: the group was made for a model of %d nodes and %zu "
                    "parameters, found one of %d nodes and %zu", what, g->n_nodes, g->n_params,
                    m->n_nodes, m->n_params);
    return MINIMA_OK;
}

/* Calls fn(p, c_out, c_in, ctx) for every parameter p of the model with the
 * free classes of its output and input channels (-1: FIXED). */
typedef void (*param_fn)(size_t p, int c_out, int c_in, void *ctx);

static void for_each_param(const minima_gsym *g, const minima_model *m, param_fn fn, void *ctx)
{
    for (int i = 0; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        if (!is_parametric(nd->kind)) continue;
        int a = nd->inputs[0];
        const int *cout = g->class_of + g->channel_offset[i];
        const int *cin = g->class_of + g->channel_offset[a];
        int O = nd->out;
        if (nd->kind == MINIMA_NODE_LINEAR) {
            const minima_shape *s = &m->nodes[a].shape;
            size_t hw = (size_t)s->h * (size_t)s->w;      /* 1: a linear reads a flat input */
            size_t J = nd->n_weight / (size_t)O;
            for (int o = 0; o < O; o++)
                for (size_t j = 0; j < J; j++)
                    fn(nd->weight_offset + (size_t)o * J + j, cout[o], cin[j / hw], ctx);
        } else {
            int G = nd->groups > 0 ? nd->groups : 1;
            int cin_g = m->nodes[a].shape.c / G, cout_g = O / G;
            size_t kk = (size_t)nd->kernel[0] * (size_t)nd->kernel[1];
            for (int o = 0; o < O; o++)
                for (int j = 0; j < cin_g; j++) {
                    int ci = cin[(o / cout_g) * cin_g + j];
                    size_t base = nd->weight_offset + ((size_t)o * (size_t)cin_g + (size_t)j) * kk;
                    for (size_t t = 0; t < kk; t++) fn(base + t, cout[o], ci, ctx);
                }
        }
        for (size_t o = 0; o < nd->n_bias; o++) fn(nd->bias_offset + o, cout[o], -1, ctx);
    }
}

typedef struct {
    const double *u;
    double *diag;
} diag_ctx;

static void diag_one(size_t p, int c_out, int c_in, void *vctx)
{
    diag_ctx *c = vctx;
    double e = (c_out >= 0 ? c->u[c_out] : 0.0) - (c_in >= 0 ? c->u[c_in] : 0.0);
    c->diag[p] = exp(e);
}

minima_status minima_gsym_diag(const minima_gsym *g, const minima_model *m, const double *u,
                               double *diag)
{
    if (!g || !m || !diag) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_diag: NULL argument");
    MINIMA_TRY(check_pair(g, m, "rescaling map"));
    double *zero = NULL;
    if (u) {
        for (int k = 0; k < g->n_classes; k++)
            if (!isfinite(u[k]))
                MINIMA_FAIL(MINIMA_EINVAL, "rescaling map: log-factor u[%d] = %g; expected a "
                            "finite number", k, u[k]);
    } else {
        zero = minima_calloc(g->n_classes ? (size_t)g->n_classes : 1, sizeof *zero);
        if (!zero) MINIMA_FAIL(MINIMA_ENOMEM, "rescaling map: out of memory");
        u = zero;
    }
    for (size_t p = 0; p < m->n_params; p++) diag[p] = 1.0;
    diag_ctx ctx = {u, diag};
    for_each_param(g, m, diag_one, &ctx);
    minima_free(zero);
    for (size_t p = 0; p < m->n_params; p++)
        if (!isfinite(diag[p]) || !(diag[p] > 0))
            MINIMA_FAIL(MINIMA_ERANGE, "rescaling map: the factor of parameter %zu is %g, out of "
                        "floating-point range; expected log-factors whose differences stay "
                        "within about 700", p, diag[p]);
    return MINIMA_OK;
}

minima_status minima_gsym_apply(const minima_gsym *g, const minima_model *m, const double *u,
                                const double *theta, double *out)
{
    if (!g || !m || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_apply: NULL argument");
    if (!theta) theta = m->theta;
    double *d = minima_alloc(m->n_params ? m->n_params : 1, sizeof *d);
    if (!d) MINIMA_FAIL(MINIMA_ENOMEM, "rescaling map: out of memory");
    minima_status st = minima_gsym_diag(g, m, u, d);
    if (st == MINIMA_OK)
        for (size_t p = 0; p < m->n_params; p++) out[p] = d[p] * theta[p];
    minima_free(d);
    return st;
}

/* ---- stage-wise maps and random points ------------------------------------ */

minima_status minima_gsym_stage_u(const minima_gsym *g, const double *alpha, int n_alpha,
                                  int derive_last, double prod_tol, double *u, double *alpha_used)
{
    if (!g || !alpha || !u) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_stage_u: NULL argument");
    int S = g->n_stages, want = S + 1;
    if (derive_last ? (n_alpha != S && n_alpha != want) : n_alpha != want)
        MINIMA_FAIL(MINIMA_EINVAL, "stage-wise rescaling: %d factor%s given; this network has %d "
                    "stage%s of hidden channels, so expected %d (the last for the output node%s)",
                    n_alpha, n_alpha == 1 ? "" : "s", S, S == 1 ? "" : "s", want,
                    derive_last ? "; or one fewer, the last derived" : "");
    if (!(prod_tol >= 0) || !isfinite(prod_tol))
        MINIMA_FAIL(MINIMA_EINVAL, "stage-wise rescaling: product tolerance %g, expected a "
                    "finite number >= 0", prod_tol);
    double logsum = 0, prod = 1;
    for (int k = 0; k < n_alpha; k++) {
        if (!isfinite(alpha[k]) || !(alpha[k] > 0))
            MINIMA_FAIL(MINIMA_EINVAL, "stage-wise rescaling: alpha_%d = %g, expected a finite "
                        "number > 0", k + 1, alpha[k]);
        if (k < S) logsum += log(alpha[k]);
        prod *= alpha[k];
    }
    if (!derive_last && !(fabs(prod - 1.0) <= prod_tol))
        MINIMA_FAIL(MINIMA_EINVAL, "stage-wise rescaling: the product of the %d factors is %.17g; "
                    "expected 1 (within %g relative), else the function changes", n_alpha, prod,
                    prod_tol);
    /* t_s = log(alpha_1 ... alpha_s) for stage s (1-based) */
    double *t = minima_alloc(S ? (size_t)S : 1, sizeof *t);
    if (!t) MINIMA_FAIL(MINIMA_ENOMEM, "stage-wise rescaling: out of memory");
    double acc = 0;
    for (int k = 0; k < S; k++) t[k] = (acc += log(alpha[k]));
    for (int c = 0; c < g->n_classes; c++) u[c] = t[g->stage_of_class[c]];
    minima_free(t);
    if (alpha_used) {
        for (int k = 0; k < S; k++) alpha_used[k] = alpha[k];
        alpha_used[S] = exp(-logsum);
    }
    return MINIMA_OK;
}

minima_status minima_gsym_random_u(const minima_gsym *g, uint64_t seed, double spread,
                                   const double *u0, double *u)
{
    if (!g || !u) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_random_u: NULL argument");
    if (!isfinite(spread) || spread < 0)
        MINIMA_FAIL(MINIMA_EINVAL, "orbit spread %g: expected a finite number >= 0", spread);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    for (int c = 0; c < g->n_classes; c++)
        u[c] = (u0 ? u0[c] : 0.0) + spread * minima_rng_normal(&rng);
    return MINIMA_OK;
}

/* ---- F, its gradient and Hessian ------------------------------------------- */

typedef struct {
    const double *theta;
    double inv_scale;          /* theta is read as theta * inv_scale */
    const double *u;           /* (n_classes) */
    const int *active;         /* (n_classes): index among the optimised classes, or -1 */
    int n_active;
    double f;
    double *grad;              /* (n_active) or NULL */
    double *hess;              /* (n_active^2) or NULL */
} norm_ctx;

static void norm_one(size_t p, int c_out, int c_in, void *vctx)
{
    norm_ctx *c = vctx;
    double th = c->theta[p] * c->inv_scale;
    if (th == 0) return;
    double e = (c_out >= 0 ? c->u[c_out] : 0.0) - (c_in >= 0 ? c->u[c_in] : 0.0);
    double t = th * th * exp(2 * e);
    c->f += t;
    if (c_out == c_in || (!c->grad && !c->hess)) return;   /* the factor does not move */
    int ko = c_out >= 0 ? c->active[c_out] : -1;
    int ki = c_in >= 0 ? c->active[c_in] : -1;
    if (c->grad) {
        if (ko >= 0) c->grad[ko] += 2 * t;
        if (ki >= 0) c->grad[ki] -= 2 * t;
    }
    if (c->hess) {
        size_t n = (size_t)c->n_active;
        if (ko >= 0) c->hess[(size_t)ko * n + (size_t)ko] += 4 * t;
        if (ki >= 0) c->hess[(size_t)ki * n + (size_t)ki] += 4 * t;
        if (ko >= 0 && ki >= 0) {
            c->hess[(size_t)ko * n + (size_t)ki] -= 4 * t;
            c->hess[(size_t)ki * n + (size_t)ko] -= 4 * t;
        }
    }
}

static void eval_norm(const minima_gsym *g, const minima_model *m, norm_ctx *c)
{
    size_t n = (size_t)c->n_active;
    c->f = 0;
    if (c->grad) memset(c->grad, 0, n * sizeof *c->grad);
    if (c->hess) memset(c->hess, 0, n * n * sizeof *c->hess);
    for_each_param(g, m, norm_one, c);
}

static double vnorm(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

minima_status minima_gsym_norm2(const minima_gsym *g, const minima_model *m, const double *theta,
                                const double *u, double *f, double *grad)
{
    if (!g || !m || !f) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_norm2: NULL argument");
    MINIMA_TRY(check_pair(g, m, "rescaling norm"));
    if (!theta) theta = m->theta;
    size_t n = g->n_classes ? (size_t)g->n_classes : 1;
    int *active = minima_alloc(n, sizeof *active);
    double *zero = minima_calloc(n, sizeof *zero);
    if (!active || !zero) {
        minima_free(active);
        minima_free(zero);
        MINIMA_FAIL(MINIMA_ENOMEM, "rescaling norm: out of memory");
    }
    for (int k = 0; k < g->n_classes; k++) active[k] = k;
    norm_ctx c = {theta, 1.0, u ? u : zero, active, g->n_classes, 0, grad, NULL};
    eval_norm(g, m, &c);
    *f = c.f;
    minima_free(active);
    minima_free(zero);
    return MINIMA_OK;
}

/* ---- degenerate classes ------------------------------------------------------ */

typedef struct {
    const double *theta;
    int n;                     /* classes; FIXED is index n */
    unsigned char *edge;       /* (n+1)^2: edge[from * (n+1) + to] */
} edge_ctx;

static void edge_one(size_t p, int c_out, int c_in, void *vctx)
{
    edge_ctx *c = vctx;
    if (c->theta[p] == 0) return;
    size_t n1 = (size_t)c->n + 1;
    size_t from = c_in >= 0 ? (size_t)c_in : (size_t)c->n;
    size_t to = c_out >= 0 ? (size_t)c_out : (size_t)c->n;
    c->edge[from * n1 + to] = 1;
}

/* seen[k] = 1 for every class reachable from FIXED (forward) or reaching it
 * (backward), by a breadth-first search over the dense adjacency. */
static void reach(const unsigned char *edge, int n, int forward, unsigned char *seen, int *queue)
{
    size_t n1 = (size_t)n + 1;
    memset(seen, 0, n1);
    int head = 0, tail = 0;
    queue[tail++] = n;
    seen[n] = 1;
    while (head < tail) {
        size_t a = (size_t)queue[head++];
        for (size_t b = 0; b < n1; b++) {
            unsigned char e = forward ? edge[a * n1 + b] : edge[b * n1 + a];
            if (e && !seen[b]) {
                seen[b] = 1;
                queue[tail++] = (int)b;
            }
        }
    }
}

/* ---- Newton ------------------------------------------------------------------- */

/* (graph_symmetry_impl.h) */
int gsym_cholesky_solve(double *a, size_t n, const double *b, double *x)
{
    for (size_t j = 0; j < n; j++) {
        double d = a[j * n + j];
        for (size_t k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
        if (!(d > 0)) return 0;
        d = sqrt(d);
        a[j * n + j] = d;
        for (size_t i = j + 1; i < n; i++) {
            double s = a[i * n + j];
            for (size_t k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = s / d;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double s = b[i];
        for (size_t k = 0; k < i; k++) s -= a[i * n + k] * x[k];
        x[i] = s / a[i * n + i];
    }
    for (size_t i = n; i-- > 0;) {
        double s = x[i];
        for (size_t k = i + 1; k < n; k++) s -= a[k * n + i] * x[k];
        x[i] = s / a[i * n + i];
    }
    return 1;
}

typedef struct {
    int *active;
    int *queue;
    unsigned char *edge, *fwd, *bwd;
    double *grad, *hess, *step, *trial, *scale;
} canon_work;

static void canon_work_free(canon_work *w)
{
    minima_free(w->active);
    minima_free(w->queue);
    minima_free(w->edge);
    minima_free(w->fwd);
    minima_free(w->bwd);
    minima_free(w->grad);
    minima_free(w->hess);
    minima_free(w->step);
    minima_free(w->trial);
    minima_free(w->scale);
}

static minima_status newton(const minima_gsym *g, const minima_model *m, const double *theta,
                            double inv_scale, canon_work *w, int n_act, double *u,
                            minima_gsym_canonical_info *inf)
{
    size_t na = (size_t)n_act;
    int n = g->n_classes;
    norm_ctx c = {theta, inv_scale, u, w->active, n_act, 0, w->grad, w->hess};
    for (int it = 0;; it++) {
        c.u = u;
        c.grad = w->grad;
        c.hess = w->hess;
        eval_norm(g, m, &c);
        double f = c.f, gn = vnorm(w->grad, na);
        inf->iterations = it;
        inf->grad_norm = gn;
        if (!isfinite(f) || !isfinite(gn))
            MINIMA_FAIL(MINIMA_ERANGE, "canonical representative: the squared norm or its "
                        "gradient overflowed at step %d (F = %g, ||grad F|| = %g)", it, f, gn);
        if (gn <= CANON_GRAD_TOL * f) return MINIMA_OK;
        if (it >= CANON_MAX_ITER)
            MINIMA_FAIL(MINIMA_ENOCONV, "canonical representative: Newton's method stopped after "
                        "%d steps with ||grad F|| = %.3g, expected <= %g F = %.3g (F of theta "
                        "divided by its largest entry); the point is too far from the minimum "
                        "of its orbit", CANON_MAX_ITER, gn, CANON_GRAD_TOL, CANON_GRAD_TOL * f);
        /* Jacobi scaling first: far from the minimum the diagonal spans
         * many orders of magnitude (each class's share of F), which the
         * scaled matrix (unit diagonal) does not. If it is still not
         * numerically positive definite, the diagonal Newton step (a
         * descent direction; the line search decides its length). */
        for (size_t i = 0; i < na; i++) {
            double h = w->hess[i * na + i];
            w->scale[i] = h > 0 ? 1 / sqrt(h) : 1;
        }
        for (size_t i = 0; i < na; i++) {
            for (size_t j = 0; j < na; j++) w->hess[i * na + j] *= w->scale[i] * w->scale[j];
            w->trial[i] = -w->grad[i] * w->scale[i];
        }
        if (gsym_cholesky_solve(w->hess, na, w->trial, w->step)) {
            for (size_t i = 0; i < na; i++) w->step[i] *= w->scale[i];
        } else {
            for (size_t i = 0; i < na; i++)
                w->step[i] = -w->grad[i] * w->scale[i] * w->scale[i];
        }
        double slope = 0, smax = 0;                /* grad . step = -(Newton decrement)^2 */
        for (size_t i = 0; i < na; i++) {
            slope += w->grad[i] * w->step[i];
            if (fabs(w->step[i]) > smax) smax = fabs(w->step[i]);
        }
        /* Line search on u + alpha step; trial holds u for all n classes. */
        double *ut = minima_alloc(n ? (size_t)n : 1, sizeof *ut);
        if (!ut) MINIMA_FAIL(MINIMA_ENOMEM, "canonical representative: out of memory");
        double alpha = 1;
        int accepted = 0;
        for (int ls = 0; ls < 60; ls++, alpha *= 0.5) {
            memcpy(ut, u, (size_t)n * sizeof *u);
            for (int k = 0; k < n; k++)
                if (w->active[k] >= 0) ut[k] += alpha * w->step[w->active[k]];
            /* A short step moves every log D_p by at most 2 smax, so the
             * Hessian changes by a factor within exp(+-4 smax) along it: the
             * quadratic model is exact to that factor and the full step
             * converges quadratically; a line search there would only see
             * F's rounding (its decrease, the squared Newton decrement, falls
             * below F's last digit long before the gradient is at 1e-13 F). */
            if (smax <= CANON_FULL_STEP) {
                accepted = 1;
                break;
            }
            norm_ctx t = {theta, inv_scale, ut, w->active, n_act, 0, NULL, NULL};
            eval_norm(g, m, &t);
            if (isfinite(t.f) && t.f <= f + CANON_ARMIJO * alpha * slope) {
                accepted = 1;
                break;
            }
        }
        if (accepted) memcpy(u, ut, (size_t)n * sizeof *u);
        minima_free(ut);
        if (!accepted)
            MINIMA_FAIL(MINIMA_ENOCONV, "canonical representative: the line search found no "
                        "decrease at step %d (||grad F|| = %.3g, expected <= %g F = %.3g)", it,
                        gn, CANON_GRAD_TOL, CANON_GRAD_TOL * f);
    }
}

minima_status minima_gsym_canonical(const minima_gsym *g, const minima_model *m,
                                    const double *theta, double *u, double *theta_out,
                                    minima_gsym_canonical_info *info)
{
    if (!g || !m || !u) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_canonical: NULL argument");
    MINIMA_TRY(check_pair(g, m, "canonical representative"));
    if (!theta) theta = m->theta;
    for (size_t p = 0; p < m->n_params; p++)
        if (!isfinite(theta[p]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "canonical representative: theta[%zu] = %g; expected "
                        "finite parameters", p, theta[p]);
    int n = g->n_classes;
    if (n > MINIMA_GSYM_MAX_CANONICAL_CLASSES)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "canonical representative: the group has %d classes; "
                    "the dense Newton method handles at most %d", n,
                    MINIMA_GSYM_MAX_CANONICAL_CLASSES);
    minima_gsym_canonical_info inf = {0, 0, 0, 0, 0};
    for (int k = 0; k < n; k++) u[k] = 0;
    /* F is minimised for theta / max|theta| (the same minimiser), so that
     * its squares neither overflow nor underflow for any finite theta. */
    double max_abs = 0, f0 = 0;
    for (size_t p = 0; p < m->n_params; p++) max_abs = fmax(max_abs, fabs(theta[p]));
    double inv_scale = max_abs > 0 ? 1 / max_abs : 1;
    for (size_t p = 0; p < m->n_params; p++) f0 += (theta[p] * inv_scale) * (theta[p] * inv_scale);
    inf.norm_before = sqrt(f0) * max_abs;

    size_t n1 = (size_t)n + 1, nn = n ? (size_t)n : 1;
    canon_work w;
    memset(&w, 0, sizeof w);
    w.active = minima_alloc(nn, sizeof *w.active);
    w.queue = minima_alloc(n1, sizeof *w.queue);
    w.edge = minima_calloc(n1 * n1, 1);
    w.fwd = minima_alloc(n1, 1);
    w.bwd = minima_alloc(n1, 1);
    if (!w.active || !w.queue || !w.edge || !w.fwd || !w.bwd) {
        canon_work_free(&w);
        MINIMA_FAIL(MINIMA_ENOMEM, "canonical representative: out of memory");
    }
    /* The classes on a directed cycle through FIXED: reachable from it and
     * reaching it along non-zero parameters. */
    edge_ctx ec = {theta, n, w.edge};
    for_each_param(g, m, edge_one, &ec);
    reach(w.edge, n, 1, w.fwd, w.queue);
    reach(w.edge, n, 0, w.bwd, w.queue);
    int n_act = 0;
    for (int k = 0; k < n; k++) {
        if (w.fwd[k] && w.bwd[k]) w.active[k] = n_act++;
        else {
            w.active[k] = -1;
            inf.n_degenerate++;
        }
    }
    minima_status st = MINIMA_OK;
    if (n_act > 0) {
        size_t na = (size_t)n_act;
        w.grad = minima_alloc(na, sizeof *w.grad);
        w.hess = minima_alloc(na * na, sizeof *w.hess);
        w.step = minima_alloc(na, sizeof *w.step);
        w.trial = minima_alloc(na, sizeof *w.trial);
        w.scale = minima_alloc(na, sizeof *w.scale);
        if (!w.grad || !w.hess || !w.step || !w.trial || !w.scale) {
            canon_work_free(&w);
            MINIMA_FAIL(MINIMA_ENOMEM, "canonical representative: out of memory");
        }
        st = newton(g, m, theta, inv_scale, &w, n_act, u, &inf);
        inf.grad_norm *= max_abs * max_abs;      /* back to F of theta itself */
    }
    canon_work_free(&w);
    norm_ctx c = {theta, inv_scale, u, NULL, 0, 0, NULL, NULL};
    eval_norm(g, m, &c);
    inf.norm_after = sqrt(c.f) * max_abs;
    if (theta_out) {
        minima_status st2 = minima_gsym_apply(g, m, u, theta, theta_out);
        if (st == MINIMA_OK) st = st2;
    }
    if (info) *info = inf;
    return st;
}

/* ---- description ------------------------------------------------------------ */

void minima_gsym_describe(const minima_gsym *g, const minima_model *m, char *buf, size_t size)
{
    if (!buf || size == 0) return;
    buf[0] = '\0';
    if (!g || !m) return;
    size_t len = 0;
#define EMIT(...) do { if (len < size) { int k_ = snprintf(buf + len, size - len, __VA_ARGS__); \
    if (k_ > 0) len += (size_t)k_; } } while (0)
    EMIT("%d class%s (%d across residual adds); ", g->n_classes, g->n_classes == 1 ? "" : "es",
         g->n_residual_classes);
    if (g->n_fixed_nodes == 0) {
        EMIT("no linear/conv2d node fixed");
    } else {
        EMIT("%d linear/conv2d node%s fixed: ", g->n_fixed_nodes, g->n_fixed_nodes == 1 ? "" : "s");
        int shown = 0;
        for (int i = 0; i < g->n_nodes && i < m->n_nodes - 1; i++) {
            if (!g->node_fixed[i]) continue;
            if (shown == 4) {
                EMIT(" and %d more", g->n_fixed_nodes - 4);
                break;
            }
            char label[96];
            minima_model_node_label(m, i, label, sizeof label);
            EMIT("%s%s", shown ? ", " : "", label);
            shown++;
        }
    }
#undef EMIT
}

/* ---- info JSON --------------------------------------------------------- */


minima_status minima_gsym_model_info_json(const minima_model *model, const char *path, char **json)
{
    if (!json) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_model_info_json: NULL argument (json)");
    *json = NULL;
    if (!model) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_model_info_json: NULL argument (model)");
    char *base = NULL;
    MINIMA_TRY(minima_model_info_json(model, path, &base));
    size_t len = strlen(base);
    if (len == 0 || base[len - 1] != '}') {
        minima_free(base);
        MINIMA_FAIL(MINIMA_EFAILED, "model info JSON: expected an object ending in '}', found %zu "
                    "characters", len);
    }
    minima_gsym *g = NULL;
    minima_status gst = minima_gsym_create(model, &g);
    if (gst == MINIMA_ENOMEM) {
        minima_free(base);
        return gst;
    }
    minima_text t = {NULL, 0, 0, 0};
    minima_text_put(&t, "%.*s,\n \"symmetry\": ", (int)(len - 1), base);
    minima_free(base);
    if (gst != MINIMA_OK) {
        /* the rest of the description stands without the group */
        minima_text_put(&t, "null, \"symmetry_error\": ");
        minima_text_json_string(&t, minima_last_error());
    } else {
        minima_text_put(&t, "{\"n_classes\": %d, \"n_residual_classes\": %d, \"n_fixed_nodes\": %d, "
             "\"fixed_nodes\": [", g->n_classes, g->n_residual_classes, g->n_fixed_nodes);
        int shown = 0;
        for (int i = 0; i < g->n_nodes && i < model->n_nodes - 1; i++) {
            if (!g->node_fixed[i]) continue;
            char label[160];
            const char *name = model->nodes[i].name;
            if (!name || !name[0]) {
                minima_model_node_label(model, i, label, sizeof label);
                name = label;
            }
            minima_text_put(&t, "%s", shown++ ? ", " : "");
            minima_text_json_string(&t, name);
        }
        minima_text_put(&t, "]}");
    }
    minima_text_put(&t, "}");
    minima_gsym_free(g);
    if (t.failed) {
        minima_free(t.s);
        MINIMA_FAIL(MINIMA_ENOMEM, "model info: out of memory for the JSON text");
    }
    *json = t.s;
    return MINIMA_OK;
}
