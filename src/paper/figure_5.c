/* figure_5.c — main Fig. 5 (§5.1): a 1-D loss with several minima of the
 * same curvature, and the same loss in a radially reparametrized
 * coordinate where one minimum is much sharper than the others.
 *
 * The 1-D loss is real: the trained 2-8-1 MLP along a circle in parameter
 * space. Permuting three hidden units cyclically (sigma: u0 -> u1 -> u2 ->
 * u0) is an orthogonal map of order 3 that leaves the loss unchanged; the
 * three points theta*, sigma theta*, sigma^2 theta* lie on a circle in a
 * sigma-invariant plane, on which sigma is a rotation by 120 degrees. Along
 * that circle the loss L(phi) has period 2 pi / 3: three minima with exactly
 * the same curvature. The coordinate eta = (phi^2 + b)^a phi (the main
 * text's Fig. 5 map in 1-D, centred on the minimum at phi = 0) multiplies
 * the curvature at each minimum by 1 / (d eta / d phi)^2. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "paper/figures_impl.h"
#include "minima/alloc.h"
#include "minima/reparam.h"

typedef struct {
    size_t n;
    const double *c, *u, *w;   /* (P) centre and the two orthogonal radius vectors */
    double *work;              /* (P) */
    minima_net *net;
} circle;

static void circle_point(const circle *cc, double phi, double *out)
{
    double cp = cos(phi), sp = sin(phi);
    for (size_t i = 0; i < cc->n; i++) out[i] = cc->c[i] + cp * cc->u[i] + sp * cc->w[i];
}

static minima_status circle_loss(circle *cc, double phi, double *loss)
{
    circle_point(cc, phi, cc->work);
    return minima_net_loss(cc->net, cc->work, loss, NULL);
}

/* Exact second derivative of L(theta(phi)): theta'^T H theta' + grad . theta''
 * with theta' = -sin u + cos w, theta'' = -(cos u + sin w). Moves the anchor. */
static minima_status circle_curvature(circle *cc, double phi, double *tp /* (P) */,
                                      double *htp /* (P) */, double *curv)
{
    size_t n = cc->n;
    circle_point(cc, phi, cc->work);
    MINIMA_TRY(minima_net_set_point(cc->net, cc->work));
    for (size_t i = 0; i < n; i++) tp[i] = -sin(phi) * cc->u[i] + cos(phi) * cc->w[i];
    MINIMA_TRY(minima_net_hvp(cc->net, tp, htp));
    double q = 0;
    for (size_t i = 0; i < n; i++) q += tp[i] * htp[i];
    double l;
    MINIMA_TRY(minima_net_gradient(cc->net, NULL, &l, htp));
    double gt = 0;
    for (size_t i = 0; i < n; i++) gt -= htp[i] * (cos(phi) * cc->u[i] + sin(phi) * cc->w[i]);
    *curv = q + gt;
    return MINIMA_OK;
}

/* out = sigma(theta): the parameters of unit units[k] move to unit
 * units[(k+1) % 3] (row of W_1, entry of b_1, column of W_2). */
static void permute3(const minima_model *m, const int units[3], const double *theta, double *out)
{
    size_t n = m->n_params;
    int d0 = m->widths[0], d1 = m->widths[1], d2 = m->widths[2];
    memcpy(out, theta, n * sizeof *out);
    size_t w1 = m->weight_offset[0], b1 = m->bias_offset[0], w2 = m->weight_offset[1];
    for (int k = 0; k < 3; k++) {
        int from = units[k], to = units[(k + 1) % 3];
        for (int j = 0; j < d0; j++)
            out[w1 + (size_t)to * (size_t)d0 + (size_t)j] = theta[w1 + (size_t)from * (size_t)d0 + (size_t)j];
        out[b1 + (size_t)to] = theta[b1 + (size_t)from];
        for (int o = 0; o < d2; o++)
            out[w2 + (size_t)o * (size_t)d1 + (size_t)to] = theta[w2 + (size_t)o * (size_t)d1 + (size_t)from];
    }
}

/* The circle through theta, sigma theta and sigma^2 theta for the cycle of
 * `units`: centre c (their mean), u = theta - c, and w the part of
 * sigma theta - c orthogonal to u, scaled to |u| (so that sigma theta =
 * c + cos(2pi/3) u + sin(2pi/3) w). s1, s2: (P) scratch. Returns |u|. */
static double build_circle(const minima_model *m, const int units[3], const double *th,
                           double *s1, double *s2, double *c, double *u, double *w)
{
    size_t n = m->n_params;
    permute3(m, units, th, s1);
    permute3(m, units, s1, s2);
    double uu = 0, uw = 0, ww = 0;
    for (size_t i = 0; i < n; i++) {
        c[i] = (th[i] + s1[i] + s2[i]) / 3.0;
        u[i] = th[i] - c[i];
        w[i] = s1[i] - c[i];
        uu += u[i] * u[i];
        uw += u[i] * w[i];
    }
    if (!(uu > 0)) return 0;
    for (size_t i = 0; i < n; i++) {
        w[i] -= uw / uu * u[i];
        ww += w[i] * w[i];
    }
    double rad = sqrt(uu);
    for (size_t i = 0; i < n; i++) w[i] *= rad / sqrt(ww);
    return rad;
}

#define PICK_SAMPLES 60   /* samples of (0, 2pi/3) per candidate circle (the loss has period 2pi/3) */

minima_status minima_figure5_draw(const char *path, const minima_figures_params *params,
                                  minima_fig5_result *res)
{
    minima_figures_params p = params ? *params : minima_figures_default_params();
    MINIMA_TRY(minima_figures_check_params(&p));
    minima_fig5_result r;
    memset(&r, 0, sizeof r);
    fig_trained t;
    MINIMA_TRY(fig_mlp_train(&p, &t));
    minima_status s = MINIMA_OK;
    minima_figure *fig = NULL;
    size_t n = t.model->n_params, ns = (size_t)p.samples;
    r.n_params = n;
    double *buf = minima_alloc(7 * n, sizeof *buf);
    double *phis = minima_alloc(ns, sizeof *phis), *etas = minima_alloc(ns, sizeof *etas);
    double *ls = minima_alloc(ns, sizeof *ls);   /* (samples) */
    if (!buf || !phis || !etas || !ls) {
        s = minima_error(MINIMA_ENOMEM, "figure 5: out of memory");
        goto fail;
    }
    double *th = t.model->theta;
    double *s1 = buf, *s2 = buf + n, *c = buf + 2 * n, *u = buf + 3 * n, *w = buf + 4 * n;
    double *tp = buf + 5 * n, *htp = buf + 6 * n;
    /* the three hidden units whose cycle puts the highest barrier between
     * the copies: every triple is tried on a coarse sampling of its circle */
    {
        int d1 = t.model->widths[1];
        double best = -1;
        for (int i = 0; i < d1; i++)
            for (int j = i + 1; j < d1; j++)
                for (int k = j + 1; k < d1; k++) {
                    int un[3] = {i, j, k};
                    if (build_circle(t.model, un, th, s1, s2, c, u, w) <= 0) continue;
                    circle cand = {n, c, u, w, tp, t.net};
                    double top = -INFINITY;
                    for (int q = 1; q <= PICK_SAMPLES; q++) {   /* excludes the minima */
                        double l;
                        if ((s = circle_loss(&cand, (2.0 * M_PI / 3.0) * q / (PICK_SAMPLES + 1), &l)) != MINIMA_OK)
                            goto fail;
                        top = fmax(top, l);
                    }
                    if (top > best) {
                        best = top;
                        memcpy(r.units, un, sizeof un);
                    }
                }
        if (best < 0) {
            s = minima_error(MINIMA_EFAILED, "figure 5: every cycle of three hidden units leaves "
                             "the trained parameters unchanged (identical units)");
            goto fail;
        }
    }
    r.radius = build_circle(t.model, r.units, th, s1, s2, c, u, w);
    circle cc = {n, c, u, w, tp, t.net};
    /* sigma theta* = c + cos(2pi/3) u + sin(2pi/3) w by construction; the
     * third copy sits at -2pi/3 */
    r.phi_min[0] = 0;
    r.phi_min[1] = 2.0 * M_PI / 3.0;
    r.phi_min[2] = -2.0 * M_PI / 3.0;
    r.a = p.fig5_a;
    r.b = p.fig5_b;
    double zero = 0;
    minima_powradial map = {&zero, r.a, r.b};
    for (int k = 0; k < 3; k++) {
        if ((s = circle_loss(&cc, r.phi_min[k], &r.loss_min[k])) != MINIMA_OK) goto fail;
        if ((s = circle_curvature(&cc, r.phi_min[k], tp, htp, &r.curv[k])) != MINIMA_OK) goto fail;
        double one = 1.0;
        minima_powradial_jac_apply(&map, 1, &r.phi_min[k], &one, &r.deta[k]);
        r.curv_eta[k] = r.curv[k] / (r.deta[k] * r.deta[k]);
    }
    /* finite differences of L(phi(eta)) at eta = 0 */
    {
        double h = 1e-5 * r.deta[0], lp, lm, ph;   /* phi step 1e-5: inside the smooth piece */
        double e = h;
        if ((s = minima_powradial_to_theta(&map, 1, &e, &ph)) != MINIMA_OK) goto fail;
        if ((s = circle_loss(&cc, ph, &lp)) != MINIMA_OK) goto fail;
        e = -h;
        if ((s = minima_powradial_to_theta(&map, 1, &e, &ph)) != MINIMA_OK) goto fail;
        if ((s = circle_loss(&cc, ph, &lm)) != MINIMA_OK) goto fail;
        r.curv_eta_fd = (lp + lm - 2.0 * r.loss_min[0]) / (h * h);
    }
    double lmax = -INFINITY;
    for (size_t k = 0; k < ns; k++) {
        phis[k] = -M_PI + 2.0 * M_PI * (double)k / (double)(ns - 1);
        if ((s = circle_loss(&cc, phis[k], &ls[k])) != MINIMA_OK) goto fail;
        minima_powradial_to_eta(&map, 1, &phis[k], &etas[k]);
        if (ls[k] > lmax) lmax = ls[k];
    }
    r.barrier = lmax - r.loss_min[0];

    if (path) {
        if ((s = minima_figure_create(1, 2, 1300, 560, &fig)) != MINIMA_OK) goto fail;
        char title[200];
        snprintf(title, sizeof title, "Fig. 5: a 2-8-1 net on a circle through θ* and 2 "
                 "copies (units %d, %d, %d cycled)", r.units[0], r.units[1], r.units[2]);
        if ((s = minima_figure_set_title(fig, title)) != MINIMA_OK) goto fail;
        for (int side = 0; side < 2; side++) {
            minima_panel *pa = minima_figure_panel(fig, 0, side);
            char lab[160];
            if (side == 0) {
                if ((s = minima_panel_set_title(pa, "(a) original coordinate φ")) != MINIMA_OK) goto fail;
                if ((s = minima_panel_set_labels(pa, "φ (radians)", "training loss L")) != MINIMA_OK)
                    goto fail;
            } else {
                snprintf(lab, sizeof lab, "(b) η = (φ#u2#d + %.3g)#u%.3g#d φ", r.b, r.a);
                if ((s = minima_panel_set_title(pa, lab)) != MINIMA_OK) goto fail;
                if ((s = minima_panel_set_labels(pa, "η", "training loss L")) != MINIMA_OK) goto fail;
            }
            double ytop = r.loss_min[0] + 1.32 * r.barrier;
            if ((s = minima_panel_set_yrange(pa, r.loss_min[0] - 0.05 * r.barrier, ytop)) != MINIMA_OK)
                goto fail;
            minima_style curve = fig_style(side == 0 ? MINIMA_COLOR_BLUE : MINIMA_COLOR_VERMILLION, 2.2,
                                           MINIMA_DASH_SOLID);
            if ((s = minima_panel_line(pa, side == 0 ? phis : etas, ls, ns, &curve)) != MINIMA_OK)
                goto fail;
            minima_style tx = fig_style(MINIMA_COLOR_BLACK, 1.0, MINIMA_DASH_SOLID);
            tx.text_size = 0.8;
            for (int k = 0; k < 3; k++) {
                double x = r.phi_min[k];
                if (side == 1) minima_powradial_to_eta(&map, 1, &r.phi_min[k], &x);
                minima_style mk = fig_style(MINIMA_COLOR_BLACK, 1.0, MINIMA_DASH_SOLID);
                if ((s = minima_panel_scatter(pa, &x, &r.loss_min[k], 1, &mk)) != MINIMA_OK) goto fail;
                snprintf(lab, sizeof lab, "L'' = %.2g", side == 0 ? r.curv[k] : r.curv_eta[k]);
                double yl = r.loss_min[0] + (side == 1 && k == 0 ? 1.2 : 1.08) * r.barrier;
                if ((s = minima_panel_text(pa, x, yl, lab, 0.5, &tx))
                    != MINIMA_OK) goto fail;
            }
            if ((s = minima_panel_set_legend(pa, MINIMA_LEGEND_NONE)) != MINIMA_OK) goto fail;
        }
        s = fig_render(fig, path);
        fig = NULL;
        if (s != MINIMA_OK) goto fail;
    }
    if (res) *res = r;
fail:
    minima_figure_destroy(fig);
    minima_free(buf);
    minima_free(phis);
    minima_free(etas);
    minima_free(ls);
    fig_trained_free(&t);
    return s;
}
