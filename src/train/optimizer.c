/* optimizer.c — SGD and Adam on a flat parameter array, with PyTorch's
 * update formulas (torch.optim.SGD and torch.optim.Adam, single-tensor
 * path), so that a run compares step by step with a PyTorch script. */
#include "minima/train.h"

#include <math.h>
#include <string.h>

#include "minima/alloc.h"

struct minima_optimizer {
    minima_optimizer_params p;
    size_t n;
    uint64_t steps;
    int n_vectors;
    double *buf;      /* (n) SGD momentum buffer, or Adam's first moment m */
    double *buf2;     /* (n) Adam's second moment v */
};

minima_optimizer_params minima_optimizer_default_params(void)
{
    minima_optimizer_params p;
    memset(&p, 0, sizeof p);
    p.kind = MINIMA_OPT_SGD;
    p.lr = 0.02;
    p.momentum = 0.9;
    p.nesterov = 0;
    p.weight_decay = 0.0;
    p.beta1 = 0.9;
    p.beta2 = 0.999;
    p.eps = 1e-8;
    return p;
}

minima_status minima_optimizer_check_params(const minima_optimizer_params *p)
{
    if (!p) MINIMA_FAIL(MINIMA_EINVAL, "minima_optimizer_check_params: NULL argument");
    if (p->kind != MINIMA_OPT_SGD && p->kind != MINIMA_OPT_ADAM)
        MINIMA_FAIL(MINIMA_EINVAL, "optimizer: expected sgd or adam, found code %d", (int)p->kind);
    if (!(p->lr > 0) || !isfinite(p->lr))
        MINIMA_FAIL(MINIMA_EINVAL, "learning rate: expected a finite number > 0, found %g", p->lr);
    if (!(p->weight_decay >= 0) || !isfinite(p->weight_decay))
        MINIMA_FAIL(MINIMA_EINVAL, "weight decay: expected a finite number >= 0, found %g",
                    p->weight_decay);
    if (p->kind == MINIMA_OPT_SGD) {
        if (!(p->momentum >= 0 && p->momentum < 1))
            MINIMA_FAIL(MINIMA_EINVAL, "momentum: expected a number in [0, 1), found %g", p->momentum);
        if (p->nesterov && !(p->momentum > 0))
            MINIMA_FAIL(MINIMA_EINVAL, "Nesterov momentum needs momentum > 0, found %g", p->momentum);
    } else {
        if (!(p->beta1 >= 0 && p->beta1 < 1))
            MINIMA_FAIL(MINIMA_EINVAL, "Adam beta1: expected a number in [0, 1), found %g", p->beta1);
        if (!(p->beta2 >= 0 && p->beta2 < 1))
            MINIMA_FAIL(MINIMA_EINVAL, "Adam beta2: expected a number in [0, 1), found %g", p->beta2);
        if (!(p->eps > 0) || !isfinite(p->eps))
            MINIMA_FAIL(MINIMA_EINVAL, "Adam eps: expected a finite number > 0, found %g", p->eps);
    }
    return MINIMA_OK;
}

const char *minima_optimizer_name(minima_optimizer_kind kind)
{
    switch (kind) {
    case MINIMA_OPT_SGD: return "sgd";
    case MINIMA_OPT_ADAM: return "adam";
    }
    return "?";
}

minima_status minima_optimizer_parse(const char *s, minima_optimizer_kind *kind)
{
    if (!s || !kind) MINIMA_FAIL(MINIMA_EINVAL, "minima_optimizer_parse: NULL argument");
    if (!strcmp(s, "sgd")) { *kind = MINIMA_OPT_SGD; return MINIMA_OK; }
    if (!strcmp(s, "adam")) { *kind = MINIMA_OPT_ADAM; return MINIMA_OK; }
    MINIMA_FAIL(MINIMA_EINVAL, "optimizer: expected 'sgd' or 'adam', found '%s'", s);
}

minima_status minima_optimizer_alloc(minima_optimizer **out, size_t n,
                                     const minima_optimizer_params *params)
{
    if (!out || !params) MINIMA_FAIL(MINIMA_EINVAL, "minima_optimizer_alloc: NULL argument");
    *out = NULL;
    MINIMA_TRY(minima_optimizer_check_params(params));
    minima_optimizer *o = minima_calloc(1, sizeof *o);
    if (!o) goto nomem;
    o->p = *params;
    o->n = n;
    o->n_vectors = params->kind == MINIMA_OPT_ADAM ? 2 : params->momentum > 0 ? 1 : 0;
    if (o->n_vectors >= 1 && !(o->buf = minima_calloc(n, sizeof *o->buf))) goto nomem;
    if (o->n_vectors >= 2 && !(o->buf2 = minima_calloc(n, sizeof *o->buf2))) goto nomem;
    *out = o;
    return MINIMA_OK;
nomem:
    minima_optimizer_free(o);
    MINIMA_FAIL(MINIMA_ENOMEM, "optimizer state for %zu parameters: out of memory", n);
}

void minima_optimizer_free(minima_optimizer *o)
{
    if (!o) return;
    minima_free(o->buf);
    minima_free(o->buf2);
    minima_free(o);
}

static void sgd_step(minima_optimizer *o, double *theta, const double *grad)
{
    const double lr = o->p.lr, mu = o->p.momentum, wd = o->p.weight_decay;
    const int first = o->steps == 0;
    double *buf = o->buf;   /* (n) */
    for (size_t i = 0; i < o->n; i++) {
        double d = grad[i];
        if (wd != 0) d = d + wd * theta[i];
        if (mu != 0) {
            buf[i] = first ? d : mu * buf[i] + d;
            d = o->p.nesterov ? d + mu * buf[i] : buf[i];
        }
        theta[i] = theta[i] - lr * d;
    }
}

static void adam_step(minima_optimizer *o, double *theta, const double *grad)
{
    const double lr = o->p.lr, b1 = o->p.beta1, b2 = o->p.beta2, eps = o->p.eps;
    const double wd = o->p.weight_decay;
    const double t = (double)o->steps;      /* already incremented */
    const double bc1 = 1 - pow(b1, t);
    const double bc2 = 1 - pow(b2, t);
    const double step_size = lr / bc1;
    const double bc2_sqrt = sqrt(bc2);
    const double w1 = 1 - b1;
    double *m = o->buf, *v = o->buf2;        /* (n) each */
    for (size_t i = 0; i < o->n; i++) {
        double d = grad[i];
        if (wd != 0) d = d + wd * theta[i];
        /* torch's exp_avg.lerp_(grad, 1 - b1): the same value as
         * b1 m + (1-b1) d, rounded as PyTorch rounds it. */
        m[i] = w1 < 0.5 ? m[i] + w1 * (d - m[i]) : d - (d - m[i]) * (1 - w1);
        v[i] = b2 * v[i] + (1 - b2) * d * d;
        double denom = sqrt(v[i]) / bc2_sqrt + eps;
        theta[i] = theta[i] - step_size * (m[i] / denom);
    }
}

void minima_optimizer_step(minima_optimizer *o, double *theta, const double *grad)
{
    MINIMA_ASSERT(o && theta && grad);
    if (o->p.kind == MINIMA_OPT_ADAM) {
        o->steps++;
        adam_step(o, theta, grad);
    } else {
        sgd_step(o, theta, grad);
        o->steps++;
    }
}

const minima_optimizer_params *minima_optimizer_get_params(const minima_optimizer *o)
{
    return &o->p;
}

uint64_t minima_optimizer_steps(const minima_optimizer *o) { return o->steps; }
int minima_optimizer_n_vectors(const minima_optimizer *o) { return o->n_vectors; }

double *minima_optimizer_vector(minima_optimizer *o, int i)
{
    MINIMA_ASSERT(i >= 0 && i < o->n_vectors);
    return i == 0 ? o->buf : o->buf2;
}

void minima_optimizer_set_steps(minima_optimizer *o, uint64_t steps) { o->steps = steps; }
