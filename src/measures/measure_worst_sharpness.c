/* measure_worst_sharpness.c — worst-case m-sharpness of Andriushchenko et
 * al. 2023 (docs/measures/worst_sharpness.md), standard or adaptive:
 *
 *     S_max^rho(w, c) = E_batch[ max_{||delta / c||_p <= rho} L_S(w + delta) - L_S(w) ]
 *
 * c = 1 (standard) or c = |w| (adaptive, adaptive=1), p = 2 or inf. The
 * batches are the first n = 1024 training examples cut into batches of
 * m = 128 (one maximisation per batch, the results averaged).
 *
 * The maximisation is Auto-PGD (Croce & Hein 2020, Algorithm 1) in the
 * variables u = delta / c, so the constraint is the plain ball
 * ||u||_p <= rho and its projection exact (rescaling for p = 2, clipping
 * for p = inf): the gradient in u is c * grad L, the step direction
 * grad_u / ||grad_u||_2 (p = 2) or sign(grad_u) (p = inf). This change of
 * variables replaces the Lagrange-multiplier bisection of the usual
 * description and of the authors' code (which project in delta with the
 * Euclidean metric);
 * both are projected ascent on the same set, and the u-form makes the
 * adaptive value exactly invariant under rescaling (every iterate maps
 * to the rescaled one). APGD: start step 2 rho, momentum alpha = 0.75
 *
 *     z       = P(x_k + eta d_k)
 *     x_{k+1} = P(x_k + alpha (z - x_k) + (1 - alpha)(x_k - x_{k-1}))
 *
 * (the first step is x_1 = z), `steps` = 20 gradients after the start;
 * at the checkpoints w_j = ceil(p_j steps), p_0 = 0, p_1 = 0.22,
 * p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), the step is halved
 * and the iterate reset to the best point when fewer than 75 % of the
 * steps since the last checkpoint raised the loss, or when neither the
 * step nor the best loss changed since then. The start is u = 0, as in the
 * authors' evaluation script (its --sharpness_rand_init is off by
 * default); rand_init=1 starts at a random point of the ball (u uniform in
 * [-rho, rho]^P for p = inf, uniform on the sphere of radius rho for
 * p = 2), which is needed at an exact critical point, where the gradient
 * at u = 0 vanishes. The best loss over all iterates (and w itself) is
 * kept, so each batch's value is >= 0 and a certified lower bound.
 *
 * Logit normalisation (normalize_logits=1, cross-entropy only): the loss
 * is the cross-entropy of z' = (z - mean z) / max(||z - mean z||, 1e-10)
 * per example, as in the authors' LogitNormalizationWrapper. Its gradient
 * J^T s (s the derivative in the outputs) is computed exactly by the
 * engine's MSE gradient with targets Z - (d_K m / 2) s. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/rng.h"
#include "minima/sharpness.h"
#include "measures/sharpness_batches_impl.h"

#define NAME "worst_sharpness"

/* ---- batches (shared with average_sharpness) --------------------------- */

void minima_sharpness_batches_free(minima_sharpness_batches *b)
{
    for (int i = 0; i < b->count; i++) {
        if (b->nets) minima_net_free(b->nets[i]);
        if (b->data) minima_dataset_free(b->data[i]);
    }
    minima_free(b->nets);
    minima_free(b->data);
    memset(b, 0, sizeof *b);
}

minima_status minima_sharpness_batches_create(minima_sharpness_batches *b, minima_net *net,
                                              size_t n, size_t m, const char *name)
{
    memset(b, 0, sizeof *b);
    const minima_dataset *data = minima_net_data(net);
    const minima_model *model = minima_net_model(net);
    size_t N = minima_net_n_examples(net);
    b->examples = n < N ? n : N;
    size_t count = (b->examples + m - 1) / m;
    if (count == 0 || count > 1000000)
        MINIMA_FAIL(MINIMA_EINVAL, "measure %s: %zu examples in batches of %zu: expected 1 to "
                    "10^6 batches", name, b->examples, m);
    b->data = minima_calloc(count, sizeof *b->data);
    b->nets = minima_calloc(count, sizeof *b->nets);
    if (!b->data || !b->nets) {
        minima_sharpness_batches_free(b);
        MINIMA_FAIL(MINIMA_ENOMEM, "measure %s: out of memory for %zu batches", name, count);
    }
    b->count = (int)count;
    minima_net_params np = minima_net_default_params(model);
    np.loss = minima_net_loss_kind(net);
    np.batch_size = 0;
    np.cache_limit = 0;
    minima_status st = MINIMA_OK;
    for (size_t i = 0; i < count; i++) {
        size_t start = i * m, len = b->examples - start < m ? b->examples - start : m;
        if ((st = minima_dataset_slice(data, start, len, &b->data[i])) != MINIMA_OK) break;
        if ((st = minima_net_create(&b->nets[i], model, b->data[i], &np)) != MINIMA_OK) break;
    }
    if (st != MINIMA_OK) minima_sharpness_batches_free(b);
    return st;
}

minima_invariance minima_sharpness_adaptive_invariance(int adaptive)
{
    return adaptive ? MINIMA_INVARIANCE_EXACT : MINIMA_INVARIANCE_NONE;
}

double minima_sharpness_normalized_ce(const double *outputs, const int32_t *labels, size_t n,
                                      int d, double *signal)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        const double *z = outputs + i * (size_t)d;
        double mean = 0, r = 0, mx = -INFINITY, se = 0;
        for (int j = 0; j < d; j++) mean += z[j];
        mean /= d;
        for (int j = 0; j < d; j++) r += (z[j] - mean) * (z[j] - mean);
        r = fmax(sqrt(r), 1e-10);
        for (int j = 0; j < d; j++) mx = fmax(mx, (z[j] - mean) / r);
        for (int j = 0; j < d; j++) se += exp((z[j] - mean) / r - mx);
        total += mx + log(se) - (z[labels[i]] - mean) / r;
        if (!signal) continue;
        /* q = softmax(u) - e_y; t = (q - u (u.q)) / r (no projection when the
         * norm was clamped); signal = (t - mean t) / n */
        double *s = signal + i * (size_t)d, uq = 0, tm = 0;
        int clamped = r <= 1e-10;
        for (int j = 0; j < d; j++) {
            double u = (z[j] - mean) / r;
            s[j] = exp(u - mx) / se - (j == labels[i]);
            uq += u * s[j];
        }
        for (int j = 0; j < d; j++) {
            double u = (z[j] - mean) / r;
            s[j] = (s[j] - (clamped ? 0 : u * uq)) / r;
            tm += s[j];
        }
        tm /= d;
        for (int j = 0; j < d; j++) s[j] = (s[j] - tm) / (double)n;
    }
    return total / (double)n;
}

/* ---- settings -------------------------------------------------------------- */

typedef struct {
    double rho;
    double p;        /* 2 or INFINITY */
    int adaptive;    /* c = |w| instead of 1 */
    int steps;       /* APGD iterations (gradients) after the start */
    int n;           /* examples used */
    int m;           /* batch size */
    int rand_init;   /* random start in the ball, else u = 0 */
    int normalize;   /* cross-entropy of normalised logits */
} worst_settings;

static const minima_setting table[] = {
    {"rho", MINIMA_SETTING_DOUBLE, offsetof(worst_settings, rho), NAN, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "radius; auto: 0.1 (p=2), 1 (p=2, adaptive), 0.001 (p=inf), 0.002 (p=inf, adaptive), from the "
     "authors' experiment grids"},
    {"p", MINIMA_SETTING_PNORM, offsetof(worst_settings, p), 2, 0, 0, 0, "norm of the ball: 2 or inf"},
    {"adaptive", MINIMA_SETTING_BOOL, offsetof(worst_settings, adaptive), 0, 0, 1, 0, "1: c = |w|"},
    {"steps", MINIMA_SETTING_INT, offsetof(worst_settings, steps), 20, 1, INFINITY, 0,
     "APGD iterations (one gradient of the batch each)"},
    {"n", MINIMA_SETTING_INT, offsetof(worst_settings, n), 1024, 1, INFINITY, 0,
     "examples used (the first n)"},
    {"m", MINIMA_SETTING_INT, offsetof(worst_settings, m), 128, 1, INFINITY, 0, "batch size"},
    {"rand_init", MINIMA_SETTING_BOOL, offsetof(worst_settings, rand_init), 0, 0, 1, 0,
     "1: start at a random point of the ball"},
    {"normalize_logits", MINIMA_SETTING_BOOL, offsetof(worst_settings, normalize), 0, 0, 1, 0,
     "1: cross-entropy of normalised logits"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

static minima_status parse(const char *s, worst_settings *p)
{
    MINIMA_TRY(minima_settings_parse(NAME, table, N_SETTINGS, s, p));
    if (isnan(p->rho))   /* values from the authors' experiment grids */
        p->rho = isinf(p->p) ? (p->adaptive ? 0.002 : 0.001) : (p->adaptive ? 1.0 : 0.1);
    return MINIMA_OK;
}

static minima_invariance invariance_for(const char *settings)
{
    worst_settings p;
    if (parse(settings, &p) != MINIMA_OK) minima_clear_error();
    return minima_sharpness_adaptive_invariance(p.adaptive);
}

/* ---- Auto-PGD ------------------------------------------------------------- */

typedef struct {
    size_t n;
    const double *w;   /* (P) anchor */
    const double *c;   /* (P) scale: 1 or |w| */
    double rho, p;
    double *x;         /* (P) w + c u */
    double *g;         /* (P) gradient of L at x, then of f in u */
    /* normalised logits only: */
    int normalize;
    const minima_model *model;
    minima_dataset *tds;   /* the batch with MSE targets (m, d_K), rewritten per gradient */
    double *zout;          /* (m, d_K) outputs */
} apgd_ctx;

static void project(double *u, size_t n, double rho, double p)
{
    if (isinf(p)) {
        for (size_t i = 0; i < n; i++) u[i] = u[i] > rho ? rho : u[i] < -rho ? -rho : u[i];
    } else {
        double r = cblas_dnrm2((int)n, u, 1);
        if (r > rho) cblas_dscal((int)n, rho / r, u, 1);
    }
}

/* The loss of the batch at x (normalised-logit cross-entropy when asked),
 * and its gradient into g if g is not NULL. For normalised logits the
 * gradient J^T s (s = dloss/dZ) comes from an MSE net whose targets are
 * Y = Z - (d_K / 2) s row by row: its output signal 2 (Z - Y) / (m d_K) is
 * then exactly s. That net is created for this one product (the engine
 * wants its data unchanged while a net exists) and freed. */
static minima_status batch_loss(minima_net *bnet, apgd_ctx *c, const double *x, double *f,
                                double *g)
{
    if (!c->normalize) {
        if (g) return minima_net_gradient(bnet, x, f, g);
        return minima_net_loss(bnet, x, f, NULL);
    }
    const minima_dataset *bd = minima_net_data(bnet);
    int dk = minima_model_n_outputs(c->model);
    MINIMA_TRY(minima_net_outputs(bnet, x, c->zout));
    *f = minima_sharpness_normalized_ce(c->zout, bd->labels, bd->n, dk, g ? c->tds->targets : NULL);
    if (!g) return MINIMA_OK;
    size_t nz = bd->n * (size_t)dk;
    for (size_t i = 0; i < nz; i++)
        c->tds->targets[i] = c->zout[i] - 0.5 * dk * (double)bd->n * c->tds->targets[i];
    minima_net_params np = minima_net_default_params(c->model);
    np.loss = MINIMA_LOSS_MSE;
    np.batch_size = 0;
    np.cache_limit = 0;
    minima_net *mse = NULL;
    double unused;
    MINIMA_TRY(minima_net_create(&mse, c->model, c->tds, &np));
    minima_status st = minima_net_gradient(mse, x, &unused, g);
    minima_net_free(mse);
    return st;
}

/* f(u) = L_S(w + c u) and its gradient c * grad L into ctx->g. */
static minima_status eval(minima_net *bnet, apgd_ctx *c, const double *u, double *f)
{
    for (size_t i = 0; i < c->n; i++) c->x[i] = c->w[i] + c->c[i] * u[i];
    MINIMA_TRY(batch_loss(bnet, c, c->x, f, c->g));
    for (size_t i = 0; i < c->n; i++) c->g[i] *= c->c[i];
    return MINIMA_OK;
}

/* out = u + eta d(g), d the steepest-ascent direction of the p-ball. */
static void ascent(const double *u, const double *g, size_t n, double eta, double p, double *out)
{
    if (isinf(p)) {
        for (size_t i = 0; i < n; i++) out[i] = u[i] + eta * (g[i] > 0 ? 1.0 : g[i] < 0 ? -1.0 : 0.0);
    } else {
        double gn = cblas_dnrm2((int)n, g, 1);
        double s = gn > 0 ? eta / gn : 0;
        for (size_t i = 0; i < n; i++) out[i] = u[i] + s * g[i];
    }
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    worst_settings p;
    MINIMA_TRY(parse(settings, &p));
    size_t n = minima_net_n_params(net);
    const double *w = minima_net_point(net);    /* (P) anchor */
    const minima_model *model = minima_net_model(net);
    int dk = minima_model_n_outputs(model);
    if (p.normalize && (minima_net_loss_kind(net) != MINIMA_LOSS_CE || !minima_net_data(net)->labels))
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "measure " NAME ": normalize_logits=1 needs the "
                    "cross-entropy loss and class labels (the net's loss is %s)",
                    minima_loss_name(minima_net_loss_kind(net)));
    minima_sharpness_batches b;
    MINIMA_TRY(minima_sharpness_batches_create(&b, net, (size_t)p.n, (size_t)p.m, NAME));
    minima_status st = MINIMA_OK;
    minima_dataset *tds = NULL;                  /* batch copy with MSE targets (normalize) */
    double *zout = NULL;                         /* (m, d_K) outputs (normalize) */
    double *cs = minima_alloc(n, sizeof *cs);    /* (P) c */
    double *u = minima_alloc(n, sizeof *u);      /* (P) x_k */
    double *up = minima_alloc(n, sizeof *up);    /* (P) x_{k-1} */
    double *z = minima_alloc(n, sizeof *z);      /* (P) trial / next iterate */
    double *ub = minima_alloc(n, sizeof *ub);    /* (P) best iterate */
    double *x = minima_alloc(n, sizeof *x);      /* (P) w + c u */
    double *g = minima_alloc(n, sizeof *g);      /* (P) gradient in u at x_k */
    double *gb = minima_alloc(n, sizeof *gb);    /* (P) gradient in u at the best iterate */
    if (!cs || !u || !up || !z || !ub || !x || !g || !gb) {
        st = minima_error(MINIMA_ENOMEM, "measure " NAME ": out of memory for P = %zu", n);
        goto fail;
    }
    if (p.normalize && !(zout = minima_alloc((size_t)p.m * (size_t)dk, sizeof *zout))) {
        st = minima_error(MINIMA_ENOMEM, "measure " NAME ": out of memory for the outputs");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) cs[i] = p.adaptive ? fabs(w[i]) : 1;
    /* checkpoints */
    int ckpt[64], nck = 0;
    {
        double p0 = 0, p1 = 0.22;
        int last = -1;
        while (nck < 64) {
            int wj = (int)ceil(p1 * p.steps);
            if (wj > p.steps) break;
            if (wj != last && wj > 0) ckpt[nck++] = wj;
            last = wj;
            double p2 = p1 + fmax(p1 - p0 - 0.03, 0.06);
            p0 = p1;
            p1 = p2;
        }
    }
    apgd_ctx ctx = {n, w, cs, p.rho, p.p, x, g, p.normalize, model, NULL, zout};
    const double alpha = 0.75, rho_ck = 0.75;
    double sum = 0, sum_loss = 0, max_batch = 0;
    int halvings = 0;
    for (int bi = 0; bi < b.count; bi++) {
        minima_net *bnet = b.nets[bi];
        if (p.normalize) {
            const minima_dataset *bd = b.data[bi];
            minima_dataset_free(tds);
            tds = NULL;
            if ((st = minima_dataset_create(&tds, bd->n, bd->d, 0, dk)) != MINIMA_OK) goto fail;
            memcpy(tds->x, bd->x, bd->n * (size_t)bd->d * sizeof *tds->x);
            ctx.tds = tds;
        }
        double L0;
        if ((st = batch_loss(bnet, &ctx, w, &L0, NULL)) != MINIMA_OK) goto fail;
        minima_rng rng;
        minima_rng_seed2(&rng, seed, (uint64_t)bi);
        if (!p.rand_init) {
            memset(u, 0, n * sizeof *u);
        } else if (isinf(p.p)) {
            minima_rng_fill_uniform(&rng, u, n, -p.rho, p.rho);
        } else {
            minima_rng_fill_normal(&rng, u, n);
            double r = cblas_dnrm2((int)n, u, 1);
            cblas_dscal((int)n, p.rho / r, u, 1);
        }
        double f, fbest = L0;
        if ((st = eval(bnet, &ctx, u, &f)) != MINIMA_OK) goto fail;
        if (f > fbest) fbest = f;
        memcpy(ub, u, n * sizeof *u);
        memcpy(gb, g, n * sizeof *g);
        double fb_all = f;      /* best over iterates (APGD's f_max), for the reset */
        memcpy(up, u, n * sizeof *u);
        double eta = 2 * p.rho, eta_ck = eta, fmax_ck = fb_all;
        int succ = 0, prev_ck = 0, ci = 0;
        for (int k = 0; k < p.steps; k++) {
            /* z = P(x_k + eta d); x_{k+1} = P(x_k + a (z - x_k) + (1 - a)(x_k - x_{k-1})) */
            ascent(u, g, n, eta, p.p, z);
            project(z, n, p.rho, p.p);
            if (k > 0) {
                for (size_t i = 0; i < n; i++)
                    z[i] = u[i] + alpha * (z[i] - u[i]) + (1 - alpha) * (u[i] - up[i]);
                project(z, n, p.rho, p.p);
            }
            double fn;
            double *t = up; up = u; u = z; z = t;     /* up = x_k, u = x_{k+1} */
            if ((st = eval(bnet, &ctx, u, &fn)) != MINIMA_OK) goto fail;
            if (fn > f) succ++;
            f = fn;
            if (fn > fbest) fbest = fn;
            if (fn > fb_all) {
                fb_all = fn;
                memcpy(ub, u, n * sizeof *u);
                memcpy(gb, g, n * sizeof *g);
            }
            int kk = k + 1;
            if (ci < nck && kk == ckpt[ci]) {
                int cond1 = succ < rho_ck * (kk - prev_ck);
                int cond2 = eta_ck == eta && fmax_ck == fb_all;
                eta_ck = eta;
                fmax_ck = fb_all;
                succ = 0;
                prev_ck = kk;
                ci++;
                if (cond1 || cond2) {
                    eta *= 0.5;
                    halvings++;
                    memcpy(u, ub, n * sizeof *u);
                    memcpy(up, ub, n * sizeof *u);   /* no momentum across a reset */
                    memcpy(g, gb, n * sizeof *g);
                    f = fb_all;
                }
            }
        }
        sum += fbest - L0;
        sum_loss += L0;
        if (fbest - L0 > max_batch) max_batch = fbest - L0;
        minima_progress(NAME, bi + 1, b.count);
    }
    out->value = sum / b.count;
    minima_measure_add_extra(out, "loss", sum_loss / b.count);
    minima_measure_add_extra(out, "batches", b.count);
    minima_measure_add_extra(out, "examples", (double)b.examples);
    minima_measure_add_extra(out, "max_batch", max_batch);
    minima_measure_add_extra(out, "step_halvings", halvings);
    minima_settings_json(table, N_SETTINGS, &p, NULL, out->params, sizeof out->params);
fail:
    minima_sharpness_batches_free(&b);
    minima_dataset_free(tds);
    minima_free(zout);
    minima_free(cs);
    minima_free(u);
    minima_free(up);
    minima_free(z);
    minima_free(ub);
    minima_free(x);
    minima_free(g);
    minima_free(gb);
    return st;
}

const minima_measure minima_measure_worst_sharpness = {
    .name = NAME,
    .title = "Worst-case m-sharpness, standard or adaptive (Auto-PGD)",
    .source = "Andriushchenko et al. 2023",
    .invariance = MINIMA_INVARIANCE_NONE,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
    .invariance_for = invariance_for,
};
