/* plot_render.c — drawing a minima_figure through PLplot's cairo devices.
 *
 * PLplot keeps global state, so rendering holds a process-wide lock, draws
 * on a stream of its own (plmkstrm ... plend1) and restores the caller's
 * stream. plexit() would end the process: its handler jumps back here.
 * Warnings that go through plabort() are captured with plsError(). */
#include "plot/plot_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <plplot/plplot.h>

#include "minima/alloc.h"
#include "minima/tempfile.h"

/* ---- colours ------------------------------------------------------------ */

/* cmap0 layout of our stream. */
enum {
    COL_BG = 0, COL_FG = 1, COL_PALETTE = 2,          /* palette: 2 + minima_color */
    COL_GRID = COL_PALETTE + MINIMA_N_COLORS, COL_SCRATCH, COL_LEGEND_BG,
    COL_LEGEND_BOX, COL_LEGEND0 = 24, COL_COUNT = 256
};
#define LEGEND_MAX (COL_COUNT - COL_LEGEND0)

static const unsigned char palette_rgb[MINIMA_N_COLORS][3] = {
    {0, 0, 0},        /* black */
    {230, 159, 0},    /* orange */
    {86, 180, 233},   /* sky blue */
    {0, 158, 115},    /* bluish green */
    {240, 228, 66},   /* yellow */
    {0, 114, 178},    /* blue */
    {213, 94, 0},     /* vermillion */
    {204, 121, 167},  /* reddish purple */
    {127, 127, 127},  /* grey */
    {255, 255, 255},  /* white */
};

/* viridis, 10 evenly spaced stops (R's viridisLite::viridis(10)). */
static const unsigned char viridis_rgb[10][3] = {
    {0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3E, 0x4A, 0x89}, {0x31, 0x68, 0x8E},
    {0x26, 0x82, 0x8E}, {0x1F, 0x9E, 0x89}, {0x35, 0xB7, 0x79}, {0x6D, 0xCD, 0x59},
    {0xB4, 0xDE, 0x2C}, {0xFD, 0xE7, 0x25},
};

static void set_colors(void)
{
    plscmap0n(COL_COUNT);
    plscolbga(255, 255, 255, 1.0);
    plscol0a(COL_FG, 0, 0, 0, 1.0);
    for (int c = 0; c < MINIMA_N_COLORS; c++)
        plscol0a(COL_PALETTE + c, palette_rgb[c][0], palette_rgb[c][1], palette_rgb[c][2], 1.0);
    plscol0a(COL_GRID, 222, 222, 222, 1.0);
    plscol0a(COL_LEGEND_BG, 255, 255, 255, 0.85);
    plscol0a(COL_LEGEND_BOX, 160, 160, 160, 1.0);
    PLFLT pos[10], r[10], g[10], b[10];
    for (int k = 0; k < 10; k++) {
        pos[k] = k / 9.0;
        r[k] = viridis_rgb[k][0] / 255.0;
        g[k] = viridis_rgb[k][1] / 255.0;
        b[k] = viridis_rgb[k][2] / 255.0;
    }
    plscmap1n(256);
    plscmap1l(1, 10, pos, r, g, b, NULL);
}

/* Selects palette colour c at opacity alpha (through the scratch slot). */
static void use_color(minima_color c, double alpha)
{
    if (alpha >= 1.0) {
        plcol0(COL_PALETTE + c);
        return;
    }
    plscol0a(COL_SCRATCH, palette_rgb[c][0], palette_rgb[c][1], palette_rgb[c][2], alpha);
    plcol0(COL_SCRATCH);
}

/* PLplot's built-in line styles (pllsty), shared with the legend. */
static int dash_style(minima_dash d)
{
    switch (d) {
    case MINIMA_DASH_DASHED: return 3;
    case MINIMA_DASH_DOTTED: return 2;
    default: return 1;
    }
}

static const char *marker_glyph(minima_marker m)
{
    switch (m) {
    case MINIMA_MARKER_SQUARE: return "■";
    case MINIMA_MARKER_TRIANGLE: return "▲";
    case MINIMA_MARKER_DIAMOND: return "◆";
    case MINIMA_MARKER_CROSS: return "×";
    case MINIMA_MARKER_PLUS: return "+";
    default: return "●";
    }
}

/* Width of a typical character (digit) in character heights. */
#define CHAR_W 0.8

/* ---- axis ranges ------------------------------------------------------ */

/* One axis as drawn: world coordinates are log10 of the data on a log axis. */
typedef struct {
    int log;
    double lo, hi;      /* world range */
    double step;        /* major tick step, world units (decades on a log axis) */
    int mset;           /* log axis labelled at chosen values: 0 no (decades),
                           1: 1, 2, 5 × 10^k, 2: multiples of lstep */
    double lstep;       /* mset 2: step between labelled values, data units */
} axis_t;

/* Power of ten factored out of the labels of values up to maxabs: 0 for
 * plain decimals, else e (the axis then shows ×10^e once). */
static int label_exponent(double maxabs)
{
    int e = maxabs > 0 ? (int)floor(log10(maxabs) + 1e-9) : 0;
    return e >= -3 && e <= 4 ? 0 : e;
}

/* The ×10^e factored out of an axis' labels (0: none). */
static int axis_exponent(const axis_t *ax)
{
    if (ax->log) return ax->mset == 2 ? label_exponent(pow(10.0, ax->hi)) : 0;
    return label_exponent(fmax(fabs(ax->lo), fabs(ax->hi)));
}

/* Maps a data coordinate to world coordinates; 0 if it cannot be drawn. */
static int to_world(int log, double v, double *w)
{
    if (!isfinite(v)) return 0;
    if (log) {
        if (!(v > 0)) return 0;
        *w = log10(v);
    } else {
        *w = v;
    }
    return 1;
}

/* Values seen on one axis, how many could be drawn (kept), and how many
 * were valid for this axis alone (own: a point may fail on the other). */
typedef struct { double lo, hi; size_t seen, kept, own; } extent_t;

static void extent_add(extent_t *e, int log, double v)
{
    double w;
    e->seen++;
    if (!to_world(log, v, &w)) return;
    e->own++;
    if (!e->kept || w < e->lo) e->lo = w;
    if (!e->kept || w > e->hi) e->hi = w;
    e->kept++;
}

/* A 1-2-5 step giving about `target` intervals over span. */
static double nice_step(double span, int target)
{
    double raw = span / target;
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag;
    return (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * mag;
}

/* Tick step of a log axis in decades: an integer, or a fraction of a
 * decade for axes spanning less than one (labelled by value then). */
static double log_step(double span, int target)
{
    if (span < 1.0) return nice_step(span, target);
    double st = nice_step(span, target);
    return st < 1.0 ? 1.0 : round(st);
}

static double axis_step(int log, double span, int target)
{
    return log ? log_step(span, target) : nice_step(span, target);
}

/* Final range of one axis from its extent and the user's ends (data
 * units, NaN: automatic). The margin is added on automatic ends only. */
static minima_status finish_axis(axis_t *ax, const extent_t *e, double ulo, double uhi,
                                 int tight, const char *name, int row, int col)
{
    if (ax->log && ((!isnan(ulo) && ulo <= 0) || (!isnan(uhi) && uhi <= 0)))
        MINIMA_FAIL(MINIMA_ERANGE, "panel (%d, %d): log10 %s axis with range [%g, %g]: expected "
                    "positive ends", row, col, name, ulo, uhi);
    if (e->seen && !e->own && (isnan(ulo) || isnan(uhi)))
        MINIMA_FAIL(MINIMA_ERANGE, "panel (%d, %d): log10 %s axis but none of the %zu %s values "
                    "is positive (and finite)", row, col, name, e->seen, name);
    int alo = isnan(ulo), ahi = isnan(uhi);
    double lo = e->kept ? e->lo : 0, hi = e->kept ? e->hi : 1;
    if (!alo) lo = ax->log ? log10(ulo) : ulo;
    if (!ahi) hi = ax->log ? log10(uhi) : uhi;
    if (!(hi - lo > 1e-12 * fmax(fabs(lo), fabs(hi)))) {
        /* constant data, or data entirely beyond a fixed end */
        double c = alo ? hi : lo;
        double d = ax->log ? 0.5 : (c != 0 ? 0.1 * fabs(c) : 1.0);
        if (alo) lo = hi - (ahi ? d : 2 * d);
        if (ahi) hi = lo + (alo ? 2 * d : 2 * d);
        if (alo && ahi) { lo = c - d; hi = c + d; }
    } else if (!tight) {
        double m = 0.04 * (hi - lo);
        if (alo) lo -= m;
        if (ahi) hi += m;
    }
    ax->lo = lo;
    ax->hi = hi;
    ax->step = axis_step(ax->log, hi - lo, 5);
    return MINIMA_OK;
}

static minima_status panel_axes(const minima_panel *p, int row, int col, axis_t *ax, axis_t *ay)
{
    extent_t ex = {0, 0, 0, 0, 0}, ey = {0, 0, 0, 0, 0};
    int tight = 0;
    ax->log = p->xlog;
    ay->log = p->ylog;
    for (size_t k = 0; k < p->n_items; k++) {
        const plot_item *it = &p->items[k];
        switch (it->kind) {
        case PLOT_LINE: case PLOT_SCATTER:
            for (size_t i = 0; i < it->n; i++) {
                double wx, wy;
                if (!isfinite(it->x[i]) || !isfinite(it->y[i])) continue;
                int okx = to_world(p->xlog, it->x[i], &wx), oky = to_world(p->ylog, it->y[i], &wy);
                if (okx && oky) {
                    extent_add(&ex, p->xlog, it->x[i]);
                    extent_add(&ey, p->ylog, it->y[i]);
                    continue;
                }
                ex.seen++;
                ey.seen++;
                ex.own += okx;
                ey.own += oky;
            }
            break;
        case PLOT_BAND:
            for (size_t i = 0; i < it->n; i++) {
                if (!isfinite(it->x[i]) || !isfinite(it->y[i]) || !isfinite(it->z[i])) continue;
                extent_add(&ex, p->xlog, it->x[i]);
                extent_add(&ey, p->ylog, it->y[i]);
                extent_add(&ey, p->ylog, it->z[i]);
            }
            break;
        case PLOT_VLINE: extent_add(&ex, p->xlog, it->a); break;
        case PLOT_HLINE: extent_add(&ey, p->ylog, it->b); break;
        case PLOT_RECT: case PLOT_TEXT:
            extent_add(&ex, p->xlog, it->a);
            extent_add(&ey, p->ylog, it->b);
            if (it->kind == PLOT_RECT) {
                extent_add(&ex, p->xlog, it->c);
                extent_add(&ey, p->ylog, it->d);
            }
            break;
        case PLOT_CIRCLE:
            extent_add(&ex, p->xlog, it->a - it->c);
            extent_add(&ex, p->xlog, it->a + it->c);
            extent_add(&ey, p->ylog, it->b - it->c);
            extent_add(&ey, p->ylog, it->b + it->c);
            break;
        case PLOT_MAP: case PLOT_CONTOUR:
            if (p->xlog && !(it->x[0] > 0))
                MINIMA_FAIL(MINIMA_ERANGE, "panel (%d, %d): log10 x axis but the grid starts at "
                            "x = %g: expected positive coordinates", row, col, it->x[0]);
            if (p->ylog && !(it->y[0] > 0))
                MINIMA_FAIL(MINIMA_ERANGE, "panel (%d, %d): log10 y axis but the grid starts at "
                            "y = %g: expected positive coordinates", row, col, it->y[0]);
            extent_add(&ex, p->xlog, it->x[0]);
            extent_add(&ex, p->xlog, it->x[it->nx - 1]);
            extent_add(&ey, p->ylog, it->y[0]);
            extent_add(&ey, p->ylog, it->y[it->ny - 1]);
            tight = 1;
            break;
        }
    }
    MINIMA_TRY(finish_axis(ay, &ey, p->ylo, p->yhi, tight, "y", row, col));
    MINIMA_TRY(finish_axis(ax, &ex, p->xlo, p->xhi, tight, "x", row, col));
    if ((ex.seen && !ex.kept && (isnan(p->xlo) || isnan(p->xhi))) ||
        (ey.seen && !ey.kept && (isnan(p->ylo) || isnan(p->yhi))))
        MINIMA_FAIL(MINIMA_ERANGE, "panel (%d, %d): log axes but no point has both coordinates "
                    "positive", row, col);
    return MINIMA_OK;
}

/* ---- tick labels ---------------------------------------------------- */

/* Formats tick value v for tick step `step`, divided by 10^e; a
 * typographic minus. */
static void format_tick(double v, double step, int e, char *buf, size_t len)
{
    char tmp[64];
    if (fabs(v) < 1e-9 * step) v = 0;
    double scale = pow(10.0, e);
    int dec = (int)fmax(0.0, -floor(log10(step / scale) + 1e-9));
    snprintf(tmp, sizeof tmp, "%.*f", dec, v / scale);
    if (tmp[0] == '-') snprintf(buf, len, "−%s", tmp + 1);
    else snprintf(buf, len, "%s", tmp);
}

/* Width of a label in characters: UTF-8 aware, PLplot escapes skipped,
 * superscripts counted as narrower. */
static double label_chars(const char *s)
{
    double w = 0;
    int sup = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '#' && (c[1] == 'u' || c[1] == 'd')) {
            sup += c[1] == 'u' ? 1 : -1;
            c++;
            continue;
        }
        if ((*c & 0xC0) == 0x80) continue;
        w += 1.0;
    }
    return w;
}

/* Labels of the axes being drawn, for PLplot's label callback (index 0:
 * x, 1: y). */
typedef struct { axis_t axis[2]; } label_ctx;

/* The tick label at world value v: PLplot's own 10^k for whole decades,
 * else the value (of 10^v on a log axis spanning less than a decade). */
static void tick_label(const axis_t *ax, double v, char *buf, size_t len)
{
    if (ax->log && ax->mset == 2) {
        format_tick(pow(10.0, v), ax->lstep, axis_exponent(ax), buf, len);
        return;
    }
    if (ax->log && ax->mset) {
        double val = pow(10.0, v);
        int k = (int)floor(v + 1e-9);
        if (val >= 1e-4 && val < 1e5) {
            snprintf(buf, len, "%.3g", val);
        } else {
            double m = val / pow(10.0, k);
            if (fabs(m - 1) < 1e-6) snprintf(buf, len, "10#u%s%d#d", k < 0 ? "−" : "", abs(k));
            else snprintf(buf, len, "%.0f×10#u%s%d#d", m, k < 0 ? "−" : "", abs(k));
        }
        return;
    }
    if (ax->log && ax->step >= 1.0) {
        long k = lround(v);
        if (k < 0) snprintf(buf, len, "10#u−%ld#d", -k);
        else snprintf(buf, len, "10#u%ld#d", k);
        return;
    }
    if (ax->log) {
        double val = pow(10.0, v);
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%.3g", val);
        snprintf(buf, len, "%s", tmp);
        return;
    }
    format_tick(v, ax->step, axis_exponent(ax), buf, len);
}

static void label_callback(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data)
{
    const label_ctx *c = data;
    tick_label(&c->axis[axis == PL_X_AXIS ? 0 : 1], value, label, (size_t)length);
}

/* True when PLplot labels the axis itself as decades 10^k. */
static int decade_axis(const axis_t *ax) { return ax->log && (ax->step == 1.0 || ax->mset); }

/* plbox options for an axis ("v": vertical labels upright) and its tick
 * step and subdivisions. */
static void axis_opts(const axis_t *ax, const char *base, char *opt, size_t len, PLFLT *tick,
                      PLINT *nsub)
{
    if (ax->mset) {             /* decade ticks, labels drawn by draw_mset_labels */
        size_t k = 0;
        for (const char *c = base; *c && k + 3 < len; c++)
            if (*c != 'n' && *c != 'm') opt[k++] = *c;
        snprintf(opt + k, len - k, "sl");
        *tick = 1.0;
        *nsub = 0;
        return;
    }
    if (decade_axis(ax)) {
        snprintf(opt, len, "%ssl", base);
        *tick = ax->step;
        *nsub = 0;
        return;
    }
    if (ax->log && ax->step > 1.0) {   /* decades k*step, labelled by us */
        snprintf(opt, len, "%so", base);
        *tick = ax->step;
        *nsub = (PLINT)ax->step;
        return;
    }
    snprintf(opt, len, "%sso", base);
    *tick = ax->step;
    double mant = ax->step / pow(10.0, floor(log10(ax->step) + 1e-9));
    *nsub = mant > 1.5 && mant < 3 ? 4 : 5;
}

/* Number of labelled ticks of an axis and the widest label, in characters. */
/* World positions of the labels of a log axis with mset (at most max). */
static int mset_ticks(const axis_t *ax, double *out, int max)
{
    static const double m[3] = {1, 2, 5};
    int nm = 3, n = 0;
    if (ax->mset == 2) {
        double d0 = pow(10.0, ax->lo), d1 = pow(10.0, ax->hi);
        for (double t = ceil(d0 / ax->lstep - 1e-9); t * ax->lstep <= d1 * (1 + 1e-12) && n < max; t++)
            if (t > 0) out[n++] = log10(t * ax->lstep);
        return n;
    }
    for (double k = floor(ax->lo); k <= ceil(ax->hi); k++)
        for (int i = 0; i < nm; i++) {
            double v = k + log10(m[i]);
            if (v >= ax->lo - 1e-9 && v <= ax->hi + 1e-9 && n < max) out[n++] = v;
        }
    return n;
}

static int tick_stats(const axis_t *ax, double *widest)
{
    double w = 1;
    int n = 0;
    char buf[64];
    if (ax->log && ax->mset) {
        double v[64];
        n = mset_ticks(ax, v, 64);
        for (int i = 0; i < n; i++) {
            tick_label(ax, v[i], buf, sizeof buf);
            w = fmax(w, label_chars(buf));
        }
        *widest = w;
        return n;
    }
    for (double t = ceil(ax->lo / ax->step - 1e-9); t * ax->step <= ax->hi + 1e-9 * ax->step; t++) {
        tick_label(ax, t * ax->step, buf, sizeof buf);
        w = fmax(w, label_chars(buf));
        n++;
    }
    *widest = w;
    return n;
}

static double widest_tick(const axis_t *ax)
{
    double w;
    tick_stats(ax, &w);
    return w;
}

/* Chooses the tick step so that the labels fit in `avail` character
 * heights along the axis (side by side when horizontal, stacked else). */
static int ticks_fit(const axis_t *ax, double avail, int horizontal, int *count)
{
    double w;
    int n = tick_stats(ax, &w);
    *count = n;
    char buf[64];
    tick_label(ax, ax->log ? ceil(ax->lo) : 0.0, buf, sizeof buf);
    double tall = strstr(buf, "#u") ? 2.8 : 2.0;    /* 10^k stands higher */
    return n * (horizontal ? w * CHAR_W + 1.5 : tall) <= avail;
}

static void fit_ticks(axis_t *ax, double avail, int horizontal)
{
    int n;
    ax->mset = 0;
    if (ax->log && ax->hi - ax->lo < 1.0) {
        /* within a decade: evenly spaced values, as on a linear axis */
        ax->mset = 2;
        for (int target = 6; target >= 2; target--) {
            ax->lstep = nice_step(pow(10.0, ax->hi) - pow(10.0, ax->lo), target);
            if (ticks_fit(ax, avail, horizontal, &n) && n >= 2) return;
        }
        return;
    }
    if (ax->log && ax->hi - ax->lo < 3.0) {
        /* a few decades: 1, 2, 5 × 10^k, else the decades */
        ax->mset = 1;
        if (ticks_fit(ax, avail, horizontal, &n)) return;
        ax->mset = 0;
        ax->step = 1.0;
        return;
    }
    for (int target = 6; target >= 1; target--) {
        ax->step = axis_step(ax->log, ax->hi - ax->lo, target);
        if (ax->log && ax->hi - ax->lo < 1.0) ax->step = nice_step(ax->hi - ax->lo, target);
        if (ticks_fit(ax, avail, horizontal, &n)) return;
    }
}

/* The labels of a log axis with mset, on side 'b' (x), 'l' (y) or 'r'
 * (colour bar), in the current viewport. */
static void draw_mset_labels(const axis_t *ax, char side)
{
    double v[64];
    char buf[64];
    int n = mset_ticks(ax, v, 64);
    for (int i = 0; i < n; i++) {
        double pos = (v[i] - ax->lo) / (ax->hi - ax->lo);
        tick_label(ax, v[i], buf, sizeof buf);
        if (side == 'b') plmtex("b", 1.5, pos, 0.5, buf);
        else if (side == 'l') plmtex("lv", 0.5, pos, 1.0, buf);
        else plmtex("rv", 0.5, pos, 0.0, buf);
    }
}

/* Writes an axis label, with the axis' ×10^e appended when its tick labels
 * have it factored out. */
static int axis_label(const char *label, const axis_t *ax, char *buf, size_t len)
{
    int e = axis_exponent(ax);
    if (e && label) snprintf(buf, len, "%s (×10#u%s%d#d)", label, e < 0 ? "−" : "", abs(e));
    else if (e) snprintf(buf, len, "×10#u%s%d#d", e < 0 ? "−" : "", abs(e));
    else if (label) snprintf(buf, len, "%s", label);
    else buf[0] = '\0';
    return buf[0] != '\0';
}

/* ---- drawing ---------------------------------------------------------- */

typedef struct {
    const minima_figure *fig;
    axis_t *ax, *ay;          /* (rows * cols) */
    double chx, chy;          /* one character height in page fractions */
    double char_scale;        /* plschr scale of the body text */
    size_t dropped;
    label_ctx labels;
    char errmsg[320];         /* PLplot's plabort messages */
    PLINT errcode;
} render_ctx;

static void set_char(const render_ctx *rc, double rel) { plschr(0.0, rc->char_scale * rel); }

static void set_line(const minima_style *st)
{
    plwidth(st->width);
    pllsty(dash_style(st->dash));
}

/* Draws the runs of drawable points of a series as broken lines. */
static void draw_line(render_ctx *rc, const minima_panel *p, const plot_item *it,
                      PLFLT *wx, PLFLT *wy)
{
    size_t m = 0;
    for (size_t i = 0; i <= it->n; i++) {
        double x, y;
        int ok = i < it->n && to_world(p->xlog, it->x[i], &x) && to_world(p->ylog, it->y[i], &y);
        if (ok) {
            wx[m] = x;
            wy[m] = y;
            m++;
            continue;
        }
        if (i < it->n) rc->dropped++;
        if (m >= 2 && it->kind == PLOT_LINE) plline((PLINT)m, wx, wy);
        if (m >= 1 && it->style.marker != MINIMA_MARKER_NONE) {
            set_char(rc, 0.8 * it->style.marker_size);
            plstring((PLINT)m, wx, wy, marker_glyph(it->style.marker));
            set_char(rc, 1.0);
        }
        m = 0;
    }
}

static void draw_polygon(const minima_style *st, PLINT n, PLFLT *x, PLFLT *y)
{
    if (st->alpha > 0) {
        use_color(st->fill, st->alpha);
        plfill(n, x, y);
    }
    use_color(st->color, 1.0);
    set_line(st);
    plline(n, x, y);
}

static void draw_shape(render_ctx *rc, const minima_panel *p, const plot_item *it,
                       const axis_t *ax, const axis_t *ay)
{
    PLFLT x[2], y[2], px[5], py[5];
    const minima_style *st = &it->style;
    switch (it->kind) {
    case PLOT_VLINE:
        if (!to_world(p->xlog, it->a, &x[0])) { rc->dropped++; return; }
        x[1] = x[0];
        y[0] = ay->lo;
        y[1] = ay->hi;
        use_color(st->color, 1.0);
        set_line(st);
        plline(2, x, y);
        break;
    case PLOT_HLINE:
        if (!to_world(p->ylog, it->b, &y[0])) { rc->dropped++; return; }
        y[1] = y[0];
        x[0] = ax->lo;
        x[1] = ax->hi;
        use_color(st->color, 1.0);
        set_line(st);
        plline(2, x, y);
        break;
    case PLOT_RECT:
        if (!to_world(p->xlog, it->a, &px[0]) || !to_world(p->ylog, it->b, &py[0]) ||
            !to_world(p->xlog, it->c, &px[2]) || !to_world(p->ylog, it->d, &py[2])) {
            rc->dropped++;
            return;
        }
        px[1] = px[2]; py[1] = py[0];
        px[3] = px[0]; py[3] = py[2];
        px[4] = px[0]; py[4] = py[0];
        draw_polygon(st, 5, px, py);
        break;
    case PLOT_TEXT:
        if (!to_world(p->xlog, it->a, &x[0]) || !to_world(p->ylog, it->b, &y[0])) {
            rc->dropped++;
            return;
        }
        use_color(st->color, 1.0);
        set_char(rc, st->text_size);
        plptex(x[0], y[0], 1.0, 0.0, it->c, it->text);
        set_char(rc, 1.0);
        break;
    default:
        break;
    }
}

/* A band as one filled polygon per run of drawable points; wx, wy hold
 * 2 n points. */
static void draw_band(render_ctx *rc, const minima_panel *p, const plot_item *it, PLFLT *wx,
                      PLFLT *wy)
{
    size_t i = 0;
    use_color(it->style.fill, it->style.alpha);
    while (i < it->n) {
        size_t start = i, m = 0;
        double x, lo, hi;
        while (i < it->n && to_world(p->xlog, it->x[i], &x) && to_world(p->ylog, it->y[i], &lo) &&
               to_world(p->ylog, it->z[i], &hi)) {
            wx[m] = x;
            wy[m] = lo;
            m++;
            i++;
        }
        for (size_t k = 0; k < m; k++) {      /* back along the upper edge */
            size_t j = start + m - 1 - k;
            to_world(p->xlog, it->x[j], &wx[m + k]);
            to_world(p->ylog, it->z[j], &wy[m + k]);
        }
        if (m >= 2) plfill((PLINT)(2 * m), wx, wy);
        if (i < it->n) {
            rc->dropped++;
            i++;
        }
    }
}

static void draw_circle(render_ctx *rc, const minima_panel *p, const plot_item *it)
{
    enum { N = 181 };
    PLFLT x[N], y[N];
    PLINT m = 0;
    for (int k = 0; k < N; k++) {
        double t = 2.0 * M_PI * k / (N - 1);
        if (to_world(p->xlog, it->a + it->c * cos(t), &x[m]) &&
            to_world(p->ylog, it->b + it->c * sin(t), &y[m]))
            m++;
    }
    if (m < 3) { rc->dropped++; return; }
    draw_polygon(&it->style, m, x, y);
}

/* Grid in PLplot's layout: f[i][j] at (x[i], y[j]), world coordinates. */
typedef struct { PLFLT **f; PLFLT *store, *xg, *yg; PLcGrid cg; } pgrid;

static void pgrid_free(pgrid *g)
{
    minima_free(g->f);
    minima_free(g->store);
    minima_free(g->xg);
    minima_free(g->yg);
}

/* Converts an item's grid; values log10'd when `logz` (non-positive values
 * clamped to the smallest positive, counted) and clamped into [zlo, zhi]
 * when those are finite. */
static minima_status pgrid_make(render_ctx *rc, const minima_panel *p, const plot_item *it,
                                int logz, double zlo, double zhi, pgrid *g)
{
    size_t nx = it->nx, ny = it->ny;
    memset(g, 0, sizeof *g);
    g->f = minima_alloc(nx, sizeof *g->f);
    g->store = minima_alloc(nx * ny, sizeof *g->store);
    g->xg = minima_alloc(nx, sizeof *g->xg);
    g->yg = minima_alloc(ny, sizeof *g->yg);
    if (!g->f || !g->store || !g->xg || !g->yg) {
        pgrid_free(g);
        MINIMA_FAIL(MINIMA_ENOMEM, "minima_plot_render: out of memory for a %zu x %zu grid", nx, ny);
    }
    double minpos = INFINITY;
    if (logz)
        for (size_t k = 0; k < nx * ny; k++)
            if (it->z[k] > 0) minpos = fmin(minpos, it->z[k]);
    for (size_t i = 0; i < nx; i++) {
        g->f[i] = g->store + i * ny;
        to_world(p->xlog, it->x[i], &g->xg[i]);
        for (size_t j = 0; j < ny; j++) {
            double v = it->z[j * nx + i];
            if (logz) {
                if (!(v > 0)) { v = minpos; rc->dropped++; }
                v = log10(v);
            }
            if (isfinite(zlo) && v < zlo) v = zlo;
            if (isfinite(zhi) && v > zhi) v = zhi;
            g->f[i][j] = v;
        }
    }
    for (size_t j = 0; j < ny; j++) to_world(p->ylog, it->y[j], &g->yg[j]);
    g->cg.xg = g->xg;
    g->cg.yg = g->yg;
    g->cg.nx = (PLINT)nx;
    g->cg.ny = (PLINT)ny;
    return MINIMA_OK;
}

/* Colour range of a map, in colour-scale units (log10 with log_values). */
static void map_zrange(const plot_item *it, double *zlo, double *zhi)
{
    const minima_map_options *o = &it->map;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < it->nx * it->ny; k++) {
        double v = it->z[k];
        if (o->log_values) {
            if (!(v > 0)) continue;
            v = log10(v);
        }
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    if (!isnan(o->zmin)) lo = o->log_values ? log10(o->zmin) : o->zmin;
    if (!isnan(o->zmax)) hi = o->log_values ? log10(o->zmax) : o->zmax;
    if (!(hi > lo)) {
        double d = lo != 0 ? 0.05 * fabs(lo) : 0.5;
        lo -= d;
        hi += d;
    }
    *zlo = lo;
    *zhi = hi;
}

/* plshades' fill: the shade polygon, outlined in its own colour so that
 * vector renderers (SVG, some PDF viewers) show no hairline seams between
 * neighbouring shades. */
static void fill_seamless(PLINT n, PLFLT_VECTOR x, PLFLT_VECTOR y)
{
    plfill(n, x, y);
    if (n >= 2) {
        plline(n, x, y);
        pljoin(x[n - 1], y[n - 1], x[0], y[0]);
    }
}

static minima_status draw_map(render_ctx *rc, const minima_panel *p, const plot_item *it)
{
    double zlo, zhi;
    map_zrange(it, &zlo, &zhi);
    pgrid g;
    MINIMA_TRY(pgrid_make(rc, p, it, it->map.log_values, zlo, zhi, &g));
    int ns = it->map.n_shades;
    plwidth(0.5);
    pllsty(1);
    PLFLT edges[257];
    for (int k = 0; k <= ns; k++) edges[k] = zlo + (zhi - zlo) * k / ns;
    plshades((PLFLT_MATRIX)g.f, (PLINT)it->nx, (PLINT)it->ny, NULL, g.xg[0], g.xg[it->nx - 1],
             g.yg[0], g.yg[it->ny - 1], edges, ns + 1, 0.5, 0, 0.0, fill_seamless, 1, pltr1, &g.cg);
    pgrid_free(&g);
    return MINIMA_OK;
}

static minima_status draw_contour(render_ctx *rc, const minima_panel *p, const plot_item *it)
{
    pgrid g;
    MINIMA_TRY(pgrid_make(rc, p, it, 0, NAN, NAN, &g));
    use_color(it->style.color, 1.0);
    set_line(&it->style);
    pl_setcontlabelparam(0.006, 0.3, 0.1, 0);
    plcont((PLFLT_MATRIX)g.f, (PLINT)it->nx, (PLINT)it->ny, 1, (PLINT)it->nx, 1, (PLINT)it->ny,
           it->levels, (PLINT)it->n_levels, pltr1, &g.cg);
    pgrid_free(&g);
    return MINIMA_OK;
}

/* A vertical colour bar for the panel's (first) map, right of the viewport
 * [vx0, vx1] x [vy0, vy1] (page fractions). */
static void draw_colorbar(render_ctx *rc, const plot_item *it, double vx1, double vy0, double vy1)
{
    double zlo, zhi;
    map_zrange(it, &zlo, &zhi);
    double bx0 = vx1 + 1.0 * rc->chx, bx1 = bx0 + 1.2 * rc->chx;
    plvpor(bx0, bx1, vy0, vy1);
    plwind(0, 1, zlo, zhi);
    int ns = it->map.n_shades;
    for (int k = 0; k < ns; k++) {
        PLFLT x[4] = {0, 1, 1, 0};
        double a = zlo + (zhi - zlo) * k / ns, b = zlo + (zhi - zlo) * (k + 1) / ns;
        PLFLT y[4] = {a, a, b, b};
        plcol1(ns > 1 ? (double)k / (ns - 1) : 0.5);
        plfill(4, x, y);
    }
    plcol0(COL_FG);
    plwidth(1.0);
    pllsty(1);
    axis_t az = {it->map.log_values, zlo, zhi, 0, 0, 0};
    fit_ticks(&az, (vy1 - vy0) / rc->chy, 0);
    rc->labels.axis[1] = az;
    char opt[32];
    PLFLT tick;
    PLINT nsub;
    axis_opts(&az, "bcmtv", opt, sizeof opt, &tick, &nsub);
    plbox("bc", 0, 0, opt, tick, nsub);
    if (az.mset) draw_mset_labels(&az, 'r');
    char buf[1024];
    if (axis_label(it->map.colorbar_label, &az, buf, sizeof buf))
        plmtex("r", widest_tick(&az) * CHAR_W + 1.6, 0.5, 0.5, buf);
}

/* Space to the right of a panel's viewport, in characters. */
static double right_margin(const render_ctx *rc, const minima_panel *p, double height)
{
    double m = 1.5;
    for (size_t k = 0; k < p->n_items; k++) {
        const plot_item *it = &p->items[k];
        if (it->kind == PLOT_MAP && it->map.colorbar) {
            double zlo, zhi;
            map_zrange(it, &zlo, &zhi);
            axis_t az = {it->map.log_values, zlo, zhi, 0, 0, 0};
            fit_ticks(&az, height / rc->chy, 0);
            int labelled = it->map.colorbar_label || axis_exponent(&az);
            /* gap, bar, tick gap, tick labels, bar label, edge */
            m = 1.0 + 1.2 + 0.8 + widest_tick(&az) * CHAR_W + (labelled ? 2.0 : 0) + 1.0;
            break;
        }
    }
    if (p->legend == MINIMA_LEGEND_OUTSIDE_RIGHT) {
        double w = 0;
        for (size_t k = 0; k < p->n_items; k++)
            if (p->items[k].style.label) w = fmax(w, label_chars(p->items[k].style.label));
        if (w > 0) m += 0.9 * (w * CHAR_W + 5.0);
    }
    return m;
}

/* Points of the panel's data in the corner [u0, u1] x [v0, v1] of the
 * viewport (fractions), sampling segments, reference lines and shapes. */
static size_t corner_count(const minima_panel *p, const axis_t *ax, const axis_t *ay, double u0,
                           double u1, double v0, double v1)
{
    size_t n = 0;
#define IN(wx, wy) do { double u_ = ((wx) - ax->lo) / (ax->hi - ax->lo), \
    v_ = ((wy) - ay->lo) / (ay->hi - ay->lo); \
    n += u_ >= u0 && u_ <= u1 && v_ >= v0 && v_ <= v1; } while (0)
    for (size_t k = 0; k < p->n_items; k++) {
        const plot_item *it = &p->items[k];
        double x0, y0, x1, y1;
        switch (it->kind) {
        case PLOT_LINE: case PLOT_SCATTER:
            for (size_t i = 0; i < it->n; i++) {
                if (!to_world(p->xlog, it->x[i], &x1) || !to_world(p->ylog, it->y[i], &y1)) continue;
                IN(x1, y1);
                if (it->kind == PLOT_LINE && i > 0 && to_world(p->xlog, it->x[i - 1], &x0) &&
                    to_world(p->ylog, it->y[i - 1], &y0))
                    for (int t = 1; t < 8; t++) IN(x0 + (x1 - x0) * t / 8, y0 + (y1 - y0) * t / 8);
            }
            break;
        case PLOT_VLINE:
            if (to_world(p->xlog, it->a, &x0))
                for (int t = 0; t <= 20; t++) IN(x0, ay->lo + (ay->hi - ay->lo) * t / 20);
            break;
        case PLOT_HLINE:
            if (to_world(p->ylog, it->b, &y0))
                for (int t = 0; t <= 20; t++) IN(ax->lo + (ax->hi - ax->lo) * t / 20, y0);
            break;
        case PLOT_RECT: case PLOT_CIRCLE: {
            double xa = it->kind == PLOT_RECT ? it->a : it->a - it->c;
            double xb = it->kind == PLOT_RECT ? it->c : it->a + it->c;
            double ya = it->kind == PLOT_RECT ? it->b : it->b - it->c;
            double yb = it->kind == PLOT_RECT ? it->d : it->b + it->c;
            for (int i = 0; i <= 4; i++)
                for (int j = 0; j <= 4; j++)
                    if (to_world(p->xlog, xa + (xb - xa) * i / 4, &x0) &&
                        to_world(p->ylog, ya + (yb - ya) * j / 4, &y0))
                        IN(x0, y0);
            break;
        }
        case PLOT_TEXT:
            if (to_world(p->xlog, it->a, &x0) && to_world(p->ylog, it->b, &y0)) IN(x0, y0);
            break;
        case PLOT_BAND:
            for (size_t i = 0; i < it->n; i++)
                if (to_world(p->xlog, it->x[i], &x0))
                    for (int t = 0; t <= 4; t++)
                        if (to_world(p->ylog, it->y[i] + (it->z[i] - it->y[i]) * t / 4, &y0))
                            IN(x0, y0);
            break;
        default:
            break;
        }
    }
#undef IN
    return n;
}

static void draw_legend(render_ctx *rc, const minima_panel *p, const axis_t *ax, const axis_t *ay,
                        double vpw, double vph)
{
    PLINT opts[LEGEND_MAX], text_col[LEGEND_MAX], box_col[LEGEND_MAX], box_pat[LEGEND_MAX];
    PLINT line_col[LEGEND_MAX], line_sty[LEGEND_MAX], sym_col[LEGEND_MAX], sym_num[LEGEND_MAX];
    PLFLT box_scale[LEGEND_MAX], box_width[LEGEND_MAX], line_w[LEGEND_MAX], sym_scale[LEGEND_MAX];
    const char *text[LEGEND_MAX], *sym[LEGEND_MAX];
    PLINT n = 0;
    if (p->legend == MINIMA_LEGEND_NONE) return;
    for (size_t k = 0; k < p->n_items && n < LEGEND_MAX; k++) {
        const plot_item *it = &p->items[k];
        const minima_style *st = &it->style;
        if (!st->label || it->kind == PLOT_TEXT || it->kind == PLOT_MAP) continue;
        int idx = COL_LEGEND0 + n;
        plscol0a(idx, palette_rgb[st->color][0], palette_rgb[st->color][1],
                 palette_rgb[st->color][2], 1.0);
        text[n] = st->label;
        text_col[n] = COL_FG;
        line_col[n] = sym_col[n] = idx;
        line_sty[n] = dash_style(st->dash);
        line_w[n] = st->width;
        sym[n] = marker_glyph(st->marker);
        sym_num[n] = 1;
        sym_scale[n] = 0.8 * st->marker_size * rc->char_scale;   /* pllegend: absolute */
        box_col[n] = idx;
        box_pat[n] = 0;
        box_scale[n] = 0.8;
        box_width[n] = 1.0;
        switch (it->kind) {
        case PLOT_LINE:
            opts[n] = PL_LEGEND_LINE | (st->marker != MINIMA_MARKER_NONE ? PL_LEGEND_SYMBOL : 0);
            break;
        case PLOT_SCATTER: opts[n] = PL_LEGEND_SYMBOL; break;
        case PLOT_RECT: case PLOT_CIRCLE: case PLOT_BAND: {
            /* the fill as it looks over white */
            double a = st->alpha;
            const unsigned char *c = palette_rgb[st->fill];
            plscol0a(idx, (int)(255 - a * (255 - c[0]) + 0.5), (int)(255 - a * (255 - c[1]) + 0.5),
                     (int)(255 - a * (255 - c[2]) + 0.5), 1.0);
            opts[n] = PL_LEGEND_COLOR_BOX;
            break;
        }
        default: opts[n] = PL_LEGEND_LINE; break;
        }
        n++;
    }
    if (!n) return;
    minima_legend_pos where = p->legend;
    if (where == MINIMA_LEGEND_AUTO) {
        /* the inside corner that hides the least data */
        double chars = 0;
        for (PLINT k = 0; k < n; k++) chars = fmax(chars, label_chars(text[k]));
        double w = 0.02 + 0.07 + (1.8 + chars * CHAR_W) * 0.9 * rc->chx / vpw;
        double h = 0.02 + (n * 2.2 + 0.6) * 0.9 * rc->chy / vph;
        static const minima_legend_pos order[4] = {
            MINIMA_LEGEND_TOP_RIGHT, MINIMA_LEGEND_TOP_LEFT, MINIMA_LEGEND_BOTTOM_RIGHT,
            MINIMA_LEGEND_BOTTOM_LEFT};
        size_t best = (size_t)-1;
        for (int c = 0; c < 4; c++) {
            int right = c == 0 || c == 2, topc = c < 2;
            size_t cnt = corner_count(p, ax, ay, right ? 1 - w : 0, right ? 1 : w,
                                      topc ? 1 - h : 0, topc ? 1 : h);
            if (cnt < best) {
                best = cnt;
                where = order[c];
            }
        }
    }
    PLINT pos = PL_POSITION_INSIDE | PL_POSITION_VIEWPORT;
    switch (where) {
    case MINIMA_LEGEND_TOP_LEFT: pos |= PL_POSITION_TOP | PL_POSITION_LEFT; break;
    case MINIMA_LEGEND_BOTTOM_RIGHT: pos |= PL_POSITION_BOTTOM | PL_POSITION_RIGHT; break;
    case MINIMA_LEGEND_BOTTOM_LEFT: pos |= PL_POSITION_BOTTOM | PL_POSITION_LEFT; break;
    case MINIMA_LEGEND_OUTSIDE_RIGHT:
        pos = PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT | PL_POSITION_RIGHT;
        break;
    default: pos |= PL_POSITION_TOP | PL_POSITION_RIGHT; break;
    }
    PLFLT w, h;
    plwidth(1.0);
    pllsty(1);
    set_char(rc, 0.9);
    pllegend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, pos, 0.02, 0.02, 0.07,
             COL_LEGEND_BG, COL_LEGEND_BOX, 1, 0, 0, n, opts, 0.8, 0.9 * rc->char_scale, 2.2, 0.0,
             text_col, text,
             box_col, box_pat, box_scale, box_width, line_col, line_sty, line_w, sym_col,
             sym_scale, sym_num, sym);
    set_char(rc, 1.0);
}

static minima_status draw_panel(render_ctx *rc, int row, int col)
{
    const minima_figure *fig = rc->fig;
    const minima_panel *p = &fig->panels[row * fig->cols + col];
    axis_t *ax = &rc->ax[row * fig->cols + col], *ay = &rc->ay[row * fig->cols + col];
    double top_reserve = fig->title ? 2.6 * rc->chy : 0;
    double cw = 1.0 / fig->cols, chh = (1.0 - top_reserve) / fig->rows;
    double cx0 = col * cw, cy1 = 1.0 - top_reserve - row * chh;
    double bottom = (2.1 + (p->xlabel || axis_exponent(ax) ? 2.3 : 0) + 0.5) * rc->chy;
    double top = (p->title ? 2.4 : 1.0) * rc->chy;
    fit_ticks(ay, (chh - bottom - top) / rc->chy, 0);
    double ytick = widest_tick(ay) * CHAR_W;
    double left = (ytick + 1.2 + (p->ylabel || axis_exponent(ay) ? 1.8 : 0) + 0.8) * rc->chx;
    double right = right_margin(rc, p, chh - bottom - top) * rc->chx;
    double vx0 = cx0 + left, vx1 = cx0 + cw - right;
    double vy0 = cy1 - chh + bottom, vy1 = cy1 - top;
    if (!(vx1 - vx0 > 0.02 && vy1 - vy0 > 0.02))
        MINIMA_FAIL(MINIMA_EINVAL, "minima_plot_render: panel (%d, %d) has no room for its plot "
                    "area in a %d x %d figure (labels too long or figure too small)", row, col,
                    fig->width, fig->height);
    if (p->equal && !p->xlog && !p->ylog) {
        double aspect = (ay->hi - ay->lo) / (ax->hi - ax->lo);
        double pw = (vx1 - vx0) * fig->width, ph = (vy1 - vy0) * fig->height;
        if (ph / pw > aspect) {             /* too tall: shrink height */
            double d = (ph - aspect * pw) / fig->height / 2;
            vy0 += d;
            vy1 -= d;
        } else {
            double d = (pw - ph / aspect) / fig->width / 2;
            vx0 += d;
            vx1 -= d;
        }
    }
    fit_ticks(ay, (vy1 - vy0) / rc->chy, 0);
    fit_ticks(ax, (vx1 - vx0) / rc->chx, 1);
    plvpor(vx0, vx1, vy0, vy1);
    plwind(ax->lo, ax->hi, ay->lo, ay->hi);
    rc->labels.axis[0] = *ax;
    rc->labels.axis[1] = *ay;
    char xopt[32], yopt[32];
    PLFLT xt, yt;
    PLINT xs, ys;
    axis_opts(ax, "bcnt", xopt, sizeof xopt, &xt, &xs);
    axis_opts(ay, "bcntv", yopt, sizeof yopt, &yt, &ys);
    if (p->grid) {
        plcol0(COL_GRID);
        plwidth(0.8);
        pllsty(1);
        plbox(decade_axis(ax) ? "gl" : "g", xt, 0, decade_axis(ay) ? "gl" : "g", yt, 0);
    }
    size_t maxn = 2;
    for (size_t k = 0; k < p->n_items; k++)
        if (2 * p->items[k].n > maxn) maxn = 2 * p->items[k].n;   /* bands: both edges */
    PLFLT *wx = minima_alloc(maxn, sizeof *wx), *wy = minima_alloc(maxn, sizeof *wy);
    minima_status s = MINIMA_OK;
    const plot_item *bar = NULL;
    if (!wx || !wy) {
        s = minima_error(MINIMA_ENOMEM, "minima_plot_render: out of memory for %zu points", maxn);
        goto done;
    }
    for (size_t k = 0; k < p->n_items && s == MINIMA_OK; k++) {
        const plot_item *it = &p->items[k];
        switch (it->kind) {
        case PLOT_LINE: case PLOT_SCATTER:
            use_color(it->style.color, 1.0);
            set_line(&it->style);
            draw_line(rc, p, it, wx, wy);
            break;
        case PLOT_CIRCLE: draw_circle(rc, p, it); break;
        case PLOT_BAND: draw_band(rc, p, it, wx, wy); break;
        case PLOT_MAP:
            s = draw_map(rc, p, it);
            if (!bar && it->map.colorbar) bar = it;
            break;
        case PLOT_CONTOUR: s = draw_contour(rc, p, it); break;
        default: draw_shape(rc, p, it, ax, ay); break;
        }
    }
    if (s != MINIMA_OK) goto done;
    /* frame, ticks and labels on top of the data */
    plcol0(COL_FG);
    plwidth(1.0);
    pllsty(1);
    plbox(xopt, xt, xs, yopt, yt, ys);
    if (ax->mset) draw_mset_labels(ax, 'b');
    if (ay->mset) draw_mset_labels(ay, 'l');
    char label[1024];
    if (axis_label(p->xlabel, ax, label, sizeof label)) plmtex("b", 3.0, 0.5, 0.5, label);
    if (axis_label(p->ylabel, ay, label, sizeof label)) plmtex("l", ytick + 1.6, 0.5, 0.5, label);
    if (p->title) {
        set_char(rc, 1.1);
        plmtex("t", 1.0, 0.5, 0.5, p->title);
        set_char(rc, 1.0);
    }
    draw_legend(rc, p, ax, ay, vx1 - vx0, vy1 - vy0);
    if (bar) draw_colorbar(rc, bar, vx1, vy0, vy1);
done:
    minima_free(wx);
    minima_free(wy);
    return s;
}

/* ---- output ----------------------------------------------------------- */

/* LeakSanitizer hook (the name is the sanitizer's, not ours): fontconfig,
 * loaded by cairo for text, keeps a font cache for the life of the
 * process — FcFini() would free it, but pango still holds references and
 * fontconfig asserts. Defined here so that every program that draws
 * (tests, the CLI under `make sanitize`) is covered with no environment;
 * in builds without the sanitizer nothing calls it. tests/lsan.supp holds
 * the same rule for LSAN_OPTIONS. Define no second copy in a program.
 * Open MPI's libraries (a distributed run under the sanitizer) likewise keep
 * what MPI_Init allocates past MPI_Finalize. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\nleak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\n"
           "leak:libpmix.so\nleak:libhwloc.so\nleak:libevent\nleak:mca_\n";
}

static pthread_mutex_t render_lock = PTHREAD_MUTEX_INITIALIZER;
static jmp_buf exit_jump;
static int exit_armed;
static char exit_message[320];

static int on_plexit(PLCHAR_VECTOR msg)
{
    snprintf(exit_message, sizeof exit_message, "%s", msg ? msg : "");
    if (exit_armed) {
        exit_armed = 0;
        longjmp(exit_jump, 1);
    }
    return 1;
}

static void on_plabort(PLCHAR_VECTOR msg) { (void)msg; /* recorded through plsError */ }

static const char *device_for(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return NULL;
    if (!strcasecmp(dot, ".png")) return "pngcairo";
    if (!strcasecmp(dot, ".svg")) return "svg";
    if (!strcasecmp(dot, ".pdf")) return "pdfcairo";
    return NULL;
}

static int have_device(const char *dev)
{
    enum { MAXDEV = 128 };
    const char *menu[MAXDEV], *names[MAXDEV];
    const char **menu_p = menu, **names_p = names;
    int n = MAXDEV;
    plgDevs(&menu_p, &names_p, &n);
    for (int i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], dev)) return 1;
    return 0;
}

/* Everything between plinit and plend1; a plexit() lands back here. */
static minima_status draw_all(render_ctx *rc)
{
    const minima_figure *fig = rc->fig;
    plinit();
    pladv(0);
    plvpor(0, 1, 0, 1);
    PLFLT def, ht, xmin, xmax, ymin, ymax;
    plgchr(&def, &ht);
    plgspa(&xmin, &xmax, &ymin, &ymax);
    /* body text about 2.2 % of the figure's geometric mean size */
    double want_px = fig->text_scale * fmax(11.0, 0.022 * sqrt((double)fig->width * fig->height));
    double px_per_mm = fig->height / (ymax - ymin);
    rc->char_scale = want_px / (ht * px_per_mm);
    set_char(rc, 1.0);
    plgchr(&def, &ht);
    rc->chx = ht / (xmax - xmin);
    rc->chy = ht / (ymax - ymin);
    plsfont(PL_FCI_SANS, PL_FCI_UPRIGHT, PL_FCI_MEDIUM);
    plslabelfunc(label_callback, &rc->labels);
    minima_status s = MINIMA_OK;
    for (int r = 0; r < fig->rows && s == MINIMA_OK; r++)
        for (int c = 0; c < fig->cols && s == MINIMA_OK; c++)
            s = draw_panel(rc, r, c);
    if (s == MINIMA_OK && fig->title) {
        plvpor(0, 1, 0, 1);
        plwind(0, 1, 0, 1);
        plcol0(COL_FG);
        set_char(rc, 1.25);
        plptex(0.5, 1.0 - 1.3 * rc->chy, 1.0, 0.0, 0.5, fig->title);
        set_char(rc, 1.0);
    }
    return s;
}

static minima_status render_locked(render_ctx *rc, const char *dev, const char *tmp)
{
    PLINT old = 0, strm = -1;
    volatile minima_status s = MINIMA_OK;
    plgstrm(&old);
    plmkstrm(&strm);
    if (strm < 0)
        MINIMA_FAIL(MINIMA_EFAILED, "minima_plot_render: PLplot could not create a stream");
    rc->errcode = 0;
    rc->errmsg[0] = '\0';
    plsError(&rc->errcode, rc->errmsg);
    plsexit(on_plexit);
    plsabort(on_plabort);
    plsdev(dev);
    plsfnam(tmp);
    plspage(0, 0, rc->fig->width, rc->fig->height, 0, 0);
    set_colors();
    if (setjmp(exit_jump)) {
        s = minima_error(MINIMA_EFAILED, "minima_plot_render: PLplot failed: %s", exit_message);
        /* plexit() skipped plend: close the stream, once more guarded */
        if (!setjmp(exit_jump)) {
            exit_armed = 1;
            plend1();
        }
    } else {
        exit_armed = 1;
        s = draw_all(rc);
        plend1();
        exit_armed = 0;
    }
    exit_armed = 0;
    plsstrm(old);
    if (s == MINIMA_OK && rc->errcode)
        s = minima_error(MINIMA_EFAILED, "minima_plot_render: PLplot reported: %s", rc->errmsg);
    return s;
}

minima_status minima_plot_render(minima_figure *fig, const char *path)
{
    if (!fig || !path) MINIMA_FAIL(MINIMA_EINVAL, "minima_plot_render: figure or path is NULL");
    const char *dev = device_for(path);
    if (!dev)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_plot_render: '%s': expected a file name ending in "
                    ".png, .svg or .pdf", path);
    size_t plen = strlen(path);
    if (plen > 3500)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_plot_render: path of %zu bytes is too long", plen);
    if (strchr(path, '%'))
        MINIMA_FAIL(MINIMA_EINVAL, "minima_plot_render: '%s': '%%' is not allowed in the file "
                    "name (PLplot reads it as a format)", path);
    char dir[4096], tmp[8200];
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path == 0 ? 1 : slash - path), path);
    else snprintf(dir, sizeof dir, ".");
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        MINIMA_FAIL(MINIMA_EIO, "minima_plot_render: '%s': the output directory '%s' does not "
                    "exist", path, dir);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        MINIMA_FAIL(MINIMA_EIO, "minima_plot_render: '%s' is a directory", path);

    int n = fig->rows * fig->cols;
    render_ctx rc;
    memset(&rc, 0, sizeof rc);
    rc.fig = fig;
    rc.ax = minima_alloc((size_t)n, sizeof *rc.ax);
    rc.ay = minima_alloc((size_t)n, sizeof *rc.ay);
    minima_status s = MINIMA_OK;
    int fd = -1, locked = 0, slot = -1;
    tmp[0] = '\0';
    if (!rc.ax || !rc.ay) {
        s = minima_error(MINIMA_ENOMEM, "minima_plot_render: out of memory");
        goto fail;
    }
    for (int k = 0; k < n && s == MINIMA_OK; k++)
        s = panel_axes(&fig->panels[k], k / fig->cols, k % fig->cols, &rc.ax[k], &rc.ay[k]);
    if (s != MINIMA_OK) goto fail;

    snprintf(tmp, sizeof tmp, "%s/.%s.tmpXXXXXX", dir, slash ? slash + 1 : path);
    /* the new file keeps the mode of the one it replaces, else rw-r--r-- */
    mode_t mode = stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644;
    slot = minima_tempfile_register(tmp);     /* removed by a second Ctrl-C's handler */
    fd = mkstemp(tmp);
    if (fd < 0) {
        s = minima_error(MINIMA_EIO, "minima_plot_render: '%s': cannot create a temporary file "
                         "in '%s': %s", path, dir, strerror(errno));
        tmp[0] = '\0';
        goto fail;
    }
    if (fchmod(fd, mode) != 0) { /* keep mkstemp's 0600 */ }
    close(fd);
    fd = -1;
    pthread_mutex_lock(&render_lock);
    locked = 1;
    if (!have_device(dev)) {
        s = minima_error(MINIMA_EUNSUPPORTED, "minima_plot_render: '%s': this PLplot has no "
                         "'%s' device (install plplot-driver-cairo)", path, dev);
        goto fail;
    }
    s = render_locked(&rc, dev, tmp);
    pthread_mutex_unlock(&render_lock);
    locked = 0;
    if (s != MINIMA_OK) goto fail;

    fd = open(tmp, O_RDONLY);
    if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size == 0) {
        s = minima_error(MINIMA_EFAILED, "minima_plot_render: '%s': PLplot wrote nothing", path);
        goto fail;
    }
    if (fsync(fd) != 0) {
        s = minima_error(MINIMA_EIO, "minima_plot_render: '%s': fsync failed: %s", path,
                         strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    if (minima_tempfile_commit(tmp, path) != 0) {
        s = minima_error(MINIMA_EIO, "minima_plot_render: cannot rename '%s' to '%s': %s", tmp,
                         path, strerror(errno));
        goto fail;
    }
    minima_tempfile_unregister(slot);
    fig->dropped = rc.dropped;
    if (rc.dropped)
        minima_log(MINIMA_LOG_INFO, "plot '%s': %zu points not drawn (NaN/Inf or non-positive "
                   "on a log axis)", path, rc.dropped);
    minima_free(rc.ax);
    minima_free(rc.ay);
    return MINIMA_OK;
fail:
    if (locked) pthread_mutex_unlock(&render_lock);
    if (fd >= 0) close(fd);
    if (tmp[0]) unlink(tmp);
    minima_tempfile_unregister(slot);
    minima_free(rc.ax);
    minima_free(rc.ay);
    return s;
}
