/* theorem_builtin.c — the built-in networks the theorem checks run on:
 * teacher data, a student trained by full-batch gradient descent, polished
 * by Newton steps to a true critical point.
 *
 * Data. Inputs x_j = mu_j + s_j z (z standard normal) with feature scales
 * s_j spread over a decade and non-zero means, so that standardizing or
 * whitening them is far from the identity (sec5.2); targets are a random
 * ReLU teacher's outputs (minima_model_init, PyTorch's scale) plus Gaussian
 * noise, PROJECTED onto the orthogonal complement of the range of the
 * teacher's output Jacobian J: then J^T r = 0 for the residual r, so the
 * teacher is an exact critical point of the MSE loss with L > 0 (the
 * Hessian keeps its residual term, not only Gauss-Newton), inside a smooth
 * piece of the ReLU loss (no kink at the minimum, which a trained ReLU
 * network otherwise often sits on).
 *
 * The networks.
 *   deep     4-8-6-3 with biases, noise 0.01: the teacher itself, an exact
 *            critical point by construction; at this noise level its Hessian
 *            is positive semi-definite (a minimum; at 0.02 it is a saddle —
 *            the residual term — which the checks would report).
 *   shallow  3-5-3 without biases, noise 0.05: a student started at the
 *            teacher perturbed by PERTURB times the init scale, GD_EPOCHS
 *            epochs of full-batch gradient descent (train.h), then Newton
 *            steps with the pseudo-inverse of the exact dense Hessian
 *            (|lambda| <= PINV_CUT lambda_max dropped: the rescaling orbit is
 *            a null space of the Hessian at a critical point and the gradient
 *            is orthogonal to it), each step halved until the gradient norm
 *            decreases, until ||grad L|| <= newton_tol.
 *   exact    3-6-4-2 without biases: the teacher on noiseless targets, an
 *            exact minimum with L = 0 and a positive semi-definite,
 *            rank-deficient Hessian (Thm 5's setting).
 * The checks report ||grad L|| and lambda_min of what they got. */
#include <math.h>
#include <string.h>

#include "engine/net_eval_impl.h"
#include "minima/alloc.h"
#include "minima/eigen.h"
#include "minima/rng.h"
#include "minima/symmetry.h"
#include "minima/train.h"
#include "paper/theorem_impl.h"

#define NOISE_DEEP 0.01
#define NOISE_SHALLOW 0.05
#define PERTURB 0.1
#define GD_EPOCHS 300
#define GD_LR 0.02
#define NEWTON_MAX 40
#define PINV_CUT 1e-12

typedef struct {
    int n_layers;
    int widths[4];
    int bias;
    size_t n;
    double noise;             /* before projection */
    int train;
} spec;

static spec spec_of(minima_theorem_net which)
{
    spec s;
    memset(&s, 0, sizeof s);
    switch (which) {
    case MINIMA_THEOREM_NET_DEEP:
        s = (spec){3, {4, 8, 6, 3}, 1, 256, NOISE_DEEP, 0};
        break;
    case MINIMA_THEOREM_NET_SHALLOW:
        s = (spec){2, {3, 5, 3, 0}, 0, 128, NOISE_SHALLOW, 1};
        break;
    default:
        s = (spec){3, {3, 6, 4, 2}, 0, 256, 0, 0};
        break;
    }
    return s;
}

/* theta of a net at its own anchor: one Newton step's direction
 * d = -H^+ g (saddle-free: |lambda| in the pseudo-inverse). */
static minima_status newton_direction(minima_net *net, size_t P, const double *g, double *h,
                                      double *vals, double *vecs, double *d)
{
    MINIMA_TRY(minima_net_hessian(net, h));
    MINIMA_TRY(minima_spectrum_dense(P, h, vals, vecs));
    double lmax = 0;
    for (size_t i = 0; i < P; i++) lmax = fmax(lmax, fabs(vals[i]));
    memset(d, 0, P * sizeof *d);
    for (size_t i = 0; i < P; i++) {
        if (!(fabs(vals[i]) > PINV_CUT * lmax)) continue;
        const double *v = vecs + i * P;
        double c = 0;
        for (size_t j = 0; j < P; j++) c += v[j] * g[j];
        c /= fabs(vals[i]);
        for (size_t j = 0; j < P; j++) d[j] -= c * v[j];
    }
    return MINIMA_OK;
}

/* Newton polishing of model->theta on data; *steps receives the count. */
static minima_status polish(minima_model *model, const minima_dataset *data, double tol, int *steps)
{
    size_t P = model->n_params;
    minima_net *net = NULL;
    double *buf = NULL;
    minima_status s = minima_net_create(&net, model, data, NULL);
    if (s != MINIMA_OK) return s;
    buf = minima_alloc(2 * P * P + 6 * P, sizeof *buf);
    if (!buf) { s = minima_error(MINIMA_ENOMEM, "theorem: out of memory (Newton, P = %zu)", P); goto fail; }
    double *h = buf, *vecs = h + P * P, *vals = vecs + P * P, *g = vals + P, *d = g + P;
    double *trial = d + P, *g2 = trial + P, *best = g2 + P;
    double loss;
    if ((s = minima_net_gradient(net, model->theta, &loss, g)) != MINIMA_OK) goto fail;
    double gn = minima_thm_norm(g, P);
    int k = 0;
    for (; k < NEWTON_MAX && gn > tol; k++) {
        if (minima_interrupted()) { s = minima_error(MINIMA_EINTERRUPTED, "theorem: interrupted"); goto fail; }
        if ((s = minima_net_set_point(net, model->theta)) != MINIMA_OK) goto fail;
        if ((s = newton_direction(net, P, g, h, vals, vecs, d)) != MINIMA_OK) goto fail;
        double t = 1, best_gn = gn;
        int accepted = 0;
        for (int ls = 0; ls < 30; ls++, t *= 0.5) {
            for (size_t i = 0; i < P; i++) trial[i] = model->theta[i] + t * d[i];
            double l2;
            if ((s = minima_net_gradient(net, trial, &l2, g2)) != MINIMA_OK) goto fail;
            double n2 = minima_thm_norm(g2, P);
            if (isfinite(n2) && n2 < best_gn) {
                best_gn = n2;
                memcpy(best, trial, P * sizeof *best);
                memcpy(g, g2, P * sizeof *g);
                accepted = 1;
                break;
            }
        }
        if (!accepted) break;  /* rounding floor reached */
        memcpy(model->theta, best, P * sizeof *best);
        gn = best_gn;
    }
    *steps = k;
fail:
    minima_free(buf);
    minima_net_free(net);
    return s;
}

/* xi (N*dK) <- its component orthogonal to the range of the output
 * Jacobian J of `model` at its parameters, so that the model is an exact
 * critical point of the MSE loss on targets f + xi (grad L = c J^T xi = 0).
 * Two passes of r <- r - J (J^T J)^+ J^T r, eigenvalues below PINV_CUT
 * times the largest dropped (the orbit directions are null for J). */
static minima_status project_noise(const minima_model *model, const minima_dataset *data, double *xi)
{
    size_t P = model->n_params, M = data->n * (size_t)data->d_target;
    minima_net *net = NULL;
    double *buf = NULL;
    minima_status s = minima_net_create(&net, model, data, NULL);
    if (s != MINIMA_OK) return s;
    buf = minima_alloc(M * P + 3 * P * P + 3 * P + M, sizeof *buf);
    if (!buf) { s = minima_error(MINIMA_ENOMEM, "theorem: out of memory (Jacobian %zu x %zu)", M, P); goto fail; }
    double *jac = buf, *gram = jac + M * P, *vecs = gram + P * P, *e = vecs + P * P;
    double *vals = e + P * P, *c = vals + P, *y = c + P, *col = y + P;
    (void)e;
    double *unit = vals;  /* scratch before vals is needed */
    for (size_t i = 0; i < P; i++) {   /* column i of J, stored as row i of jac (P, M) */
        memset(unit, 0, P * sizeof *unit);
        unit[i] = 1;
        if ((s = minima_net_jvp(net, unit, col))) goto fail;
        memcpy(jac + i * M, col, M * sizeof *col);
    }
    for (size_t i = 0; i < P; i++)
        for (size_t j = i; j < P; j++) {
            double acc = 0;
            for (size_t m = 0; m < M; m++) acc += jac[i * M + m] * jac[j * M + m];
            gram[i * P + j] = gram[j * P + i] = acc;
        }
    if ((s = minima_spectrum_dense(P, gram, vals, vecs))) goto fail;
    double lmax = 0;
    for (size_t i = 0; i < P; i++) lmax = fmax(lmax, fabs(vals[i]));
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < P; i++) {
            double acc = 0;
            for (size_t m = 0; m < M; m++) acc += jac[i * M + m] * xi[m];
            c[i] = acc;
        }
        memset(y, 0, P * sizeof *y);
        for (size_t k = 0; k < P; k++) {
            if (!(vals[k] > PINV_CUT * lmax)) continue;
            const double *v = vecs + k * P;
            double a = 0;
            for (size_t i = 0; i < P; i++) a += v[i] * c[i];
            a /= vals[k];
            for (size_t i = 0; i < P; i++) y[i] += a * v[i];
        }
        for (size_t i = 0; i < P; i++)
            for (size_t m = 0; m < M; m++) xi[m] -= jac[i * M + m] * y[i];
    }
fail:
    minima_free(buf);
    minima_net_free(net);
    return s;
}

minima_status minima_thm_build(minima_theorem_net which, const minima_theorem_params *p,
                               minima_model **model_out, minima_dataset **data_out,
                               int *gd_epochs, int *newton_steps)
{
    spec sp = spec_of(which);
    minima_model *teacher = NULL, *student = NULL;
    minima_dataset *data = NULL;
    minima_trainer *tr = NULL;
    minima_status s;
    int K = sp.n_layers, d0 = sp.widths[0], dK = sp.widths[K];
    uint64_t seed = p->seed * 1000 + (uint64_t)which;
    *model_out = NULL;
    *data_out = NULL;
    *gd_epochs = *newton_steps = 0;

    if ((s = minima_model_create(&teacher, K, sp.widths, sp.bias, MINIMA_ACT_RELU))) goto fail;
    minima_model_init(teacher, seed);
    teacher->loss = MINIMA_LOSS_MSE;
    if ((s = minima_dataset_create(&data, sp.n, d0, 0, dK))) goto fail;
    minima_rng rng;
    minima_rng_seed2(&rng, seed, 1);
    for (size_t i = 0; i < sp.n; i++)
        for (int j = 0; j < d0; j++) {
            double scale = pow(10.0, (double)j / (d0 > 1 ? d0 - 1 : 1) - 0.5);
            double mean = 0.5 * (double)((j % 3) - 1);
            data->x[i * (size_t)d0 + (size_t)j] = mean + scale * minima_rng_normal(&rng);
        }
    if ((s = minima_eval_outputs(teacher, NULL, data->x, sp.n, data->targets))) goto fail;
    if (sp.noise > 0) {
        size_t M = sp.n * (size_t)dK;
        double *xi = minima_alloc(M, sizeof *xi);
        if (!xi) { s = minima_error(MINIMA_ENOMEM, "theorem: out of memory"); goto fail; }
        for (size_t i = 0; i < M; i++) xi[i] = sp.noise * minima_rng_normal(&rng);
        s = project_noise(teacher, data, xi);
        for (size_t i = 0; s == MINIMA_OK && i < M; i++) data->targets[i] += xi[i];
        minima_free(xi);
        if (s != MINIMA_OK) goto fail;
    }
    data->name = minima_strdup(which == MINIMA_THEOREM_NET_DEEP ? "builtin:deep" :
                               which == MINIMA_THEOREM_NET_SHALLOW ? "builtin:shallow" :
                               "builtin:exact");
    if (!data->name) { s = minima_error(MINIMA_ENOMEM, "theorem: out of memory"); goto fail; }

    if ((s = minima_model_copy(teacher, &student))) goto fail;
    if (sp.train) {
        size_t P = student->n_params;
        minima_rng_seed2(&rng, seed, 2);
        for (int k = 0; k < K; k++) {
            double scale = PERTURB / sqrt((double)sp.widths[k]);
            size_t off = minima_model_layer_offset(student, k), n = minima_model_layer_params(student, k);
            for (size_t i = 0; i < n && off + i < P; i++)
                student->theta[off + i] += scale * (2 * minima_rng_uniform(&rng) - 1);
        }
        minima_train_params tp = minima_train_default_params();
        tp.batch_size = 0;
        tp.epochs = GD_EPOCHS;
        tp.opt.lr = GD_LR;
        tp.opt.momentum = 0;
        tp.eval_train = 0;
        tp.seed = seed;
        if ((s = minima_trainer_alloc(&tr, student, data, NULL, &tp))) goto fail;
        while (!minima_trainer_done(tr)) {
            minima_epoch_stats st;
            if ((s = minima_trainer_epoch(tr, &st))) goto fail;
        }
        *gd_epochs = minima_trainer_epochs_done(tr);
        minima_trainer_free(tr);
        tr = NULL;
        if ((s = polish(student, data, p->newton_tol, newton_steps))) goto fail;
    }
    minima_model_free(teacher);
    *model_out = student;
    *data_out = data;
    return MINIMA_OK;
fail:
    minima_trainer_free(tr);
    minima_model_free(teacher);
    minima_model_free(student);
    minima_dataset_free(data);
    return s;
}
