/* measure_average_sharpness.c — average-case m-sharpness of Andriushchenko
 * et al. 2023 (docs/measures/average_sharpness.md), standard or adaptive:
 *
 *     S_avg^rho(w, c) = E_{batch, delta}[ L_S(w + delta) - L_S(w) ]
 *
 * delta ~ N(0, rho^2 diag(c^2)) (p=2, the default) or delta = rho c * U[-1, 1]
 * (p=inf), c = 1 (standard) or |w| (adaptive=1): per-coordinate noise, as
 * in the authors' code (so for c = 1 the noise norm grows like
 * rho sqrt(P)). `draws` = 20 noise draws per batch; the batches are the
 * first n = 1024 training examples in batches of m = 128, as for
 * worst_sharpness. To second order at a critical point the value is
 * (rho^2 / 2) Tr(diag(c^2) H) (divided by 3 for p=inf); the extra
 * "stderr" is the standard error of the Monte-Carlo mean (batches
 * treated as independent). normalize_logits=1 (cross-entropy only) uses
 * the cross-entropy of normalised logits (z - mean z) / ||z - mean z||, as
 * worst_sharpness does. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/rng.h"
#include "minima/sharpness.h"
#include "measures/sharpness_batches_impl.h"

#define NAME "average_sharpness"

typedef struct {
    double rho;
    double p;        /* 2 (Gaussian) or INFINITY (uniform) */
    int adaptive;
    int draws;
    int n, m;
    int normalize;   /* cross-entropy of normalised logits */
} avg_settings;

static const minima_setting table[] = {
    {"rho", MINIMA_SETTING_DOUBLE, offsetof(avg_settings, rho), NAN, 0, INFINITY, MINIMA_SETTING_MIN_OPEN,
     "scale of the noise; auto: 0.01 (p=2), 0.1 (p=2, adaptive), 0.02 (p=inf), 0.2 (p=inf, adaptive), "
     "from the authors' experiment grids"},
    {"p", MINIMA_SETTING_PNORM, offsetof(avg_settings, p), 2, 0, 0, 0,
     "2: Gaussian noise; inf: uniform in the box"},
    {"adaptive", MINIMA_SETTING_BOOL, offsetof(avg_settings, adaptive), 0, 0, 1, 0, "1: c = |w|"},
    {"draws", MINIMA_SETTING_INT, offsetof(avg_settings, draws), 20, 1, INFINITY, 0, "noise draws per batch"},
    {"n", MINIMA_SETTING_INT, offsetof(avg_settings, n), 1024, 1, INFINITY, 0, "examples used (the first n)"},
    {"m", MINIMA_SETTING_INT, offsetof(avg_settings, m), 128, 1, INFINITY, 0, "batch size"},
    {"normalize_logits", MINIMA_SETTING_BOOL, offsetof(avg_settings, normalize), 0, 0, 1, 0,
     "1: cross-entropy of normalised logits"},
};
#define N_SETTINGS (sizeof table / sizeof *table)

static minima_status parse(const char *s, avg_settings *p)
{
    MINIMA_TRY(minima_settings_parse(NAME, table, N_SETTINGS, s, p));
    if (isnan(p->rho))   /* values from the authors' experiment grids */
        p->rho = isinf(p->p) ? (p->adaptive ? 0.2 : 0.02) : (p->adaptive ? 0.1 : 0.01);
    return MINIMA_OK;
}

static minima_invariance invariance_for(const char *settings)
{
    avg_settings p;
    if (parse(settings, &p) != MINIMA_OK) minima_clear_error();
    return minima_sharpness_adaptive_invariance(p.adaptive);
}

/* The batch loss at x; with zout (m, d_K) non-NULL the cross-entropy of
 * normalised logits. */
static minima_status batch_loss(minima_net *bnet, const double *x, double *zout, double *f)
{
    if (!zout) return minima_net_loss(bnet, x, f, NULL);
    const minima_dataset *bd = minima_net_data(bnet);
    const minima_model *model = minima_net_model(bnet);
    MINIMA_TRY(minima_net_outputs(bnet, x, zout));
    *f = minima_sharpness_normalized_ce(zout, bd->labels, bd->n, minima_model_n_outputs(model), NULL);
    return MINIMA_OK;
}

static minima_status compute(minima_net *net, const char *settings, uint64_t seed,
                             minima_measure_result *out)
{
    avg_settings p;
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
    double *x = minima_alloc(n, sizeof *x);     /* (P) w + delta */
    double *z = minima_alloc(n, sizeof *z);     /* (P) standard noise */
    double *zout = p.normalize ? minima_alloc((size_t)p.m * (size_t)dk, sizeof *zout) : NULL;
    if (!x || !z || (p.normalize && !zout)) {
        st = minima_error(MINIMA_ENOMEM, "measure " NAME ": out of memory for P = %zu", n);
        goto fail;
    }
    double sum = 0, sum2 = 0, sum_loss = 0;
    for (int bi = 0; bi < b.count; bi++) {
        minima_net *bnet = b.nets[bi];
        double L0;
        if ((st = batch_loss(bnet, w, zout, &L0)) != MINIMA_OK) goto fail;
        minima_rng rng;
        minima_rng_seed2(&rng, seed, (uint64_t)bi);
        for (int j = 0; j < p.draws; j++) {
            if (isinf(p.p)) minima_rng_fill_uniform(&rng, z, n, -1, 1);
            else minima_rng_fill_normal(&rng, z, n);
            for (size_t i = 0; i < n; i++)
                x[i] = w[i] + p.rho * (p.adaptive ? fabs(w[i]) : 1) * z[i];
            double L;
            if ((st = batch_loss(bnet, x, zout, &L)) != MINIMA_OK) goto fail;
            sum += L - L0;
            sum2 += (L - L0) * (L - L0);
        }
        sum_loss += L0;
        minima_progress(NAME, bi + 1, b.count);
    }
    double cnt = (double)b.count * p.draws, mean = sum / cnt;
    double var = cnt > 1 ? (sum2 - cnt * mean * mean) / (cnt - 1) : NAN;
    out->value = mean;
    minima_measure_add_extra(out, "stderr", var > 0 ? sqrt(var / cnt) : 0);
    minima_measure_add_extra(out, "loss", sum_loss / b.count);
    minima_measure_add_extra(out, "batches", b.count);
    minima_measure_add_extra(out, "examples", (double)b.examples);
    minima_settings_json(table, N_SETTINGS, &p, NULL, out->params, sizeof out->params);
fail:
    minima_sharpness_batches_free(&b);
    minima_free(zout);
    minima_free(x);
    minima_free(z);
    return st;
}

const minima_measure minima_measure_average_sharpness = {
    .name = NAME,
    .title = "Average-case m-sharpness, standard or adaptive (Monte Carlo)",
    .source = "Andriushchenko et al. 2023",
    .invariance = MINIMA_INVARIANCE_NONE,
    .settings = table,
    .n_settings = N_SETTINGS,
    .compute = compute,
    .invariance_for = invariance_for,
};
