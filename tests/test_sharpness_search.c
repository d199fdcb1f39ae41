/* test_sharpness_search.c — the search-based sharpness measures (Dinh,
 * Keskar full/subspace, worst-case and average-case, ASAM, PAC-Bayes):
 * small-eps limits against their first- and second-order values,
 * brute-force values on tiny networks, invariance of the adaptive
 * variants under per-neuron rescaling (and the standard ones moving),
 * reproducibility and bad settings. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/eigen.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/sharpness.h"
#include "minima/train.h"
#include "measures/sharpness_batches_impl.h"

/* ---- fixtures --------------------------------------------------------- */

static minima_model *make_model(const char *arch, int bias, uint64_t seed)
{
    int *w, K;
    minima_model *m = NULL;
    if (minima_parse_arch(arch, &w, &K) != MINIMA_OK) return NULL;
    if (minima_model_create(&m, K, w, bias, MINIMA_ACT_RELU) == MINIMA_OK) minima_model_init(m, seed);
    minima_free(w);
    return m;
}

/* n examples, Gaussian inputs, random labels in [0, d_K). With teacher != 0
 * also MSE targets: the model's own outputs plus `noise` N(0, noise^2), so
 * with noise = 0 the anchor is an exact minimum (L = 0, gradient 0); with
 * teacher = 2 the labels are the argmax of the outputs (0-1 error 0). */
static minima_dataset *make_data(const minima_model *m, size_t n, uint64_t seed, int teacher,
                                 double noise)
{
    int d0 = m->widths[0], dK = m->widths[m->n_layers];
    minima_dataset *ds = NULL;
    if (minima_dataset_create(&ds, n, d0, dK, teacher ? dK : 0) != MINIMA_OK) return NULL;
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    minima_rng_fill_normal(&rng, ds->x, n * (size_t)d0);
    for (size_t i = 0; i < n; i++) ds->labels[i] = (int32_t)minima_rng_below(&rng, (uint64_t)dK);
    if (teacher) {
        minima_net *net = NULL;
        minima_net_params np = minima_net_default_params(m);
        np.loss = MINIMA_LOSS_CE;   /* labels only, targets not yet set */
        if (minima_net_create(&net, m, ds, &np) != MINIMA_OK) return ds;
        minima_net_outputs(net, NULL, ds->targets);
        minima_net_free(net);
        for (size_t i = 0; teacher == 2 && i < n; i++) {
            int best = 0;
            for (int o = 1; o < dK; o++)
                if (ds->targets[i * (size_t)dK + o] > ds->targets[i * (size_t)dK + best]) best = o;
            ds->labels[i] = best;
        }
        for (size_t i = 0; i < n * (size_t)dK; i++) ds->targets[i] += noise * minima_rng_normal(&rng);
    }
    return ds;
}

static minima_net *make_net(const minima_model *m, const minima_dataset *ds, minima_loss loss)
{
    minima_net *net = NULL;
    minima_net_params np = minima_net_default_params(m);
    np.loss = loss;
    if (minima_net_create(&net, m, ds, &np) != MINIMA_OK) return NULL;
    return net;
}

static double extra(const minima_measure_result *r, const char *name)
{
    for (int i = 0; i < r->n_extras; i++)
        if (!strcmp(r->extras[i].name, name)) return r->extras[i].value;
    return NAN;
}

static double run(const char *name, minima_net *net, const char *settings, uint64_t seed,
                  minima_measure_result *r)
{
    const minima_measure *m = minima_measure_find(name);
    CHECK_MSG(m != NULL, "measure %s is not registered", name);
    if (!m) return NAN;
    minima_measure_result tmp;
    if (!r) r = &tmp;
    CHECK_OK(minima_measure_compute(m, net, settings, seed, r));
    return r->value;
}

/* Per-neuron rescaling (docs/symmetry.md): unit h of hidden layer k gets row h of
 * W_k and b_k[h] times c, column h of W_{k+1} times 1/c. Scales drawn
 * log-uniform in [1/spread, spread]. */
static void rescale_neurons(minima_model *m, double spread, uint64_t seed)
{
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    for (int k = 0; k + 1 < m->n_layers; k++) {
        int out = m->widths[k + 1], in = m->widths[k], next = m->widths[k + 2];
        double *w = minima_model_weight(m, k), *b = minima_model_bias(m, k);
        double *w2 = minima_model_weight(m, k + 1);
        for (int h = 0; h < out; h++) {
            double c = exp(log(spread) * (2 * minima_rng_uniform(&rng) - 1));
            for (int j = 0; j < in; j++) w[(size_t)h * in + j] *= c;
            if (b) b[h] *= c;
            for (int o = 0; o < next; o++) w2[(size_t)o * out + h] /= c;
        }
    }
}

/* ---- Dinh ------------------------------------------------------------- */

/* At an exact minimum (MSE teacher, L = 0) the maximum over the small ball
 * is lambda_max eps^2 / 2: the measure must approach it as eps shrinks. */
static void test_dinh_second_order_limit(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 11);
    minima_dataset *ds = make_data(m, 30, 12, 1, 0.0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_MSE);
    double prev_gap = INFINITY;
    const double eps[] = {1e-1, 1e-2, 1e-3};
    for (int i = 0; i < 3; i++) {
        char s[128];
        snprintf(s, sizeof s, "eps=%g,steps=300,starts=4", eps[i]);
        minima_measure_result r;
        double v = run("dinh_sharpness", net, s, 5, &r);
        double so = extra(&r, "second_order");
        CHECK(extra(&r, "grad_norm") == 0);
        double gap = fabs(v / so - 1);
        if (eps[i] <= 1e-2) CHECK_MSG(gap < 0.005 && v > 0, "eps %g: value %g vs second order %g", eps[i], v, so);
        CHECK(gap <= prev_gap + 1e-3);
        prev_gap = gap;
    }
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* Away from a critical point: the ascent beats a dense random search of
 * the ball and the first-order value is approached as eps -> 0. */
static void test_dinh_brute_force(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 21);
    minima_dataset *ds = make_data(m, 30, 22, 0, 0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_CE);
    size_t P = minima_net_n_params(net);
    const double *th = minima_net_point(net);
    double eps = 0.05, L0;
    CHECK_OK(minima_net_loss(net, NULL, &L0, NULL));
    char s[64];
    snprintf(s, sizeof s, "eps=%g,steps=100", eps);
    double v = run("dinh_sharpness", net, s, 1, NULL);
    double *x = malloc(P * sizeof *x), *d = malloc(P * sizeof *d);
    minima_rng rng;
    minima_rng_seed(&rng, 99);
    double best = L0;
    for (int t = 0; t < 3000; t++) {
        minima_rng_fill_normal(&rng, d, P);
        double r = 0;
        for (size_t i = 0; i < P; i++) r += d[i] * d[i];
        r = sqrt(r);
        double rad = eps * pow(minima_rng_uniform(&rng), 1.0 / (double)P);
        for (size_t i = 0; i < P; i++) x[i] = th[i] + rad * d[i] / r;
        double L;
        CHECK_OK(minima_net_loss(net, x, &L, NULL));
        if (L > best) best = L;
    }
    double brute = (best - L0) / (1 + L0);
    CHECK_MSG(v >= brute, "ascent %g below random search %g", v, brute);
    /* first-order limit */
    minima_measure_result r;
    v = run("dinh_sharpness", net, "eps=1e-7,second_order=0", 1, &r);
    CHECK_REL(v, extra(&r, "first_order"), 1e-5);
    free(x);
    free(d);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* ---- Keskar ------------------------------------------------------------ */

/* Linear regime: the maximum over the box of g.y is sum_i |g_i| r_i. */
static void test_keskar_first_order_limit(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 31);
    minima_dataset *ds = make_data(m, 30, 32, 0, 0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_CE);
    size_t P = minima_net_n_params(net);
    double *g = malloc(P * sizeof *g), L0;
    CHECK_OK(minima_net_gradient(net, NULL, &L0, g));
    const double *th = minima_net_point(net);
    double prev = INFINITY;
    const double eps[] = {1e-3, 1e-5, 1e-7};
    for (int e = 0; e < 3; e++) {
        double lin = 0;
        for (size_t i = 0; i < P; i++) lin += fabs(g[i]) * eps[e] * (fabs(th[i]) + 1);
        lin *= 100 / (1 + L0);
        char s[64];
        snprintf(s, sizeof s, "eps=%g", eps[e]);
        double v = run("keskar_full", net, s, 1, NULL);
        double gap = fabs(v / lin - 1);
        CHECK(gap <= prev + 1e-9);
        prev = gap;
        if (eps[e] <= 1e-7) CHECK_MSG(gap < 1e-4, "eps %g: %g vs linear %g", eps[e], v, lin);
    }
    free(g);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* A tiny net (P = 9) near a minimum of MSE, where the loss is convex on
 * the box: its maximum is at one of the 512 vertices, found by brute
 * force; L-BFGS-B must come close to it and never above it. */
static void test_keskar_vertices(void)
{
    minima_model *m = make_model("2-2-1", 1, 41);
    minima_dataset *ds = make_data(m, 30, 42, 1, 0.01);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_MSE);
    size_t P = minima_net_n_params(net);
    CHECK(P == 9);
    const double *th = minima_net_point(net);
    double eps = 1e-2, L0, best;
    CHECK_OK(minima_net_loss(net, NULL, &L0, NULL));
    best = L0;
    double x[9];
    for (unsigned v = 0; v < 512; v++) {
        for (size_t i = 0; i < 9; i++)
            x[i] = th[i] + ((v >> i) & 1 ? 1 : -1) * eps * (fabs(th[i]) + 1);
        double L;
        CHECK_OK(minima_net_loss(net, x, &L, NULL));
        if (L > best) best = L;
    }
    double brute = 100 * (best - L0) / (1 + L0);
    double k = run("keskar_full", net, "eps=1e-2", 1, NULL);
    CHECK_MSG(k <= brute * (1 + 1e-9) && k >= 0.9 * brute, "L-BFGS-B %g vs best vertex %g", k, brute);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* The subspace variant: with dim >= P a square Gaussian A spans the whole
 * space; its value is positive, bounded by the linear model in y, and the
 * same seed gives the same number. */
static void test_keskar_subspace(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 51);
    minima_dataset *ds = make_data(m, 30, 52, 0, 0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_CE);
    double a = run("keskar_subspace", net, "dim=10", 7, NULL);
    double b = run("keskar_subspace", net, "dim=10", 7, NULL);
    double c = run("keskar_subspace", net, "dim=10", 8, NULL);
    CHECK(a > 0);
    CHECK(a == b);
    CHECK(a != c);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}


/* ---- ASAM -------------------------------------------------------------- */

/* The value is L(w + e*) - L(w) with e* in closed form (recomputed here),
 * and e* maximises the linear model over the ASAM ball. */
static void test_asam_closed_form(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 81);
    minima_dataset *ds = make_data(m, 30, 82, 0, 0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_CE);
    size_t P = minima_net_n_params(net);
    const double *w = minima_net_point(net);
    double *g = malloc(P * sizeof *g), *t = malloc(P * sizeof *t), *x = malloc(P * sizeof *x);
    double L0, L1;
    CHECK_OK(minima_net_gradient(net, NULL, &L0, g));
    for (int variant = 0; variant < 3; variant++) {
        double rho = variant == 2 ? 0.05 : 0.5, eta = variant == 1 ? 0 : 0.01;
        int biases = variant == 1;
        for (size_t i = 0; i < P; i++) t[i] = fabs(w[i]) + eta;
        if (!biases)
            for (int k = 0; k < m->n_layers; k++)
                for (int j = 0; j < m->widths[k + 1]; j++) t[m->bias_offset[k] + (size_t)j] = 1;
        double tg = 0, tg1 = 0;
        for (size_t i = 0; i < P; i++) {
            tg += t[i] * g[i] * t[i] * g[i];
            tg1 += fabs(t[i] * g[i]);
        }
        tg = sqrt(tg);
        for (size_t i = 0; i < P; i++)
            x[i] = variant == 2 ? w[i] + rho * t[i] * (g[i] > 0 ? 1 : -1)
                                : w[i] + rho * t[i] * t[i] * g[i] / tg;
        if (variant == 2)
            for (size_t i = 0; i < P; i++) if (g[i] == 0) x[i] = w[i];
        CHECK_OK(minima_net_loss(net, x, &L1, NULL));
        char s[96];
        snprintf(s, sizeof s, "rho=%g,eta=%g,biases=%d,p=%s", rho, eta, biases, variant == 2 ? "inf" : "2");
        minima_measure_result r;
        double v = run("asam", net, s, 1, &r);
        CHECK_REL(v, L1 - L0, 1e-12);
        CHECK_REL(extra(&r, "first_order"), variant == 2 ? rho * tg1 : rho * tg, 1e-12);
        /* no feasible direction does better to first order */
        minima_rng rng;
        minima_rng_seed(&rng, 5);
        for (int trial = 0; trial < 200; trial++) {
            minima_rng_fill_normal(&rng, x, P);
            double nrm = 0, lin = 0;
            for (size_t i = 0; i < P; i++) nrm = variant == 2 ? fmax(nrm, fabs(x[i])) : nrm + x[i] * x[i];
            if (variant != 2) nrm = sqrt(nrm);
            for (size_t i = 0; i < P; i++) lin += g[i] * t[i] * x[i] * rho / nrm;  /* e = T u, ||u|| = rho */
            CHECK(lin <= extra(&r, "first_order") * (1 + 1e-12));
        }
    }
    /* small rho: the value approaches the first-order value */
    minima_measure_result r;
    double v = run("asam", net, "rho=1e-6", 1, &r);
    CHECK_REL(v, extra(&r, "first_order"), 1e-4);
    free(g);
    free(t);
    free(x);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* ---- PAC-Bayes ---------------------------------------------------------- */

/* Mean 0-1 error over `draws` independent isotropic noise draws. */
static double noisy_error(minima_net *net, double sigma, int draws, uint64_t seed)
{
    size_t P = minima_net_n_params(net);
    const double *w = minima_net_point(net);
    double *x = malloc(P * sizeof *x), sum = 0;
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    for (int j = 0; j < draws; j++) {
        for (size_t i = 0; i < P; i++) x[i] = w[i] + sigma * minima_rng_normal(&rng);
        double L, acc;
        CHECK_OK(minima_net_loss(net, x, &L, &acc));
        sum += 1 - acc;
    }
    free(x);
    return sum / draws;
}

static void test_pac_bayes(void)
{
    /* a model as `minima train` would start it from seed 91: the anchor is its own init */
    minima_model *m = make_model("3-5-4-3", 1, minima_train_init_seed(91));
    CHECK_OK(minima_model_set_meta(m, "seed", "91"));
    CHECK_OK(minima_model_set_meta(m, "trained_by", "minima 0.1.0"));
    minima_dataset *ds = make_data(m, 300, 92, 2, 0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_CE);
    size_t P = minima_net_n_params(net);
    const double *w = minima_net_point(net);
    minima_measure_result r;
    double v = run("pac_bayes", net, NULL, 4, &r);
    double sigma = extra(&r, "sigma"), err0 = extra(&r, "train_error");
    CHECK(sigma > 0 && sigma < 2);
    CHECK_REL(v, 1 / (sigma * sigma), 1e-15);
    double nw2 = 0;
    for (size_t i = 0; i < P; i++) nw2 += w[i] * w[i];
    double tail = log(300 / sigma) + 10;
    CHECK_REL(extra(&r, "bound_orig"), nw2 / (4 * sigma * sigma) + tail, 1e-12);
    CHECK_REL(extra(&r, "bound_init"), tail, 1e-12);          /* w = w_0 */
    /* sigma' is where the error rises by 0.1: independent draws agree */
    CHECK(noisy_error(net, 0.5 * sigma, 200, 17) - err0 < 0.1);
    CHECK(noisy_error(net, 2 * sigma, 200, 18) - err0 > 0.1);
    /* variance_as_std=1, the reference code's noise: its sigma' is the one whose square is a
     * standard deviation at which the error rises by 0.1 */
    run("pac_bayes", net, "variance_as_std=1", 4, &r);
    double sref = extra(&r, "sigma");
    CHECK(sref > 0 && sref < 2);
    CHECK(strstr(r.params, "\"variance_as_std\": 1") != NULL);
    CHECK(noisy_error(net, 0.5 * sref * sref, 200, 19) - err0 < 0.1);
    CHECK(noisy_error(net, 2 * sref * sref, 200, 20) - err0 > 0.1);
    CHECK_MSG(fabs(sref * sref - sigma) < 0.5 * sigma, "sigma'_ref^2 = %.4g vs sigma' = %.4g", sref * sref, sigma);
    /* without the seed metadata, the init bound is not available */
    minima_model *m2 = make_model("3-5-4-3", 1, 91);
    minima_net *net2 = make_net(m2, ds, MINIMA_LOSS_CE);
    run("pac_bayes", net2, NULL, 4, &r);
    CHECK(isnan(extra(&r, "bound_init")) && r.note[0]);
    minima_net_free(net2);
    minima_model_free(m2);
    /* the magnitude-aware variant: its bounds recomputed from sigma' (w = w_0 here) */
    v = run("pac_bayes_mag", net, NULL, 4, &r);
    sigma = extra(&r, "sigma");
    CHECK(sigma > 0 && sigma < 2);
    CHECK_REL(v, 1 / (sigma * sigma), 1e-15);
    {
        double e2 = 1e-6, s2sum = 0, ko = 0, ki = 0, co = 0, ci = 0;
        for (size_t i = 0; i < P; i++) s2sum += sigma * sigma * w[i] * w[i] + e2;
        double tau_o = (s2sum + nw2) / (double)P, tau_i = s2sum / (double)P;
        double code_o = e2 + (sigma * sigma + 1) * nw2 / (double)P, code_i = e2;
        for (size_t i = 0; i < P; i++) {
            double s2 = sigma * sigma * w[i] * w[i] + e2;
            ko += log(tau_o / s2);
            ki += log(tau_i / s2);
            co += log(code_o / e2);
            ci += log(code_i / e2);
        }
        tail = log(300 / sigma) + 10;
        CHECK_REL(extra(&r, "bound_orig"), ko / 4 + tail, 1e-12);
        CHECK_REL(extra(&r, "bound_init"), ki / 4 + tail, 1e-12);
        CHECK_REL(extra(&r, "bound_orig_code"), co / 4 + tail, 1e-12);
        CHECK_REL(extra(&r, "bound_init_code"), ci / 4 + tail, 1e-12);
    }
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* Regression targets only: no 0-1 error, a clear refusal. */
static void test_pac_bayes_needs_labels(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 95);
    minima_dataset *ds = NULL;
    CHECK_OK(minima_dataset_create(&ds, 20, 3, 0, 3));
    minima_net *net = make_net(m, ds, MINIMA_LOSS_MSE);
    const char *names[] = {"pac_bayes", "pac_bayes_mag"};
    for (int i = 0; i < 2; i++) {
        minima_measure_result r;
        CHECK_STATUS(minima_measure_compute(minima_measure_find(names[i]), net, NULL, 1, &r),
                     MINIMA_EUNSUPPORTED);
        CHECK(strstr(minima_last_error(), "labels") != NULL);
    }
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}


/* ---- worst-case and average-case m-sharpness ----------------------------- */

/* The exact Hessian of a tiny net at an exact minimum (MSE teacher). */
static double *dense_hessian(minima_net *net)
{
    size_t P = minima_net_n_params(net);
    double *h = malloc(P * P * sizeof *h);
    CHECK_OK(minima_net_hessian(net, h));
    return h;
}

/* At an exact minimum the average sharpness is (rho^2 / 2) Tr(C^2 H) to
 * second order (a third of it for uniform noise). */
static void test_average_second_order(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 111);
    minima_dataset *ds = make_data(m, 30, 112, 1, 0.0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_MSE);
    size_t P = minima_net_n_params(net);
    const double *w = minima_net_point(net);
    double *h = dense_hessian(net);
    const char *variants[] = {"p=2,adaptive=0,rho=1e-3", "p=2,adaptive=1,rho=1e-2",
                              "p=inf,adaptive=0,rho=1e-3", "p=inf,adaptive=1,rho=1e-2"};
    for (int v = 0; v < 4; v++) {
        int adaptive = v % 2, uni = v >= 2;
        double rho = adaptive ? 1e-2 : 1e-3, tr = 0;
        for (size_t i = 0; i < P; i++) tr += h[i * P + i] * (adaptive ? w[i] * w[i] : 1);
        double expect = 0.5 * rho * rho * tr / (uni ? 3 : 1);
        char st[128];
        snprintf(st, sizeof st, "%s,draws=20000,n=30,m=30", variants[v]);
        minima_measure_result r;
        double val = run("average_sharpness", net, st, 3, &r);
        double se = extra(&r, "stderr");
        CHECK_MSG(fabs(val - expect) < 4 * se + 0.01 * expect && se < 0.05 * expect,
                  "%s: %g vs (rho^2/2) Tr(C^2 H) = %g (stderr %g)", variants[v], val, expect, se);
    }
    free(h);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* At an exact minimum the l2 worst case over a small ball is
 * lambda_max rho^2 / 2; over a box it beats every random vertex tried. */
static void test_worst_case(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 121);
    minima_dataset *ds = make_data(m, 30, 122, 1, 0.0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_MSE);
    size_t P = minima_net_n_params(net);
    double *h = dense_hessian(net), *ev = malloc(P * sizeof *ev);
    CHECK_OK(minima_spectrum_dense(P, h, ev, NULL));
    double rho = 1e-3, expect = 0.5 * ev[P - 1] * rho * rho;
    minima_measure_result r;
    double v = run("worst_sharpness", net, "rho=1e-3,steps=100,n=30,m=30,rand_init=1", 2, &r);
    CHECK_MSG(v <= expect * 1.01 && v >= 0.97 * expect, "%g vs lambda_max rho^2 / 2 = %g", v, expect);
    /* the default 20 steps already get most of it */
    v = run("worst_sharpness", net, "rho=1e-3,n=30,m=30,rand_init=1", 2, &r);
    CHECK_MSG(v >= 0.95 * expect, "20 steps: %g vs %g", v, expect);
    free(h);
    free(ev);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);

    /* l-inf box, away from a minimum (cross-entropy at initialisation) */
    m = make_model("3-5-4-3", 1, 123);
    ds = make_data(m, 30, 124, 0, 0);
    net = make_net(m, ds, MINIMA_LOSS_CE);
    P = minima_net_n_params(net);
    const double *w = minima_net_point(net);
    double L0, best = 0, *x = malloc(P * sizeof *x);
    CHECK_OK(minima_net_loss(net, NULL, &L0, NULL));
    minima_rng rng;
    minima_rng_seed(&rng, 7);
    for (int t = 0; t < 2000; t++) {
        for (size_t i = 0; i < P; i++) x[i] = w[i] + (minima_rng_uniform(&rng) < 0.5 ? -0.05 : 0.05);
        double L;
        CHECK_OK(minima_net_loss(net, x, &L, NULL));
        if (L - L0 > best) best = L - L0;
    }
    v = run("worst_sharpness", net, "p=inf,rho=0.05,n=30,m=30", 2, &r);
    CHECK_MSG(v >= best, "APGD %g below the best random vertex %g", v, best);
    /* batches: 30 examples in batches of 8 -> 4 batches */
    run("worst_sharpness", net, "p=inf,rho=0.05,n=1024,m=8", 2, &r);
    CHECK(extra(&r, "batches") == 4 && extra(&r, "examples") == 30);
    free(x);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* The derivative of the normalised-logit cross-entropy in the outputs
 * against central differences. */
static void test_normalized_ce_signal(void)
{
    enum { N = 6, D = 4 };
    double z[N * D], s[N * D], zp[N * D];
    int32_t y[N];
    minima_rng rng;
    minima_rng_seed(&rng, 141);
    minima_rng_fill_normal(&rng, z, N * D);
    for (int i = 0; i < N; i++) y[i] = (int32_t)minima_rng_below(&rng, D);
    double L = minima_sharpness_normalized_ce(z, y, N, D, s);
    CHECK(isfinite(L) && L > 0);
    for (int k = 0; k < N * D; k++) {
        double h = 1e-6;
        memcpy(zp, z, sizeof z);
        zp[k] = z[k] + h;
        double lp = minima_sharpness_normalized_ce(zp, y, N, D, NULL);
        zp[k] = z[k] - h;
        double lm = minima_sharpness_normalized_ce(zp, y, N, D, NULL);
        CHECK_ABS(s[k], (lp - lm) / (2 * h), 1e-8);
    }
    /* a shift of all logits of a row changes nothing */
    for (int j = 0; j < D; j++) zp[j] = z[j] + 3;
    memcpy(zp + D, z + D, sizeof z - D * sizeof *z);
    CHECK_REL(minima_sharpness_normalized_ce(zp, y, N, D, NULL), L, 1e-14);
}

/* Gradient of the batch loss (normalised logits or not) by central
 * differences in theta. */
static void fd_gradient(minima_net *net, int normalize, double *g)
{
    size_t P = minima_net_n_params(net), N = minima_net_n_examples(net);
    const minima_model *m = minima_net_model(net);
    int dk = m->widths[m->n_layers];
    double *x = malloc(P * sizeof *x), *z = malloc(N * (size_t)dk * sizeof *z);
    memcpy(x, minima_net_point(net), P * sizeof *x);
    for (size_t i = 0; i < P; i++) {
        double h = 1e-6, v = x[i], lp, lm;
        for (int sgn = 0; sgn < 2; sgn++) {
            x[i] = v + (sgn ? -h : h);
            double L;
            if (normalize) {
                CHECK_OK(minima_net_outputs(net, x, z));
                L = minima_sharpness_normalized_ce(z, minima_net_data(net)->labels, N, dk, NULL);
            } else {
                CHECK_OK(minima_net_loss(net, x, &L, NULL));
            }
            if (sgn) lm = L; else lp = L;
        }
        x[i] = v;
        g[i] = (lp - lm) / (2 * h);
    }
    free(x);
    free(z);
}

/* One APGD step from u = 0 with a tiny radius is the first-order value
 * rho ||g||_2 (p = 2) or rho ||g||_1 (p = inf): checks the gradient the
 * search climbs, with and without normalised logits. */
static void test_worst_first_order(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 151);
    minima_dataset *ds = make_data(m, 30, 152, 0, 0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_CE);
    size_t P = minima_net_n_params(net);
    double *g = malloc(P * sizeof *g);
    for (int normalize = 0; normalize <= 1; normalize++) {
        fd_gradient(net, normalize, g);
        double n2 = 0, n1 = 0;
        for (size_t i = 0; i < P; i++) {
            n2 += g[i] * g[i];
            n1 += fabs(g[i]);
        }
        n2 = sqrt(n2);
        char s[128];
        snprintf(s, sizeof s, "rho=1e-6,steps=1,n=30,m=30,normalize_logits=%d", normalize);
        double v = run("worst_sharpness", net, s, 1, NULL);
        CHECK_REL(v, 1e-6 * n2, 1e-4);
        snprintf(s, sizeof s, "rho=1e-8,steps=1,n=30,m=30,p=inf,normalize_logits=%d", normalize);
        v = run("worst_sharpness", net, s, 1, NULL);
        CHECK_REL(v, 1e-8 * n1, 1e-4);
    }
    free(g);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);

    /* normalised logits need cross-entropy */
    m = make_model("3-5-4-3", 1, 153);
    ds = make_data(m, 30, 154, 1, 0.1);
    net = make_net(m, ds, MINIMA_LOSS_MSE);
    const char *names[] = {"worst_sharpness", "average_sharpness"};
    for (int i = 0; i < 2; i++) {
        minima_measure_result r;
        CHECK_STATUS(minima_measure_compute(minima_measure_find(names[i]), net, "normalize_logits=1",
                                            1, &r), MINIMA_EUNSUPPORTED);
    }
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* ---- invariance under per-neuron rescaling ------------------------------ */

typedef struct { const char *name, *settings; int invariant; double tol; } inv_case;

static void test_rescaling(void)
{
    const inv_case cases[] = {
        {"asam", "eta=0,biases=1", 1, 1e-9},
        {"asam", NULL, 0, 0},
        {"pac_bayes_mag", "mag_eps=0", 1, 1e-12},
        {"pac_bayes", NULL, 0, 0},
        {"dinh_sharpness", "second_order=0", 0, 0},
        {"keskar_full", NULL, 0, 0},
        {"keskar_subspace", NULL, 0, 0},
        {"worst_sharpness", "adaptive=1", 1, 1e-9},
        {"worst_sharpness", "adaptive=1,p=inf", 1, 1e-9},
        {"worst_sharpness", NULL, 0, 0},
        {"worst_sharpness", "p=inf", 0, 0},
        {"average_sharpness", "adaptive=1", 1, 1e-10},
        {"average_sharpness", "adaptive=1,p=inf", 1, 1e-10},
        {"average_sharpness", NULL, 0, 0},
        {"worst_sharpness", "adaptive=1,p=inf,normalize_logits=1", 1, 1e-9},
        {"average_sharpness", "adaptive=1,normalize_logits=1", 1, 1e-10},
        {"worst_sharpness", "normalize_logits=1", 0, 0},
    };
    minima_model *m = make_model("3-5-4-3", 1, 101);
    minima_model *t = NULL;
    CHECK_OK(minima_model_copy(m, &t));
    rescale_neurons(t, 8, 102);
    minima_dataset *ds = make_data(m, 100, 103, 2, 0);
    minima_net *a = make_net(m, ds, MINIMA_LOSS_CE), *b = make_net(t, ds, MINIMA_LOSS_CE);
    double la, lb;
    CHECK_OK(minima_net_loss(a, NULL, &la, NULL));
    CHECK_OK(minima_net_loss(b, NULL, &lb, NULL));
    CHECK_REL(la, lb, 1e-13);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double va = run(cases[i].name, a, cases[i].settings, 9, NULL);
        double vb = run(cases[i].name, b, cases[i].settings, 9, NULL);
        double rd = harness_reldiff(va, vb, 1e-300);
        if (cases[i].invariant)
            CHECK_MSG(rd <= cases[i].tol, "%s(%s): %.17g vs %.17g after rescaling", cases[i].name,
                      cases[i].settings ? cases[i].settings : "", va, vb);
        else
            CHECK_MSG(rd > 1e-3, "%s(%s) should move under rescaling: %.17g vs %.17g",
                      cases[i].name, cases[i].settings ? cases[i].settings : "", va, vb);
    }
    minima_net_free(a);
    minima_net_free(b);
    minima_dataset_free(ds);
    minima_model_free(m);
    minima_model_free(t);
}

/* ---- settings and reproducibility -------------------------------------- */

static void test_bad_settings(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 61);
    minima_dataset *ds = make_data(m, 30, 62, 0, 0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_CE);
    const char *bad[][2] = {
        {"dinh_sharpness", "eps=-1"}, {"dinh_sharpness", "epsilon=1"}, {"dinh_sharpness", "eps"},
        {"dinh_sharpness", "steps=1.5"}, {"keskar_full", "eps=abc"}, {"keskar_full", "dim=3"},
        {"keskar_full", "iters=0"}, {"keskar_subspace", "dim=0"}, {"asam", "p=3"},
        {"asam", "eta=-1"}, {"asam", "biases=2"}, {"pac_bayes", "draws=0"},
        {"pac_bayes", "mag_eps=1e-3"}, {"pac_bayes_mag", "target=2"},
        {"worst_sharpness", "p=1"}, {"worst_sharpness", "rho=0"}, {"worst_sharpness", "m=0"},
        {"worst_sharpness", "draws=3"}, {"average_sharpness", "adaptive=3"},
        {"average_sharpness", "steps=3"}, {"average_sharpness", "draws=-1"},
        {"worst_sharpness", "normalize_logits=2"}, {"average_sharpness", "normalize_logits=-1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const minima_measure *me = minima_measure_find(bad[i][0]);
        CHECK(me != NULL);
        if (!me) continue;
        minima_measure_result r;
        minima_status st = minima_measure_compute(me, net, bad[i][1], 1, &r);
        CHECK_MSG(st == MINIMA_EINVAL, "%s with '%s' returned %s", bad[i][0], bad[i][1],
                  minima_strerror(st));
    }
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

static void test_same_seed_same_value(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 71);
    minima_dataset *ds = make_data(m, 30, 72, 0, 0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_CE);
    size_t P = minima_net_n_params(net);
    double *before = malloc(P * sizeof *before);
    memcpy(before, minima_net_point(net), P * sizeof *before);
    const char *names[] = {"dinh_sharpness", "keskar_full", "keskar_subspace", "asam",
                           "pac_bayes", "pac_bayes_mag", "worst_sharpness",
                           "average_sharpness"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        minima_measure_result r1, r2;
        double a = run(names[i], net, NULL, 3, &r1);
        double b = run(names[i], net, "", 3, &r2);
        CHECK_MSG(a == b && isfinite(a), "%s: %.17g then %.17g", names[i], a, b);
        CHECK(!memcmp(before, minima_net_point(net), P * sizeof *before));
        CHECK(r1.params[0] == '{');
    }
    free(before);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

/* Every allocation failure inside a measure is MINIMA_ENOMEM (never a
 * crash; the sanitizer build checks for leaks), and the anchor survives. */
static void test_out_of_memory(void)
{
    minima_model *m = make_model("3-5-4-3", 1, 131);
    minima_dataset *ds = make_data(m, 30, 132, 2, 0);
    minima_net *net = make_net(m, ds, MINIMA_LOSS_CE);
    size_t P = minima_net_n_params(net);
    double *before = malloc(P * sizeof *before);
    memcpy(before, minima_net_point(net), P * sizeof *before);
    const char *names[][2] = {
        {"dinh_sharpness", "steps=2,starts=1"}, {"keskar_full", "iters=2"},
        {"keskar_subspace", "iters=2,dim=5"}, {"asam", NULL}, {"pac_bayes", "depth=2,draws=2"},
        {"pac_bayes_mag", "depth=2,draws=2"}, {"worst_sharpness", "steps=3,m=10"},
        {"worst_sharpness", "steps=2,m=10,normalize_logits=1"},
        {"average_sharpness", "draws=2,m=10"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const minima_measure *me = minima_measure_find(names[i][0]);
        CHECK(me != NULL);
        if (!me) continue;
        int ok_seen = 0;
        for (long k = 0; k < 1000 && !ok_seen; k++) {
            minima_measure_result r;
            minima_alloc_fail_after(k);
            minima_status st = minima_measure_compute(me, net, names[i][1], 1, &r);
            minima_alloc_fail_after(-1);
            CHECK_MSG(st == MINIMA_OK || st == MINIMA_ENOMEM, "%s after %ld allocations: %s",
                      names[i][0], k, minima_strerror(st));
            ok_seen = st == MINIMA_OK;
        }
        CHECK_MSG(ok_seen, "%s never succeeded", names[i][0]);
        CHECK(!memcmp(before, minima_net_point(net), P * sizeof *before));
    }
    free(before);
    minima_net_free(net);
    minima_dataset_free(ds);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_dinh_second_order_limit);
    RUN(test_dinh_brute_force);
    RUN(test_keskar_first_order_limit);
    RUN(test_keskar_vertices);
    RUN(test_keskar_subspace);
    RUN(test_asam_closed_form);
    RUN(test_pac_bayes);
    RUN(test_pac_bayes_needs_labels);
    RUN(test_average_second_order);
    RUN(test_worst_case);
    RUN(test_normalized_ce_signal);
    RUN(test_worst_first_order);
    RUN(test_rescaling);
    RUN(test_bad_settings);
    RUN(test_same_seed_same_value);
    RUN(test_out_of_memory);
    return harness_report();
}
