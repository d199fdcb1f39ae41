/* test_figures.c — the paper's figures: each is drawn (a real PNG) and the
 * numbers it drew say what the paper's figure says. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "paper/figures_impl.h"
#include "harness.h"
#include "minima/figures.h"

static minima_figures_params small_params(void)
{
    minima_figures_params p = minima_figures_default_params();
    p.grid = 61;       /* coarser maps: the numbers do not depend on them */
    p.samples = 301;
    return p;
}

static minima_figures_report report;
static int drawn;

static void check_png(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.png", harness_tmpdir(), name);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "%s was not written", path);
    if (!f) return;
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, 8, f);
    fclose(f);
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    CHECK_MSG(got == 8 && memcmp(magic, png, 8) == 0, "%s is not a PNG", path);
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    /* a drawn figure with maps, curves and text: tens of kilobytes */
    CHECK_MSG(sb.st_size > 20000 && sb.st_size < 5000000, "%s has %lld bytes", path,
              (long long)sb.st_size);
}

static void test_draw_all(void)
{
    minima_figures_params p = small_params();
    CHECK_OK(minima_figures_draw(harness_tmpdir(), &p, &report));
    drawn = 1;
    check_png("fig1_flatness");
    check_png("fig2_levelsets");
    check_png("fig3_boxes");
    check_png("fig4_balls");
    check_png("fig5_reparam");
    check_png("supp_fig1_radial");
}

static void test_bad_input(void)
{
    minima_figures_params p = small_params();
    char path[512];
    snprintf(path, sizeof path, "%s/no/such/dir", harness_tmpdir());
    CHECK_STATUS(minima_figures_draw(path, &p, NULL), MINIMA_EIO);
    CHECK(strstr(minima_last_error(), "no/such/dir") != NULL);
    snprintf(path, sizeof path, "%s/fig1_flatness.png", harness_tmpdir());
    CHECK_STATUS(minima_figures_draw(path, &p, NULL), MINIMA_EIO);   /* a file */
    p.grid = 3;
    CHECK_STATUS(minima_figures_draw(harness_tmpdir(), &p, NULL), MINIMA_EINVAL);
    p = small_params();
    p.supp_rho = 2 * p.supp_delta;
    CHECK_STATUS(minima_figure_supp1_draw(NULL, &p, NULL), MINIMA_EINVAL);
    p = small_params();
    p.fig4_radius = 100;   /* larger than |theta1|: alpha would be > 1 */
    CHECK_STATUS(minima_figure4_draw(NULL, &p, NULL), MINIMA_EINVAL);
    p = small_params();
    p.ext = ".gif";
    CHECK_STATUS(minima_figures_draw(harness_tmpdir(), &p, NULL), MINIMA_EINVAL);
}

/* Fig. 1: a trained network near a critical point; along the top
 * eigenvector the flat width and the rise agree with the quadratic model
 * to within the cubic terms. */
static void test_fig1(void)
{
    if (!drawn) return;
    const minima_fig1_result *r = &report.fig1;
    CHECK(r->n_params == 33);
    CHECK(r->grad_norm < 1e-3);
    CHECK(r->lambda_max > 0);
    CHECK(r->t_lo < 0 && r->t_hi > 0);
    CHECK_REL(r->width, r->t_hi - r->t_lo, 1e-15);
    CHECK_REL(r->width, r->width_quadratic, 0.2);
    CHECK(r->rise > 0 && fabs(r->t_rise) <= r->eps_radius);
    CHECK_REL(r->sharpness, r->rise / (1 + r->loss), 1e-15);
    CHECK_REL(r->sharpness, r->sharpness_quadratic, 0.2);
}

/* Fig. 2: one function along the orbit, different curvature: the largest
 * eigenvalue grows away from the balanced point and level sets crowd. */
static void test_fig2(void)
{
    if (!drawn) return;
    const minima_fig2_result *r = &report.fig2;
    CHECK(r->unit.theta1 > 0 && r->unit.theta2 > 0);
    CHECK(r->unit.grad_norm < 1e-8);
    CHECK(r->unit.loss_const > 10 * r->unit.loss);
    int mid = MINIMA_FIG2_N_ORBIT / 2;
    for (int k = 0; k < MINIMA_FIG2_N_ORBIT; k++) {
        CHECK_REL(r->orbit_loss[k], r->unit.loss, 1e-12);
        CHECK_REL(r->orbit_theta1[k] * r->orbit_theta2[k], r->unit.product, 1e-14);
        CHECK(r->orbit_theta1[k] > r->theta1_lo && r->orbit_theta1[k] < r->theta1_hi);
        CHECK(r->orbit_theta2[k] > r->theta2_lo && r->orbit_theta2[k] < r->theta2_hi);
        /* near the minimum the gap to L + eps is sqrt(2 eps / lambda) */
        CHECK_REL(r->orbit_level_gap[k], sqrt(2 * 0.05 / r->orbit_lambda_max[k]), 0.1);
    }
    CHECK(r->orbit_lambda_max[0] > 2 * r->orbit_lambda_max[mid]);
    CHECK(r->orbit_lambda_max[MINIMA_FIG2_N_ORBIT - 1] > 2 * r->orbit_lambda_max[mid]);
    CHECK(r->orbit_level_gap[0] < 0.75 * r->orbit_level_gap[mid]);
    CHECK(r->zmin >= r->unit.loss * (1 - 1e-12) && r->zmin < r->unit.loss + 0.05);
    CHECK(r->zmax > r->unit.loss_const);
}

/* Fig. 3 (Thm 2): the boxes lie in the eps-region, have equal area and
 * are pairwise disjoint; r is (nearly) the largest such half-side. */
static void test_fig3(void)
{
    if (!drawn) return;
    const minima_fig3_result *r = &report.fig3;
    double th1 = r->unit.theta1, th2 = r->unit.theta2, level = r->unit.loss + r->eps;
    CHECK(r->r > 0 && r->r < th1);
    CHECK_REL(r->alpha, 2 * (th1 + r->r) / (th1 - r->r), 1e-15);
    CHECK(r->n_boxes == 5 && r->disjoint);
    for (int a = 0; a < r->n_boxes; a++) {
        CHECK(r->max_loss[a] < level);
        CHECK_REL(r->area[a], 4 * r->r * r->r, 1e-12);
        double c1 = 0.5 * (r->x0[a] + r->x1[a]), c2 = 0.5 * (r->y0[a] + r->y1[a]);
        CHECK_REL(c1 * c2, th1 * th2, 1e-12);   /* the centres are on the orbit */
        for (int b = a + 1; b < r->n_boxes; b++)
            CHECK(r->x1[a] <= r->x0[b] || r->x1[b] <= r->x0[a] ||
                  r->y1[a] <= r->y0[b] || r->y1[b] <= r->y0[a]);
    }
    /* independently, on the same network: random points of every box stay
     * below the level, and a 2 % larger box does not */
    minima_figures_params p = small_params();
    fig_trained t;
    CHECK_OK(fig_unit_train(&p, &t, NULL));
    if (!t.net) return;
    CHECK_REL(t.model->theta[0], th1, 1e-15);
    unsigned long long x = 12345;
    for (int a = 0; a < r->n_boxes; a++)
        for (int k = 0; k < 500; k++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double u = (double)(x >> 11) / 9007199254740992.0;
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double v = (double)(x >> 11) / 9007199254740992.0;
            double l;
            CHECK_OK(fig_unit_loss(&t, r->x0[a] + u * (r->x1[a] - r->x0[a]),
                                   r->y0[a] + v * (r->y1[a] - r->y0[a]), &l));
            CHECK(l < level);
        }
    double big = 1.02 * r->r, worst = -INFINITY;
    for (int c = 0; c < 4; c++) {
        double l;
        CHECK_OK(fig_unit_loss(&t, th1 + (c & 1 ? big : -big), th2 + (c & 2 ? big : -big), &l));
        worst = fmax(worst, l);
    }
    CHECK(worst >= level);
    fig_trained_free(&t);
}

/* Fig. 4 (§4.3): the ball around T_alpha theta reaches theta1 = 0, so its
 * eps-sharpness is at least that of the constant function. */
static void test_fig4(void)
{
    if (!drawn) return;
    const minima_fig4_result *r = &report.fig4;
    CHECK_REL(r->alpha, r->eps / fabs(r->unit.theta1), 1e-15);
    CHECK_REL(r->t_theta1 * r->t_theta2, r->unit.product, 1e-14);
    CHECK(r->const_theta1 == 0.0);
    CHECK(r->const_dist <= r->eps * (1 + 1e-12));
    CHECK(r->sharp_const > 0);
    CHECK(r->sharp_t_theta >= r->sharp_const * (1 - 1e-12));
    CHECK(r->sharp_t_theta > 2 * r->sharp_theta);
}

/* Fig. 5: three minima with the same loss and curvature (a symmetry), and
 * the reparametrized curvatures L'' / (d eta / d phi)^2. */
static void test_fig5(void)
{
    if (!drawn) return;
    const minima_fig5_result *r = &report.fig5;
    CHECK(r->radius > 0.05);
    CHECK(r->barrier > 0);
    for (int k = 0; k < 3; k++) {
        CHECK_REL(r->loss_min[k], r->loss_min[0], 1e-12);
        CHECK_REL(r->curv[k], r->curv[0], 1e-8);
        CHECK(r->curv[k] > 0);
        double ph = r->phi_min[k], q = ph * ph + r->b;
        double deta = pow(q, r->a) + 2 * r->a * ph * ph * pow(q, r->a - 1);
        CHECK_REL(r->deta[k], deta, 1e-13);
        CHECK_REL(r->curv_eta[k], r->curv[k] / (deta * deta), 1e-13);
    }
    CHECK_REL(r->deta[0], pow(r->b, r->a), 1e-15);
    /* the prediction at the centre against finite differences of L(phi(eta)) */
    CHECK_REL(r->curv_eta_fd, r->curv_eta[0], 1e-4);
    /* one minimum is now much sharper than the others */
    CHECK(r->curv_eta[0] > 100 * r->curv_eta[1]);
    /* the units cycled are three distinct hidden units */
    CHECK(r->units[0] != r->units[1] && r->units[1] != r->units[2] && r->units[0] != r->units[2]);
}

/* Supplement Fig. 1: psi is continuous, and nothing outside delta moves. */
static void test_supp1(void)
{
    if (!drawn) return;
    const minima_supp1_result *r = &report.supp1;
    CHECK_REL(r->psi_at_rhat, r->rho, 1e-15);
    CHECK_REL(r->psi_at_delta, r->delta, 1e-15);
    CHECK(r->max_move_outside == 0.0);
    CHECK(r->max_move_inside > 0.1 * r->delta);
    CHECK(r->n_points == 61u * 61u);
}

/* A figure function with path NULL computes the same numbers, draws nothing. */
static void test_no_path(void)
{
    if (!drawn) return;
    minima_figures_params p = small_params();
    minima_fig4_result r;
    CHECK_OK(minima_figure4_draw(NULL, &p, &r));
    CHECK(r.sharp_t_theta == report.fig4.sharp_t_theta);
    CHECK(r.alpha == report.fig4.alpha);
}

int main(void)
{
    RUN(test_draw_all);
    RUN(test_bad_input);
    RUN(test_fig1);
    RUN(test_fig2);
    RUN(test_fig3);
    RUN(test_fig4);
    RUN(test_fig5);
    RUN(test_supp1);
    RUN(test_no_path);
    return harness_report();
}
