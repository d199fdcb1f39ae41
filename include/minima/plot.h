/* minima/plot.h — figures: the one place minima draws (through PLplot).
 *
 * A figure is built in memory, then rendered to a file in one call:
 *
 *     minima_figure *fig;
 *     MINIMA_TRY(minima_figure_create(1, 2, 1200, 500, &fig));
 *     minima_panel *p = minima_figure_panel(fig, 0, 0);
 *     minima_panel_set_title(p, "Hessian spectrum");
 *     minima_panel_set_labels(p, "eigenvalue index", "eigenvalue");
 *     minima_panel_set_log(p, 0, 1);
 *     minima_style st = minima_style_default();
 *     st.label = "before rescaling";
 *     minima_panel_line(p, idx, ev, k, &st);        (arrays are copied)
 *     minima_status s = minima_plot_render(fig, "spectrum.png");
 *     minima_figure_destroy(fig);
 *
 * Output: the extension of the path picks the format, case-insensitive —
 * ".png" (PLplot's pngcairo device), ".pdf" (pdfcairo, fonts embedded),
 * ".svg" (PLplot's own svg device, which keeps text as <text> elements:
 * searchable and editable, where svgcairo would draw glyph outlines; maps
 * make large SVG files, prefer PNG or PDF for them). Anything else is
 * MINIMA_EINVAL naming the file. The file is written atomically: the figure
 * is drawn into a temporary file in the same directory, then renamed over
 * the path, so a failed render leaves what was there untouched.
 *
 * Look: white background, black axes and text, colours from the Okabe-Ito
 * palette (distinguishable by colour-blind readers, prints well), maps in
 * viridis (perceptually uniform, readable in grey).
 *
 * Ownership: every function that takes arrays or strings copies them; the
 * caller may free or reuse its buffers right after the call. Panels belong
 * to their figure (never free them); minima_figure_destroy frees everything.
 *
 * Data that cannot be drawn: NaN/Inf points of a line or scatter series,
 * and non-positive values on a log10 axis, are skipped (a line is broken
 * there) and counted — minima_figure_dropped() after rendering. A series
 * with no finite point, an empty series, or a panel whose log axis has no
 * positive value at all is an error, never a crash.
 *
 * Text (titles, labels, legend entries, annotations) is UTF-8 and may use
 * Greek letters and symbols directly ("α", "ε", "θ*"). An underscore is
 * drawn as typed: write subscripts and superscripts with PLplot's escapes,
 * "λ#dmax#u" (λ_max), "10#u−3#d" (10^-3); a literal '#' must be "##".
 *
 * Axes: ranges are automatic unless set; tick steps are chosen so labels
 * do not collide; large or small values show short labels and put the
 * power of ten in the axis label ("loss (×10^-3)"). Log axes label decades
 * 10^k, or 1-2-5×10^k when they span under three decades, or plain values
 * within a decade. The legend goes, by default, into the inside corner
 * that hides the least data.
 *
 * Threads: figures may be built concurrently; rendering is serialised
 * (PLplot has global state) — a second minima_plot_render waits for the
 * first. Rendering uses a PLplot stream of its own and restores the
 * caller's current stream afterwards. The library never prints; PLplot's
 * own warnings are captured where PLplot allows it. */
#ifndef MINIMA_PLOT_H
#define MINIMA_PLOT_H

#include <stddef.h>

#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct minima_figure minima_figure;
typedef struct minima_panel minima_panel;

/* ---- colours and styles --------------------------------------------- */

/* The Okabe-Ito palette plus grey. MINIMA_COLOR_AUTO takes the panel's
 * next colour in the cycle blue, vermillion, green, purple, orange, sky
 * blue, black, yellow (each line/scatter/contour series advances it). */
typedef enum {
    MINIMA_COLOR_AUTO = -1,
    MINIMA_COLOR_BLACK = 0,
    MINIMA_COLOR_ORANGE,      /* #E69F00 */
    MINIMA_COLOR_SKYBLUE,     /* #56B4E9 */
    MINIMA_COLOR_GREEN,       /* #009E73 bluish green */
    MINIMA_COLOR_YELLOW,      /* #F0E442 (poor on white for thin lines) */
    MINIMA_COLOR_BLUE,        /* #0072B2 */
    MINIMA_COLOR_VERMILLION,  /* #D55E00 */
    MINIMA_COLOR_PURPLE,      /* #CC79A7 reddish purple */
    MINIMA_COLOR_GREY,        /* #7F7F7F */
    MINIMA_COLOR_WHITE,
    MINIMA_N_COLORS
} minima_color;

typedef enum { MINIMA_DASH_SOLID = 0, MINIMA_DASH_DASHED, MINIMA_DASH_DOTTED } minima_dash;

typedef enum {
    MINIMA_MARKER_NONE = 0, MINIMA_MARKER_CIRCLE, MINIMA_MARKER_SQUARE,
    MINIMA_MARKER_TRIANGLE, MINIMA_MARKER_DIAMOND, MINIMA_MARKER_CROSS,
    MINIMA_MARKER_PLUS
} minima_marker;

/* How a series, reference line, shape or annotation looks. Start from
 * minima_style_default() and change fields. */
typedef struct {
    minima_color color;      /* line / marker / text / edge colour (AUTO: cycle) */
    double width;            /* line width in points, > 0 (default 1.5) */
    minima_dash dash;        /* default solid */
    minima_marker marker;    /* lines: marker at every point too (default none) */
    double marker_size;      /* relative to the default, > 0 (default 1) */
    minima_color fill;       /* rect/circle fill (AUTO: same as color) */
    double alpha;            /* fill opacity in [0, 1] (default 0.3); lines are opaque */
    double text_size;        /* text annotations: relative size (default 1) */
    const char *label;       /* legend entry (copied); NULL: not in the legend */
} minima_style;

minima_style minima_style_default(void);

/* ---- figures and panels ---------------------------------------------- */

/* A figure of rows x cols panels (each 1..8) on a page of width x height
 * pixels (each 64..8192); SVG and PDF pages are width x height points
 * (1/72 inch). Text is about 2.2 % of sqrt(width * height) high, so a
 * figure looks the same at any size: choose the aspect, then the size. */
minima_status minima_figure_create(int rows, int cols, int width_px, int height_px,
                                   minima_figure **out);
void minima_figure_destroy(minima_figure *fig);   /* NULL is fine */

/* Scales every text and marker of the figure (default 1; 0.25..4). Use
 * 1.3-1.6 for a figure that will be shrunk to one column of a paper. */
minima_status minima_figure_set_text_scale(minima_figure *fig, double scale);

/* A title over the whole figure (NULL: none). */
minima_status minima_figure_set_title(minima_figure *fig, const char *title);

/* The panel at (row, col), counted from the top left; NULL if out of range. */
minima_panel *minima_figure_panel(minima_figure *fig, int row, int col);

/* Points skipped by the last render (NaN/Inf, or non-positive on a log axis). */
size_t minima_figure_dropped(const minima_figure *fig);

minima_status minima_panel_set_title(minima_panel *p, const char *title);
minima_status minima_panel_set_labels(minima_panel *p, const char *xlabel, const char *ylabel);
/* log10 axes, each independently (nonzero: log). Default linear. */
minima_status minima_panel_set_log(minima_panel *p, int xlog, int ylog);
/* Explicit axis ranges, lo < hi. NaN for an end means automatic (the
 * default): the data's extent plus a 4 % margin (none around a map). */
minima_status minima_panel_set_xrange(minima_panel *p, double lo, double hi);
minima_status minima_panel_set_yrange(minima_panel *p, double lo, double hi);
/* Equal scale on both axes (a circle looks round), e.g. for parameter
 * planes. Default off. Ignored when an axis is logarithmic. */
minima_status minima_panel_set_equal_aspect(minima_panel *p, int on);
/* Light grey grid lines at the major ticks. Default off. */
minima_status minima_panel_set_grid(minima_panel *p, int on);

typedef enum {
    MINIMA_LEGEND_AUTO = 0,       /* the inside corner hiding the least data (default) */
    MINIMA_LEGEND_NONE,
    MINIMA_LEGEND_TOP_RIGHT, MINIMA_LEGEND_TOP_LEFT,
    MINIMA_LEGEND_BOTTOM_RIGHT, MINIMA_LEGEND_BOTTOM_LEFT,
    MINIMA_LEGEND_OUTSIDE_RIGHT   /* right of the panel: reserve space by a wider figure */
} minima_legend_pos;
/* A legend lists every item whose style has a label, in the order added. */
minima_status minima_panel_set_legend(minima_panel *p, minima_legend_pos pos);

/* ---- items (drawn in the order added) ------------------------------- */

/* A line through (x[i], y[i]), i < n; with style->marker also a marker at
 * each point. style NULL: defaults. */
minima_status minima_panel_line(minima_panel *p, const double *x, const double *y, size_t n,
                                const minima_style *style);
/* Markers only (marker NONE in the style means circles). */
minima_status minima_panel_scatter(minima_panel *p, const double *x, const double *y, size_t n,
                                   const minima_style *style);
/* A filled band between lower[i] and upper[i] over x[i], i < n (an
 * uncertainty band, the region below a curve): fill style->fill at
 * style->alpha, no outline; points with a NaN/Inf are gaps. Default colour
 * from the cycle; in the legend as a colour box. */
minima_status minima_panel_band(minima_panel *p, const double *x, const double *lower,
                                const double *upper, size_t n, const minima_style *style);
/* Reference lines across the whole panel (default: grey, dashed). */
minima_status minima_panel_vline(minima_panel *p, double x, const minima_style *style);
minima_status minima_panel_hline(minima_panel *p, double y, const minima_style *style);
/* Axis-aligned rectangle [x0, x1] x [y0, y1] (corners in any order),
 * filled with style->fill at opacity style->alpha (0: no fill) and
 * outlined with style->color at style->width. Default: blue, alpha 0.3. */
minima_status minima_panel_rect(minima_panel *p, double x0, double y0, double x1, double y1,
                                const minima_style *style);
/* Circle of radius r in data units around (cx, cy) — round on screen only
 * with minima_panel_set_equal_aspect. Filled and outlined as a rect. */
minima_status minima_panel_circle(minima_panel *p, double cx, double cy, double r,
                                  const minima_style *style);
/* Text at data point (x, y); halign 0 left, 0.5 centre, 1 right (the
 * point is at that fraction of the text's width, vertically centred).
 * Like all data, it is clipped to the plot area. */
minima_status minima_panel_text(minima_panel *p, double x, double y, const char *text,
                                double halign, const minima_style *style);

/* ---- 2-D maps --------------------------------------------------------- */

/* A grid of values: z[j * nx + i] is the value at (x[i], y[j]); x and y
 * strictly increasing, nx, ny >= 2, every z finite. */
typedef struct {
    int log_values;            /* colour by log10(z); z <= 0 is clamped to the
                                  smallest positive value (counted as dropped) */
    double zmin, zmax;         /* colour range; NaN: the data's (default) */
    int n_shades;              /* colour steps, 2..256 (default 64) */
    int colorbar;              /* draw a colour bar at the right (default 1) */
    const char *colorbar_label;/* its label (copied), NULL: none */
} minima_map_options;

minima_map_options minima_map_default_options(void);

/* A filled (shaded) map in viridis. opts NULL: defaults. */
minima_status minima_panel_map(minima_panel *p, const double *z /* (ny, nx) */,
                               const double *x /* (nx) */, size_t nx,
                               const double *y /* (ny) */, size_t ny,
                               const minima_map_options *opts);
/* Contour lines of the same kind of grid at the given levels (copied),
 * or, with levels NULL, at n_levels levels evenly spaced strictly inside
 * [min z, max z]. Style: colour, width, dash, label (one legend entry);
 * an AUTO colour is white when the panel already holds a map. */
minima_status minima_panel_contour(minima_panel *p, const double *z /* (ny, nx) */,
                                   const double *x /* (nx) */, size_t nx,
                                   const double *y /* (ny) */, size_t ny,
                                   const double *levels, size_t n_levels,
                                   const minima_style *style);

/* ---- output ----------------------------------------------------------- */

/* Draw the figure into `path` (.png, .svg or .pdf), atomically. Errors:
 * EINVAL (unknown extension, bad figure), EIO (the directory does not
 * exist or is not writable, the rename failed), ERANGE (a log axis with no
 * positive value), EUNSUPPORTED (this PLplot lacks the cairo driver),
 * EFAILED (PLplot reported an error, its message included). */
minima_status minima_plot_render(minima_figure *fig, const char *path);

#ifdef __cplusplus
}
#endif
#endif
