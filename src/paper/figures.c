/* figures.c — the paper's figures: parameters, the small networks they are
 * drawn from, and minima_figures_draw. One file per figure: figure_1.c ..
 * figure_5.c, figure_s1.c. See minima/figures.h. */
#include "minima/figures.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "paper/figures_impl.h"
#include "minima/alloc.h"
#include "minima/rng.h"
#include "minima/synthetic.h"
#include "minima/train.h"

minima_figures_params minima_figures_default_params(void)
{
    minima_figures_params p;
    memset(&p, 0, sizeof p);
    p.seed = 1;
    p.grid = 161;
    p.samples = 601;
    p.fig1_eps_height = 0.02;
    p.fig1_eps_radius = 0.25;
    p.fig2_eps = 0.05;
    p.fig3_eps = 0.4;
    p.fig3_j_min = -2;
    p.fig3_j_max = 2;
    p.fig4_radius = 0.5;
    p.fig5_a = 0.5;
    p.fig5_b = 0.05;
    p.supp_rhat = 0.5;
    p.supp_delta = 1.0;
    p.supp_rho = 0.15;
    p.ext = ".png";
    return p;
}

minima_status minima_figures_check_params(const minima_figures_params *p)
{
    if (!p) MINIMA_FAIL(MINIMA_EINVAL, "minima_figures_check_params: NULL argument");
    if (p->grid < 21 || p->grid > 1001)
        MINIMA_FAIL(MINIMA_EINVAL, "figures: grid must be in [21, 1001], got %d", p->grid);
    if (p->samples < 21 || p->samples > 100001)
        MINIMA_FAIL(MINIMA_EINVAL, "figures: samples must be in [21, 100001], got %d", p->samples);
    if (!(p->fig1_eps_height > 0 && isfinite(p->fig1_eps_height)))
        MINIMA_FAIL(MINIMA_EINVAL, "figures: fig1_eps_height must be finite and > 0, got %g",
                    p->fig1_eps_height);
    if (!(p->fig1_eps_radius > 0 && isfinite(p->fig1_eps_radius)))
        MINIMA_FAIL(MINIMA_EINVAL, "figures: fig1_eps_radius must be finite and > 0, got %g",
                    p->fig1_eps_radius);
    if (!(p->fig2_eps > 0 && isfinite(p->fig2_eps)))
        MINIMA_FAIL(MINIMA_EINVAL, "figures: fig2_eps must be finite and > 0, got %g", p->fig2_eps);
    if (!(p->fig3_eps > 0 && isfinite(p->fig3_eps)))
        MINIMA_FAIL(MINIMA_EINVAL, "figures: fig3_eps must be finite and > 0, got %g", p->fig3_eps);
    if (p->fig3_j_min > 0 || p->fig3_j_max < 0 ||
        p->fig3_j_max - p->fig3_j_min + 1 > MINIMA_FIG3_MAX_BOXES)
        MINIMA_FAIL(MINIMA_EINVAL, "figures: fig3_j_min <= 0 <= fig3_j_max with at most %d boxes "
                    "needed, got [%d, %d]", MINIMA_FIG3_MAX_BOXES, p->fig3_j_min, p->fig3_j_max);
    if (!(p->fig4_radius > 0 && isfinite(p->fig4_radius)))
        MINIMA_FAIL(MINIMA_EINVAL, "figures: fig4_radius must be finite and > 0, got %g",
                    p->fig4_radius);
    if (!(p->fig5_a > -0.5 && isfinite(p->fig5_a)) || !(p->fig5_b > 0 && isfinite(p->fig5_b)))
        MINIMA_FAIL(MINIMA_EINVAL, "figures: fig5_a > -1/2 and fig5_b > 0 needed, got a=%g b=%g",
                    p->fig5_a, p->fig5_b);
    if (!(p->supp_rhat > 0 && p->supp_rho > 0 && p->supp_rhat < p->supp_delta &&
          p->supp_rho < p->supp_delta && isfinite(p->supp_delta)))
        MINIMA_FAIL(MINIMA_EINVAL, "figures: 0 < supp_rhat, supp_rho < supp_delta needed, got "
                    "rhat=%g delta=%g rho=%g", p->supp_rhat, p->supp_delta, p->supp_rho);
    if (p->ext && strcmp(p->ext, ".png") && strcmp(p->ext, ".pdf") && strcmp(p->ext, ".svg"))
        MINIMA_FAIL(MINIMA_EINVAL, "figures: ext must be \".png\", \".pdf\" or \".svg\", got \"%s\"",
                    p->ext);
    return MINIMA_OK;
}

/* ---- shared helpers ------------------------------------------------------ */

void fig_trained_free(fig_trained *t)
{
    if (!t) return;
    minima_net_free(t->net);
    minima_dataset_free(t->data);
    minima_model_free(t->model);
    memset(t, 0, sizeof *t);
}

minima_style fig_style(minima_color color, double width, minima_dash dash)
{
    minima_style st = minima_style_default();
    st.color = color;
    st.width = width;
    st.dash = dash;
    return st;
}

minima_status fig_render(minima_figure *fig, const char *path)
{
    minima_status s = path ? minima_plot_render(fig, path) : MINIMA_OK;
    minima_figure_destroy(fig);
    return s;
}

/* Full-batch training of t->model on t->data, then the engine at the result. */
static minima_status train_full_batch(fig_trained *t, const minima_optimizer_params *opt,
                                      int epochs, double grad_tol)
{
    minima_train_params tp = minima_train_default_params();
    tp.opt = *opt;
    tp.batch_size = 0;
    tp.epochs = epochs;
    tp.grad_tol = grad_tol;
    tp.grad_every = grad_tol > 0 ? 50 : 0;
    tp.eval_train = 0;
    minima_trainer *tr = NULL;
    MINIMA_TRY(minima_trainer_alloc(&tr, t->model, t->data, NULL, &tp));
    minima_status s = MINIMA_OK;
    while (!minima_trainer_done(tr)) {
        minima_epoch_stats st;
        if ((s = minima_trainer_epoch(tr, &st)) != MINIMA_OK) break;
    }
    minima_trainer_free(tr);
    return s;
}

static minima_status finish_trained(fig_trained *t)
{
    minima_net_params np = minima_net_default_params(t->model);
    np.batch_size = 0;
    MINIMA_TRY(minima_net_create(&t->net, t->model, t->data, &np));
    size_t n = t->model->n_params;
    double *g = minima_alloc(n, sizeof *g);
    if (!g) MINIMA_FAIL(MINIMA_ENOMEM, "figures: out of memory for a gradient of %zu", n);
    minima_status s = minima_net_gradient(t->net, NULL, &t->loss, g);
    double gg = 0;
    for (size_t i = 0; i < n; i++) gg += g[i] * g[i];
    t->grad_norm = sqrt(gg);
    minima_free(g);
    return s;
}

/* ---- the one-unit network (Figs. 2-4) ----------------------------------- */

#define UNIT_N 200

minima_status fig_unit_train(const minima_figures_params *p, fig_trained *t,
                             minima_fig_unit *info)
{
    memset(t, 0, sizeof *t);
    minima_status s;
    int widths[3] = {1, 1, 1};
    if ((s = minima_dataset_create(&t->data, UNIT_N, 1, 0, 1)) != MINIMA_OK) goto fail;
    minima_rng rng;
    minima_rng_seed2(&rng, p->seed, 0xF16);
    for (size_t i = 0; i < UNIT_N; i++) {
        double x = -2.0 + 4.0 * minima_rng_uniform(&rng);
        t->data->x[i] = x;
        t->data->targets[i] = 1.5 * (x > 0 ? x : 0) + 0.1 * minima_rng_normal(&rng);
    }
    if ((s = minima_model_create(&t->model, 2, widths, 0, MINIMA_ACT_RELU)) != MINIMA_OK) goto fail;
    t->model->loss = MINIMA_LOSS_MSE;
    /* A seeded start in theta1 > 0 (the half-plane where the unit sees the
     * targets), away from the axes. Gradient flow keeps theta1^2 - theta2^2. */
    t->model->theta[0] = 0.4 + 1.2 * minima_rng_uniform(&rng);
    t->model->theta[1] = 0.4 + 1.2 * minima_rng_uniform(&rng);
    minima_optimizer_params opt = minima_optimizer_default_params();
    opt.lr = 0.05;
    opt.momentum = 0.9;
    if ((s = train_full_batch(t, &opt, 3000, 1e-12)) != MINIMA_OK) goto fail;
    if ((s = finish_trained(t)) != MINIMA_OK) goto fail;
    if (!(t->model->theta[0] > 0 && t->model->theta[1] > 0 && t->grad_norm < 1e-6)) {
        s = minima_error(MINIMA_EFAILED, "figures: the one-unit network (seed %llu) did not reach "
                         "a minimum with theta1, theta2 > 0: theta = (%g, %g), |grad L| = %g",
                         (unsigned long long)p->seed, t->model->theta[0], t->model->theta[1],
                         t->grad_norm);
        goto fail;
    }
    if (info) {
        info->theta1 = t->model->theta[0];
        info->theta2 = t->model->theta[1];
        info->loss = t->loss;
        info->grad_norm = t->grad_norm;
        info->product = info->theta1 * info->theta2;
        if ((s = fig_unit_loss(t, 0.0, 1.0, &info->loss_const)) != MINIMA_OK) goto fail;
    }
    return MINIMA_OK;
fail:
    fig_trained_free(t);
    return s;
}

minima_status fig_unit_loss(fig_trained *t, double theta1, double theta2, double *loss)
{
    double th[2] = {theta1, theta2};
    return minima_net_loss(t->net, th, loss, NULL);
}

minima_status fig_unit_grid(fig_trained *t, const double *x, size_t nx, const double *y,
                            size_t ny, double *z, double *zmin, double *zmax)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t j = 0; j < ny; j++) {
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "figures: interrupted");
        for (size_t i = 0; i < nx; i++) {
            double v;
            MINIMA_TRY(fig_unit_loss(t, x[i], y[j], &v));
            z[j * nx + i] = v;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    }
    if (zmin) *zmin = lo;
    if (zmax) *zmax = hi;
    return MINIMA_OK;
}

minima_status fig_unit_map(minima_panel *panel, fig_trained *t, int grid, double x0, double x1,
                           double y0, double y1, int log_coords, double *zmin, double *zmax)
{
    size_t n = (size_t)grid;
    minima_status s = MINIMA_OK;
    double *x = minima_alloc(n, sizeof *x), *y = minima_alloc(n, sizeof *y);
    double *z = minima_alloc(n * n, sizeof *z);   /* (grid, grid) */
    if (!x || !y || !z) {
        s = minima_error(MINIMA_ENOMEM, "figures: out of memory for a %d x %d loss map", grid, grid);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        x[i] = x0 + (x1 - x0) * (double)i / (double)(n - 1);
        y[i] = y0 + (y1 - y0) * (double)i / (double)(n - 1);
    }
    double lo = INFINITY, hi = -INFINITY;
    if (log_coords) {
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < n; i++) {
                double v;
                if ((s = fig_unit_loss(t, pow(10.0, x[i]), pow(10.0, y[j]), &v)) != MINIMA_OK)
                    goto fail;
                z[j * n + i] = v;
                lo = fmin(lo, v);
                hi = fmax(hi, v);
            }
    } else if ((s = fig_unit_grid(t, x, n, y, n, z, &lo, &hi)) != MINIMA_OK) {
        goto fail;
    }
    if (zmin) *zmin = lo;
    if (zmax) *zmax = hi;
    minima_map_options mo = minima_map_default_options();
    mo.log_values = 1;
    mo.colorbar_label = "loss L (log scale)";
    if ((s = minima_panel_map(panel, z, x, n, y, n, &mo)) != MINIMA_OK) goto fail;
    /* level lines L(theta) + eps at eps = 0.01 .. 10 (decades of the excess) */
    double lv[4];
    size_t nl = 0;
    for (int k = -2; k <= 1; k++) {
        double v = t->loss + pow(10.0, k);
        if (v > lo && v < hi) lv[nl++] = v;
    }
    if (nl > 0) {
        minima_style cs = fig_style(MINIMA_COLOR_WHITE, 1.0, MINIMA_DASH_SOLID);
        if ((s = minima_panel_contour(panel, z, x, n, y, n, lv, nl, &cs)) != MINIMA_OK) goto fail;
    }
fail:
    minima_free(x);
    minima_free(y);
    minima_free(z);
    return s;
}

minima_status fig_hyperbola(minima_panel *panel, double c, double x0, double x1, double ymax,
                            const minima_style *style)
{
    enum { NH = 400 };
    double hx[NH], hy[NH];
    size_t n = 0;
    for (int k = 0; k < NH; k++) {
        /* geometric spacing: even density along the curve near both axes */
        double x = x0 * pow(x1 / x0, (double)k / (NH - 1));
        double y = c / x;
        if (y > ymax || y < -ymax) continue;
        hx[n] = x;
        hy[n] = y;
        n++;
    }
    if (n < 2) MINIMA_FAIL(MINIMA_EINVAL, "figures: the curve theta1 theta2 = %g misses the plane", c);
    return minima_panel_line(panel, hx, hy, n, style);
}

/* ---- the MLP (Figs. 1 and 5) --------------------------------------------- */

#define MLP_N 256

minima_status fig_mlp_train(const minima_figures_params *p, fig_trained *t)
{
    memset(t, 0, sizeof *t);
    minima_status s;
    /* Teacher 2-16-1 (wider than the student, so the minimum has a loss > 0),
     * student 2-8-1; both with biases. */
    int twidths[3] = {2, 16, 1}, widths[3] = {2, 8, 1};
    if ((s = minima_synthetic_teacher(MLP_N, 2, twidths, 0.0, 0.02, p->seed, &t->data)) != MINIMA_OK)
        goto fail;
    if ((s = minima_model_create(&t->model, 2, widths, 1, MINIMA_ACT_RELU)) != MINIMA_OK) goto fail;
    t->model->loss = MINIMA_LOSS_MSE;
    minima_model_init(t->model, minima_train_init_seed(p->seed));
    minima_optimizer_params opt = minima_optimizer_default_params();
    opt.kind = MINIMA_OPT_ADAM;
    opt.lr = 0.01;
    if ((s = train_full_batch(t, &opt, 4000, 0)) != MINIMA_OK) goto fail;
    opt.lr = 0.001;
    if ((s = train_full_batch(t, &opt, 2000, 1e-9)) != MINIMA_OK) goto fail;
    if ((s = finish_trained(t)) != MINIMA_OK) goto fail;
    return MINIMA_OK;
fail:
    fig_trained_free(t);
    return s;
}

/* ---- all figures ---------------------------------------------------------- */

minima_status minima_figures_draw(const char *dir, const minima_figures_params *params,
                                  minima_figures_report *report)
{
    if (!dir) MINIMA_FAIL(MINIMA_EINVAL, "minima_figures_draw: NULL directory");
    minima_figures_params p = params ? *params : minima_figures_default_params();
    MINIMA_TRY(minima_figures_check_params(&p));
    const char *ext = p.ext ? p.ext : ".png";
    struct stat sb;
    if (stat(dir, &sb) != 0)
        MINIMA_FAIL(MINIMA_EIO, "figures: directory '%s': %s (create it first)", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        MINIMA_FAIL(MINIMA_EIO, "figures: '%s' is not a directory", dir);
    minima_figures_report local;
    minima_figures_report *r = report ? report : &local;
    memset(r, 0, sizeof *r);
    char path[4096];
    const char *names[6] = {"fig1_flatness", "fig2_levelsets", "fig3_boxes", "fig4_balls",
                            "fig5_reparam", "supp_fig1_radial"};
    for (int k = 0; k < 6; k++) {
        minima_progress("figures", k, 6);
        if (minima_interrupted()) MINIMA_FAIL(MINIMA_EINTERRUPTED, "figures: interrupted");
        int len = snprintf(path, sizeof path, "%s/%s%s", dir, names[k], ext);
        if (len < 0 || (size_t)len >= sizeof path)
            MINIMA_FAIL(MINIMA_EINVAL, "figures: directory name too long (%zu bytes)", strlen(dir));
        switch (k) {
        case 0: MINIMA_TRY(minima_figure1_draw(path, &p, &r->fig1)); break;
        case 1: MINIMA_TRY(minima_figure2_draw(path, &p, &r->fig2)); break;
        case 2: MINIMA_TRY(minima_figure3_draw(path, &p, &r->fig3)); break;
        case 3: MINIMA_TRY(minima_figure4_draw(path, &p, &r->fig4)); break;
        case 4: MINIMA_TRY(minima_figure5_draw(path, &p, &r->fig5)); break;
        default: MINIMA_TRY(minima_figure_supp1_draw(path, &p, &r->supp1)); break;
        }
    }
    minima_progress("figures", 6, 6);
    return MINIMA_OK;
}
