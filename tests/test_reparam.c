/* test_reparam.c — radial maps (appendix A and Fig. 5), the Hessian they
 * induce at a critical point, the flatness-ranking planner, weight
 * normalization, and standardization / whitening folded into a network. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/linop.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/reference.h"
#include "minima/reparam.h"
#include "minima/rng.h"
#include "minima/symmetry.h"

static double nrm(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i] * x[i];
    return sqrt(s);
}

/* theta = c + r * (unit random direction) */
static void point_at(minima_rng *rng, const double *c, double r, size_t n, double *out)
{
    minima_rng_fill_normal(rng, out, n);
    double s = nrm(out, n);
    for (size_t i = 0; i < n; i++) out[i] = c[i] + r * out[i] / s;
}

/* A random symmetric positive definite matrix (n, n). */
static void random_spd(minima_rng *rng, size_t n, double *h)
{
    double *b = malloc(n * n * sizeof *b);
    minima_rng_fill_normal(rng, b, n * n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
            h[i * n + j] = s / (double)n + (i == j ? 0.1 : 0.0);
        }
    free(b);
}

/* ---- appendix A -------------------------------------------------------- */

static void test_psi(void)
{
    minima_radial maps[3] = {{NULL, 0.3, 1.0, 0.05}, {NULL, 0.2, 1.0, 0.9}, {NULL, 0.5, 2.0, 0.5}};
    for (int k = 0; k < 3; k++) {
        const minima_radial *m = &maps[k];
        double prev = -1, worst_jump = 0;
        int increasing = 1;
        for (int i = 0; i <= 4000; i++) {
            double r = 2.5 * m->delta * i / 4000.0;
            double s = minima_radial_psi(m, r);
            if (i > 0 && !(s > prev)) increasing = 0;
            if (i > 0) worst_jump = fmax(worst_jump, (s - prev) / (2.5 * m->delta / 4000.0));
            prev = s;
            CHECK_ABS(minima_radial_psi_inv(m, s), r, 1e-14 * fmax(1, r));
        }
        CHECK(increasing);
        /* continuity: the largest slope seen is the largest piece slope */
        double maxslope = fmax(m->rho / m->rhat, fmax((m->rho - m->delta) / (m->rhat - m->delta), 1.0));
        CHECK(worst_jump <= maxslope * (1 + 1e-9));
        double e = 1e-12;
        CHECK_ABS(minima_radial_psi(m, m->rhat + e), minima_radial_psi(m, m->rhat), 1e-10);
        CHECK_ABS(minima_radial_psi(m, m->delta + e), minima_radial_psi(m, m->delta), 1e-10);
        CHECK_REL(minima_radial_psi(m, m->rhat), m->rho, 1e-15);
        CHECK_REL(minima_radial_psi(m, m->delta), m->delta, 1e-15);
        CHECK(minima_radial_psi(m, 0) == 0);
    }
}

static void test_radial_bijection_and_jacobian(void)
{
    const size_t n = 7;
    minima_rng rng;
    minima_rng_seed(&rng, 1);
    double c1[7], c2[7];
    minima_rng_fill_normal(&rng, c1, n);
    for (size_t i = 0; i < n; i++) c2[i] = c1[i] + 5.0;
    minima_radial maps[2] = {{c1, 0.4, 1.5, 0.1}, {c2, 0.5, 1.0, 0.8}};
    minima_radial_set set = {n, 2, maps};
    CHECK_OK(minima_radial_check(&set));
    double th[7], eta[7], back[7], v[7], j1[7], j2[7], fd[7], tp[7], tm[7], ep[7], em[7];
    /* radii inside rhat, in the annulus and outside delta, away from the kinks */
    const double fr[6] = {0.0, 0.1, 0.35, 0.7, 1.2, 2.0};
    for (int b = 0; b < 2; b++) {
        const minima_radial *m = &maps[b];
        for (int k = 0; k < 6; k++) {
            double r = fr[k] * m->delta;
            point_at(&rng, m->center, r, n, th);
            minima_radial_to_eta(&set, th, eta);
            minima_radial_to_theta(&set, eta, back);
            CHECK_MSG(harness_vec_reldiff(back, th, n, 1) <= 4 * DBL_EPSILON, "map %d r = %g: "
                      "g(g^-1(theta)) off by %.3g", b, r, harness_vec_reldiff(back, th, n, 1));
            double s = 0;
            for (size_t i = 0; i < n; i++) s += (eta[i] - m->center[i]) * (eta[i] - m->center[i]);
            CHECK_ABS(sqrt(s), minima_radial_psi(m, r), 1e-13);
            if (r >= m->delta) {
                int same = 1;
                for (size_t i = 0; i < n; i++) same &= eta[i] == th[i];
                CHECK_MSG(same, "map %d: a point at r = %g >= delta moved", b, r);
            }
            /* Jacobians against central differences */
            minima_rng_fill_normal(&rng, v, n);
            double h = 1e-6 * m->delta;
            for (size_t i = 0; i < n; i++) { tp[i] = th[i] + h * v[i]; tm[i] = th[i] - h * v[i]; }
            minima_radial_to_eta(&set, tp, ep);
            minima_radial_to_eta(&set, tm, em);
            for (size_t i = 0; i < n; i++) fd[i] = (ep[i] - em[i]) / (2 * h);
            minima_radial_jac_inv_apply(&set, th, v, j1);
            CHECK_MSG(harness_vec_reldiff(j1, fd, n, 1) <= 1e-8, "map %d r = %g: dg^-1 vs finite "
                      "differences %.3g", b, r, harness_vec_reldiff(j1, fd, n, 1));
            for (size_t i = 0; i < n; i++) { ep[i] = eta[i] + h * v[i]; em[i] = eta[i] - h * v[i]; }
            minima_radial_to_theta(&set, ep, tp);
            minima_radial_to_theta(&set, em, tm);
            for (size_t i = 0; i < n; i++) fd[i] = (tp[i] - tm[i]) / (2 * h);
            minima_radial_jac_apply(&set, eta, v, j2);
            CHECK_MSG(harness_vec_reldiff(j2, fd, n, 1) <= 1e-8, "map %d r = %g: dg vs finite "
                      "differences %.3g", b, r, harness_vec_reldiff(j2, fd, n, 1));
            /* dg(eta) dg^{-1}(theta) = I */
            minima_radial_jac_apply(&set, eta, j1, j2);
            CHECK(harness_vec_reldiff(j2, v, n, 0) <= 1e-13);
            /* the seed's annulus form, with the outer product */
            if (r > m->rhat && r < m->delta) {
                double dpsi = (m->rho - m->delta) / (m->rhat - m->delta);
                double k2 = m->delta * (m->rhat - m->rho) / (r * (m->rhat - m->delta));
                double dotuv = 0;
                for (size_t i = 0; i < n; i++) dotuv += (th[i] - m->center[i]) * v[i];
                for (size_t i = 0; i < n; i++)
                    fd[i] = dpsi * v[i] + k2 * (v[i] - dotuv * (th[i] - m->center[i]) / (r * r));
                CHECK(harness_vec_reldiff(j1, fd, n, 0) <= 1e-13);
                /* read literally, (theta - c)^T (theta - c) = r^2 cancels the last term and
                   leaves psi' I, which is not the Jacobian */
                for (size_t i = 0; i < n; i++) fd[i] = dpsi * v[i];
                CHECK(harness_vec_reldiff(j1, fd, n, 0) > 1e-2);
            }
        }
    }
    /* overlapping balls and bad radii are rejected */
    minima_radial bad[2] = {{c1, 0.4, 1.5, 0.1}, {c1, 0.5, 1.0, 0.8}};
    minima_radial_set bs = {n, 2, bad};
    CHECK_STATUS(minima_radial_check(&bs), MINIMA_EINVAL);
    minima_radial wrong = {c1, 1.5, 1.0, 0.5};
    minima_radial_set ws = {n, 1, &wrong};
    CHECK_STATUS(minima_radial_check(&ws), MINIMA_EINVAL);
    wrong.rhat = 0.5;
    wrong.rho = 1.0;
    CHECK_STATUS(minima_radial_check(&ws), MINIMA_EINVAL);
}

/* L(theta) = 1/2 (theta - t*)^T H (theta - t*); grad L_eta(eta) = J(eta) H (g(eta) - t*). */
static void grad_eta(const minima_radial_set *set, const double *h, const double *tstar,
                     const double *eta, double *g)
{
    size_t n = set->n;
    double th[8], r[8];
    minima_radial_to_theta(set, eta, th);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < n; j++) s += h[i * n + j] * (th[j] - tstar[j]);
        r[i] = s;
    }
    minima_radial_jac_apply(set, eta, r, g);
}

static void test_radial_hessian_at_critical_points(void)
{
    const size_t n = 6;
    minima_rng rng;
    minima_rng_seed(&rng, 2);
    double h[36], c[6], tstar[6], eta[6], x[6], y1[6], y2[6], ep[6], em[6], gp[6], gm[6];
    random_spd(&rng, n, h);
    minima_rng_fill_normal(&rng, c, n);
    minima_linop *H = NULL, *He = NULL;
    CHECK_OK(minima_linop_dense(&H, n, h));
    minima_radial map = {c, 0.5, 2.0, 0.01};
    minima_radial_set set = {n, 1, &map};
    /* (a) minimum at the centre: hess_eta = (rhat/rho)^2 H, also at any eta inside rhat */
    for (int t = 0; t < 2; t++) {
        memcpy(tstar, c, sizeof tstar);
        if (t == 0) memcpy(eta, c, sizeof eta);
        else { point_at(&rng, c, 0.3 * map.rho, n, eta); }
        CHECK_OK(minima_radial_hessian(&He, H, &set, eta));
        double q2 = (map.rhat / map.rho) * (map.rhat / map.rho);
        for (int trial = 0; trial < 3; trial++) {
            minima_rng_fill_normal(&rng, x, n);
            CHECK_OK(minima_linop_apply(He, x, y1));
            CHECK_OK(minima_linop_apply(H, x, y2));
            for (size_t i = 0; i < n; i++) y2[i] *= q2;
            CHECK_MSG(harness_vec_reldiff(y1, y2, n, 0) <= 1e-13, "inside rhat: hess_eta x vs "
                      "(rhat/rho)^2 H x: %.3g", harness_vec_reldiff(y1, y2, n, 0));
        }
        minima_linop_free(He);
        He = NULL;
    }
    /* (b) a minimum in the annulus: J H J against finite differences of grad L_eta */
    point_at(&rng, c, 1.2, n, tstar);
    minima_radial_to_eta(&set, tstar, eta);
    CHECK_OK(minima_radial_hessian(&He, H, &set, eta));
    double worst = 0, scale = 0;
    for (size_t k = 0; k < n; k++) {
        double step = 1e-5;
        memcpy(ep, eta, sizeof ep);
        memcpy(em, eta, sizeof em);
        ep[k] += step;
        em[k] -= step;
        grad_eta(&set, h, tstar, ep, gp);
        grad_eta(&set, h, tstar, em, gm);
        memset(x, 0, sizeof x);
        x[k] = 1;
        CHECK_OK(minima_linop_apply(He, x, y1));
        for (size_t i = 0; i < n; i++) {
            worst = fmax(worst, fabs((gp[i] - gm[i]) / (2 * step) - y1[i]));
            scale = fmax(scale, fabs(y1[i]));
        }
    }
    CHECK_MSG(worst <= 1e-7 * scale, "annulus minimum: J H J vs finite differences %.3g (scale %.3g)",
              worst, scale);
    minima_linop_free(He);
    minima_linop_free(H);
}

static void test_radial_plan(void)
{
    const size_t n = 5;
    minima_rng rng;
    minima_rng_seed(&rng, 3);
    double cs[3][5], hs[3][25], lam[3];
    const double *centers[3];
    for (int i = 0; i < 3; i++) {
        minima_rng_fill_normal(&rng, cs[i], n);
        for (size_t k = 0; k < n; k++) cs[i][k] += 3.0 * i;
        centers[i] = cs[i];
        random_spd(&rng, n, hs[i]);
        for (size_t k = 0; k < n * n; k++) hs[i][k] *= (i == 0 ? 100.0 : i == 1 ? 1.0 : 0.01);
    }
    /* spectral norms by power iteration on the dense matrices */
    for (int i = 0; i < 3; i++) {
        double v[5] = {1, 1, 1, 1, 1}, w[5], l = 0;
        for (int it = 0; it < 2000; it++) {
            for (size_t a = 0; a < n; a++) {
                w[a] = 0;
                for (size_t b = 0; b < n; b++) w[a] += hs[i][a * n + b] * v[b];
            }
            l = nrm(w, n);
            for (size_t a = 0; a < n; a++) v[a] = w[a] / l;
        }
        lam[i] = l;
    }
    /* reverse the natural order: the flattest becomes the sharpest */
    const int order[3] = {2, 1, 0};
    minima_radial maps[3];
    double pred[3];
    minima_radial_plan_params pp = minima_radial_plan_default_params();
    CHECK_OK(minima_radial_plan(n, 3, centers, lam, order, &pp, maps, pred));
    minima_radial_set set = {n, 3, maps};
    CHECK_OK(minima_radial_check(&set));
    CHECK(pred[2] > pred[1] && pred[1] > pred[0]);
    CHECK_REL(pred[2] / pred[1], pp.factor, 1e-12);
    /* and the operators agree: top of hess_eta at each centre */
    for (int i = 0; i < 3; i++) {
        minima_linop *H = NULL, *He = NULL;
        CHECK_OK(minima_linop_dense(&H, n, hs[i]));
        CHECK_OK(minima_radial_hessian(&He, H, &set, cs[i]));
        double v[5] = {1, 0.5, 0.2, 1, 1}, w[5], l = 0;
        for (int it = 0; it < 2000; it++) {
            CHECK_OK(minima_linop_apply(He, v, w));
            l = nrm(w, n);
            for (size_t a = 0; a < n; a++) v[a] = w[a] / l;
        }
        CHECK_REL(l, pred[i], 1e-9);
        minima_linop_free(He);
        minima_linop_free(H);
    }
    const int badorder[3] = {0, 0, 1};
    CHECK_STATUS(minima_radial_plan(n, 3, centers, lam, badorder, &pp, maps, pred), MINIMA_EINVAL);
}

/* ---- Fig. 5 map ------------------------------------------------------------ */

static void test_powradial(void)
{
    const size_t n = 5;
    minima_rng rng;
    minima_rng_seed(&rng, 4);
    double c[5], th[5], eta[5], back[5], v[5], j1[5], j2[5], tp[5], tm[5], ep[5], em[5], fd[5];
    memset(c, 0, sizeof c);   /* at the origin: finite differences of eta - c without cancellation */
    const double ab[4][2] = {{1.0, 0.5}, {-0.3, 1.0}, {2.0, 0.0}, {-0.45, 0.01}};
    for (int t = 0; t < 4; t++) {
        minima_powradial m = {c, ab[t][0], ab[t][1]};
        CHECK_OK(minima_powradial_check(&m));
        for (int k = 0; k < 4; k++) {
            double r = 0.05 * pow(6.0, k);
            point_at(&rng, c, r, n, th);
            minima_powradial_to_eta(&m, n, th, eta);
            CHECK_OK(minima_powradial_to_theta(&m, n, eta, back));
            CHECK_MSG(harness_vec_reldiff(back, th, n, 1) <= 1e-14, "a=%g b=%g r=%g: inverse off by %.3g",
                      m.a, m.b, r, harness_vec_reldiff(back, th, n, 1));
            minima_rng_fill_normal(&rng, v, n);
            double h = 1e-6 * r;
            for (size_t i = 0; i < n; i++) { tp[i] = th[i] + h * v[i]; tm[i] = th[i] - h * v[i]; }
            minima_powradial_to_eta(&m, n, tp, ep);
            minima_powradial_to_eta(&m, n, tm, em);
            for (size_t i = 0; i < n; i++) fd[i] = (ep[i] - em[i]) / (2 * h);
            minima_powradial_jac_apply(&m, n, th, v, j1);
            CHECK_MSG(harness_vec_reldiff(j1, fd, n, 0) <= 1e-7, "a=%g b=%g r=%g: Jacobian vs finite "
                      "differences %.3g", m.a, m.b, r, harness_vec_reldiff(j1, fd, n, 0));
            minima_powradial_jac_inv_apply(&m, n, th, j1, j2);
            CHECK(harness_vec_reldiff(j2, v, n, 0) <= 1e-12);
        }
    }
    minima_powradial bad = {c, -0.5, 1.0};
    CHECK_STATUS(minima_powradial_check(&bad), MINIMA_EINVAL);
    bad.a = 1;
    bad.b = -1;
    CHECK_STATUS(minima_powradial_check(&bad), MINIMA_EINVAL);
    /* 1-D: the curvature of a minimum theta* becomes L''(theta*) / (d eta / d theta)^2 */
    double c1 = 0.3, ts = 1.1, hh = 4.0, y;
    minima_powradial m1 = {&c1, 0.7, 0.2};
    minima_linop *H = NULL, *He = NULL;
    CHECK_OK(minima_linop_dense(&H, 1, &hh));
    CHECK_OK(minima_powradial_hessian(&He, H, &m1, &ts));
    double one = 1, r = ts - c1;
    double deta = pow(r * r + 0.2, 0.7) + 2 * 0.7 * pow(r * r + 0.2, -0.3) * r * r;
    CHECK_OK(minima_linop_apply(He, &one, &y));
    CHECK_REL(y, hh / (deta * deta), 1e-13);
    minima_linop_free(He);
    minima_linop_free(H);
}

/* ---- weight normalization -------------------------------------------------- */

static minima_model *make_model(const char *arch, int bias, minima_activation act, uint64_t seed)
{
    int *w, K;
    minima_model *m = NULL;
    if (minima_parse_arch(arch, &w, &K) != MINIMA_OK) return NULL;
    if (minima_model_create(&m, K, w, bias, act) == MINIMA_OK) minima_model_init(m, seed);
    minima_free(w);
    return m;
}

static void test_weightnorm(void)
{
    minima_model *m = make_model("4-5-3", 1, MINIMA_ACT_RELU, 5);
    size_t P = m->n_params, nx = minima_wn_n_params(m);
    CHECK(nx == P + 8);
    double *xi = malloc(nx * sizeof *xi), *xi2 = malloc(nx * sizeof *xi2), *th = malloc(P * sizeof *th);
    double *dx = malloc(nx * sizeof *dx), *dt = malloc(P * sizeof *dt), *fd = malloc(P * sizeof *fd);
    double *tp = malloc(P * sizeof *tp), *tm = malloc(P * sizeof *tm), *xp = malloc(nx * sizeof *xp);
    double *y = malloc(P * sizeof *y), *z = malloc(nx * sizeof *z);
    CHECK_OK(minima_wn_from_theta(m, NULL, 1.0, xi));
    CHECK_OK(minima_wn_to_theta(m, xi, th));
    CHECK(harness_vec_reldiff(th, m->theta, P, 0) <= 1e-15);
    /* scaling v changes nothing */
    CHECK_OK(minima_wn_from_theta(m, NULL, 37.0, xi2));
    CHECK_OK(minima_wn_to_theta(m, xi2, th));
    CHECK(harness_vec_reldiff(th, m->theta, P, 0) <= 1e-15);
    /* Jacobian against finite differences, and its transpose */
    minima_rng rng;
    minima_rng_seed(&rng, 6);
    minima_rng_fill_normal(&rng, dx, nx);
    double h = 1e-6;
    for (size_t i = 0; i < nx; i++) xp[i] = xi[i] + h * dx[i];
    CHECK_OK(minima_wn_to_theta(m, xp, tp));
    for (size_t i = 0; i < nx; i++) xp[i] = xi[i] - h * dx[i];
    CHECK_OK(minima_wn_to_theta(m, xp, tm));
    for (size_t i = 0; i < P; i++) fd[i] = (tp[i] - tm[i]) / (2 * h);
    minima_wn_jac_apply(m, xi, dx, dt);
    CHECK_MSG(harness_vec_reldiff(dt, fd, P, 0) <= 1e-8, "weight-norm Jacobian vs finite differences "
              "%.3g", harness_vec_reldiff(dt, fd, P, 0));
    minima_rng_fill_normal(&rng, y, P);
    minima_wn_jac_t_apply(m, xi, y, z);
    double a = 0, b = 0;
    for (size_t i = 0; i < P; i++) a += dt[i] * y[i];
    for (size_t i = 0; i < nx; i++) b += dx[i] * z[i];
    CHECK_REL(a, b, 1e-13);
    /* the v-block of the Hessian in xi scales by 1/alpha^2 */
    double *hm = malloc(P * P * sizeof *hm);
    random_spd(&rng, P, hm);
    minima_linop *H = NULL, *H1 = NULL, *Ha = NULL;
    CHECK_OK(minima_linop_dense(&H, P, hm));
    CHECK_OK(minima_wn_hessian(&H1, H, m, xi));
    CHECK_OK(minima_wn_hessian(&Ha, H, m, xi2));
    size_t *vi = NULL, nv = 0;
    CHECK_OK(minima_wn_v_index(m, &vi, &nv));
    CHECK(nv == 4 * 5 + 5 * 3);
    memset(dx, 0, nx * sizeof *dx);
    for (size_t i = 0; i < nv; i++) dx[vi[i]] = minima_rng_normal(&rng);
    CHECK_OK(minima_linop_apply(H1, dx, xp));
    CHECK_OK(minima_linop_apply(Ha, dx, z));
    double worst = 0, sc = 0;
    for (size_t i = 0; i < nv; i++) {
        worst = fmax(worst, fabs(z[vi[i]] * 37.0 * 37.0 - xp[vi[i]]));
        sc = fmax(sc, fabs(xp[vi[i]]));
    }
    CHECK_MSG(worst <= 1e-13 * sc, "v-block scaling: %.3g", worst / sc);
    /* a zero row has no direction */
    memset(m->theta, 0, 4 * sizeof(double));
    CHECK_STATUS(minima_wn_from_theta(m, NULL, 1.0, xi), MINIMA_EINVAL);
    minima_free(vi);
    minima_linop_free(Ha);
    minima_linop_free(H1);
    minima_linop_free(H);
    free(hm);
    free(xi); free(xi2); free(th); free(dx); free(dt); free(fd); free(tp); free(tm); free(xp);
    free(y); free(z);
    minima_model_free(m);
}

/* ---- input representation -------------------------------------------------- */

/* Correlated data with a non-zero mean: x = B z + m. */
static minima_dataset make_inputs(size_t n, int d, uint64_t seed)
{
    minima_dataset ds;
    memset(&ds, 0, sizeof ds);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    double *b = malloc((size_t)d * (size_t)d * sizeof *b), *z = malloc((size_t)d * sizeof *z);
    minima_rng_fill_normal(&rng, b, (size_t)d * (size_t)d);
    ds.n = n;
    ds.d = d;
    ds.x = malloc(n * (size_t)d * sizeof *ds.x);
    for (size_t i = 0; i < n; i++) {
        minima_rng_fill_normal(&rng, z, (size_t)d);
        for (int r = 0; r < d; r++) {
            double s = 2.0 + r;
            for (int k = 0; k < d; k++) s += b[r * d + k] * z[k] * (1 + k);
            ds.x[i * (size_t)d + (size_t)r] = s;
        }
    }
    ds.name = "inputs";
    free(b);
    free(z);
    return ds;
}

static void test_input_fold(void)
{
    const size_t N = 300;   /* more than one block of 256 rows */
    const int d = 6;
    minima_dataset ds = make_inputs(N, d, 7);
    double *u = malloc(N * (size_t)d * sizeof *u);
    double *o1 = malloc(N * 3 * sizeof *o1), *o2 = malloc(N * 3 * sizeof *o2);
    double *g1 = malloc(N * sizeof *g1), *g2 = malloc(N * sizeof *g2);
    minima_input_method methods[3] = {MINIMA_INPUT_STANDARDIZE, MINIMA_INPUT_WHITEN_ZCA,
                                      MINIMA_INPUT_WHITEN_PCA};
    for (int mi = 0; mi < 3; mi++) {
        for (int bias = 0; bias <= 1; bias++) {
            minima_model *m = make_model("6-9-7-3", bias, MINIMA_ACT_RELU, 8 + (uint64_t)bias);
            minima_input_params ip = minima_input_default_params();
            ip.method = methods[mi];
            ip.ridge = 1e-12;
            minima_input_transform *t = NULL;
            CHECK_OK(minima_input_fit(&ds, &ip, &t));
            CHECK_OK(minima_input_apply(t, ds.x, N, u));
            /* the transformed data: mean 0, covariance I (diagonal 1 when standardizing) */
            double worst = 0;
            for (int a = 0; a < d; a++) {
                double mean = 0;
                for (size_t i = 0; i < N; i++) mean += u[i * (size_t)d + (size_t)a] / (double)N;
                worst = fmax(worst, fabs(mean));
                for (int b = 0; b < d; b++) {
                    if (methods[mi] == MINIMA_INPUT_STANDARDIZE && a != b) continue;
                    double cv = 0;
                    for (size_t i = 0; i < N; i++)
                        cv += u[i * (size_t)d + (size_t)a] * u[i * (size_t)d + (size_t)b] / (double)N;
                    worst = fmax(worst, fabs(cv - (a == b)));
                }
            }
            CHECK_MSG(worst <= 1e-10, "%s: transformed data mean/covariance off by %.3g",
                      minima_input_method_name(methods[mi]), worst);
            minima_model *f = NULL;
            if (!bias) {
                CHECK_STATUS(minima_input_fold(t, m, 0, &f), MINIMA_EINVAL);
                CHECK_OK(minima_input_fold(t, m, 1, &f));
                CHECK(f->has_bias);
            } else {
                CHECK_OK(minima_input_fold(t, m, 0, &f));
            }
            CHECK_OK(minima_reference_forward(m, NULL, ds.x, N, o1));
            CHECK_OK(minima_reference_forward(f, NULL, u, N, o2));
            CHECK_MSG(harness_vec_reldiff(o2, o1, N * 3, 0) <= 1e-12, "%s bias %d: folded "
                      "predictions differ by %.3g", minima_input_method_name(methods[mi]), bias,
                      harness_vec_reldiff(o2, o1, N * 3, 0));
            /* input-gradient norms: ||J_u|| = ||J_x A|| by finite differences on example 0 */
            CHECK_OK(minima_input_gradient_norms(m, ds.x, N, g1));
            CHECK_OK(minima_input_gradient_norms(f, u, N, g2));
            double jx[3 * 6], xp[6], xm[6], op[3], om[3], h = 1e-6;
            for (int j = 0; j < d; j++) {
                memcpy(xp, ds.x, sizeof xp);
                memcpy(xm, ds.x, sizeof xm);
                xp[j] += h;
                xm[j] -= h;
                CHECK_OK(minima_reference_forward(m, NULL, xp, 1, op));
                CHECK_OK(minima_reference_forward(m, NULL, xm, 1, om));
                for (int o = 0; o < 3; o++) jx[o * d + j] = (op[o] - om[o]) / (2 * h);
            }
            double fx = 0, fu = 0;
            for (int o = 0; o < 3; o++)
                for (int j = 0; j < d; j++) {
                    fx += jx[o * d + j] * jx[o * d + j];
                    double s = 0;
                    for (int k = 0; k < d; k++) s += jx[o * d + k] * t->a[k * d + j];
                    fu += s * s;
                }
            CHECK_REL(g1[0], sqrt(fx), 1e-7);
            CHECK_REL(g2[0], sqrt(fu), 1e-7);
            double ratio = 0;
            for (size_t i = 0; i < N; i++) ratio = fmax(ratio, fabs(g2[i] / g1[i] - 1));
            CHECK_MSG(ratio > 0.1, "%s: input-gradient norms barely changed (%.3g)",
                      minima_input_method_name(methods[mi]), ratio);
            minima_model_free(f);
            minima_input_transform_free(t);
            minima_model_free(m);
        }
    }
    /* a constant feature needs a ridge */
    for (size_t i = 0; i < N; i++) ds.x[i * (size_t)d] = 3.0;
    minima_input_params ip = minima_input_default_params();
    ip.ridge = 0;
    minima_input_transform *t = NULL;
    CHECK_STATUS(minima_input_fit(&ds, &ip, &t), MINIMA_EINVAL);
    ip.method = MINIMA_INPUT_WHITEN_ZCA;
    ip.ridge = -1;
    CHECK_STATUS(minima_input_fit(&ds, &ip, &t), MINIMA_EINVAL);
    free(u); free(o1); free(o2); free(g1); free(g2);
    free(ds.x);
}

/* ---- with the engine: the radial Hessian of a network ---------------------- */

static void test_radial_hessian_of_network(void)
{
    minima_model *m = make_model("4-6-3", 1, MINIMA_ACT_RELU, 9);
    minima_dataset ds;
    memset(&ds, 0, sizeof ds);
    minima_rng rng;
    minima_rng_seed(&rng, 10);
    ds.n = 30;
    ds.d = 4;
    ds.n_classes = 3;
    ds.x = malloc(30 * 4 * sizeof *ds.x);
    ds.labels = malloc(30 * sizeof *ds.labels);
    minima_rng_fill_normal(&rng, ds.x, 120);
    for (int i = 0; i < 30; i++) ds.labels[i] = i % 3;
    ds.name = "net data";
    size_t P = m->n_params;
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, &ds, NULL));
    minima_linop *H = NULL, *He = NULL;
    CHECK_OK(minima_linop_hessian(&H, net));
    minima_radial map = {m->theta, 0.5, 1.0, 0.05};
    minima_radial_set set = {P, 1, &map};
    CHECK_OK(minima_radial_hessian(&He, H, &set, m->theta));
    double *x = malloc(P * sizeof *x), *y1 = malloc(P * sizeof *y1), *y2 = malloc(P * sizeof *y2);
    minima_rng_fill_normal(&rng, x, P);
    CHECK_OK(minima_linop_apply(He, x, y1));
    CHECK_OK(minima_net_hvp(net, x, y2));
    for (size_t i = 0; i < P; i++) y2[i] *= 100.0;   /* (rhat/rho)^2 */
    CHECK(harness_vec_reldiff(y1, y2, P, 0) <= 1e-13);
    free(x); free(y1); free(y2);
    minima_linop_free(He);
    minima_linop_free(H);
    minima_net_free(net);
    free(ds.x);
    free(ds.labels);
    minima_model_free(m);
}


/* Every allocation failure is reported as MINIMA_ENOMEM and leaks nothing. */
static void test_out_of_memory(void)
{
    minima_dataset ds = make_inputs(50, 4, 11);
    minima_model *m = make_model("4-5-3", 0, MINIMA_ACT_RELU, 12);
    size_t P = m->n_params, nx = minima_wn_n_params(m);
    double *hm = calloc(P * P, sizeof *hm), *xi = malloc(nx * sizeof *xi);
    for (size_t i = 0; i < P; i++) hm[i * P + i] = 1;
    minima_linop *H = NULL;
    CHECK_OK(minima_linop_dense(&H, P, hm));
    CHECK_OK(minima_wn_from_theta(m, NULL, 1.0, xi));
    minima_radial map = {m->theta, 0.5, 1.0, 0.1};
    minima_radial_set set = {P, 1, &map};
    int done = 0;
    for (long n = 0; n < 200 && !done; n++) {
        minima_input_params ip = minima_input_default_params();
        ip.method = MINIMA_INPUT_WHITEN_ZCA;
        minima_input_transform *t = NULL;
        minima_model *f = NULL;
        minima_linop *a = NULL, *b = NULL;
        size_t *idx = NULL, ni = 0;
        minima_alloc_fail_after(n);
        minima_status s1 = minima_input_fit(&ds, &ip, &t);
        minima_status s2 = s1 == MINIMA_OK ? minima_input_fold(t, m, 1, &f) : s1;
        double u[50 * 4];
        minima_status s6 = s1 == MINIMA_OK ? minima_input_apply(t, ds.x, 50, u) : s1;
        minima_status s3 = minima_radial_hessian(&a, H, &set, m->theta);
        minima_status s4 = minima_wn_hessian(&b, H, m, xi);
        minima_status s5 = minima_wn_v_index(m, &idx, &ni);
        minima_alloc_fail_after(-1);
        CHECK(s1 == MINIMA_OK || s1 == MINIMA_ENOMEM);
        CHECK(s2 == MINIMA_OK || s2 == MINIMA_ENOMEM);
        CHECK(s3 == MINIMA_OK || s3 == MINIMA_ENOMEM);
        CHECK(s4 == MINIMA_OK || s4 == MINIMA_ENOMEM);
        CHECK(s5 == MINIMA_OK || s5 == MINIMA_ENOMEM);
        CHECK(s6 == MINIMA_OK || s6 == MINIMA_ENOMEM);
        done = s1 == MINIMA_OK && s2 == MINIMA_OK && s3 == MINIMA_OK && s4 == MINIMA_OK &&
               s5 == MINIMA_OK && s6 == MINIMA_OK;
        minima_input_transform_free(t);
        minima_model_free(f);
        minima_linop_free(a);
        minima_linop_free(b);
        minima_free(idx);
    }
    CHECK(done);
    minima_linop_free(H);
    free(hm);
    free(xi);
    minima_model_free(m);
    free(ds.x);
}

int main(void)
{
    RUN(test_psi);
    RUN(test_radial_bijection_and_jacobian);
    RUN(test_radial_hessian_at_critical_points);
    RUN(test_radial_plan);
    RUN(test_powradial);
    RUN(test_weightnorm);
    RUN(test_input_fold);
    RUN(test_radial_hessian_of_network);
    RUN(test_out_of_memory);
    return harness_report();
}
