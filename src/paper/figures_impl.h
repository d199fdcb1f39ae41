/* figures_impl.h — what the figure files (src/figure_*.c) share: the two
 * small trained networks they draw from, and a few drawing helpers. */
#ifndef MINIMA_FIGURES_IMPL_H
#define MINIMA_FIGURES_IMPL_H

#include <stddef.h>

#include "minima/data.h"
#include "minima/figures.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/plot.h"
#include "minima/status.h"

/* A trained network with its data and an engine bound to both. */
typedef struct {
    minima_model *model;
    minima_dataset *data;
    minima_net *net;
    double loss;              /* at the trained point model->theta */
    double grad_norm;
} fig_trained;

void fig_trained_free(fig_trained *t);

/* The one-unit network y = theta2 relu(theta1 x) of Figs. 2-4 (P = 2). */
minima_status fig_unit_train(const minima_figures_params *p, fig_trained *t,
                             minima_fig_unit *info);
/* L at (theta1, theta2). */
minima_status fig_unit_loss(fig_trained *t, double theta1, double theta2, double *loss);
/* L over the grid x (nx) by y (ny): z (ny, nx); min and max of z. */
minima_status fig_unit_grid(fig_trained *t, const double *x, size_t nx, const double *y,
                            size_t ny, double *z, double *zmin, double *zmax);
/* The background every one-unit figure draws on: a log-coloured map of
 * L over [x0, x1] x [y0, y1] with white level lines at L(theta) + 10^k,
 * k = -2..1. log_coords: the axes are log10 theta1 and log10 theta2 (the
 * bounds are logarithms too). */
minima_status fig_unit_map(minima_panel *panel, fig_trained *t, int grid, double x0, double x1,
                           double y0, double y1, int log_coords, double *zmin, double *zmax);
/* The curve theta1 theta2 = c for theta1 in [x0, x1] (x0 > 0), clipped to
 * theta2 <= ymax, drawn with style. */
minima_status fig_hyperbola(minima_panel *panel, double c, double x0, double x1, double ymax,
                            const minima_style *style);

/* The 2-8-1 MLP (biases, MSE) of Figs. 1 and 5, trained on teacher data. */
minima_status fig_mlp_train(const minima_figures_params *p, fig_trained *t);

/* A style with a colour, width and dash (label NULL). */
minima_style fig_style(minima_color color, double width, minima_dash dash);

/* Render into path (if not NULL) and destroy the figure either way. */
minima_status fig_render(minima_figure *fig, const char *path);

#endif
