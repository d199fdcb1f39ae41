/* cli_plots.h — figures that more than one subcommand draws. */
#ifndef MINIMA_CLI_PLOTS_H
#define MINIMA_CLI_PLOTS_H

#include "minima/density.h"
#include "minima/status.h"

/* The SLQ density on a log axis (floored at 1e-12 of its peak so the curve
 * stays continuous where the Gaussian kernels underflow), with the top
 * eigenvalues top[0..n_top) marked as dashed lines. */
minima_status cli_plot_density(const char *path, const minima_density_result *dens,
                               const double *top, int n_top, const char *title);

#endif
