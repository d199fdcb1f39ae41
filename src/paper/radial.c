/* radial.c — the radial transformations of appendix A and of the main
 * text's Fig. 5, their inverses and Jacobian products, the Hessians they
 * induce, and the planner that ranks minima by flatness in a chosen order.
 * See minima/reparam.h. */
#include "minima/reparam.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "minima/alloc.h"

static double dist(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s);
}

/* ---- appendix A -------------------------------------------------------- */

double minima_radial_psi(const minima_radial *m, double r)
{
    if (r <= m->rhat) return m->rho * r / m->rhat;
    if (r <= m->delta) return (m->rho - m->delta) * (r - m->delta) / (m->rhat - m->delta) + m->delta;
    return r;
}

double minima_radial_dpsi(const minima_radial *m, double r)
{
    if (r <= m->rhat) return m->rho / m->rhat;
    if (r <= m->delta) return (m->rho - m->delta) / (m->rhat - m->delta);
    return 1.0;
}

double minima_radial_psi_inv(const minima_radial *m, double s)
{
    if (s <= m->rho) return s * m->rhat / m->rho;
    if (s <= m->delta) return m->delta + (s - m->delta) * (m->rhat - m->delta) / (m->rho - m->delta);
    return s;
}

minima_status minima_radial_check(const minima_radial_set *set)
{
    if (!set || (set->n_maps > 0 && !set->maps) || set->n_maps < 0)
        MINIMA_FAIL(MINIMA_EINVAL, "radial maps: NULL or negative count");
    for (int i = 0; i < set->n_maps; i++) {
        const minima_radial *m = &set->maps[i];
        if (!m->center) MINIMA_FAIL(MINIMA_EINVAL, "radial map %d: no centre", i);
        if (!isfinite(m->delta) || !(m->delta > 0) || !isfinite(m->rhat) || !(m->rhat > 0) ||
            !(m->rhat < m->delta) || !isfinite(m->rho) || !(m->rho > 0) || !(m->rho < m->delta))
            MINIMA_FAIL(MINIMA_EINVAL, "radial map %d: rhat = %g, rho = %g, delta = %g; expected "
                        "0 < rhat < delta and 0 < rho < delta", i, m->rhat, m->rho, m->delta);
        for (size_t k = 0; k < set->n; k++)
            if (!isfinite(m->center[k]))
                MINIMA_FAIL(MINIMA_ENONFINITE, "radial map %d: centre entry %zu is %g", i, k,
                            m->center[k]);
        for (int j = 0; j < i; j++) {
            double d = dist(m->center, set->maps[j].center, set->n);
            if (d < m->delta + set->maps[j].delta)
                MINIMA_FAIL(MINIMA_EINVAL, "radial maps %d and %d overlap: their centres are %.6g "
                            "apart, less than delta_%d + delta_%d = %.6g; the composition is a "
                            "bijection only for disjoint balls", j, i, d, j, i,
                            m->delta + set->maps[j].delta);
        }
    }
    return MINIMA_OK;
}

/* The map whose open ball holds x, with its distance; NULL if none. */
static const minima_radial *ball_of(const minima_radial_set *set, const double *x, double *r)
{
    for (int i = 0; i < set->n_maps; i++) {
        double d = dist(x, set->maps[i].center, set->n);
        if (d < set->maps[i].delta) {
            *r = d;
            return &set->maps[i];
        }
    }
    return NULL;
}

void minima_radial_to_eta(const minima_radial_set *set, const double *theta, double *eta)
{
    double r = 0;
    const minima_radial *m = ball_of(set, theta, &r);
    if (!m) { memmove(eta, theta, set->n * sizeof *eta); return; }
    double f = r > 0 ? minima_radial_psi(m, r) / r : 0.0;
    for (size_t i = 0; i < set->n; i++) eta[i] = m->center[i] + f * (theta[i] - m->center[i]);
}

void minima_radial_to_theta(const minima_radial_set *set, const double *eta, double *theta)
{
    double s = 0;
    const minima_radial *m = ball_of(set, eta, &s);   /* psi maps the ball onto itself */
    if (!m) { memmove(theta, eta, set->n * sizeof *theta); return; }
    double f = s > 0 ? minima_radial_psi_inv(m, s) / s : 0.0;
    for (size_t i = 0; i < set->n; i++) theta[i] = m->center[i] + f * (eta[i] - m->center[i]);
}

/* out = c0 v + c1 w (w^T v) for a vector w (n) */
static void rank1_apply(size_t n, double c0, double c1, const double *w, const double *v, double *out)
{
    double dot = 0;
    for (size_t i = 0; i < n; i++) dot += w[i] * v[i];
    for (size_t i = 0; i < n; i++) out[i] = c0 * v[i] + c1 * dot * w[i];
}

/* Coefficients of dg^{-1}/dtheta = c0 I + c1 u u^T at theta (u unnormalised). */
static const minima_radial *jac_inv_coef(const minima_radial_set *set, const double *theta,
                                         double *c0, double *c1)
{
    double r = 0;
    const minima_radial *m = ball_of(set, theta, &r);
    *c0 = 1.0;
    *c1 = 0.0;
    if (!m) return NULL;
    if (r == 0) { *c0 = m->rho / m->rhat; return m; }
    double psi = minima_radial_psi(m, r), dpsi = minima_radial_dpsi(m, r);
    *c0 = psi / r;
    *c1 = dpsi / (r * r) - psi / (r * r * r);
    return m;
}

void minima_radial_jac_inv_apply(const minima_radial_set *set, const double *theta,
                                 const double *v, double *out)
{
    double c0, c1;
    const minima_radial *m = jac_inv_coef(set, theta, &c0, &c1);
    if (!m || c1 == 0) {
        for (size_t i = 0; i < set->n; i++) out[i] = c0 * v[i];
        return;
    }
    double dot = 0;
    for (size_t i = 0; i < set->n; i++) dot += (theta[i] - m->center[i]) * v[i];
    for (size_t i = 0; i < set->n; i++) out[i] = c0 * v[i] + c1 * dot * (theta[i] - m->center[i]);
}

/* Coefficients of dg/deta = c0 I + c1 e e^T at eta, e = (eta - c) / s unit. */
static const minima_radial *jac_coef(const minima_radial_set *set, const double *eta,
                                     double *c0, double *c1, double *s_out)
{
    double s = 0;
    const minima_radial *m = ball_of(set, eta, &s);
    *c0 = 1.0;
    *c1 = 0.0;
    *s_out = s;
    if (!m) return NULL;
    if (s == 0) { *c0 = m->rhat / m->rho; return m; }
    double r = minima_radial_psi_inv(m, s);
    /* the slope of psi on the piece that holds r (s <= rho <=> r <= rhat) */
    double dpsi = minima_radial_dpsi(m, r);
    *c0 = r / s;
    *c1 = 1.0 / dpsi - r / s;
    return m;
}

void minima_radial_jac_apply(const minima_radial_set *set, const double *eta, const double *v,
                             double *out)
{
    double c0, c1, s;
    const minima_radial *m = jac_coef(set, eta, &c0, &c1, &s);
    if (!m || c1 == 0) {
        for (size_t i = 0; i < set->n; i++) out[i] = c0 * v[i];
        return;
    }
    double dot = 0;
    for (size_t i = 0; i < set->n; i++) dot += (eta[i] - m->center[i]) * v[i];
    double k = c1 / (s * s);
    for (size_t i = 0; i < set->n; i++) out[i] = c0 * v[i] + k * dot * (eta[i] - m->center[i]);
}

/* ---- pulled-back Hessians: x -> J H J x with J = c0 I + c1 w w^T ------ */

typedef struct {
    size_t n;
    double c0, c1;         /* J = c0 I + c1 w w^T */
    double *w;             /* (n) unit vector, or NULL when c1 = 0 */
    double *t1, *t2;       /* (n) workspaces */
    minima_linop *parent;  /* borrowed */
} sym_pullback;

static void sym_pullback_free(void *ctx)
{
    sym_pullback *p = ctx;
    if (!p) return;
    minima_free(p->w);
    minima_free(p->t1);
    minima_free(p->t2);
    minima_free(p);
}

static void sym_jac(const sym_pullback *p, const double *v, double *out)
{
    if (!p->w) {
        for (size_t i = 0; i < p->n; i++) out[i] = p->c0 * v[i];
        return;
    }
    rank1_apply(p->n, p->c0, p->c1, p->w, v, out);
}

static minima_status sym_pullback_apply(void *ctx, const double *x, double *y)
{
    sym_pullback *p = ctx;
    sym_jac(p, x, p->t1);
    MINIMA_TRY(minima_linop_apply(p->parent, p->t1, p->t2));
    sym_jac(p, p->t2, y);
    return MINIMA_OK;
}

/* A pullback with J = c0 I + c1 w w^T, w = dir / ||dir|| (dir may be NULL). */
static minima_status sym_pullback_create(minima_linop **out, minima_linop *parent, double c0,
                                         double c1, const double *dir)
{
    if (!out || !parent) MINIMA_FAIL(MINIMA_EINVAL, "pulled-back Hessian: NULL argument");
    *out = NULL;
    size_t n = parent->n;
    sym_pullback *p = minima_calloc(1, sizeof *p);
    if (!p) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
    p->n = n;
    p->c0 = c0;
    p->c1 = c1;
    p->parent = parent;
    p->t1 = minima_alloc(n, sizeof *p->t1);
    p->t2 = minima_alloc(n, sizeof *p->t2);
    if (!p->t1 || !p->t2) goto nomem;
    if (dir && c1 != 0) {
        double nrm = 0;
        for (size_t i = 0; i < n; i++) nrm += dir[i] * dir[i];
        nrm = sqrt(nrm);
        if (nrm > 0) {
            if (!(p->w = minima_alloc(n, sizeof *p->w))) goto nomem;
            for (size_t i = 0; i < n; i++) p->w[i] = dir[i] / nrm;
        }
    }
    minima_status s = minima_linop_create(out, n, sym_pullback_apply, p, sym_pullback_free);
    if (s != MINIMA_OK) sym_pullback_free(p);
    return s;
nomem:
    sym_pullback_free(p);
    MINIMA_FAIL(MINIMA_ENOMEM, "out of memory for a pulled-back Hessian of dimension %zu", n);
}

minima_status minima_radial_hessian(minima_linop **out, minima_linop *hessian,
                                    const minima_radial_set *set, const double *eta)
{
    if (!out || !hessian || !set || !eta) MINIMA_FAIL(MINIMA_EINVAL, "minima_radial_hessian: NULL argument");
    if (hessian->n != set->n)
        MINIMA_FAIL(MINIMA_ESHAPE, "radial Hessian: operator of dimension %zu, maps of dimension %zu",
                    hessian->n, set->n);
    MINIMA_TRY(minima_radial_check(set));
    double c0, c1, s;
    const minima_radial *m = jac_coef(set, eta, &c0, &c1, &s);
    double *dir = NULL;
    if (m && c1 != 0) {
        if (!(dir = minima_alloc(set->n, sizeof *dir))) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
        for (size_t i = 0; i < set->n; i++) dir[i] = eta[i] - m->center[i];
    }
    minima_status st = sym_pullback_create(out, hessian, c0, c1, dir);
    minima_free(dir);
    return st;
}

/* ---- planning a ranking -------------------------------------------------- */

minima_radial_plan_params minima_radial_plan_default_params(void)
{
    minima_radial_plan_params p;
    p.factor = 10.0;
    p.max_delta = 1.0;
    p.margin = 0.1;
    return p;
}

minima_status minima_radial_plan(size_t n, int m, const double *const *centers,
                                 const double *lambda, const int *order,
                                 const minima_radial_plan_params *params, minima_radial *maps,
                                 double *predicted)
{
    if (!centers || !lambda || !order || !maps || m < 1)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_radial_plan: NULL argument or no minimum");
    minima_radial_plan_params p = params ? *params : minima_radial_plan_default_params();
    if (!(p.factor > 1) || !isfinite(p.factor) || !(p.max_delta > 0) || !isfinite(p.max_delta) ||
        !(p.margin >= 0 && p.margin < 1))
        MINIMA_FAIL(MINIMA_EINVAL, "radial plan: factor %g, max_delta %g, margin %g; expected "
                    "factor > 1, max_delta > 0, 0 <= margin < 1", p.factor, p.max_delta, p.margin);
    double log_ref = 0;
    for (int i = 0; i < m; i++) {
        if (!(lambda[i] > 0) || !isfinite(lambda[i]))
            MINIMA_FAIL(MINIMA_EINVAL, "radial plan: the Hessian norm of minimum %d is %g; "
                        "expected a finite number > 0", i, lambda[i]);
        log_ref += log(lambda[i]) / m;
    }
    int seen_mask_ok = 1;
    for (int j = 0; j < m; j++) {
        if (order[j] < 0 || order[j] >= m) seen_mask_ok = 0;
        for (int k = 0; k < j && seen_mask_ok; k++) if (order[k] == order[j]) seen_mask_ok = 0;
    }
    if (!seen_mask_ok) MINIMA_FAIL(MINIMA_EINVAL, "radial plan: the order is not a permutation of 0..%d", m - 1);
    for (int j = 0; j < m; j++) {
        int i = order[j];
        double delta = p.max_delta;
        for (int k = 0; k < m; k++) {
            if (k == i) continue;
            double d = 0.5 * (1 - p.margin) * dist(centers[i], centers[k], n);
            if (d < delta) delta = d;
        }
        if (!(delta > 0))
            MINIMA_FAIL(MINIMA_EINVAL, "radial plan: minimum %d coincides with another one; "
                        "distinct centres are needed", i);
        double target = exp(log_ref + ((m - 1) / 2.0 - j) * log(p.factor));
        double q = sqrt(target / lambda[i]);            /* rhat / rho */
        minima_radial *r = &maps[i];
        r->center = centers[i];
        r->delta = delta;
        if (q >= 1) { r->rhat = delta / 2; r->rho = r->rhat / q; }
        else { r->rho = delta / 2; r->rhat = q * r->rho; }
        if (!(r->rho > 0) || !(r->rhat > 0))
            MINIMA_FAIL(MINIMA_ERANGE, "radial plan: ratio rhat/rho = %g for minimum %d is out of "
                        "floating-point range", q, i);
        if (predicted) predicted[i] = (r->rhat / r->rho) * (r->rhat / r->rho) * lambda[i];
    }
    return MINIMA_OK;
}

/* ---- Fig. 5: eta = c + (r^2 + b)^a (theta - c) ----------------------------- */

minima_status minima_powradial_check(const minima_powradial *m)
{
    if (!m || !m->center) MINIMA_FAIL(MINIMA_EINVAL, "radial map: NULL argument or centre");
    if (!(m->a > -0.5) || !isfinite(m->a) || !(m->b >= 0) || !isfinite(m->b))
        MINIMA_FAIL(MINIMA_EINVAL, "radial map eta = (r^2 + b)^a (theta - c): a = %g, b = %g; "
                    "expected a > -1/2 and b >= 0 (a bijection)", m->a, m->b);
    return MINIMA_OK;
}

static double pow_s(const minima_powradial *m, double r)
{
    return r == 0 ? 0.0 : pow(r * r + m->b, m->a) * r;
}

void minima_powradial_to_eta(const minima_powradial *m, size_t n, const double *theta, double *eta)
{
    double r = dist(theta, m->center, n);
    double f = r == 0 ? 0.0 : pow(r * r + m->b, m->a);
    for (size_t i = 0; i < n; i++) eta[i] = m->center[i] + f * (theta[i] - m->center[i]);
}

minima_status minima_powradial_to_theta(const minima_powradial *m, size_t n, const double *eta,
                                        double *theta)
{
    double S = dist(eta, m->center, n);
    if (S == 0) { memmove(theta, m->center, n * sizeof *theta); return MINIMA_OK; }
    if (!isfinite(S)) MINIMA_FAIL(MINIMA_ENONFINITE, "radial map inverse: ||eta - c|| = %g", S);
    /* bracket the root of s(r) = S; s is increasing from s(0) = 0 */
    double lo = 0, hi = 1;
    for (int i = 0; pow_s(m, hi) < S; i++) {
        lo = hi;
        hi *= 2;
        if (i > 2100 || !isfinite(hi))
            MINIMA_FAIL(MINIMA_ENOCONV, "radial map inverse: no radius reaches %g", S);
    }
    double r = 0.5 * (lo + hi);
    for (int it = 0; it < 500; it++) {
        double q = r * r + m->b;
        double val = pow(q, m->a) * r - S;
        if (val == 0) break;
        if (val > 0) hi = r; else lo = r;
        double deriv = pow(q, m->a - 1) * ((2 * m->a + 1) * r * r + m->b);
        double rn = r - val / deriv;
        if (!(rn > lo && rn < hi)) rn = 0.5 * (lo + hi);
        int done = fabs(rn - r) <= 4 * DBL_EPSILON * rn || hi - lo <= 4 * DBL_EPSILON * hi;
        r = rn;
        if (done) break;
    }
    double resid = fabs(pow_s(m, r) - S);
    if (!(resid <= 1e-12 * S))
        MINIMA_FAIL(MINIMA_ENOCONV, "radial map inverse: the radius solve for %g did not converge "
                    "(r = %.17g, residual %g)", S, r, resid);
    double f = r / S;
    for (size_t i = 0; i < n; i++) theta[i] = m->center[i] + f * (eta[i] - m->center[i]);
    return MINIMA_OK;
}

/* d eta / d theta = f I + g u u^T at theta. */
static void pow_coef(const minima_powradial *m, double r, double *f, double *g)
{
    double q = r * r + m->b;
    *f = pow(q, m->a);
    *g = 2 * m->a * pow(q, m->a - 1);
}

void minima_powradial_jac_apply(const minima_powradial *m, size_t n, const double *theta,
                                const double *v, double *out)
{
    double r = dist(theta, m->center, n), f, g, dot = 0;
    pow_coef(m, r, &f, &g);
    if (r == 0) g = 0;
    for (size_t i = 0; i < n; i++) dot += (theta[i] - m->center[i]) * v[i];
    for (size_t i = 0; i < n; i++) out[i] = f * v[i] + g * dot * (theta[i] - m->center[i]);
}

void minima_powradial_jac_inv_apply(const minima_powradial *m, size_t n, const double *theta,
                                    const double *v, double *out)
{
    double r = dist(theta, m->center, n), f, g, dot = 0;
    pow_coef(m, r, &f, &g);
    if (r == 0) g = 0;
    double k = g / (f * (f + g * r * r));   /* Sherman-Morrison */
    for (size_t i = 0; i < n; i++) dot += (theta[i] - m->center[i]) * v[i];
    for (size_t i = 0; i < n; i++) out[i] = v[i] / f - k * dot * (theta[i] - m->center[i]);
}

minima_status minima_powradial_hessian(minima_linop **out, minima_linop *hessian,
                                       const minima_powradial *m, const double *theta)
{
    if (!out || !hessian || !theta) MINIMA_FAIL(MINIMA_EINVAL, "minima_powradial_hessian: NULL argument");
    MINIMA_TRY(minima_powradial_check(m));
    size_t n = hessian->n;
    double r = dist(theta, m->center, n), f, g;
    pow_coef(m, r, &f, &g);
    if (r == 0) g = 0;
    if (!(f > 0) || !isfinite(f))
        MINIMA_FAIL(MINIMA_EINVAL, "radial map: the Jacobian is singular at the centre when "
                    "b = 0 (a = %g); use b > 0", m->a);
    /* J = dtheta/deta = (1/f) I - g/(f (f + g r^2)) u u^T = (1/f) I + c1 w w^T, w = u/r */
    double c1 = r > 0 ? -g * r * r / (f * (f + g * r * r)) : 0.0;
    double *dir = NULL;
    if (c1 != 0) {
        if (!(dir = minima_alloc(n, sizeof *dir))) MINIMA_FAIL(MINIMA_ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) dir[i] = theta[i] - m->center[i];
    }
    minima_status st = sym_pullback_create(out, hessian, 1.0 / f, c1, dir);
    minima_free(dir);
    return st;
}
