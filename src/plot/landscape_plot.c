/* landscape_plot.c — figures of loss-landscape slices through plot.h: line
 * plots (1-D), filled maps with contours (2-D), and the side-by-side
 * comparison before | after a rescaling. Contract: minima/landscape.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/landscape.h"
#include "minima/plot.h"

/* Series colours, in order: distinguishable and printable (Okabe-Ito). */
static const minima_color series_color[] = {
    MINIMA_COLOR_BLUE, MINIMA_COLOR_VERMILLION, MINIMA_COLOR_GREEN,
    MINIMA_COLOR_PURPLE, MINIMA_COLOR_ORANGE, MINIMA_COLOR_SKYBLUE, MINIMA_COLOR_BLACK,
};
#define N_SERIES_COLORS (sizeof series_color / sizeof series_color[0])

minima_landscape_plot_options minima_landscape_plot_default_options(void)
{
    minima_landscape_plot_options o;
    memset(&o, 0, sizeof o);
    o.accuracy = 1;
    o.mark_x1 = NAN;
    o.n_contours = 12;
    o.clip_quantile = 1.0;
    return o;
}

/* ---- helpers ---------------------------------------------------------------- */

typedef struct {
    double lo, hi;      /* finite extent of the values (positive only with logv) */
    size_t n;           /* finite values seen */
} extent;

static void extent_add(extent *e, const double *v, size_t n, int logv)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]) || (logv && !(v[i] > 0))) continue;
        if (e->n == 0 || v[i] < e->lo) e->lo = v[i];
        if (e->n == 0 || v[i] > e->hi) e->hi = v[i];
        e->n++;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0 < q <= 1) of the finite values of the given arrays. */
static minima_status quantile(const double *const *v, const size_t *n, size_t m, double q,
                              double *out)
{
    size_t total = 0;
    for (size_t k = 0; k < m; k++) total += n[k];
    double *buf = minima_alloc(total ? total : 1, sizeof *buf);
    if (!buf) MINIMA_FAIL(MINIMA_ENOMEM, "landscape plot: out of memory");
    size_t c = 0;
    for (size_t k = 0; k < m; k++)
        for (size_t i = 0; i < n[k]; i++)
            if (isfinite(v[k][i])) buf[c++] = v[k][i];
    if (c == 0) {
        minima_free(buf);
        MINIMA_FAIL(MINIMA_EINVAL, "landscape plot: no finite loss value to draw");
    }
    qsort(buf, c, sizeof *buf, cmp_double);
    double pos = q * (double)(c - 1);
    size_t i = (size_t)floor(pos);
    double f = pos - (double)i;
    *out = i + 1 < c ? buf[i] * (1 - f) + buf[i + 1] * f : buf[c - 1];
    minima_free(buf);
    return MINIMA_OK;
}

static minima_status check_slices(const minima_landscape *const *s, size_t n, int dims)
{
    for (size_t k = 0; k < n; k++) {
        if (!s[k] || !s[k]->x || !s[k]->loss || s[k]->dims != dims || s[k]->nx < 2)
            MINIMA_FAIL(MINIMA_EINVAL, "landscape plot: slice %zu is empty or not %d-D", k, dims);
        if (dims == 2) {
            if (!s[k]->y || s[k]->ny < 2)
                MINIMA_FAIL(MINIMA_EINVAL, "landscape plot: slice %zu has no second axis", k);
            for (size_t i = 0; i < s[k]->nx * s[k]->ny; i++)
                if (!isfinite(s[k]->loss[i]))
                    MINIMA_FAIL(MINIMA_EINVAL, "landscape plot: slice %zu has no finite loss at "
                                "(s, t) = (%g, %g) (not computed, or the outputs overflow there: "
                                "a smaller range helps); a map needs every value", k,
                                s[k]->x[i % s[k]->nx], s[k]->y[i / s[k]->nx]);
        }
    }
    return MINIMA_OK;
}

static int has_accuracy(const minima_landscape *const *s, size_t n)
{
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; s[k]->accuracy && i < s[k]->nx * s[k]->ny; i++)
            if (isfinite(s[k]->accuracy[i])) return 1;
    return 0;
}

/* Contour levels strictly inside (lo, hi): evenly spaced, or geometrically
 * with logv (lo > 0). */
static size_t contour_levels(double lo, double hi, int logv, int n, double *lv)
{
    if (n < 1 || !(hi > lo)) return 0;
    for (int i = 0; i < n; i++) {
        double f = (i + 1.0) / (n + 1.0);
        lv[i] = logv ? exp(log(lo) + f * (log(hi) - log(lo))) : lo + f * (hi - lo);
    }
    return (size_t)n;
}

/* Marks the point theta (s, t) = (0, 0) of a map when the grid holds it. */
static minima_status mark_origin(minima_panel *p, const minima_landscape *ls, const char *label)
{
    if (!(ls->x[0] <= 0 && ls->x[ls->nx - 1] >= 0 && ls->y[0] <= 0 && ls->y[ls->ny - 1] >= 0))
        return MINIMA_OK;
    minima_style st = minima_style_default();
    st.color = MINIMA_COLOR_VERMILLION;
    st.marker = MINIMA_MARKER_CROSS;
    st.marker_size = 1.6;
    st.width = 2.0;
    st.label = label;
    double zero = 0;
    return minima_panel_scatter(p, &zero, &zero, 1, &st);
}

/* One filled map with contours and its colour bar. z range [zlo, zhi]. */
static minima_status draw_map(minima_panel *p, const minima_landscape *ls, const double *z,
                              double zlo, double zhi, int logv, int n_contours,
                              const char *bar_label)
{
    minima_map_options mo = minima_map_default_options();
    mo.log_values = logv;
    mo.zmin = zlo;
    mo.zmax = zhi;
    mo.colorbar_label = bar_label;
    MINIMA_TRY(minima_panel_map(p, z, ls->x, ls->nx, ls->y, ls->ny, &mo));
    double lv[64];
    if (n_contours > 64) n_contours = 64;
    size_t nl = contour_levels(zlo, zhi, logv, n_contours, lv);
    if (nl > 0) {
        minima_style cs = minima_style_default();
        cs.color = MINIMA_COLOR_WHITE;
        cs.width = 0.8;
        MINIMA_TRY(minima_panel_contour(p, z, ls->x, ls->nx, ls->y, ls->ny, lv, nl, &cs));
    }
    return MINIMA_OK;
}

static const char *or_default(const char *s, const char *def)
{
    return s ? s : def;
}

/* The colour range of maps: [min, quantile] over the given loss grids. */
static minima_status map_range(const minima_landscape *const *s, size_t n, int logv, double q,
                               double *lo, double *hi)
{
    extent e = {0, 0, 0};
    const double *vs[16];
    size_t ns[16];
    for (size_t k = 0; k < n; k++) {
        extent_add(&e, s[k]->loss, s[k]->nx * s[k]->ny, logv);
        vs[k] = s[k]->loss;
        ns[k] = s[k]->nx * s[k]->ny;
    }
    if (e.n == 0)
        MINIMA_FAIL(MINIMA_ERANGE, "landscape plot: no %s loss value to colour",
                    logv ? "positive" : "finite");
    double top = e.hi;
    if (q > 0 && q < 1) MINIMA_TRY(quantile(vs, ns, n, q, &top));
    if (!(top > e.lo)) top = e.lo > 0 ? e.lo * 1.01 + 1e-300 : e.lo + 1e-12 + fabs(e.lo) * 1e-6;
    *lo = e.lo;
    *hi = top;
    return MINIMA_OK;
}

/* ---- one kind of slice ------------------------------------------------------ */

static minima_status plot_1d(minima_figure **fig_out, const minima_landscape *const *s,
                             const char *const *names, size_t n,
                             const minima_landscape_plot_options *o)
{
    int acc = o->accuracy && has_accuracy(s, n);
    int w = o->width ? o->width : acc ? 1300 : 800;
    int h = o->height ? o->height : acc ? 520 : 560;
    minima_figure *fig = NULL;
    MINIMA_TRY(minima_figure_create(1, acc ? 2 : 1, w, h, &fig));
    *fig_out = fig;
    if (o->title) MINIMA_TRY(minima_figure_set_title(fig, o->title));
    const char *xl = or_default(o->xlabel, "t");
    for (int c = 0; c < (acc ? 2 : 1); c++) {
        minima_panel *p = minima_figure_panel(fig, 0, c);
        MINIMA_TRY(minima_panel_set_labels(p, xl, c == 0 ? (o->log_loss ? "loss (log scale)" : "loss")
                                                         : "accuracy"));
        MINIMA_TRY(minima_panel_set_grid(p, 1));
        if (c == 0 && o->log_loss) MINIMA_TRY(minima_panel_set_log(p, 0, 1));
        for (size_t k = 0; k < n; k++) {
            minima_style st = minima_style_default();
            st.color = series_color[k % N_SERIES_COLORS];
            st.width = 2.0;
            st.label = names ? names[k] : NULL;
            if (s[k]->nx <= 41) {
                st.marker = MINIMA_MARKER_CIRCLE;
                st.marker_size = 0.5;
            }
            MINIMA_TRY(minima_panel_line(p, s[k]->x, c == 0 ? s[k]->loss : s[k]->accuracy,
                                         s[k]->nx, &st));
        }
        minima_style ref = minima_style_default();
        ref.color = MINIMA_COLOR_GREY;
        ref.dash = MINIMA_DASH_DASHED;
        ref.width = 1.0;
        MINIMA_TRY(minima_panel_vline(p, 0.0, &ref));
        if (isfinite(o->mark_x1)) MINIMA_TRY(minima_panel_vline(p, o->mark_x1, &ref));
        if (c == 1) MINIMA_TRY(minima_panel_set_yrange(p, -0.02, 1.02));
        /* Names of the marked points, above the curves. */
        extent e = {0, 0, 0};
        for (size_t k = 0; k < n; k++)
            extent_add(&e, c == 0 ? s[k]->loss : s[k]->accuracy, s[k]->nx, c == 0 && o->log_loss);
        if (e.n > 0 && c == 0) {
            double top;
            if (c == 1) top = 1.02;
            else if (o->log_loss) top = e.hi * pow(e.hi > e.lo ? e.hi / e.lo : 1.01, 0.04);
            else top = e.hi + 0.04 * (e.hi > e.lo ? e.hi - e.lo : fmax(fabs(e.hi), 1.0) * 1e-3);
            minima_style ts = minima_style_default();
            ts.color = MINIMA_COLOR_GREY;
            ts.text_size = 0.9;
            double span = s[0]->x[s[0]->nx - 1] - s[0]->x[0];
            MINIMA_TRY(minima_panel_text(p, 0.01 * span, top, or_default(o->mark_label0, "θ"), 0.0,
                                         &ts));
            if (isfinite(o->mark_x1) && o->mark_label1)
                MINIMA_TRY(minima_panel_text(p, o->mark_x1 + 0.01 * span, top, o->mark_label1, 0.0,
                                             &ts));
            if (c == 0 && !o->log_loss) {
                double sp = e.hi > e.lo ? e.hi - e.lo : fmax(fabs(e.hi), 1.0) * 1e-3;
                MINIMA_TRY(minima_panel_set_yrange(p, e.lo - 0.04 * sp, e.hi + 0.1 * sp));
            }
            if (c == 0 && o->log_loss) {
                double sp = e.hi > e.lo ? e.hi / e.lo : 1.01;
                MINIMA_TRY(minima_panel_set_yrange(p, e.lo / pow(sp, 0.04), e.hi * pow(sp, 0.12)));
            }
        }
        if (names) MINIMA_TRY(minima_panel_set_legend(p, MINIMA_LEGEND_AUTO));
        else MINIMA_TRY(minima_panel_set_legend(p, MINIMA_LEGEND_NONE));
    }
    return MINIMA_OK;
}

static minima_status plot_2d(minima_figure **fig_out, const minima_landscape *ls,
                             const minima_landscape_plot_options *o)
{
    const minima_landscape *one[1] = {ls};
    int acc = o->accuracy && has_accuracy(one, 1);
    int w = o->width ? o->width : acc ? 1500 : 820;
    int h = o->height ? o->height : 620;
    minima_figure *fig = NULL;
    MINIMA_TRY(minima_figure_create(1, acc ? 2 : 1, w, h, &fig));
    *fig_out = fig;
    if (o->title) MINIMA_TRY(minima_figure_set_title(fig, o->title));
    const char *xl = or_default(o->xlabel, "s (direction 1)");
    const char *yl = or_default(o->ylabel, "t (direction 2)");
    double lo = 0, hi = 1;
    MINIMA_TRY(map_range(one, 1, o->log_loss, o->clip_quantile, &lo, &hi));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    MINIMA_TRY(minima_panel_set_title(p, o->log_loss ? "loss (log colour scale)" : "loss"));
    MINIMA_TRY(minima_panel_set_labels(p, xl, yl));
    MINIMA_TRY(draw_map(p, ls, ls->loss, lo, hi, o->log_loss, o->n_contours, "loss"));
    MINIMA_TRY(mark_origin(p, ls, or_default(o->mark_label0, "θ")));
    MINIMA_TRY(minima_panel_set_legend(p, MINIMA_LEGEND_TOP_RIGHT));
    if (acc) {
        p = minima_figure_panel(fig, 0, 1);
        MINIMA_TRY(minima_panel_set_title(p, "accuracy"));
        MINIMA_TRY(minima_panel_set_labels(p, xl, yl));
        extent e = {0, 0, 0};
        extent_add(&e, ls->accuracy, ls->nx * ls->ny, 0);
        double alo = e.lo, ahi = e.hi > e.lo ? e.hi : e.lo + 1e-3;
        for (size_t i = 0; i < ls->nx * ls->ny; i++)
            if (!isfinite(ls->accuracy[i]))
                MINIMA_FAIL(MINIMA_EINVAL, "landscape plot: accuracy missing at grid point %zu", i);
        MINIMA_TRY(draw_map(p, ls, ls->accuracy, alo, ahi, 0, o->n_contours / 2, "accuracy"));
        MINIMA_TRY(mark_origin(p, ls, or_default(o->mark_label0, "θ")));
        MINIMA_TRY(minima_panel_set_legend(p, MINIMA_LEGEND_TOP_RIGHT));
    }
    return MINIMA_OK;
}

minima_status minima_landscape_plot(const char *path, const minima_landscape *const *slices,
                                    const char *const *names, size_t n,
                                    const minima_landscape_plot_options *opts)
{
    if (!path || !slices || n == 0) MINIMA_FAIL(MINIMA_EINVAL, "landscape plot: nothing to draw");
    minima_landscape_plot_options o = opts ? *opts : minima_landscape_plot_default_options();
    int dims = slices[0] ? slices[0]->dims : 0;
    if (dims != 1 && dims != 2) MINIMA_FAIL(MINIMA_EINVAL, "landscape plot: slice 0 is empty");
    if (dims == 2 && n != 1)
        MINIMA_FAIL(MINIMA_EINVAL, "landscape plot: one 2-D slice a figure, found %zu", n);
    MINIMA_TRY(check_slices(slices, n, dims));
    minima_figure *fig = NULL;
    minima_status s = dims == 1 ? plot_1d(&fig, slices, names, n, &o) : plot_2d(&fig, slices[0], &o);
    if (s == MINIMA_OK) s = minima_plot_render(fig, path);
    minima_figure_destroy(fig);
    return s;
}

/* ---- before | after ------------------------------------------------------- */

/* "after" panel title with the largest change of the loss over the grid. */
static void after_title(char *buf, size_t size, const char *prefix, const char *ta,
                        const minima_landscape *b, const minima_landscape *a)
{
    double da, dr;
    minima_landscape_diff(b, a, &da, &dr);
    snprintf(buf, size, "%s%s, max |ΔL| %.3g", prefix, ta, da);
}

static minima_status compare_1d(minima_figure **fig_out, const minima_landscape *const *before,
                                const minima_landscape *const *after, const char *const *names,
                                size_t n, const char *tb, const char *ta,
                                const minima_landscape_plot_options *o)
{
    /* One row per kind of direction: before | after, with one y range per
     * row so that the two curves compare by eye. */
    int w = o->width ? o->width : 1400;
    int h = o->height ? o->height : 90 + 420 * (int)n;
    minima_figure *fig = NULL;
    MINIMA_TRY(minima_figure_create((int)n, 2, w, h, &fig));
    *fig_out = fig;
    MINIMA_TRY(minima_figure_set_text_scale(fig, 0.85));
    if (o->title) MINIMA_TRY(minima_figure_set_title(fig, o->title));
    const char *xl = or_default(o->xlabel, "t");
    for (size_t k = 0; k < n; k++) {
        /* A row whose losses span more than a factor 30 (a rescaling can
         * blow one side up) is drawn on a log axis, else the other side's
         * curve would be a flat line. */
        extent e = {0, 0, 0};
        extent_add(&e, before[k]->loss, before[k]->nx, 1);
        extent_add(&e, after[k]->loss, after[k]->nx, 1);
        int logv = o->log_loss || (e.n == before[k]->nx + after[k]->nx && e.hi > 30 * e.lo);
        if (!logv) {
            e.n = 0;
            extent_add(&e, before[k]->loss, before[k]->nx, 0);
            extent_add(&e, after[k]->loss, after[k]->nx, 0);
        }
        if (e.n == 0)
            MINIMA_FAIL(MINIMA_ERANGE, "landscape plot: no %s loss value to draw",
                        logv ? "positive" : "finite");
        double ylo, yhi;
        if (logv) {
            double sp = e.hi > e.lo ? e.hi / e.lo : 10;
            ylo = e.lo / pow(sp, 0.04);
            yhi = e.hi * pow(sp, 0.04);
        } else {
            double sp = e.hi > e.lo ? e.hi - e.lo : fmax(fabs(e.hi), 1.0) * 1e-3;
            ylo = e.lo - 0.04 * sp;
            yhi = e.hi + 0.04 * sp;
        }
        minima_color col = series_color[k % N_SERIES_COLORS];
        for (int c = 0; c < 2; c++) {
            minima_panel *p = minima_figure_panel(fig, (int)k, c);
            char title[256], prefix[96];
            snprintf(prefix, sizeof prefix, "%s%s", names && names[k] ? names[k] : "",
                     names && names[k] ? ": " : "");
            snprintf(title, sizeof title, "%s%s", prefix, c == 0 ? tb : ta);
            MINIMA_TRY(minima_panel_set_title(p, title));
            MINIMA_TRY(minima_panel_set_labels(p, xl, logv ? "loss (log scale)" : "loss"));
            MINIMA_TRY(minima_panel_set_grid(p, 1));
            if (logv) MINIMA_TRY(minima_panel_set_log(p, 0, 1));
            MINIMA_TRY(minima_panel_set_yrange(p, ylo, yhi));
            MINIMA_TRY(minima_panel_set_xrange(p, before[k]->x[0], before[k]->x[before[k]->nx - 1]));
            minima_style st = minima_style_default();
            st.color = col;
            st.width = 2.0;
            char after_label[96];
            after_title(after_label, sizeof after_label, "", "after", before[k], after[k]);
            st.label = c == 0 ? "before" : after_label;
            const minima_landscape *side = c == 0 ? before[k] : after[k];
            MINIMA_TRY(minima_panel_line(p, side->x, side->loss, side->nx, &st));
            if (c == 1) {   /* the "before" curve again, dashed, for reference */
                minima_style ref = minima_style_default();
                ref.color = MINIMA_COLOR_BLACK;
                ref.width = 1.2;
                ref.dash = MINIMA_DASH_DASHED;
                ref.label = "before";
                MINIMA_TRY(minima_panel_line(p, before[k]->x, before[k]->loss, before[k]->nx, &ref));
            }
            minima_style vr = minima_style_default();
            vr.color = MINIMA_COLOR_GREY;
            vr.dash = MINIMA_DASH_DOTTED;
            vr.width = 1.0;
            MINIMA_TRY(minima_panel_vline(p, 0.0, &vr));
            MINIMA_TRY(minima_panel_set_legend(p, MINIMA_LEGEND_AUTO));
        }
    }
    return MINIMA_OK;
}

static minima_status compare_2d(minima_figure **fig_out, const minima_landscape *const *before,
                                const minima_landscape *const *after, const char *const *names,
                                size_t n, const char *tb, const char *ta,
                                const minima_landscape_plot_options *o)
{
    if (n > 8) MINIMA_FAIL(MINIMA_EINVAL, "landscape plot: at most 8 kinds of direction, found %zu", n);
    int w = o->width ? o->width : 1400;
    int h = o->height ? o->height : 80 + 540 * (int)n;
    minima_figure *fig = NULL;
    MINIMA_TRY(minima_figure_create((int)n, 2, w, h, &fig));
    *fig_out = fig;
    MINIMA_TRY(minima_figure_set_text_scale(fig, 0.85));
    if (o->title) MINIMA_TRY(minima_figure_set_title(fig, o->title));
    const char *xl = or_default(o->xlabel, "s (direction 1)");
    const char *yl = or_default(o->ylabel, "t (direction 2)");
    for (size_t k = 0; k < n; k++) {
        const minima_landscape *pair[2] = {before[k], after[k]};
        /* As in 1-D: a row spanning more than a factor 30 gets log colours. */
        extent e = {0, 0, 0};
        size_t npt = before[k]->nx * before[k]->ny;
        extent_add(&e, before[k]->loss, npt, 1);
        extent_add(&e, after[k]->loss, npt, 1);
        int logv = o->log_loss || (e.n == 2 * npt && e.hi > 30 * e.lo);
        double lo = 0, hi = 1;
        MINIMA_TRY(map_range(pair, 2, logv, o->clip_quantile, &lo, &hi));
        for (int c = 0; c < 2; c++) {
            minima_panel *p = minima_figure_panel(fig, (int)k, c);
            char title[256], prefix[96];
            snprintf(prefix, sizeof prefix, "%s%s", names && names[k] ? names[k] : "",
                     names && names[k] ? ": " : "");
            if (c == 0) snprintf(title, sizeof title, "%s%s", prefix, tb);
            else after_title(title, sizeof title, prefix, ta, before[k], after[k]);
            MINIMA_TRY(minima_panel_set_title(p, title));
            MINIMA_TRY(minima_panel_set_labels(p, xl, yl));
            MINIMA_TRY(draw_map(p, pair[c], pair[c]->loss, lo, hi, logv, o->n_contours,
                                logv ? "loss (log scale)" : "loss"));
            MINIMA_TRY(mark_origin(p, pair[c], NULL));
        }
    }
    return MINIMA_OK;
}

minima_status minima_landscape_plot_compare(const char *path, const minima_landscape *const *before,
                                            const minima_landscape *const *after,
                                            const char *const *names, size_t n,
                                            const char *before_title, const char *after_title,
                                            const minima_landscape_plot_options *opts)
{
    if (!path || !before || !after || n == 0)
        MINIMA_FAIL(MINIMA_EINVAL, "landscape comparison plot: nothing to draw");
    if (n > 8) MINIMA_FAIL(MINIMA_EINVAL, "landscape comparison plot: at most 8 kinds, found %zu", n);
    minima_landscape_plot_options o = opts ? *opts : minima_landscape_plot_default_options();
    int dims = before[0] ? before[0]->dims : 0;
    if (dims != 1 && dims != 2) MINIMA_FAIL(MINIMA_EINVAL, "landscape comparison plot: slice 0 is empty");
    MINIMA_TRY(check_slices(before, n, dims));
    MINIMA_TRY(check_slices(after, n, dims));
    for (size_t k = 0; k < n; k++)
        if (before[k]->nx != after[k]->nx || before[k]->ny != after[k]->ny)
            MINIMA_FAIL(MINIMA_EINVAL, "landscape comparison plot: kind %zu has a %zu x %zu grid "
                        "before and %zu x %zu after", k, before[k]->nx, before[k]->ny,
                        after[k]->nx, after[k]->ny);
    const char *tb = or_default(before_title, "before rescaling");
    const char *ta = or_default(after_title, "after rescaling");
    minima_figure *fig = NULL;
    minima_status s = dims == 1 ? compare_1d(&fig, before, after, names, n, tb, ta, &o)
                                : compare_2d(&fig, before, after, names, n, tb, ta, &o);
    if (s == MINIMA_OK) s = minima_plot_render(fig, path);
    minima_figure_destroy(fig);
    return s;
}
