/* audit_plot.c — the audit's figure: an overview of every measure's
 * relative change along the orbit, and one panel per measure against alpha
 * on log axes with the per-neuron draws and the canonical value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/audit.h"
#include "minima/plot.h"

static const char *short_expectation(minima_invariance inv)
{
    switch (inv) {
    case MINIMA_INVARIANCE_EXACT: return "invariant";
    case MINIMA_INVARIANCE_NONE: return "not inv.";
    case MINIMA_INVARIANCE_APPROX: return "≈ invariant";
    case MINIMA_INVARIANCE_OPEN: return "open";
    }
    return "?";
}

/* The layer-wise points of a series (values or canonical values) sorted by
 * s, as x = 10^s, y; returns the count. With normalize, y = |v / v0|. */
static size_t layer_series(const minima_audit_result *r, const double *v, int normalize, double v0,
                           double *x, double *y)
{
    size_t m = 0;
    for (size_t i = 0; i < r->n_points; i++) {
        if (!r->points[i].equivalent || !isfinite(v[i]) || r->points[i].kind != MINIMA_AUDIT_POINT_LAYER)
            continue;
        x[m] = r->points[i].log10_alpha;
        y[m++] = normalize ? fabs(v[i] / v0) : v[i];
    }
    for (size_t a = 1; a < m; a++)   /* insertion sort by s */
        for (size_t b = a; b > 0 && x[b - 1] > x[b]; b--) {
            double t = x[b]; x[b] = x[b - 1]; x[b - 1] = t;
            t = y[b]; y[b] = y[b - 1]; y[b - 1] = t;
        }
    for (size_t a = 0; a < m; a++) x[a] = pow(10, x[a]);
    return m;
}

/* Panel 0: every measure divided by its value at theta, |v(alpha)/v(1)| on
 * log-log axes, coloured by what the literature expects — invariant
 * measures lie on the line at 1, the others fan out. */
static void draw_overview(minima_panel *p, const minima_audit_result *r, double *x, double *y)
{
    minima_panel_set_title(p, "all: |v(α) / v(1)|");
    minima_panel_set_labels(p, r->graph ? "α#d1#u = 1/α#dS+1#u" : "α#d1#u = 1/α#dK#u", "value / value at θ");
    minima_panel_set_log(p, 1, 1);
    minima_panel_set_grid(p, 1);
    static const struct {
        minima_invariance inv;
        minima_color color;
        minima_dash dash;
        const char *label;
    } cls[] = {
        {MINIMA_INVARIANCE_NONE, MINIMA_COLOR_VERMILLION, MINIMA_DASH_SOLID, "not invariant"},
        {MINIMA_INVARIANCE_OPEN, MINIMA_COLOR_GREEN, MINIMA_DASH_DASHED, "open"},
        {MINIMA_INVARIANCE_APPROX, MINIMA_COLOR_ORANGE, MINIMA_DASH_DASHED, "approx. invariant"},
        {MINIMA_INVARIANCE_EXACT, MINIMA_COLOR_BLUE, MINIMA_DASH_SOLID, "invariant"},
    };
    int drawn = 0;
    double lo = INFINITY, hi = 0;
    for (size_t c = 0; c < sizeof cls / sizeof *cls; c++) {
        int labelled = 0;
        for (size_t j = 0; j < r->n_measures; j++) {
            const minima_audit_measure *am = &r->measures[j];
            if (am->expected != cls[c].inv || !isfinite(am->v0) || am->v0 == 0) continue;
            size_t m = layer_series(r, am->values, 1, am->v0, x, y);
            size_t pos = 0;
            for (size_t a = 0; a < m; a++) pos += y[a] > 0;
            if (pos == 0) continue;
            minima_style st = minima_style_default();
            st.color = cls[c].color;
            st.dash = cls[c].dash;
            st.width = cls[c].inv == MINIMA_INVARIANCE_EXACT ? 2.5 : 1.2;
            st.label = labelled ? NULL : cls[c].label;
            if (minima_panel_line(p, x, y, m, &st) == MINIMA_OK) {
                labelled = 1;
                drawn = 1;
                for (size_t a = 0; a < m; a++)
                    if (y[a] > 0 && isfinite(y[a])) { lo = fmin(lo, y[a]); hi = fmax(hi, y[a]); }
            }
        }
    }
    if (!drawn) {
        minima_panel_set_log(p, 1, 0);
        minima_panel_set_yrange(p, 0, 2);
        minima_panel_set_xrange(p, 0.1, 10);
        minima_panel_text(p, 1, 1, "no finite values", 0.5, NULL);
        return;
    }
    /* room above the curves for the legend */
    lo = fmin(lo, 0.5);
    hi = fmax(hi, 2);
    minima_panel_set_yrange(p, lo / 2, hi * pow(hi / lo, 0.6));
    minima_panel_set_legend(p, MINIMA_LEGEND_TOP_LEFT);
}

/* Panel 0 is the overview; then one panel per measure: the value against
 * alpha_1 on a log axis (layer-wise points, a line), the per-neuron draws
 * (triangles at alpha = 1), the canonical value (dashed). Log value axis
 * when every value is > 0. */
minima_status minima_audit_plot(const char *path, const minima_audit_result *r, const char *name)
{
    size_t n = r->n_measures, n_panels = n + 1;
    int cols = 3;
    if (n_panels <= 2) cols = (int)n_panels;
    else if (n_panels == 4) cols = 2;
    else if (n_panels % 3 && n_panels % 4 == 0) cols = 4;
    size_t rows = (n_panels + (size_t)cols - 1) / (size_t)cols;
    if (rows > 8) rows = 8;   /* the figure's limit: measures past 8 rows are left out */
    minima_figure *fig = NULL;
    MINIMA_TRY(minima_figure_create((int)rows, cols, 600 * cols, 400 * (int)rows + 60, &fig));
    minima_status st;
    const char *base = name ? strrchr(name, '/') : NULL;
    base = base ? base + 1 : name ? name : "the model";
    char title[512];
    snprintf(title, sizeof title, "%s: its rescaling orbit (dashed: canonical; ≠: disagrees; ?: not measured)", base);
    minima_figure_set_title(fig, title);
    minima_figure_set_text_scale(fig, rows >= 5 ? 0.5 : rows >= 3 ? 0.65 : 0.9);
    size_t np = r->n_points;
    size_t nb = np ? np : 1;
    double *x = minima_alloc(nb, sizeof *x), *y = minima_alloc(nb, sizeof *y);
    double *ones = minima_alloc(nb, sizeof *ones), *yn = minima_alloc(nb, sizeof *yn);
    if (!x || !y || !ones || !yn) {
        minima_free(x); minima_free(y); minima_free(ones); minima_free(yn);
        minima_figure_destroy(fig);
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory drawing the audit");
    }
    draw_overview(minima_figure_panel(fig, 0, 0), r, x, y);
    /* the key of the per-measure panels goes into the first flat one (room
     * above and below its line), else into the first panel */
    size_t key = 0;
    for (size_t j = 0; j < n; j++)
        if (isfinite(r->measures[j].rel_spread) && r->measures[j].rel_spread < 1e-3 && !r->measures[j].canonical) {
            key = j;
            break;
        }
    for (size_t j = 0; j < n && j + 1 < rows * (size_t)cols; j++) {
        const minima_audit_measure *am = &r->measures[j];
        size_t slot = j + 1;
        minima_panel *p = minima_figure_panel(fig, (int)(slot / (size_t)cols), (int)(slot % (size_t)cols));
        char pt[256];
        snprintf(pt, sizeof pt, "%s (%s)%s", am->measure->name, short_expectation(am->expected),
                 !am->measured ? " ?" : am->agrees ? "" : " ≠");
        minima_panel_set_title(p, pt);
        minima_panel_set_labels(p, r->graph ? "α#d1#u = 1/α#dS+1#u" : "α#d1#u = 1/α#dK#u", "value");
        int all_pos = 1;
        size_t nn = 0;
        for (size_t i = 0; i < np; i++) {
            double v = am->values[i];
            if (!r->points[i].equivalent || !isfinite(v)) continue;
            if (v <= 0) all_pos = 0;
            if (r->points[i].kind == MINIMA_AUDIT_POINT_NEURON) {
                ones[nn] = 1;
                yn[nn++] = v;
            }
        }
        int canon = am->canonical && isfinite(am->canonical_value);
        if (canon && am->canonical_value <= 0) all_pos = 0;
        size_t m = layer_series(r, am->values, 0, 0, x, y);
        minima_panel_set_log(p, 1, all_pos);
        minima_panel_set_grid(p, 1);
        minima_panel_set_legend(p, j != key ? MINIMA_LEGEND_NONE :
                                   isfinite(r->measures[j].rel_spread) && r->measures[j].rel_spread < 1e-3
                                   ? MINIMA_LEGEND_BOTTOM_RIGHT : MINIMA_LEGEND_AUTO);
        if (m == 0 && nn == 0) {
            minima_panel_set_log(p, 1, 0);
            minima_panel_set_xrange(p, 0.1, 10);
            minima_panel_set_yrange(p, 0, 2);
            minima_panel_text(p, 1, 1, "no finite value", 0.5, NULL);
            continue;
        }
        /* an invariant measure: a range wide enough to show it flat */
        if (isfinite(am->rel_spread) && am->rel_spread < 1e-3 && am->v0 != 0 && isfinite(am->v0) &&
            (!canon || fabs(am->canonical_value - am->v0) < 1e-3 * fabs(am->v0))) {
            double v0 = am->v0;
            if (all_pos) minima_panel_set_yrange(p, v0 / 3, v0 * 3);
            else minima_panel_set_yrange(p, v0 - 0.5 * fabs(v0), v0 + 0.5 * fabs(v0));
        }
        minima_style line = minima_style_default();
        line.color = MINIMA_COLOR_BLUE;
        line.marker = MINIMA_MARKER_CIRCLE;
        line.label = r->graph ? "stage-wise T#dα#u" : "layer-wise T#dα#u";
        if (m > 0) minima_panel_line(p, x, y, m, &line);
        if (nn > 0) {
            minima_style sc = minima_style_default();
            sc.color = MINIMA_COLOR_VERMILLION;
            sc.marker = MINIMA_MARKER_TRIANGLE;
            sc.marker_size = 1.3;
            sc.label = r->graph ? "per-channel draws (at α = 1)" : "per-neuron draws (at α = 1)";
            minima_panel_scatter(p, ones, yn, nn, &sc);
        }
        if (canon) {
            minima_style cs = minima_style_default();
            cs.color = MINIMA_COLOR_GREEN;
            cs.dash = MINIMA_DASH_DASHED;
            cs.width = 2;
            cs.label = "canonical representative";
            minima_panel_hline(p, am->canonical_value, &cs);
        }
    }
    /* grid cells past the last measure: a note instead of empty axes */
    for (size_t slot = n_panels; slot < rows * (size_t)cols; slot++) {
        minima_panel *p = minima_figure_panel(fig, (int)(slot / (size_t)cols), (int)(slot % (size_t)cols));
        minima_panel_set_xrange(p, 0, 1);
        minima_panel_set_yrange(p, 0, 1);
        minima_panel_text(p, 0.5, 0.5, "(no measure)", 0.5, NULL);
    }
    st = minima_plot_render(fig, path);
    minima_free(x); minima_free(y); minima_free(ones); minima_free(yn);
    minima_figure_destroy(fig);
    return st;
}
