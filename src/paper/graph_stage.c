/* graph_stage.c — the minimum-norm point of a graph over its stage-wise
 * maps (contract: minima/graph_stage.h). The stages of every parameter are
 * read off the group's own diagonal map (minima_gsym_diag with the
 * log-factor 1 on one stage), so this file knows nothing of the node
 * kinds or of the parameter layout. */
#include <math.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/graph_stage.h"
#include "paper/graph_symmetry_impl.h"

#define STAGE_MAX_ITER 100
#define STAGE_GRAD_TOL 1e-13
#define STAGE_FULL_STEP 1e-3
#define STAGE_ARMIJO 1e-4

/* F(t) = sum_{a,b} W[a][b] exp(2 (t_a - t_b)) over the (S+1)^2 pairs, index S
 * the input/output (t = 0); grad and hess over the active stages (act[a]
 * its index, -1 for FIXED and held stages) when not NULL. */
static double stage_f(const double *W, int S, const double *t, const int *act, int na,
                      double *grad, double *hess)
{
    size_t n1 = (size_t)S + 1;
    if (grad) memset(grad, 0, (size_t)na * sizeof *grad);
    if (hess) memset(hess, 0, (size_t)na * (size_t)na * sizeof *hess);
    double f = 0;
    for (size_t a = 0; a < n1; a++)
        for (size_t b = 0; b < n1; b++) {
            double w = W[a * n1 + b];
            if (w == 0) continue;
            if (a == b) {
                f += w;
                continue;
            }
            double e = w * exp(2 * (t[a] - t[b]));
            f += e;
            int ka = act[a], kb = act[b];
            if (grad) {
                if (ka >= 0) grad[ka] += 2 * e;
                if (kb >= 0) grad[kb] -= 2 * e;
            }
            if (hess) {
                size_t n = (size_t)na;
                if (ka >= 0) hess[(size_t)ka * n + (size_t)ka] += 4 * e;
                if (kb >= 0) hess[(size_t)kb * n + (size_t)kb] += 4 * e;
                if (ka >= 0 && kb >= 0) {
                    hess[(size_t)ka * n + (size_t)kb] -= 4 * e;
                    hess[(size_t)kb * n + (size_t)ka] -= 4 * e;
                }
            }
        }
    return f;
}

/* Marks in seen (S+1) the nodes reachable from FIXED (index S) along the
 * edges b -> a of non-zero W[a][b] (forward), or reaching it (backward). */
static void reach(const double *W, int S, int forward, unsigned char *seen, int *queue)
{
    size_t n1 = (size_t)S + 1;
    memset(seen, 0, n1);
    int head = 0, tail = 0;
    queue[tail++] = S;
    seen[S] = 1;
    while (head < tail) {
        size_t x = (size_t)queue[head++];
        for (size_t y = 0; y < n1; y++) {
            double w = forward ? W[y * n1 + x] : W[x * n1 + y];   /* x -> y, or y -> x */
            if (w != 0 && x != y && !seen[y]) {
                seen[y] = 1;
                queue[tail++] = (int)y;
            }
        }
    }
}

typedef struct {
    double *W, *t, *tt, *grad, *hess, *step, *rhs, *scale, *diag;
    int *so, *si, *act, *queue;
    unsigned char *fwd, *bwd;
} stage_work;

static void work_free(stage_work *w)
{
    minima_free(w->W);
    minima_free(w->t);
    minima_free(w->tt);
    minima_free(w->grad);
    minima_free(w->hess);
    minima_free(w->step);
    minima_free(w->rhs);
    minima_free(w->scale);
    minima_free(w->diag);
    minima_free(w->so);
    minima_free(w->si);
    minima_free(w->act);
    minima_free(w->queue);
    minima_free(w->fwd);
    minima_free(w->bwd);
}

static minima_status newton(stage_work *w, int S, int na, minima_gsym_canonical_info *inf)
{
    size_t n = (size_t)na, n1 = (size_t)S + 1;
    for (int it = 0;; it++) {
        double f = stage_f(w->W, S, w->t, w->act, na, w->grad, w->hess), gn = 0;
        for (size_t i = 0; i < n; i++) gn += w->grad[i] * w->grad[i];
        gn = sqrt(gn);
        inf->iterations = it;
        inf->grad_norm = gn;
        if (!isfinite(f) || !isfinite(gn))
            MINIMA_FAIL(MINIMA_ERANGE, "stage-wise canonical point: the squared norm or its "
                        "gradient overflowed at step %d (F = %g)", it, f);
        if (gn <= STAGE_GRAD_TOL * f) return MINIMA_OK;
        if (it >= STAGE_MAX_ITER)
            MINIMA_FAIL(MINIMA_ENOCONV, "stage-wise canonical point: Newton's method stopped after "
                        "%d steps with ||grad F|| = %.3g, expected <= %g F = %.3g", STAGE_MAX_ITER,
                        gn, STAGE_GRAD_TOL, STAGE_GRAD_TOL * f);
        for (size_t i = 0; i < n; i++) {
            double h = w->hess[i * n + i];
            w->scale[i] = h > 0 ? 1 / sqrt(h) : 1;
        }
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++) w->hess[i * n + j] *= w->scale[i] * w->scale[j];
            w->rhs[i] = -w->grad[i] * w->scale[i];
        }
        if (gsym_cholesky_solve(w->hess, n, w->rhs, w->step))
            for (size_t i = 0; i < n; i++) w->step[i] *= w->scale[i];
        else
            for (size_t i = 0; i < n; i++) w->step[i] = -w->grad[i] * w->scale[i] * w->scale[i];
        double slope = 0, smax = 0;
        for (size_t i = 0; i < n; i++) {
            slope += w->grad[i] * w->step[i];
            smax = fmax(smax, fabs(w->step[i]));
        }
        double a = 1;
        int accepted = 0;
        for (int ls = 0; ls < 60; ls++, a *= 0.5) {
            memcpy(w->tt, w->t, n1 * sizeof *w->t);
            for (size_t s = 0; s < n1; s++)
                if (w->act[s] >= 0) w->tt[s] += a * w->step[w->act[s]];
            /* a short step: the quadratic model is exact to within
             * exp(+-4 smax), the full step converges quadratically */
            if (smax <= STAGE_FULL_STEP) {
                accepted = 1;
                break;
            }
            double ft = stage_f(w->W, S, w->tt, w->act, na, NULL, NULL);
            if (isfinite(ft) && ft <= f + STAGE_ARMIJO * a * slope) {
                accepted = 1;
                break;
            }
        }
        if (!accepted)
            MINIMA_FAIL(MINIMA_ENOCONV, "stage-wise canonical point: the line search found no "
                        "decrease at step %d (||grad F|| = %.3g)", it, gn);
        memcpy(w->t, w->tt, n1 * sizeof *w->t);
    }
}

minima_status minima_gsym_stage_canonical(const minima_gsym *g, const minima_model *m,
                                          const double *theta, double *alpha, double *u,
                                          double *theta_out, minima_gsym_canonical_info *info)
{
    if (!g || !m || !u) MINIMA_FAIL(MINIMA_EINVAL, "minima_gsym_stage_canonical: NULL argument");
    if (g->n_nodes != m->n_nodes || g->n_params != m->n_params)
        MINIMA_FAIL(MINIMA_EINVAL, "stage-wise canonical point: the group was made for another "
                    "model (%d nodes, %zu parameters; this one has %d, %zu)", g->n_nodes,
                    g->n_params, m->n_nodes, m->n_params);
    if (!theta) theta = m->theta;
    size_t P = m->n_params;
    for (size_t p = 0; p < P; p++)
        if (!isfinite(theta[p]))
            MINIMA_FAIL(MINIMA_ENONFINITE, "stage-wise canonical point: theta[%zu] = %g; expected "
                        "finite parameters", p, theta[p]);
    int S = g->n_stages;
    size_t n1 = (size_t)S + 1;
    minima_gsym_canonical_info inf = {0, 0, 0, 0, 0};
    stage_work w;
    memset(&w, 0, sizeof w);
    w.W = minima_calloc(n1 * n1, sizeof *w.W);
    w.t = minima_calloc(n1, sizeof *w.t);
    w.tt = minima_calloc(n1, sizeof *w.tt);
    w.grad = minima_alloc(n1, sizeof *w.grad);
    w.hess = minima_alloc(n1 * n1, sizeof *w.hess);
    w.step = minima_alloc(n1, sizeof *w.step);
    w.rhs = minima_alloc(n1, sizeof *w.rhs);
    w.scale = minima_alloc(n1, sizeof *w.scale);
    w.act = minima_alloc(n1, sizeof *w.act);
    w.queue = minima_alloc(n1, sizeof *w.queue);
    w.fwd = minima_alloc(n1, 1);
    w.bwd = minima_alloc(n1, 1);
    w.diag = minima_alloc(P ? P : 1, sizeof *w.diag);
    w.so = minima_alloc(P ? P : 1, sizeof *w.so);
    w.si = minima_alloc(P ? P : 1, sizeof *w.si);
    minima_status st = MINIMA_OK;
    if (!w.W || !w.t || !w.tt || !w.grad || !w.hess || !w.step || !w.rhs || !w.scale || !w.act ||
        !w.queue || !w.fwd || !w.bwd || !w.diag || !w.so || !w.si) {
        work_free(&w);
        MINIMA_FAIL(MINIMA_ENOMEM, "stage-wise canonical point: out of memory for %zu parameters",
                    P);
    }
    /* The stage each parameter writes (so) and reads (si), S for the input
     * or output: with log-factor 1 on stage s alone, log D_p is +1 when p
     * writes s, -1 when it reads s, 0 otherwise (or both). */
    for (size_t p = 0; p < P; p++) w.so[p] = w.si[p] = S;
    double *us = u;   /* u (n_classes) serves as the probe */
    for (int s = 0; s < S; s++) {
        for (int c = 0; c < g->n_classes; c++) us[c] = g->stage_of_class[c] == s ? 1.0 : 0.0;
        if ((st = minima_gsym_diag(g, m, us, w.diag)) != MINIMA_OK) goto done;
        for (size_t p = 0; p < P; p++) {
            if (w.diag[p] > 1.5) w.so[p] = s;
            else if (w.diag[p] < 0.5) w.si[p] = s;
        }
    }
    double max_abs = 0;
    for (size_t p = 0; p < P; p++) max_abs = fmax(max_abs, fabs(theta[p]));
    double inv = max_abs > 0 ? 1 / max_abs : 1, f0 = 0;
    for (size_t p = 0; p < P; p++) {
        double x = theta[p] * inv;
        f0 += x * x;
        w.W[(size_t)w.so[p] * n1 + (size_t)w.si[p]] += x * x;
    }
    inf.norm_before = sqrt(f0) * max_abs;
    /* stages on a directed cycle through FIXED: the others are held at 0 */
    reach(w.W, S, 1, w.fwd, w.queue);
    reach(w.W, S, 0, w.bwd, w.queue);
    int na = 0;
    for (int s = 0; s < S; s++) {
        if (w.fwd[s] && w.bwd[s]) w.act[s] = na++;
        else {
            w.act[s] = -1;
            inf.n_degenerate++;
        }
    }
    w.act[S] = -1;
    if (na > 0) {
        st = newton(&w, S, na, &inf);
        inf.grad_norm *= max_abs * max_abs;
        if (st != MINIMA_OK && st != MINIMA_ENOCONV) goto done;
    }
    inf.norm_after = sqrt(stage_f(w.W, S, w.t, w.act, 0, NULL, NULL)) * max_abs;
    for (int c = 0; c < g->n_classes; c++) u[c] = w.t[g->stage_of_class[c]];
    if (alpha) {
        double prev = 0;
        for (int s = 0; s < S; s++) {
            alpha[s] = exp(w.t[s] - prev);
            prev = w.t[s];
        }
        alpha[S] = exp(-prev);
    }
    if (theta_out) {
        minima_status st2 = minima_gsym_apply(g, m, u, theta, theta_out);
        if (st == MINIMA_OK) st = st2;
    }
    if (info) *info = inf;
done:
    work_free(&w);
    return st;
}
