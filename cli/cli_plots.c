/* cli_plots.c — see cli_plots.h. */
#include "cli_plots.h"

#include <math.h>

#include "minima/alloc.h"
#include "minima/plot.h"

minima_status cli_plot_density(const char *path, const minima_density_result *dens,
                               const double *top, int n_top, const char *title)
{
    minima_figure *fig = NULL;
    MINIMA_TRY(minima_figure_create(1, 1, 1000, 650, &fig));
    minima_panel *p = minima_figure_panel(fig, 0, 0);
    minima_panel_set_title(p, title);
    minima_panel_set_labels(p, "eigenvalue", "density (log scale)");
    minima_panel_set_log(p, 0, 1);
    size_t ng = dens->n_grid;
    double *y = minima_alloc(ng, sizeof *y);
    if (!y) {
        minima_figure_destroy(fig);
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    }
    double peak = 0;
    for (size_t i = 0; i < ng; i++) if (dens->values[i] > peak) peak = dens->values[i];
    if (!(peak > 0)) peak = 1;
    for (size_t i = 0; i < ng; i++) y[i] = fmax(dens->values[i], peak * 1e-12);
    minima_style line = minima_style_default();
    line.label = "SLQ density";
    minima_status st = minima_panel_line(p, dens->grid, y, ng, &line);
    if (st == MINIMA_OK) st = minima_panel_set_yrange(p, peak * 1e-12, peak * 3);
    minima_style mark = minima_style_default();
    mark.color = MINIMA_COLOR_VERMILLION;
    mark.dash = MINIMA_DASH_DASHED;
    mark.width = 1.0;
    for (int i = 0; st == MINIMA_OK && i < n_top; i++) {
        mark.label = i == 0 ? "top eigenvalues (Lanczos)" : NULL;
        st = minima_panel_vline(p, top[i], &mark);
    }
    if (st == MINIMA_OK) st = minima_panel_set_legend(p, MINIMA_LEGEND_TOP_RIGHT);
    if (st == MINIMA_OK) st = minima_plot_render(fig, path);
    minima_free(y);
    minima_figure_destroy(fig);
    return st;
}
