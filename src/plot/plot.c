/* plot.c — building figures in memory: panels, series, shapes, maps.
 * Everything is validated and copied here; plot_render.c draws. */
#include "plot/plot_impl.h"

#include <math.h>
#include <string.h>

#include "minima/alloc.h"

static const minima_color color_cycle[] = {
    MINIMA_COLOR_BLUE, MINIMA_COLOR_VERMILLION, MINIMA_COLOR_GREEN, MINIMA_COLOR_PURPLE,
    MINIMA_COLOR_ORANGE, MINIMA_COLOR_SKYBLUE, MINIMA_COLOR_BLACK, MINIMA_COLOR_YELLOW,
};

minima_style minima_style_default(void)
{
    minima_style s;
    s.color = MINIMA_COLOR_AUTO;
    s.width = 1.5;
    s.dash = MINIMA_DASH_SOLID;
    s.marker = MINIMA_MARKER_NONE;
    s.marker_size = 1.0;
    s.fill = MINIMA_COLOR_AUTO;
    s.alpha = 0.3;
    s.text_size = 1.0;
    s.label = NULL;
    return s;
}

minima_map_options minima_map_default_options(void)
{
    minima_map_options o;
    o.log_values = 0;
    o.zmin = NAN;
    o.zmax = NAN;
    o.n_shades = 64;
    o.colorbar = 1;
    o.colorbar_label = NULL;
    return o;
}

/* ---- figure ----------------------------------------------------------- */

static void item_free(plot_item *it)
{
    minima_free(it->x);
    minima_free(it->y);
    minima_free(it->z);
    minima_free(it->levels);
    minima_free(it->text);
    minima_free((char *)it->style.label);
    minima_free((char *)it->map.colorbar_label);
}

static void panel_free(minima_panel *p)
{
    for (size_t i = 0; i < p->n_items; i++) item_free(&p->items[i]);
    minima_free(p->items);
    minima_free(p->title);
    minima_free(p->xlabel);
    minima_free(p->ylabel);
}

minima_status minima_figure_create(int rows, int cols, int width_px, int height_px,
                                   minima_figure **out)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_figure_create: out is NULL");
    *out = NULL;
    if (rows < 1 || rows > 8 || cols < 1 || cols > 8)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_figure_create: grid %d x %d: expected 1..8 rows "
                    "and 1..8 columns", rows, cols);
    if (width_px < 64 || width_px > 8192 || height_px < 64 || height_px > 8192)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_figure_create: size %d x %d pixels: expected "
                    "64..8192 each", width_px, height_px);
    minima_figure *fig = minima_calloc(1, sizeof *fig);
    if (!fig) MINIMA_FAIL(MINIMA_ENOMEM, "minima_figure_create: out of memory");
    fig->panels = minima_calloc((size_t)rows * (size_t)cols, sizeof *fig->panels);
    if (!fig->panels) {
        minima_free(fig);
        MINIMA_FAIL(MINIMA_ENOMEM, "minima_figure_create: out of memory for %d panels",
                    rows * cols);
    }
    fig->rows = rows;
    fig->cols = cols;
    fig->width = width_px;
    fig->height = height_px;
    fig->text_scale = 1.0;
    for (int i = 0; i < rows * cols; i++) {
        minima_panel *p = &fig->panels[i];
        p->xlo = p->xhi = p->ylo = p->yhi = NAN;
        p->legend = MINIMA_LEGEND_AUTO;
    }
    *out = fig;
    return MINIMA_OK;
}

void minima_figure_destroy(minima_figure *fig)
{
    if (!fig) return;
    if (fig->panels)
        for (int i = 0; i < fig->rows * fig->cols; i++) panel_free(&fig->panels[i]);
    minima_free(fig->panels);
    minima_free(fig->title);
    minima_free(fig);
}

/* Replaces *dst by a copy of src (NULL clears). */
static minima_status set_string(char **dst, const char *src, const char *what)
{
    char *copy = NULL;
    if (src) {
        copy = minima_strdup(src);
        if (!copy) MINIMA_FAIL(MINIMA_ENOMEM, "%s: out of memory copying the text", what);
    }
    minima_free(*dst);
    *dst = copy;
    return MINIMA_OK;
}

minima_status minima_figure_set_title(minima_figure *fig, const char *title)
{
    if (!fig) MINIMA_FAIL(MINIMA_EINVAL, "minima_figure_set_title: figure is NULL");
    return set_string(&fig->title, title, "minima_figure_set_title");
}

minima_status minima_figure_set_text_scale(minima_figure *fig, double scale)
{
    if (!fig) MINIMA_FAIL(MINIMA_EINVAL, "minima_figure_set_text_scale: figure is NULL");
    if (!(scale >= 0.25 && scale <= 4))
        MINIMA_FAIL(MINIMA_EINVAL, "minima_figure_set_text_scale: scale %g: expected 0.25..4", scale);
    fig->text_scale = scale;
    return MINIMA_OK;
}

minima_panel *minima_figure_panel(minima_figure *fig, int row, int col)
{
    if (!fig || row < 0 || row >= fig->rows || col < 0 || col >= fig->cols) return NULL;
    return &fig->panels[row * fig->cols + col];
}

size_t minima_figure_dropped(const minima_figure *fig) { return fig ? fig->dropped : 0; }

/* ---- panel settings ------------------------------------------------- */

#define CHECK_PANEL(p, fn) do { if (!(p)) \
    MINIMA_FAIL(MINIMA_EINVAL, fn ": panel is NULL (row or column out of range?)"); } while (0)

minima_status minima_panel_set_title(minima_panel *p, const char *title)
{
    CHECK_PANEL(p, "minima_panel_set_title");
    return set_string(&p->title, title, "minima_panel_set_title");
}

minima_status minima_panel_set_labels(minima_panel *p, const char *xlabel, const char *ylabel)
{
    CHECK_PANEL(p, "minima_panel_set_labels");
    MINIMA_TRY(set_string(&p->xlabel, xlabel, "minima_panel_set_labels"));
    return set_string(&p->ylabel, ylabel, "minima_panel_set_labels");
}

minima_status minima_panel_set_log(minima_panel *p, int xlog, int ylog)
{
    CHECK_PANEL(p, "minima_panel_set_log");
    p->xlog = xlog != 0;
    p->ylog = ylog != 0;
    return MINIMA_OK;
}

static minima_status check_range(double lo, double hi, const char *fn)
{
    if (isinf(lo) || isinf(hi))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: range [%g, %g]: expected finite ends (NaN: automatic)",
                    fn, lo, hi);
    if (!isnan(lo) && !isnan(hi) && !(lo < hi))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: range [%g, %g]: expected lo < hi", fn, lo, hi);
    return MINIMA_OK;
}

minima_status minima_panel_set_xrange(minima_panel *p, double lo, double hi)
{
    CHECK_PANEL(p, "minima_panel_set_xrange");
    MINIMA_TRY(check_range(lo, hi, "minima_panel_set_xrange"));
    p->xlo = lo;
    p->xhi = hi;
    return MINIMA_OK;
}

minima_status minima_panel_set_yrange(minima_panel *p, double lo, double hi)
{
    CHECK_PANEL(p, "minima_panel_set_yrange");
    MINIMA_TRY(check_range(lo, hi, "minima_panel_set_yrange"));
    p->ylo = lo;
    p->yhi = hi;
    return MINIMA_OK;
}

minima_status minima_panel_set_equal_aspect(minima_panel *p, int on)
{
    CHECK_PANEL(p, "minima_panel_set_equal_aspect");
    p->equal = on != 0;
    return MINIMA_OK;
}

minima_status minima_panel_set_grid(minima_panel *p, int on)
{
    CHECK_PANEL(p, "minima_panel_set_grid");
    p->grid = on != 0;
    return MINIMA_OK;
}

minima_status minima_panel_set_legend(minima_panel *p, minima_legend_pos pos)
{
    CHECK_PANEL(p, "minima_panel_set_legend");
    if (pos < MINIMA_LEGEND_AUTO || pos > MINIMA_LEGEND_OUTSIDE_RIGHT)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_panel_set_legend: position %d out of range", (int)pos);
    p->legend = pos;
    return MINIMA_OK;
}

/* ---- items ------------------------------------------------------------ */

/* Validates a style and resolves AUTO colours; `cycles` says whether an
 * AUTO colour takes the panel's next cycle colour (else `fallback`). */
static minima_status resolve_style(minima_panel *p, const minima_style *in, int cycles,
                                   minima_color fallback, minima_style *out, const char *fn)
{
    *out = in ? *in : minima_style_default();
    if (out->color < MINIMA_COLOR_AUTO || out->color >= MINIMA_N_COLORS)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: style.color %d: expected MINIMA_COLOR_*", fn,
                    (int)out->color);
    if (out->fill < MINIMA_COLOR_AUTO || out->fill >= MINIMA_N_COLORS)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: style.fill %d: expected MINIMA_COLOR_*", fn,
                    (int)out->fill);
    if (!(out->width > 0 && out->width <= 50))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: style.width %g: expected 0 < width <= 50 points", fn,
                    out->width);
    if (out->dash < MINIMA_DASH_SOLID || out->dash > MINIMA_DASH_DOTTED)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: style.dash %d: expected MINIMA_DASH_*", fn, (int)out->dash);
    if (out->marker < MINIMA_MARKER_NONE || out->marker > MINIMA_MARKER_PLUS)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: style.marker %d: expected MINIMA_MARKER_*", fn,
                    (int)out->marker);
    if (!(out->marker_size > 0 && out->marker_size <= 20))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: style.marker_size %g: expected 0 < size <= 20", fn,
                    out->marker_size);
    if (!(out->alpha >= 0 && out->alpha <= 1))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: style.alpha %g: expected 0 <= alpha <= 1", fn, out->alpha);
    if (!(out->text_size > 0 && out->text_size <= 10))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: style.text_size %g: expected 0 < size <= 10", fn,
                    out->text_size);
    if (out->color == MINIMA_COLOR_AUTO) {
        if (cycles) {
            out->color = color_cycle[p->next_color % (int)(sizeof color_cycle / sizeof *color_cycle)];
            p->next_color++;
        } else {
            out->color = fallback;
        }
    }
    if (out->fill == MINIMA_COLOR_AUTO) out->fill = out->color;
    out->label = NULL;
    if (in && in->label) {
        out->label = minima_strdup(in->label);
        if (!out->label) MINIMA_FAIL(MINIMA_ENOMEM, "%s: out of memory copying the label", fn);
    }
    return MINIMA_OK;
}

/* A fresh zeroed item at the end of the panel's list. */
static minima_status push_item(minima_panel *p, plot_item **out, const char *fn)
{
    if (p->n_items == p->cap_items) {
        size_t cap = p->cap_items ? 2 * p->cap_items : 8;
        plot_item *items = minima_realloc(p->items, cap, sizeof *items);
        if (!items) MINIMA_FAIL(MINIMA_ENOMEM, "%s: out of memory for %zu items", fn, cap);
        p->items = items;
        p->cap_items = cap;
    }
    *out = &p->items[p->n_items];
    memset(*out, 0, sizeof **out);
    return MINIMA_OK;
}

static double *copy_doubles(const double *src, size_t n)
{
    double *d = minima_alloc(n, sizeof *d);
    if (d && n) memcpy(d, src, n * sizeof *d);
    return d;
}

static minima_status add_series(minima_panel *p, plot_kind kind, const double *x,
                                const double *y, size_t n, const minima_style *style,
                                const char *fn)
{
    CHECK_PANEL(p, "minima_panel_line/scatter");
    if (!x || !y) MINIMA_FAIL(MINIMA_EINVAL, "%s: x or y is NULL", fn);
    const char *name = style && style->label ? style->label : "(unlabelled)";
    if (n == 0) MINIMA_FAIL(MINIMA_EINVAL, "%s: series '%s' is empty (n = 0)", fn, name);
    size_t finite = 0;
    for (size_t i = 0; i < n; i++) finite += isfinite(x[i]) && isfinite(y[i]);
    if (finite == 0)
        MINIMA_FAIL(MINIMA_ENONFINITE, "%s: series '%s': all %zu points are NaN or Inf", fn,
                    name, n);
    minima_style st;
    int saved = p->next_color;
    MINIMA_TRY(resolve_style(p, style, 1, MINIMA_COLOR_BLUE, &st, fn));
    if (kind == PLOT_SCATTER && st.marker == MINIMA_MARKER_NONE) st.marker = MINIMA_MARKER_CIRCLE;
    plot_item *it = NULL;
    minima_status s = push_item(p, &it, fn);
    if (s != MINIMA_OK) goto fail;
    it->x = copy_doubles(x, n);
    it->y = copy_doubles(y, n);
    if (!it->x || !it->y) {
        minima_free(it->x);
        minima_free(it->y);
        s = minima_error(MINIMA_ENOMEM, "%s: out of memory copying %zu points", fn, n);
        goto fail;
    }
    it->kind = kind;
    it->n = n;
    it->style = st;
    p->n_items++;
    return MINIMA_OK;
fail:
    minima_free((char *)st.label);
    p->next_color = saved;
    return s;
}

minima_status minima_panel_line(minima_panel *p, const double *x, const double *y, size_t n,
                                const minima_style *style)
{
    return add_series(p, PLOT_LINE, x, y, n, style, "minima_panel_line");
}

minima_status minima_panel_scatter(minima_panel *p, const double *x, const double *y, size_t n,
                                   const minima_style *style)
{
    return add_series(p, PLOT_SCATTER, x, y, n, style, "minima_panel_scatter");
}

minima_status minima_panel_band(minima_panel *p, const double *x, const double *lower,
                                const double *upper, size_t n, const minima_style *style)
{
    const char *fn = "minima_panel_band";
    CHECK_PANEL(p, "minima_panel_band");
    if (!x || !lower || !upper) MINIMA_FAIL(MINIMA_EINVAL, "%s: x, lower or upper is NULL", fn);
    const char *name = style && style->label ? style->label : "(unlabelled)";
    if (n == 0) MINIMA_FAIL(MINIMA_EINVAL, "%s: band '%s' is empty (n = 0)", fn, name);
    size_t finite = 0;
    for (size_t i = 0; i < n; i++) finite += isfinite(x[i]) && isfinite(lower[i]) && isfinite(upper[i]);
    if (finite == 0)
        MINIMA_FAIL(MINIMA_ENONFINITE, "%s: band '%s': all %zu points have a NaN or Inf", fn,
                    name, n);
    minima_style st;
    int saved = p->next_color;
    MINIMA_TRY(resolve_style(p, style, 1, MINIMA_COLOR_BLUE, &st, fn));
    plot_item *it = NULL;
    minima_status s = push_item(p, &it, fn);
    if (s != MINIMA_OK) goto fail;
    it->x = copy_doubles(x, n);
    it->y = copy_doubles(lower, n);
    it->z = copy_doubles(upper, n);
    if (!it->x || !it->y || !it->z) {
        minima_free(it->x);
        minima_free(it->y);
        minima_free(it->z);
        s = minima_error(MINIMA_ENOMEM, "%s: out of memory copying %zu points", fn, n);
        goto fail;
    }
    it->kind = PLOT_BAND;
    it->n = n;
    it->style = st;
    p->n_items++;
    return MINIMA_OK;
fail:
    minima_free((char *)st.label);
    p->next_color = saved;
    return s;
}

/* Adds a shape item with numbers a..d (already validated) and an
 * optional text. */
static minima_status add_shape(minima_panel *p, plot_kind kind, double a, double b, double c,
                               double d, const char *text, const minima_style *style,
                               const minima_style *defaults, const char *fn)
{
    minima_style st;
    const minima_style *src = style ? style : defaults;
    MINIMA_TRY(resolve_style(p, src, 0, defaults->color == MINIMA_COLOR_AUTO
                             ? MINIMA_COLOR_BLACK : defaults->color, &st, fn));
    plot_item *it = NULL;
    minima_status s = push_item(p, &it, fn);
    if (s != MINIMA_OK) goto fail;
    if (text) {
        it->text = minima_strdup(text);
        if (!it->text) {
            s = minima_error(MINIMA_ENOMEM, "%s: out of memory copying the text", fn);
            goto fail;
        }
    }
    it->kind = kind;
    it->a = a;
    it->b = b;
    it->c = c;
    it->d = d;
    it->style = st;
    p->n_items++;
    return MINIMA_OK;
fail:
    minima_free((char *)st.label);
    return s;
}

static minima_style refline_defaults(void)
{
    minima_style s = minima_style_default();
    s.color = MINIMA_COLOR_GREY;
    s.dash = MINIMA_DASH_DASHED;
    s.width = 1.0;
    return s;
}

minima_status minima_panel_vline(minima_panel *p, double x, const minima_style *style)
{
    CHECK_PANEL(p, "minima_panel_vline");
    if (!isfinite(x)) MINIMA_FAIL(MINIMA_ENONFINITE, "minima_panel_vline: x = %g is not finite", x);
    minima_style def = refline_defaults();
    return add_shape(p, PLOT_VLINE, x, 0, 0, 0, NULL, style, &def, "minima_panel_vline");
}

minima_status minima_panel_hline(minima_panel *p, double y, const minima_style *style)
{
    CHECK_PANEL(p, "minima_panel_hline");
    if (!isfinite(y)) MINIMA_FAIL(MINIMA_ENONFINITE, "minima_panel_hline: y = %g is not finite", y);
    minima_style def = refline_defaults();
    return add_shape(p, PLOT_HLINE, 0, y, 0, 0, NULL, style, &def, "minima_panel_hline");
}

minima_status minima_panel_rect(minima_panel *p, double x0, double y0, double x1, double y1,
                                const minima_style *style)
{
    CHECK_PANEL(p, "minima_panel_rect");
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        MINIMA_FAIL(MINIMA_ENONFINITE, "minima_panel_rect: corners (%g, %g), (%g, %g): "
                    "expected finite numbers", x0, y0, x1, y1);
    minima_style def = minima_style_default();
    def.color = MINIMA_COLOR_BLUE;
    return add_shape(p, PLOT_RECT, fmin(x0, x1), fmin(y0, y1), fmax(x0, x1), fmax(y0, y1), NULL,
                     style, &def, "minima_panel_rect");
}

minima_status minima_panel_circle(minima_panel *p, double cx, double cy, double r,
                                  const minima_style *style)
{
    CHECK_PANEL(p, "minima_panel_circle");
    if (!isfinite(cx) || !isfinite(cy) || !isfinite(r) || !(r > 0))
        MINIMA_FAIL(MINIMA_EINVAL, "minima_panel_circle: centre (%g, %g), radius %g: expected "
                    "finite numbers and radius > 0", cx, cy, r);
    minima_style def = minima_style_default();
    def.color = MINIMA_COLOR_BLUE;
    return add_shape(p, PLOT_CIRCLE, cx, cy, r, 0, NULL, style, &def, "minima_panel_circle");
}

minima_status minima_panel_text(minima_panel *p, double x, double y, const char *text,
                                double halign, const minima_style *style)
{
    CHECK_PANEL(p, "minima_panel_text");
    if (!text) MINIMA_FAIL(MINIMA_EINVAL, "minima_panel_text: text is NULL");
    if (!isfinite(x) || !isfinite(y))
        MINIMA_FAIL(MINIMA_ENONFINITE, "minima_panel_text: position (%g, %g) is not finite", x, y);
    if (!(halign >= 0 && halign <= 1))
        MINIMA_FAIL(MINIMA_EINVAL, "minima_panel_text: halign %g: expected 0..1", halign);
    minima_style def = minima_style_default();
    def.color = MINIMA_COLOR_BLACK;
    return add_shape(p, PLOT_TEXT, x, y, halign, 0, text, style, &def, "minima_panel_text");
}

/* ---- grids ------------------------------------------------------------ */

static minima_status check_grid(const double *z, const double *x, size_t nx, const double *y,
                                size_t ny, const char *fn)
{
    if (!z || !x || !y) MINIMA_FAIL(MINIMA_EINVAL, "%s: z, x or y is NULL", fn);
    if (nx < 2 || ny < 2)
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: grid %zu x %zu: expected at least 2 x 2", fn, nx, ny);
    if (nx > 100000 || ny > 100000 || nx * ny > 16000000)
        MINIMA_FAIL(MINIMA_ESHAPE, "%s: grid %zu x %zu: expected at most 16e6 values", fn, nx, ny);
    for (size_t i = 0; i < nx; i++) {
        if (!isfinite(x[i]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "%s: x[%zu] = %g is not finite", fn, i, x[i]);
        if (i && !(x[i] > x[i - 1]))
            MINIMA_FAIL(MINIMA_EINVAL, "%s: x[%zu] = %g <= x[%zu] = %g: expected strictly "
                        "increasing coordinates", fn, i, x[i], i - 1, x[i - 1]);
    }
    for (size_t j = 0; j < ny; j++) {
        if (!isfinite(y[j]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "%s: y[%zu] = %g is not finite", fn, j, y[j]);
        if (j && !(y[j] > y[j - 1]))
            MINIMA_FAIL(MINIMA_EINVAL, "%s: y[%zu] = %g <= y[%zu] = %g: expected strictly "
                        "increasing coordinates", fn, j, y[j], j - 1, y[j - 1]);
    }
    for (size_t k = 0; k < nx * ny; k++)
        if (!isfinite(z[k]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "%s: z at (i = %zu, j = %zu) = %g: expected finite "
                        "values", fn, k % nx, k / nx, z[k]);
    return MINIMA_OK;
}

/* Pushes a grid item (z, x, y copied). */
static minima_status add_grid(minima_panel *p, plot_kind kind, const double *z, const double *x,
                              size_t nx, const double *y, size_t ny, plot_item **out,
                              const char *fn)
{
    MINIMA_TRY(push_item(p, out, fn));
    plot_item *it = *out;
    it->x = copy_doubles(x, nx);
    it->y = copy_doubles(y, ny);
    it->z = copy_doubles(z, nx * ny);
    if (!it->x || !it->y || !it->z) {
        item_free(it);
        memset(it, 0, sizeof *it);
        MINIMA_FAIL(MINIMA_ENOMEM, "%s: out of memory copying a %zu x %zu grid", fn, nx, ny);
    }
    it->kind = kind;
    it->nx = nx;
    it->ny = ny;
    return MINIMA_OK;
}

minima_status minima_panel_map(minima_panel *p, const double *z, const double *x, size_t nx,
                               const double *y, size_t ny, const minima_map_options *opts)
{
    const char *fn = "minima_panel_map";
    CHECK_PANEL(p, "minima_panel_map");
    MINIMA_TRY(check_grid(z, x, nx, y, ny, fn));
    minima_map_options o = opts ? *opts : minima_map_default_options();
    if (o.n_shades < 2 || o.n_shades > 256)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: n_shades %d: expected 2..256", fn, o.n_shades);
    if (isinf(o.zmin) || isinf(o.zmax) || (!isnan(o.zmin) && !isnan(o.zmax) && !(o.zmin < o.zmax)))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: colour range [%g, %g]: expected finite zmin < zmax "
                    "(NaN: automatic)", fn, o.zmin, o.zmax);
    if (o.log_values && ((!isnan(o.zmin) && o.zmin <= 0) || (!isnan(o.zmax) && o.zmax <= 0)))
        MINIMA_FAIL(MINIMA_EINVAL, "%s: log colour scale with range [%g, %g]: expected "
                    "positive ends", fn, o.zmin, o.zmax);
    if (o.log_values) {
        size_t pos = 0;
        for (size_t k = 0; k < nx * ny; k++) pos += z[k] > 0;
        if (!pos)
            MINIMA_FAIL(MINIMA_ERANGE, "%s: log colour scale but none of the %zu values is "
                        "positive", fn, nx * ny);
    }
    char *label = NULL;
    if (o.colorbar_label) {
        label = minima_strdup(o.colorbar_label);
        if (!label) MINIMA_FAIL(MINIMA_ENOMEM, "%s: out of memory copying the label", fn);
    }
    o.colorbar_label = label;
    plot_item *it = NULL;
    minima_status s = add_grid(p, PLOT_MAP, z, x, nx, y, ny, &it, fn);
    if (s != MINIMA_OK) {
        minima_free(label);
        return s;
    }
    it->map = o;
    it->style = minima_style_default();
    it->style.color = MINIMA_COLOR_BLACK;
    it->style.fill = MINIMA_COLOR_BLACK;
    p->n_items++;
    return MINIMA_OK;
}

minima_status minima_panel_contour(minima_panel *p, const double *z, const double *x, size_t nx,
                                   const double *y, size_t ny, const double *levels,
                                   size_t n_levels, const minima_style *style)
{
    const char *fn = "minima_panel_contour";
    CHECK_PANEL(p, "minima_panel_contour");
    MINIMA_TRY(check_grid(z, x, nx, y, ny, fn));
    if (n_levels < 1 || n_levels > 1000)
        MINIMA_FAIL(MINIMA_EINVAL, "%s: %zu levels: expected 1..1000", fn, n_levels);
    if (levels)
        for (size_t k = 0; k < n_levels; k++)
            if (!isfinite(levels[k]))
                MINIMA_FAIL(MINIMA_ENONFINITE, "%s: levels[%zu] = %g is not finite", fn, k,
                            levels[k]);
    double *lv = minima_alloc(n_levels, sizeof *lv);
    if (!lv) MINIMA_FAIL(MINIMA_ENOMEM, "%s: out of memory for %zu levels", fn, n_levels);
    if (levels) {
        memcpy(lv, levels, n_levels * sizeof *lv);
    } else {
        double lo = z[0], hi = z[0];
        for (size_t k = 1; k < nx * ny; k++) {
            lo = fmin(lo, z[k]);
            hi = fmax(hi, z[k]);
        }
        for (size_t k = 0; k < n_levels; k++)
            lv[k] = lo + (hi - lo) * (double)(k + 1) / (double)(n_levels + 1);
    }
    /* over a map, an automatic colour is white (the cycle's colours vanish
     * in viridis) */
    int over_map = 0;
    for (size_t k = 0; k < p->n_items; k++) over_map |= p->items[k].kind == PLOT_MAP;
    minima_style st;
    int saved = p->next_color;
    minima_status s = resolve_style(p, style, !over_map, MINIMA_COLOR_WHITE, &st, fn);
    if (s != MINIMA_OK) {
        minima_free(lv);
        return s;
    }
    plot_item *it = NULL;
    s = add_grid(p, PLOT_CONTOUR, z, x, nx, y, ny, &it, fn);
    if (s != MINIMA_OK) {
        minima_free(lv);
        minima_free((char *)st.label);
        p->next_color = saved;
        return s;
    }
    it->levels = lv;
    it->n_levels = n_levels;
    it->style = st;
    p->n_items++;
    return MINIMA_OK;
}
