/* figure_1.c — main Fig. 1: volume flatness and epsilon-sharpness on a 1-D
 * slice of a trained network's loss, along the top Hessian eigenvector. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "paper/figures_impl.h"
#include "minima/alloc.h"
#include "minima/eigen.h"

typedef struct {
    minima_net *net;
    const double *theta;   /* (P) */
    const double *v;       /* (P) unit direction */
    double *work;          /* (P) */
    size_t n;
} slice;

static minima_status slice_loss(slice *sl, double t, double *loss)
{
    for (size_t i = 0; i < sl->n; i++) sl->work[i] = sl->theta[i] + t * sl->v[i];
    return minima_net_loss(sl->net, sl->work, loss, NULL);
}

/* The end of {t : L(theta + t v) < level} on the side `sign` of 0: step
 * outward by h until L >= level (at most t_max), then bisect. */
static minima_status level_crossing(slice *sl, double level, double sign, double h, double t_max,
                                    double *t_cross)
{
    double a = 0, b = 0, l;
    for (;;) {
        b = a + h;
        if (b > t_max) { *t_cross = sign * t_max; return MINIMA_OK; }
        MINIMA_TRY(slice_loss(sl, sign * b, &l));
        if (l >= level) break;
        a = b;
    }
    for (int it = 0; it < 60; it++) {
        double m = 0.5 * (a + b);
        MINIMA_TRY(slice_loss(sl, sign * m, &l));
        if (l >= level) b = m; else a = m;
    }
    *t_cross = sign * 0.5 * (a + b);
    return MINIMA_OK;
}

minima_status minima_figure1_draw(const char *path, const minima_figures_params *params,
                                  minima_fig1_result *res)
{
    minima_figures_params p = params ? *params : minima_figures_default_params();
    MINIMA_TRY(minima_figures_check_params(&p));
    minima_fig1_result r;
    memset(&r, 0, sizeof r);
    fig_trained t;
    MINIMA_TRY(fig_mlp_train(&p, &t));
    minima_status s = MINIMA_OK;
    minima_figure *fig = NULL;
    size_t n = t.model->n_params, ns = (size_t)p.samples;
    double *h = minima_alloc(n * n, sizeof *h);       /* (P, P) Hessian */
    double *ev = minima_alloc(n, sizeof *ev);         /* (P) eigenvalues */
    double *vec = minima_alloc(n * n, sizeof *vec);   /* (P, P) eigenvectors, rows */
    double *work = minima_alloc(n, sizeof *work);     /* (P) */
    double *ts = minima_alloc(ns, sizeof *ts), *ls = minima_alloc(ns, sizeof *ls);  /* (samples) */
    if (!h || !ev || !vec || !work || !ts || !ls) {
        s = minima_error(MINIMA_ENOMEM, "figure 1: out of memory for a %zu-parameter Hessian", n);
        goto fail;
    }
    if ((s = minima_net_hessian(t.net, h)) != MINIMA_OK) goto fail;
    if ((s = minima_spectrum_dense(n, h, ev, vec)) != MINIMA_OK) goto fail;
    r.n_params = n;
    r.loss = t.loss;
    r.grad_norm = t.grad_norm;
    r.lambda_max = ev[n - 1];
    r.lambda_min = ev[0];
    slice sl = {t.net, t.model->theta, vec + (n - 1) * n, work, n};

    /* volume flatness: the interval around 0 below L + eps_height */
    r.eps_height = p.fig1_eps_height;
    double level = t.loss + r.eps_height;
    r.width_quadratic = 2.0 * sqrt(2.0 * r.eps_height / r.lambda_max);
    double step = r.width_quadratic / 50.0, t_max = 1e3 * r.width_quadratic;
    if ((s = level_crossing(&sl, level, -1.0, step, t_max, &r.t_lo)) != MINIMA_OK) goto fail;
    if ((s = level_crossing(&sl, level, +1.0, step, t_max, &r.t_hi)) != MINIMA_OK) goto fail;
    r.width = r.t_hi - r.t_lo;

    /* epsilon-sharpness on the slice: the largest rise within |t| <= eps_radius */
    r.eps_radius = p.fig1_eps_radius;
    r.rise = 0;
    for (size_t k = 0; k < ns; k++) {
        double tk = -r.eps_radius + 2.0 * r.eps_radius * (double)k / (double)(ns - 1), l;
        if ((s = slice_loss(&sl, tk, &l)) != MINIMA_OK) goto fail;
        if (l - t.loss > r.rise) { r.rise = l - t.loss; r.t_rise = tk; }
    }
    r.sharpness = r.rise / (1.0 + t.loss);
    r.sharpness_quadratic = r.lambda_max * r.eps_radius * r.eps_radius / (2.0 * (1.0 + t.loss));

    if (path) {
        if ((s = minima_figure_create(1, 2, 1300, 560, &fig)) != MINIMA_OK) goto fail;
        if ((s = minima_figure_set_title(fig, "Fig. 1: a trained 2-8-1 ReLU network along its top "
                                         "Hessian eigenvector v")) != MINIMA_OK)
            goto fail;
        for (int side = 0; side < 2; side++) {
            minima_panel *pa = minima_figure_panel(fig, 0, side);
            /* (a) the band of height eps below L + eps; (b) the window |t| <= eps' */
            double half = side == 0 ? fmax(-r.t_lo, r.t_hi) : r.eps_radius;
            double height = side == 0 ? r.eps_height : r.rise;
            double span = 2.0 * half;
            for (size_t k = 0; k < ns; k++) {
                ts[k] = -span + 2.0 * span * (double)k / (double)(ns - 1);
                if ((s = slice_loss(&sl, ts[k], &ls[k])) != MINIMA_OK) goto fail;
            }
            char title[160], lab[160];
            snprintf(title, sizeof title, side == 0 ? "(a) volume ε-flatness, ε = %.3g"
                                                    : "(b) ε-sharpness, ε = %.3g",
                     side == 0 ? r.eps_height : r.eps_radius);
            if ((s = minima_panel_set_title(pa, title)) != MINIMA_OK) goto fail;
            if ((s = minima_panel_set_labels(pa, "t  (θ = θ* + t v)", "training loss L (MSE)")) != MINIMA_OK)
                goto fail;
            double ytop = t.loss + 2.3 * height, ybot = t.loss - 0.12 * height;
            if ((s = minima_panel_set_xrange(pa, -span, span)) != MINIMA_OK) goto fail;
            if ((s = minima_panel_set_yrange(pa, ybot, ytop)) != MINIMA_OK) goto fail;
            if ((s = minima_panel_set_legend(pa, MINIMA_LEGEND_NONE)) != MINIMA_OK) goto fail;
            minima_style base = fig_style(MINIMA_COLOR_GREY, 1.0, MINIMA_DASH_DOTTED);
            if ((s = minima_panel_hline(pa, t.loss, &base)) != MINIMA_OK) goto fail;
            /* the shaded region: between the curve and the level (a), or
             * under the curve inside the window (b) */
            size_t k0 = ns, k1 = 0;
            for (size_t k = 0; k < ns; k++) {
                int in = side == 0 ? (ts[k] >= r.t_lo && ts[k] <= r.t_hi)
                                   : (fabs(ts[k]) <= r.eps_radius);
                if (in) { if (k < k0) k0 = k; k1 = k; }
            }
            minima_style fill = fig_style(MINIMA_COLOR_VERMILLION, 1.0, MINIMA_DASH_SOLID);
            fill.fill = MINIMA_COLOR_VERMILLION;
            fill.alpha = 0.35;
            if (k0 < k1) {
                size_t m = k1 - k0 + 1;
                double *bl = minima_alloc(m, sizeof *bl), *bu = minima_alloc(m, sizeof *bu);
                if (!bl || !bu) {
                    minima_free(bl);
                    minima_free(bu);
                    s = minima_error(MINIMA_ENOMEM, "figure 1: out of memory");
                    goto fail;
                }
                for (size_t k = 0; k < m; k++) {
                    bl[k] = side == 0 ? ls[k0 + k] : t.loss;
                    bu[k] = side == 0 ? t.loss + r.eps_height : ls[k0 + k];
                }
                s = minima_panel_band(pa, ts + k0, bl, bu, m, &fill);
                minima_free(bl);
                minima_free(bu);
                if (s != MINIMA_OK) goto fail;
            }
            minima_style mark = fig_style(MINIMA_COLOR_BLUE, 2.5, MINIMA_DASH_SOLID);
            minima_style guide = fig_style(MINIMA_COLOR_BLUE, 1.2, MINIMA_DASH_DASHED);
            minima_style tx = fig_style(MINIMA_COLOR_BLUE, 1.0, MINIMA_DASH_SOLID);
            if (side == 0) {
                if ((s = minima_panel_hline(pa, level, &guide)) != MINIMA_OK) goto fail;
                double wx[2] = {r.t_lo, r.t_hi}, wy[2] = {level, level};
                if ((s = minima_panel_line(pa, wx, wy, 2, &mark)) != MINIMA_OK) goto fail;
                double vx[2] = {r.t_lo, r.t_lo}, vy[2] = {t.loss, level};
                if ((s = minima_panel_line(pa, vx, vy, 2, &guide)) != MINIMA_OK) goto fail;
                vx[0] = vx[1] = r.t_hi;
                if ((s = minima_panel_line(pa, vx, vy, 2, &guide)) != MINIMA_OK) goto fail;
                minima_style tl = tx;
                tl.text_size = 0.8;
                snprintf(lab, sizeof lab, "width %.4g", r.width);
                if ((s = minima_panel_text(pa, 0.0, t.loss + 0.6 * height, lab, 0.5, &tl)) != MINIMA_OK)
                    goto fail;
                if ((s = minima_panel_text(pa, r.t_hi + 0.08 * span, level + 0.1 * height,
                                           "L(θ*) + ε", 0.0, &tl)) != MINIMA_OK) goto fail;
                snprintf(lab, sizeof lab, "quadratic model: width %.4g", r.width_quadratic);
                if ((s = minima_panel_text(pa, 0.0, t.loss + 1.75 * height, lab, 0.5, &tl)) != MINIMA_OK)
                    goto fail;
            } else {
                if ((s = minima_panel_vline(pa, -r.eps_radius, &guide)) != MINIMA_OK) goto fail;
                if ((s = minima_panel_vline(pa, r.eps_radius, &guide)) != MINIMA_OK) goto fail;
                double hx[2] = {r.t_rise, r.t_rise}, hy[2] = {t.loss, t.loss + r.rise};
                if ((s = minima_panel_line(pa, hx, hy, 2, &mark)) != MINIMA_OK) goto fail;
                double gx[2] = {-r.eps_radius, r.eps_radius}, gy[2] = {t.loss + r.rise, t.loss + r.rise};
                if ((s = minima_panel_line(pa, gx, gy, 2, &guide)) != MINIMA_OK) goto fail;
                minima_style tl = tx;
                tl.text_size = 0.8;
                snprintf(lab, sizeof lab, "rise %.4g: ε-sharpness %.4g", r.rise, r.sharpness);
                if ((s = minima_panel_text(pa, 0.0, t.loss + 2.05 * height, lab, 0.5, &tl)) != MINIMA_OK)
                    goto fail;
                snprintf(lab, sizeof lab, "quadratic model: %.4g", r.sharpness_quadratic);
                if ((s = minima_panel_text(pa, 0.0, t.loss + 1.8 * height, lab, 0.5, &tl)) != MINIMA_OK)
                    goto fail;
                if ((s = minima_panel_text(pa, 0.0, t.loss + 0.55 * height, "window |t| ≤ ε", 0.5,
                                           &tl)) != MINIMA_OK) goto fail;
            }
            minima_style curve = fig_style(MINIMA_COLOR_BLACK, 2.2, MINIMA_DASH_SOLID);
            if ((s = minima_panel_line(pa, ts, ls, ns, &curve)) != MINIMA_OK) goto fail;
            minima_style pt = fig_style(MINIMA_COLOR_BLACK, 1.0, MINIMA_DASH_SOLID);
            double z0 = 0, l0 = t.loss;
            if ((s = minima_panel_scatter(pa, &z0, &l0, 1, &pt)) != MINIMA_OK) goto fail;
            if (side == 0) {
                snprintf(lab, sizeof lab, "L(θ*) = %.2g, λ#dmax#u = %.3g", t.loss, r.lambda_max);
                minima_style tk = fig_style(MINIMA_COLOR_BLACK, 1.0, MINIMA_DASH_SOLID);
                tk.text_size = 0.8;
                if ((s = minima_panel_text(pa, 0.0, t.loss + 2.05 * height, lab, 0.5, &tk)) != MINIMA_OK)
                    goto fail;
            }
        }
        s = fig_render(fig, path);
        fig = NULL;
        if (s != MINIMA_OK) goto fail;
    }
    if (res) *res = r;
fail:
    minima_figure_destroy(fig);
    minima_free(h);
    minima_free(ev);
    minima_free(vec);
    minima_free(work);
    minima_free(ts);
    minima_free(ls);
    fig_trained_free(&t);
    return s;
}
