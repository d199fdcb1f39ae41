/* minima/figures.h — the paper's figures (docs/figures.md), drawn from real
 * computations on real small networks.
 *
 * Every figure trains its own small network (full-batch, seeded), computes
 * what the paper's figure illustrates with the engine (net.h: losses,
 * gradients, Hessians; symmetry.h: T_alpha; reparam.h: the radial maps),
 * and draws it through plot.h. Each function returns the numbers it drew,
 * so a caller can print them next to the picture, and a test can check
 * that the picture shows what the paper claims.
 *
 *   Fig. 1   loss of a trained 2-8-1 MLP along its top Hessian eigenvector:
 *            the width of {t : L < L(theta) + eps_h} (volume flatness) and
 *            the rise of L within |t| <= eps_r (epsilon-sharpness).
 *   Fig. 2   the one-unit network y = theta2 relu(theta1 x) (no biases,
 *            trained on a 1-D regression): the loss over the (theta1,
 *            theta2) plane, its level sets, the hyperbola theta1 theta2 =
 *            const of functions equal to the trained one, and the Hessian's
 *            largest eigenvalue at points of it.
 *   Fig. 3   the same network: the box B_inf(r, theta) inside the
 *            eps-region (r by bisection on the maximum of L over the box)
 *            and its images T_alpha^j(B), pairwise disjoint, equal area.
 *   Fig. 4   the same network: balls of radius eps around theta and
 *            T_alpha theta, alpha = eps / |theta1|; the second reaches the
 *            line theta1 = 0 of constant functions.
 *   Fig. 5   the trained 2-8-1 MLP along a circle through three copies of
 *            its minimum that differ by a 3-cycle of hidden units (three
 *            minima of identical curvature), and the same loss in the
 *            coordinate eta = (|phi - phi0|^2 + b)^a (phi - phi0) of the
 *            main text's Fig. 5 map, where the centre minimum is sharper.
 *   Supp. 1  the radial map of appendix A: psi(r) and g^{-1} on a grid.
 *
 * Paths: a figure function draws into `path` (".png", ".pdf" or ".svg",
 * see plot.h); path NULL computes the numbers and draws nothing. */
#ifndef MINIMA_FIGURES_H
#define MINIMA_FIGURES_H

#include <stddef.h>
#include <stdint.h>

#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t seed;            /* data, initial weights; default 1 */
    int grid;                 /* points per axis of the 2-D loss maps, 21..1001; default 161 */
    int samples;              /* points of the 1-D curves, 21..100001; default 601 */
    /* Fig. 1 */
    double fig1_eps_height;   /* eps of volume flatness, loss units, > 0; default 0.02 */
    double fig1_eps_radius;   /* radius of eps-sharpness along the direction, > 0; default 0.25 */
    /* Fig. 2-4 (one-unit network) */
    double fig2_eps;          /* Fig. 2: level L(theta) + eps whose distance from the
                                 orbit points is reported, > 0; default 0.05 */
    double fig3_eps;          /* Fig. 3: eps of the region C = {L < L(theta) + eps} the
                                 boxes lie in, > 0; default 0.4 */
    int fig3_j_min, fig3_j_max; /* boxes T_alpha^j(B) for j_min <= j <= j_max; range
                                 at most MINIMA_FIG3_MAX_BOXES; default -2, 2 */
    double fig4_radius;       /* eps of Fig. 4 (ball radius), 0 < eps < |theta1|;
                                 default 0.5 */
    /* Fig. 5 */
    double fig5_a, fig5_b;    /* the map eta = (r^2 + b)^a (phi - phi0); a > -1/2,
                                 b > 0; default 0.5, 0.05 */
    /* Supplement Fig. 1 */
    double supp_rhat, supp_delta, supp_rho;  /* 0 < rhat, rho < delta; default 0.5, 1, 0.15 */
    const char *ext;          /* extension of the files minima_figures_draw writes:
                                 ".png" (default), ".pdf" or ".svg" */
} minima_figures_params;

minima_figures_params minima_figures_default_params(void);
/* MINIMA_EINVAL naming the field if a value is out of its domain. */
minima_status minima_figures_check_params(const minima_figures_params *p);

/* ---- Fig. 1 ------------------------------------------------------------ */

typedef struct {
    size_t n_params;          /* P of the trained network (2-8-1 with biases) */
    double loss;              /* L(theta) at the trained point */
    double grad_norm;         /* ||grad L(theta)|| (how close to a critical point) */
    double lambda_max;        /* top eigenvalue of the exact Hessian; the direction is its
                                 unit eigenvector v */
    double lambda_min;        /* smallest Hessian eigenvalue */
    double eps_height;        /* the eps of volume flatness */
    double t_lo, t_hi;        /* the connected interval around t = 0 where
                                 L(theta + t v) < L(theta) + eps_height (bisection) */
    double width;             /* t_hi - t_lo: volume eps-flatness of the 1-D slice */
    double width_quadratic;   /* 2 sqrt(2 eps / lambda_max): the same for the quadratic model */
    double eps_radius;        /* the eps of eps-sharpness */
    double rise;              /* max_{|t| <= eps_radius} L(theta + t v) - L(theta) */
    double t_rise;            /* where that maximum is */
    double sharpness;         /* rise / (1 + L(theta)) (Dinh Def. 2 on the slice) */
    double sharpness_quadratic; /* lambda_max eps_radius^2 / (2 (1 + L)) */
} minima_fig1_result;

minima_status minima_figure1_draw(const char *path, const minima_figures_params *p,
                                  minima_fig1_result *res);

/* ---- Figs. 2-4: the one-unit network -------------------------------------- */

/* The network y = theta2 relu(theta1 x) trained (full batch, from a seeded
 * start with theta1 > 0) on N = 200 examples x ~ U[-2, 2],
 * y = 1.5 relu(x) + 0.1 N(0, 1), MSE loss. */
typedef struct {
    double theta1, theta2;    /* the trained minimum */
    double loss;              /* L there */
    double grad_norm;
    double product;           /* theta1 theta2: the function (theta1 > 0) */
    double loss_const;        /* L of the constant function 0 (theta1 = 0) */
} minima_fig_unit;

#define MINIMA_FIG2_N_ORBIT 5
typedef struct {
    minima_fig_unit unit;
    double zmin, zmax;        /* range of L over the grid */
    double theta1_lo, theta1_hi, theta2_lo, theta2_hi;   /* the plane drawn */
    /* points T_alpha theta of the orbit, alpha = orbit_alpha[i] */
    double orbit_alpha[MINIMA_FIG2_N_ORBIT];
    double orbit_theta1[MINIMA_FIG2_N_ORBIT], orbit_theta2[MINIMA_FIG2_N_ORBIT];
    double orbit_loss[MINIMA_FIG2_N_ORBIT];        /* equal: one function */
    double orbit_lambda_max[MINIMA_FIG2_N_ORBIT];  /* Hessian's top eigenvalue there */
    double orbit_level_gap[MINIMA_FIG2_N_ORBIT];   /* distance from the point, along the
                                 Hessian's top eigenvector there, to the level set
                                 L = L(theta) + fig2_eps (bisection): the spacing
                                 of level sets at that point of the orbit */
} minima_fig2_result;

minima_status minima_figure2_draw(const char *path, const minima_figures_params *p,
                                  minima_fig2_result *res);

#define MINIMA_FIG3_MAX_BOXES 9
typedef struct {
    minima_fig_unit unit;
    double eps;               /* the eps of the region C = {L < L(theta) + eps} */
    double r;                 /* half-side of B_inf(r, theta) (bisection) */
    double alpha;             /* 2 (|theta1| + r) / (|theta1| - r) */
    int n_boxes;
    int j[MINIMA_FIG3_MAX_BOXES];
    /* box j: [x0, x1] x [y0, y1] = T_alpha^j(B) */
    double x0[MINIMA_FIG3_MAX_BOXES], x1[MINIMA_FIG3_MAX_BOXES];
    double y0[MINIMA_FIG3_MAX_BOXES], y1[MINIMA_FIG3_MAX_BOXES];
    double area[MINIMA_FIG3_MAX_BOXES];       /* all equal (4 r^2) */
    double max_loss[MINIMA_FIG3_MAX_BOXES];   /* max of L over the box (grid of
                                 box_grid^2 points, corners included), < L + eps */
    int box_grid;             /* points per side of that grid */
    int disjoint;             /* every pair of boxes has an empty interior intersection */
} minima_fig3_result;

minima_status minima_figure3_draw(const char *path, const minima_figures_params *p,
                                  minima_fig3_result *res);

typedef struct {
    minima_fig_unit unit;
    double eps;               /* ball radius */
    double alpha;             /* eps / |theta1| */
    double t_theta1, t_theta2;/* T_alpha theta = (alpha theta1, theta2 / alpha) */
    double const_theta1, const_theta2;   /* the point (0, theta2 / alpha) of the second ball */
    double const_dist;        /* its distance to T_alpha theta (= eps up to rounding) */
    double sharp_theta;       /* eps-sharpness at theta: max over the ball of
                                 (L - L(theta)) / (1 + L(theta)), dense polar grid */
    double sharp_t_theta;     /* the same at T_alpha theta */
    double sharp_const;       /* (L(constant) - L(theta)) / (1 + L(theta)) */
} minima_fig4_result;

minima_status minima_figure4_draw(const char *path, const minima_figures_params *p,
                                  minima_fig4_result *res);

/* ---- Fig. 5 ------------------------------------------------------------ */

typedef struct {
    size_t n_params;
    int units[3];             /* the hidden units cycled: u0 -> u1 -> u2 -> u0 */
    double radius;            /* radius of the circle in parameter space */
    double phi_min[3];        /* the three minima on the circle: 0, 2 pi/3, -2 pi/3 */
    double loss_min[3];       /* L at them (equal) */
    double curv[3];           /* L''(phi) there: exact, t^T H t + grad . theta'' */
    double a, b;              /* the map, centred at phi_min[0] */
    double deta[3];           /* d eta / d phi at each minimum */
    double curv_eta[3];       /* predicted curvature in eta: curv / deta^2 */
    double curv_eta_fd;       /* curvature at eta = 0 by finite differences of L(phi(eta)) */
    double barrier;           /* max of L along the circle minus loss_min[0] */
} minima_fig5_result;

minima_status minima_figure5_draw(const char *path, const minima_figures_params *p,
                                  minima_fig5_result *res);

/* ---- Supplement Fig. 1 --------------------------------------------------- */

typedef struct {
    double rhat, delta, rho;
    double psi_at_rhat;       /* rho */
    double psi_at_delta;      /* delta (continuity) */
    double max_move_outside;  /* max |g^{-1}(theta) - theta| over grid points with r > delta: 0 */
    double max_move_inside;   /* the same over points inside the ball */
    size_t n_points;          /* grid points mapped */
} minima_supp1_result;

minima_status minima_figure_supp1_draw(const char *path, const minima_figures_params *p,
                                       minima_supp1_result *res);

/* ---- all of them ----------------------------------------------------------- */

typedef struct {
    minima_fig1_result fig1;
    minima_fig2_result fig2;
    minima_fig3_result fig3;
    minima_fig4_result fig4;
    minima_fig5_result fig5;
    minima_supp1_result supp1;
} minima_figures_report;

/* Writes fig1_flatness, fig2_levelsets, fig3_boxes, fig4_balls,
 * fig5_reparam and supp_fig1_radial (+ p->ext) into `dir`, which must
 * exist (MINIMA_EIO naming it otherwise). p NULL: defaults. report may be
 * NULL. Reports progress as task "figures" (figures done of 6). */
minima_status minima_figures_draw(const char *dir, const minima_figures_params *p,
                                  minima_figures_report *report);

#ifdef __cplusplus
}
#endif
#endif
