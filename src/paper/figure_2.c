/* figure_2.c — main Fig. 2: loss level sets of the one-unit network
 * y = theta2 relu(theta1 x) over the (theta1, theta2) plane, the hyperbola
 * of parameters computing the trained function, and how the spacing of
 * level sets (the curvature) changes along it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "paper/figures_impl.h"
#include "minima/eigen.h"

/* Top eigenpair of the 2 x 2 Hessian at (theta1, theta2). */
static minima_status unit_hessian_top(fig_trained *t, double theta1, double theta2,
                                      double *lambda, double v[2])
{
    double th[2] = {theta1, theta2}, h[4], ev[2], vec[4];
    MINIMA_TRY(minima_net_set_point(t->net, th));
    MINIMA_TRY(minima_net_hessian(t->net, h));
    MINIMA_TRY(minima_spectrum_dense(2, h, ev, vec));
    *lambda = ev[1];
    v[0] = vec[2];
    v[1] = vec[3];
    return MINIMA_OK;
}

/* Distance from (theta1, theta2) along v (the side where L rises first is
 * irrelevant: the smaller of the two) to the level L0 + eps, by bisection. */
static minima_status level_gap(fig_trained *t, double theta1, double theta2, const double v[2],
                               double level, double *gap)
{
    double best = INFINITY;
    for (int sign = -1; sign <= 1; sign += 2) {
        double a = 0, b = 1e-3, l;
        for (;;) {   /* bracket */
            MINIMA_TRY(fig_unit_loss(t, theta1 + sign * b * v[0], theta2 + sign * b * v[1], &l));
            if (l >= level) break;
            a = b;
            b *= 2;
            if (b > 1e6) break;
        }
        if (b > 1e6) continue;
        for (int it = 0; it < 60; it++) {
            double m = 0.5 * (a + b);
            MINIMA_TRY(fig_unit_loss(t, theta1 + sign * m * v[0], theta2 + sign * m * v[1], &l));
            if (l >= level) b = m; else a = m;
        }
        if (0.5 * (a + b) < best) best = 0.5 * (a + b);
    }
    *gap = best;
    return MINIMA_OK;
}

minima_status minima_figure2_draw(const char *path, const minima_figures_params *params,
                                  minima_fig2_result *res)
{
    minima_figures_params p = params ? *params : minima_figures_default_params();
    MINIMA_TRY(minima_figures_check_params(&p));
    minima_fig2_result r;
    memset(&r, 0, sizeof r);
    fig_trained t;
    MINIMA_TRY(fig_unit_train(&p, &t, &r.unit));
    minima_status s = MINIMA_OK;
    minima_figure *fig = NULL;

    /* the plane: the first quadrant, where the minimum is, with a strip of
     * theta1 < 0 (the unit is dead for x > 0 there) and theta2 < 0 */
    double c = r.unit.product;
    double hi = 2.6 * sqrt(fabs(c));
    r.theta1_lo = r.theta2_lo = -0.25 * hi;
    r.theta1_hi = r.theta2_hi = hi;

    /* points of the orbit T_alpha theta, alpha chosen to spread them along
     * the visible part of the hyperbola */
    const double alphas[MINIMA_FIG2_N_ORBIT] = {1 / 2.2, 1 / 1.5, 1.0, 1.5, 2.2};
    double bal = sqrt(fabs(r.unit.theta2 / r.unit.theta1));   /* alpha of the balanced point */
    for (int k = 0; k < MINIMA_FIG2_N_ORBIT; k++) {
        double a = alphas[k] * bal;
        r.orbit_alpha[k] = a;
        r.orbit_theta1[k] = a * r.unit.theta1;
        r.orbit_theta2[k] = r.unit.theta2 / a;
        double v[2];
        if ((s = fig_unit_loss(&t, r.orbit_theta1[k], r.orbit_theta2[k], &r.orbit_loss[k])) != MINIMA_OK)
            goto fail;
        if ((s = unit_hessian_top(&t, r.orbit_theta1[k], r.orbit_theta2[k], &r.orbit_lambda_max[k],
                                  v)) != MINIMA_OK) goto fail;
        if ((s = level_gap(&t, r.orbit_theta1[k], r.orbit_theta2[k], v, r.unit.loss + p.fig2_eps,
                           &r.orbit_level_gap[k])) != MINIMA_OK) goto fail;
    }

    if ((s = minima_figure_create(1, 1, 760, 680, &fig)) != MINIMA_OK) goto fail;
    minima_panel *pa = minima_figure_panel(fig, 0, 0);
    if ((s = minima_panel_set_title(pa, "Fig. 2: loss level sets of y = θ#d2#u relu(θ#d1#u x)"))
        != MINIMA_OK) goto fail;
    if ((s = minima_panel_set_labels(pa, "θ#d1#u", "θ#d2#u")) != MINIMA_OK) goto fail;
    if ((s = minima_panel_set_equal_aspect(pa, 1)) != MINIMA_OK) goto fail;
    if ((s = fig_unit_map(pa, &t, p.grid, r.theta1_lo, r.theta1_hi, r.theta2_lo, r.theta2_hi, 0,
                          &r.zmin, &r.zmax)) != MINIMA_OK) goto fail;
    minima_style axis = fig_style(MINIMA_COLOR_GREY, 1.0, MINIMA_DASH_DOTTED);
    if ((s = minima_panel_vline(pa, 0.0, &axis)) != MINIMA_OK) goto fail;
    if ((s = minima_panel_hline(pa, 0.0, &axis)) != MINIMA_OK) goto fail;
    /* other functions: theta1 theta2 = c/2 and 2c (also level sets of L where
     * theta1 > 0, since L depends on theta only through the product there) */
    minima_style other = fig_style(MINIMA_COLOR_ORANGE, 1.4, MINIMA_DASH_DOTTED);
    other.label = "θ#d1#uθ#d2#u = const: other functions";
    if ((s = fig_hyperbola(pa, 0.5 * c, 1e-3, r.theta1_hi, r.theta2_hi, &other)) != MINIMA_OK) goto fail;
    other.label = NULL;
    if ((s = fig_hyperbola(pa, 2.0 * c, 1e-3, r.theta1_hi, r.theta2_hi, &other)) != MINIMA_OK) goto fail;
    minima_style hyp = fig_style(MINIMA_COLOR_VERMILLION, 2.2, MINIMA_DASH_DASHED);
    char lab[160];
    snprintf(lab, sizeof lab, "θ#d1#uθ#d2#u = %.3g: same function as θ*", c);
    hyp.label = lab;
    if ((s = fig_hyperbola(pa, c, 1e-3, r.theta1_hi, r.theta2_hi, &hyp)) != MINIMA_OK) goto fail;
    minima_style pt = fig_style(MINIMA_COLOR_VERMILLION, 1.0, MINIMA_DASH_SOLID);
    pt.marker = MINIMA_MARKER_CIRCLE;
    pt.marker_size = 1.2;
    pt.label = "T#dα#uθ*, labelled with λ#dmax#u(∇#u2#dL)";
    if ((s = minima_panel_scatter(pa, r.orbit_theta1, r.orbit_theta2, MINIMA_FIG2_N_ORBIT, &pt))
        != MINIMA_OK) goto fail;
    minima_style tx = fig_style(MINIMA_COLOR_WHITE, 1.0, MINIMA_DASH_SOLID);
    tx.text_size = 0.8;
    for (int k = 0; k < MINIMA_FIG2_N_ORBIT; k++) {
        snprintf(lab, sizeof lab, "%.3g", r.orbit_lambda_max[k]);
        double dx = 0.04 * (r.theta1_hi - r.theta1_lo);
        if ((s = minima_panel_text(pa, r.orbit_theta1[k] + dx, r.orbit_theta2[k] + dx, lab, 0.0, &tx))
            != MINIMA_OK) goto fail;
    }
    minima_style note = fig_style(MINIMA_COLOR_BLACK, 1.0, MINIMA_DASH_SOLID);
    note.text_size = 0.8;
    if ((s = minima_panel_text(pa, r.theta1_hi - 0.03 * (r.theta1_hi - r.theta1_lo),
                               r.theta2_hi - 0.05 * (r.theta2_hi - r.theta2_lo),
                               "white: L = L* + 10#u-2#d, 10#u-1#d, 1, 10", 1.0, &note)) != MINIMA_OK)
        goto fail;
    if ((s = minima_panel_set_legend(pa, MINIMA_LEGEND_BOTTOM_LEFT)) != MINIMA_OK) goto fail;
    s = fig_render(fig, path);
    fig = NULL;
    if (s != MINIMA_OK) goto fail;
    if (res) *res = r;
fail:
    minima_figure_destroy(fig);
    fig_trained_free(&t);
    return s;
}
