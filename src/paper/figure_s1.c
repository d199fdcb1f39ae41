/* figure_s1.c — supplement Fig. 1 (appendix A): the radial map. (a) psi(r)
 * for given rhat, delta, rho; (b) g^{-1} applied to the lines of a 2-D grid:
 * only points inside B_2(theta-hat, delta) move. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "paper/figures_impl.h"
#include "minima/alloc.h"
#include "minima/reparam.h"

#define S1_LINES 13   /* grid lines per direction */

minima_status minima_figure_supp1_draw(const char *path, const minima_figures_params *params,
                                       minima_supp1_result *res)
{
    minima_figures_params p = params ? *params : minima_figures_default_params();
    MINIMA_TRY(minima_figures_check_params(&p));
    minima_supp1_result r;
    memset(&r, 0, sizeof r);
    r.rhat = p.supp_rhat;
    r.delta = p.supp_delta;
    r.rho = p.supp_rho;
    double centre[2] = {0, 0};
    minima_radial map = {centre, r.rhat, r.delta, r.rho};
    minima_radial_set set = {2, 1, &map};
    MINIMA_TRY(minima_radial_check(&set));
    r.psi_at_rhat = minima_radial_psi(&map, r.rhat);
    r.psi_at_delta = minima_radial_psi(&map, r.delta);
    minima_status s = MINIMA_OK;
    minima_figure *fig = NULL;
    size_t ns = (size_t)p.samples;
    double *xs = minima_alloc(ns, sizeof *xs), *ys = minima_alloc(ns, sizeof *ys);
    double *ex = minima_alloc(ns, sizeof *ex), *ey = minima_alloc(ns, sizeof *ey);  /* (samples) */
    if (!xs || !ys || !ex || !ey) {
        s = minima_error(MINIMA_ENOMEM, "supplement figure 1: out of memory");
        goto fail;
    }
    double ext = 1.5 * r.delta;   /* the grid covers [-ext, ext]^2 */

    /* displacement over a grid of points */
    for (int j = 0; j < p.grid; j++)
        for (int i = 0; i < p.grid; i++) {
            double th[2] = {-ext + 2 * ext * i / (p.grid - 1), -ext + 2 * ext * j / (p.grid - 1)}, eta[2];
            minima_radial_to_eta(&set, th, eta);
            double mv = hypot(eta[0] - th[0], eta[1] - th[1]);
            if (hypot(th[0], th[1]) > r.delta) r.max_move_outside = fmax(r.max_move_outside, mv);
            else r.max_move_inside = fmax(r.max_move_inside, mv);
            r.n_points++;
        }

    if (path) {
        if ((s = minima_figure_create(1, 2, 1300, 620, &fig)) != MINIMA_OK) goto fail;
        if ((s = minima_figure_set_text_scale(fig, 0.9)) != MINIMA_OK) goto fail;
        if ((s = minima_figure_set_title(fig, "Supplement Fig. 1: a radial transformation of "
                                         "the plane (appendix A)")) != MINIMA_OK) goto fail;
        char lab[200];
        /* (a) psi */
        minima_panel *pa = minima_figure_panel(fig, 0, 0);
        snprintf(lab, sizeof lab, "(a) ψ(r, r̂, δ, ρ): r̂ = %.3g, δ = %.3g, ρ = %.3g", r.rhat, r.delta,
                 r.rho);
        if ((s = minima_panel_set_title(pa, lab)) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_labels(pa, "r = ||θ - θ̂||#d2#u", "ψ(r)")) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_equal_aspect(pa, 1)) != MINIMA_OK) goto fail;
        for (size_t k = 0; k < ns; k++) {
            xs[k] = ext * (double)k / (double)(ns - 1);
            ys[k] = minima_radial_psi(&map, xs[k]);
        }
        minima_style id = fig_style(MINIMA_COLOR_GREY, 1.2, MINIMA_DASH_DASHED);
        id.label = "identity";
        double ix[2] = {0, ext};
        if ((s = minima_panel_line(pa, ix, ix, 2, &id)) != MINIMA_OK) goto fail;
        minima_style ps = fig_style(MINIMA_COLOR_BLUE, 2.4, MINIMA_DASH_SOLID);
        ps.label = "ψ(r)";
        if ((s = minima_panel_line(pa, xs, ys, ns, &ps)) != MINIMA_OK) goto fail;
        minima_style ref = fig_style(MINIMA_COLOR_VERMILLION, 1.0, MINIMA_DASH_DOTTED);
        if ((s = minima_panel_vline(pa, r.rhat, &ref)) != MINIMA_OK) goto fail;
        if ((s = minima_panel_vline(pa, r.delta, &ref)) != MINIMA_OK) goto fail;
        if ((s = minima_panel_hline(pa, r.rho, &ref)) != MINIMA_OK) goto fail;
        minima_style tx = fig_style(MINIMA_COLOR_VERMILLION, 1.0, MINIMA_DASH_SOLID);
        tx.text_size = 0.85;
        if ((s = minima_panel_text(pa, r.rhat + 0.02 * ext, 0.04 * ext, "r̂", 0.0, &tx)) != MINIMA_OK)
            goto fail;
        if ((s = minima_panel_text(pa, r.delta + 0.02 * ext, 0.04 * ext, "δ", 0.0, &tx)) != MINIMA_OK)
            goto fail;
        if ((s = minima_panel_text(pa, 0.97 * ext, r.rho + 0.04 * ext, "ρ", 1.0, &tx)) != MINIMA_OK)
            goto fail;
        if ((s = minima_panel_set_xrange(pa, 0, ext)) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_yrange(pa, 0, ext)) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_legend(pa, MINIMA_LEGEND_TOP_LEFT)) != MINIMA_OK) goto fail;

        /* (b) g^{-1} on the grid */
        minima_panel *pb = minima_figure_panel(fig, 0, 1);
        if ((s = minima_panel_set_title(pb, "(b) g#u-1#d: grid before (grey), after (black)"))
            != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_labels(pb, "θ#d1#u", "θ#d2#u")) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_equal_aspect(pb, 1)) != MINIMA_OK) goto fail;
        minima_style ball = fig_style(MINIMA_COLOR_VERMILLION, 1.5, MINIMA_DASH_SOLID);
        ball.fill = MINIMA_COLOR_VERMILLION;
        ball.alpha = 0.15;
        ball.label = "B#d2#u(θ̂, δ): the only region that moves";
        if ((s = minima_panel_circle(pb, 0, 0, r.delta, &ball)) != MINIMA_OK) goto fail;
        minima_style inner = fig_style(MINIMA_COLOR_BLUE, 1.5, MINIMA_DASH_SOLID);
        inner.fill = MINIMA_COLOR_BLUE;
        inner.alpha = 0.2;
        inner.label = "B#d2#u(θ̂, ρ) = g#u-1#d(B#d2#u(θ̂, r̂))";
        if ((s = minima_panel_circle(pb, 0, 0, r.rho, &inner)) != MINIMA_OK) goto fail;
        minima_style rh = fig_style(MINIMA_COLOR_BLUE, 1.2, MINIMA_DASH_DASHED);
        rh.alpha = 0;
        rh.label = "||θ - θ̂|| = r̂ before the map";
        if ((s = minima_panel_circle(pb, 0, 0, r.rhat, &rh)) != MINIMA_OK) goto fail;
        minima_style before = fig_style(MINIMA_COLOR_GREY, 0.8, MINIMA_DASH_SOLID);
        minima_style after = fig_style(MINIMA_COLOR_BLACK, 1.2, MINIMA_DASH_SOLID);
        for (int dir = 0; dir < 2; dir++)
            for (int l = 0; l < S1_LINES; l++) {
                double c = -ext + 2 * ext * l / (S1_LINES - 1);
                for (size_t k = 0; k < ns; k++) {
                    double v = -ext + 2 * ext * (double)k / (double)(ns - 1);
                    double th[2] = {dir == 0 ? c : v, dir == 0 ? v : c}, eta[2];
                    minima_radial_to_eta(&set, th, eta);
                    xs[k] = th[0]; ys[k] = th[1];
                    ex[k] = eta[0]; ey[k] = eta[1];
                }
                if ((s = minima_panel_line(pb, xs, ys, ns, &before)) != MINIMA_OK) goto fail;
                if ((s = minima_panel_line(pb, ex, ey, ns, &after)) != MINIMA_OK) goto fail;
            }
        minima_style ctr = fig_style(MINIMA_COLOR_BLACK, 1.0, MINIMA_DASH_SOLID);
        ctr.marker_size = 0.6;
        double z = 0;
        if ((s = minima_panel_scatter(pb, &z, &z, 1, &ctr)) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_xrange(pb, -ext, ext)) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_yrange(pb, -ext, ext)) != MINIMA_OK) goto fail;
        if ((s = minima_panel_set_legend(pb, MINIMA_LEGEND_NONE)) != MINIMA_OK) goto fail;
        /* circle names, just outside each circle on the diagonal */
        const double rad[3] = {r.delta, r.rhat, r.rho};
        const char *names[3] = {"δ", "r̂", "ρ"};
        const minima_color cols[3] = {MINIMA_COLOR_VERMILLION, MINIMA_COLOR_BLUE, MINIMA_COLOR_BLUE};
        for (int k = 0; k < 3; k++) {
            minima_style nm = fig_style(cols[k], 1.0, MINIMA_DASH_SOLID);
            nm.text_size = 0.9;
            double a = k == 0 ? 0.25 * M_PI : (k == 1 ? 0.75 * M_PI : 1.25 * M_PI);
            double rr = rad[k] + 0.06 * ext;
            if ((s = minima_panel_text(pb, rr * cos(a), rr * sin(a), names[k], 0.5, &nm)) != MINIMA_OK)
                goto fail;
        }
        s = fig_render(fig, path);
        fig = NULL;
        if (s != MINIMA_OK) goto fail;
    }
    if (res) *res = r;
fail:
    minima_figure_destroy(fig);
    minima_free(xs);
    minima_free(ys);
    minima_free(ex);
    minima_free(ey);
    return s;
}
