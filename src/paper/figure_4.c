/* figure_4.c — main Fig. 4 (§4.3): balls of equal radius eps around the
 * trained theta* of the one-unit network and around T_alpha theta*,
 * alpha = eps / |theta1|; the second ball reaches the line theta1 = 0,
 * where the network computes a constant function, so its eps-sharpness is
 * at least (L(constant) - L(theta*)) / (1 + L(theta*)). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "paper/figures_impl.h"

#define BALL_NR 60    /* radii of the polar grid over a ball */
#define BALL_NPHI 360 /* angles */

/* eps-sharpness (Dinh Def. 2) at (c1, c2): max over the closed ball of
 * radius eps of (L - L(c)) / (1 + L(c)), on a polar grid that includes the
 * boundary circle. */
static minima_status ball_sharpness(fig_trained *t, double c1, double c2, double eps,
                                    double *sharp)
{
    double l0, mx = -INFINITY;
    MINIMA_TRY(fig_unit_loss(t, c1, c2, &l0));
    for (int i = 1; i <= BALL_NR; i++) {
        double rr = eps * i / BALL_NR;
        for (int k = 0; k < BALL_NPHI; k++) {
            double ph = 2.0 * M_PI * k / BALL_NPHI, l;
            MINIMA_TRY(fig_unit_loss(t, c1 + rr * cos(ph), c2 + rr * sin(ph), &l));
            if (l > mx) mx = l;
        }
    }
    *sharp = (mx - l0) / (1.0 + l0);
    return MINIMA_OK;
}

minima_status minima_figure4_draw(const char *path, const minima_figures_params *params,
                                  minima_fig4_result *res)
{
    minima_figures_params p = params ? *params : minima_figures_default_params();
    MINIMA_TRY(minima_figures_check_params(&p));
    minima_fig4_result r;
    memset(&r, 0, sizeof r);
    fig_trained t;
    MINIMA_TRY(fig_unit_train(&p, &t, &r.unit));
    minima_status s = MINIMA_OK;
    minima_figure *fig = NULL;
    double th1 = r.unit.theta1, th2 = r.unit.theta2;
    r.eps = p.fig4_radius;
    if (!(r.eps < fabs(th1))) {
        s = minima_error(MINIMA_EINVAL, "figure 4: fig4_radius must be below |theta1| = %g of the "
                         "trained network, got %g", fabs(th1), r.eps);
        goto fail;
    }
    r.alpha = r.eps / fabs(th1);
    r.t_theta1 = r.alpha * th1;
    r.t_theta2 = th2 / r.alpha;
    r.const_theta1 = 0.0;
    r.const_theta2 = r.t_theta2;
    r.const_dist = hypot(r.t_theta1 - r.const_theta1, r.t_theta2 - r.const_theta2);
    double lc;
    if ((s = fig_unit_loss(&t, r.const_theta1, r.const_theta2, &lc)) != MINIMA_OK) goto fail;
    r.sharp_const = (lc - r.unit.loss) / (1.0 + r.unit.loss);
    if ((s = ball_sharpness(&t, th1, th2, r.eps, &r.sharp_theta)) != MINIMA_OK) goto fail;
    if ((s = ball_sharpness(&t, r.t_theta1, r.t_theta2, r.eps, &r.sharp_t_theta)) != MINIMA_OK)
        goto fail;

    if (path) {
        /* a window holding both balls, a strip of theta1 < 0, and room on
         * the right (high loss, bright) for the numbers */
        double x0 = -1.6 * r.eps, x1 = fmax(th1, r.t_theta1) + 1.6 * r.eps;
        double y0 = fmin(th2, r.t_theta2) - 1.6 * r.eps, y1 = fmax(th2, r.t_theta2) + 1.6 * r.eps;
        double w = y1 - y0;
        x1 = fmax(x1, x0 + 1.5 * w);
        if ((s = minima_figure_create(1, 1, 1000, 680, &fig)) != MINIMA_OK) goto fail;
        minima_panel *pa = minima_figure_panel(fig, 0, 0);
        if ((s = minima_panel_set_title(pa, "Fig. 4: balls of radius ε around θ* and T#dα#uθ*, "
                                        "α = ε/|θ#d1#u|")) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_labels(pa, "θ#d1#u", "θ#d2#u")) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_equal_aspect(pa, 1)) != MINIMA_OK) goto fail;
        double zmin, zmax;
        if ((s = fig_unit_map(pa, &t, p.grid, x0, x1, y0, y1, 0, &zmin, &zmax)) != MINIMA_OK) goto fail;
        minima_style hyp = fig_style(MINIMA_COLOR_VERMILLION, 1.8, MINIMA_DASH_DASHED);
        if ((s = fig_hyperbola(pa, r.unit.product, 1e-3, x1, y1, &hyp)) != MINIMA_OK) goto fail;
        minima_style zero = fig_style(MINIMA_COLOR_WHITE, 2.5, MINIMA_DASH_SOLID);
        if ((s = minima_panel_vline(pa, 0.0, &zero)) != MINIMA_OK) goto fail;
        minima_style b1 = fig_style(MINIMA_COLOR_WHITE, 2.0, MINIMA_DASH_SOLID);
        b1.fill = MINIMA_COLOR_WHITE;
        b1.alpha = 0.3;
        if ((s = minima_panel_circle(pa, th1, th2, r.eps, &b1)) != MINIMA_OK) goto fail;
        minima_style b2 = fig_style(MINIMA_COLOR_ORANGE, 2.0, MINIMA_DASH_SOLID);
        b2.fill = MINIMA_COLOR_ORANGE;
        b2.alpha = 0.35;
        if ((s = minima_panel_circle(pa, r.t_theta1, r.t_theta2, r.eps, &b2)) != MINIMA_OK) goto fail;
        minima_style pt = fig_style(MINIMA_COLOR_WHITE, 1.0, MINIMA_DASH_SOLID);
        double px[2] = {th1, r.t_theta1}, py[2] = {th2, r.t_theta2};
        if ((s = minima_panel_scatter(pa, px, py, 2, &pt)) != MINIMA_OK) goto fail;
        minima_style cp = fig_style(MINIMA_COLOR_VERMILLION, 1.0, MINIMA_DASH_SOLID);
        cp.marker = MINIMA_MARKER_DIAMOND;
        cp.marker_size = 1.6;
        if ((s = minima_panel_scatter(pa, &r.const_theta1, &r.const_theta2, 1, &cp)) != MINIMA_OK)
            goto fail;

        if ((s = minima_panel_set_xrange(pa, x0, x1)) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_yrange(pa, y0, y1)) != MINIMA_OK) goto fail;
        char lab[160];
        minima_style tx = fig_style(MINIMA_COLOR_WHITE, 1.0, MINIMA_DASH_SOLID);
        tx.text_size = 0.9;
        double g = 0.025 * w;
        if ((s = minima_panel_text(pa, th1 + g, th2 - 3 * g, "θ*", 0.0, &tx)) != MINIMA_OK) goto fail;
        if ((s = minima_panel_text(pa, r.t_theta1 + g, r.t_theta2 - 3 * g, "T#dα#uθ*", 0.0, &tx))
            != MINIMA_OK) goto fail;
        if ((s = minima_panel_text(pa, -g, r.const_theta2 + 3 * g, "constant", 1.0, &tx)) != MINIMA_OK)
            goto fail;
        if ((s = minima_panel_text(pa, -g, r.const_theta2 - 3 * g, "function", 1.0, &tx)) != MINIMA_OK)
            goto fail;
        if ((s = minima_panel_text(pa, -g, y0 + 2 * g, "θ#d1#u = 0", 1.0, &tx)) != MINIMA_OK)
            goto fail;
        minima_style nt = fig_style(MINIMA_COLOR_BLACK, 1.0, MINIMA_DASH_SOLID);
        nt.text_size = 0.85;
        char lines[5][160];
        snprintf(lines[0], sizeof lines[0], "ε = %.3g,  α = ε/|θ#d1#u*| = %.3g", r.eps, r.alpha);
        snprintf(lines[1], sizeof lines[1], "ε-sharpness at θ*:  %.3g", r.sharp_theta);
        snprintf(lines[2], sizeof lines[2], "ε-sharpness at T#dα#uθ*:  %.3g", r.sharp_t_theta);
        snprintf(lines[3], sizeof lines[3], "constant function in the ball:");
        snprintf(lines[4], sizeof lines[4], "(L#dconst#u - L*)/(1 + L*) = %.3g", r.sharp_const);
        for (int k = 0; k < 5; k++)
            if ((s = minima_panel_text(pa, x1 - g, y1 - (2.5 + 2.6 * k) * g, lines[k], 1.0, &nt))
                != MINIMA_OK) goto fail;
        (void)lab;
        if ((s = minima_panel_set_legend(pa, MINIMA_LEGEND_NONE)) != MINIMA_OK) goto fail;
        s = fig_render(fig, path);
        fig = NULL;
        if (s != MINIMA_OK) goto fail;
    }
    if (res) *res = r;
fail:
    minima_figure_destroy(fig);
    fig_trained_free(&t);
    return s;
}
