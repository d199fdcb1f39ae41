/* figure_3.c — main Fig. 3 (Thm 2): the box B_inf(r, theta) inside the
 * region C = {L < L(theta) + eps} of the trained one-unit network, and its
 * images T_alpha^j(B): equal area, pairwise disjoint, all inside C. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "paper/figures_impl.h"

#define BOX_GRID 21

/* Maximum of L over [x0, x1] x [y0, y1] on a BOX_GRID^2 grid (corners and
 * edges included). For theta1 > 0 the loss is a convex function of the
 * product theta1 theta2, which is bilinear, so the maximum over the box is
 * at a corner: the grid contains it. */
static minima_status box_max(fig_trained *t, double x0, double x1, double y0, double y1,
                             double *max)
{
    double m = -INFINITY;
    for (int j = 0; j < BOX_GRID; j++)
        for (int i = 0; i < BOX_GRID; i++) {
            double l;
            MINIMA_TRY(fig_unit_loss(t, x0 + (x1 - x0) * i / (BOX_GRID - 1),
                                     y0 + (y1 - y0) * j / (BOX_GRID - 1), &l));
            if (l > m) m = l;
        }
    *max = m;
    return MINIMA_OK;
}

minima_status minima_figure3_draw(const char *path, const minima_figures_params *params,
                                  minima_fig3_result *res)
{
    minima_figures_params p = params ? *params : minima_figures_default_params();
    MINIMA_TRY(minima_figures_check_params(&p));
    minima_fig3_result r;
    memset(&r, 0, sizeof r);
    fig_trained t;
    MINIMA_TRY(fig_unit_train(&p, &t, &r.unit));
    minima_status s = MINIMA_OK;
    minima_figure *fig = NULL;
    double th1 = r.unit.theta1, th2 = r.unit.theta2, a1 = fabs(th1);
    r.eps = p.fig3_eps;
    r.box_grid = BOX_GRID;
    double level = r.unit.loss + r.eps;

    /* r: bisection on the largest half-side whose box stays below the level
     * (the maximum over nested boxes grows with r) */
    double lo = 0, hi = a1;
    for (int it = 0; it < 50; it++) {
        double m = 0.5 * (lo + hi), mx;
        if ((s = box_max(&t, th1 - m, th1 + m, th2 - m, th2 + m, &mx)) != MINIMA_OK) goto fail;
        if (mx < level) lo = m; else hi = m;
    }
    r.r = lo;
    r.alpha = 2.0 * (a1 + r.r) / (a1 - r.r);

    /* the boxes T_alpha^j(B): centre (alpha^j theta1, alpha^-j theta2),
     * half-sides alpha^j r and alpha^-j r */
    r.n_boxes = p.fig3_j_max - p.fig3_j_min + 1;
    for (int k = 0; k < r.n_boxes; k++) {
        int j = p.fig3_j_min + k;
        double a = pow(r.alpha, j);
        r.j[k] = j;
        r.x0[k] = a * th1 - a * r.r;
        r.x1[k] = a * th1 + a * r.r;
        r.y0[k] = th2 / a - r.r / a;
        r.y1[k] = th2 / a + r.r / a;
        r.area[k] = (r.x1[k] - r.x0[k]) * (r.y1[k] - r.y0[k]);
        if ((s = box_max(&t, r.x0[k], r.x1[k], r.y0[k], r.y1[k], &r.max_loss[k])) != MINIMA_OK)
            goto fail;
    }
    r.disjoint = 1;
    for (int a = 0; a < r.n_boxes; a++)
        for (int b = a + 1; b < r.n_boxes; b++) {
            int apart = r.x1[a] <= r.x0[b] || r.x1[b] <= r.x0[a] ||
                        r.y1[a] <= r.y0[b] || r.y1[b] <= r.y0[a];
            if (!apart) r.disjoint = 0;
        }

    if (path) {
        if ((s = minima_figure_create(1, 2, 1400, 680, &fig)) != MINIMA_OK) goto fail;
        if ((s = minima_figure_set_text_scale(fig, 0.9)) != MINIMA_OK) goto fail;
        if ((s = minima_figure_set_title(fig, "Fig. 3: boxes T#dα#u#uj#d(B) of equal area along an "
                                         "orbit, all inside {L < L(θ*) + ε}")) != MINIMA_OK)
            goto fail;
        for (int side = 0; side < 2; side++) {
            minima_panel *pa = minima_figure_panel(fig, 0, side);
            int lg = side == 1;
            /* (a): linear axes, j in {-1, 0, 1}; (b): log axes, every box */
            double xmax = 0, ymax = 0, lxmin = INFINITY, lxmax = -INFINITY, lymin = INFINITY,
                   lymax = -INFINITY;
            for (int k = 0; k < r.n_boxes; k++) {
                if (!lg && (r.j[k] < -1 || r.j[k] > 1)) continue;
                xmax = fmax(xmax, r.x1[k]);
                ymax = fmax(ymax, r.y1[k]);
                lxmin = fmin(lxmin, log10(r.x0[k]));
                lxmax = fmax(lxmax, log10(r.x1[k]));
                lymin = fmin(lymin, log10(r.y0[k]));
                lymax = fmax(lymax, log10(r.y1[k]));
            }
            double X0, X1, Y0, Y1;
            if (lg) {
                double pad = 0.08 * fmax(lxmax - lxmin, lymax - lymin);
                /* a square window (equal aspect) centred on the boxes */
                double half = 0.5 * fmax(lxmax - lxmin, lymax - lymin) + 2 * pad;
                double cx = 0.5 * (lxmin + lxmax), cy = 0.5 * (lymin + lymax);
                X0 = cx - half; X1 = cx + half; Y0 = cy - half; Y1 = cy + half;
            } else {
                X0 = Y0 = 0;
                X1 = Y1 = 1.08 * fmax(xmax, ymax);
            }
            if ((s = minima_panel_set_title(pa, lg ? "(b) log axes, j = -2 .. 2"
                                                   : "(a) B (white) and T#dα#u#u±1#d(B) (orange)"))
                != MINIMA_OK) goto fail;
            if ((s = minima_panel_set_labels(pa, lg ? "log#d10#u θ#d1#u" : "θ#d1#u",
                                             lg ? "log#d10#u θ#d2#u" : "θ#d2#u")) != MINIMA_OK)
                goto fail;
            if ((s = minima_panel_set_equal_aspect(pa, 1)) != MINIMA_OK) goto fail;
            double zmin, zmax;
            if ((s = fig_unit_map(pa, &t, p.grid, X0, X1, Y0, Y1, lg, &zmin, &zmax)) != MINIMA_OK)
                goto fail;
            minima_style hyp = fig_style(MINIMA_COLOR_VERMILLION, 1.8, MINIMA_DASH_DASHED);
            hyp.label = "orbit θ#d1#uθ#d2#u = θ#d1#u*θ#d2#u*";
            if (lg) {
                double c = log10(r.unit.product), ox[2] = {X0, X1}, oy[2] = {c - X0, c - X1};
                if ((s = minima_panel_line(pa, ox, oy, 2, &hyp)) != MINIMA_OK) goto fail;
            } else if ((s = fig_hyperbola(pa, r.unit.product, 1e-3, X1, Y1, &hyp)) != MINIMA_OK) {
                goto fail;
            }
            int labelled = 0;
            for (int k = 0; k < r.n_boxes; k++) {
                if (!lg && (r.j[k] < -1 || r.j[k] > 1)) continue;
                minima_style bs = fig_style(r.j[k] == 0 ? MINIMA_COLOR_WHITE : MINIMA_COLOR_ORANGE,
                                            1.5, MINIMA_DASH_SOLID);
                bs.fill = r.j[k] == 0 ? MINIMA_COLOR_WHITE : MINIMA_COLOR_ORANGE;
                bs.alpha = 0.45;
                if (r.j[k] == 0) {
                    bs.label = "B = B#d∞#u(r, θ*)";
                } else if (!labelled) {
                    bs.label = "T#dα#u#uj#d(B), j ≠ 0";
                    labelled = 1;
                }
                double bx0 = r.x0[k], bx1 = r.x1[k], by0 = r.y0[k], by1 = r.y1[k];
                if (lg) { bx0 = log10(bx0); bx1 = log10(bx1); by0 = log10(by0); by1 = log10(by1); }
                if ((s = minima_panel_rect(pa, bx0, by0, bx1, by1, &bs)) != MINIMA_OK) goto fail;
                char lab[32];
                snprintf(lab, sizeof lab, "j = %d", r.j[k]);
                minima_style tx = fig_style(MINIMA_COLOR_WHITE, 1.0, MINIMA_DASH_SOLID);
                tx.text_size = 0.75;
                double gap = 0.035 * (Y1 - Y0);
                int tall = by1 - by0 > 1.5 * (bx1 - bx0);   /* label beside, else above */
                if ((s = minima_panel_text(pa, tall ? bx1 + 0.5 * gap : 0.5 * (bx0 + bx1),
                                           tall ? 0.5 * (by0 + by1) : by1 + gap, lab,
                                           tall ? 0.0 : 0.5, &tx)) != MINIMA_OK)
                    goto fail;
            }
            if ((s = minima_panel_set_legend(pa, MINIMA_LEGEND_NONE))
                != MINIMA_OK) goto fail;
            if (!lg) {
                char lab[160];
                minima_style note = fig_style(MINIMA_COLOR_BLACK, 1.0, MINIMA_DASH_SOLID);
                note.text_size = 0.8;
                snprintf(lab, sizeof lab, "ε = %.3g, r = %.3g, α = %.3g", r.eps, r.r, r.alpha);
                if ((s = minima_panel_text(pa, 0.97 * X1, 0.94 * Y1, lab, 1.0, &note)) != MINIMA_OK)
                    goto fail;
                snprintf(lab, sizeof lab, "max#dbox#u L < L(θ*) + ε = %.3g", level);
                if ((s = minima_panel_text(pa, 0.97 * X1, 0.87 * Y1, lab, 1.0, &note)) != MINIMA_OK)
                    goto fail;
                snprintf(lab, sizeof lab, "r: the largest, by bisection");
                if ((s = minima_panel_text(pa, 0.97 * X1, 0.80 * Y1, lab, 1.0, &note)) != MINIMA_OK)
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
    fig_trained_free(&t);
    return s;
}
