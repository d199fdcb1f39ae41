/* plot_impl.h — the in-memory figure shared by plot.c (building) and
 * plot_render.c (drawing through PLplot). */
#ifndef MINIMA_PLOT_IMPL_H
#define MINIMA_PLOT_IMPL_H

#include "minima/plot.h"

typedef enum {
    PLOT_LINE, PLOT_SCATTER, PLOT_VLINE, PLOT_HLINE, PLOT_RECT, PLOT_CIRCLE,
    PLOT_TEXT, PLOT_MAP, PLOT_CONTOUR, PLOT_BAND
} plot_kind;

typedef struct {
    plot_kind kind;
    minima_style style;        /* color resolved (never AUTO); label owned */
    double *x, *y;             /* line/scatter/band: (n); map/contour: (nx), (ny) */
    size_t n, nx, ny;
    double *z;                 /* map/contour: (ny, nx); band: upper (n), y lower */
    double *levels;            /* contour: (n_levels) */
    size_t n_levels;
    double a, b, c, d;         /* vline a; hline b; rect x0 a, y0 b, x1 c, y1 d;
                                  circle cx a, cy b, r c; text x a, y b, halign c */
    char *text;                /* text annotation (owned) */
    minima_map_options map;    /* colorbar_label owned */
} plot_item;

struct minima_panel {
    char *title, *xlabel, *ylabel;
    int xlog, ylog, equal, grid;
    double xlo, xhi, ylo, yhi;  /* NaN: automatic */
    minima_legend_pos legend;
    plot_item *items;
    size_t n_items, cap_items;
    int next_color;             /* position in the colour cycle */
};

struct minima_figure {
    int rows, cols, width, height;
    double text_scale;          /* relative text size (1: default) */
    char *title;
    minima_panel *panels;       /* (rows * cols), row-major */
    size_t dropped;
};

#endif
