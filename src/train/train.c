/* train.c — the trainer: shuffled mini-batches or full-batch gradient
 * descent, one epoch per call, evaluation and stopping between epochs.
 *
 * A mini-batch step copies the batch's rows (in the epoch's shuffled order)
 * into a data set made once at allocation and takes the gradient of a net
 * bound to it, so steps allocate nothing. The last, smaller batch of an
 * epoch has its own data set and net. */
#include "train/train_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "minima/alloc.h"
#include "minima/rng.h"

minima_train_params minima_train_default_params(void)
{
    minima_train_params p;
    memset(&p, 0, sizeof p);
    p.opt = minima_optimizer_default_params();
    p.batch_size = 64;
    p.drop_last = 0;
    p.epochs = 5;
    p.grad_tol = 0;
    p.grad_every = 0;
    p.eval_train = 1;
    p.seed = 0;
    p.eval_batch = 1000;
    return p;
}

minima_status minima_train_check_params(const minima_train_params *p)
{
    if (!p) MINIMA_FAIL(MINIMA_EINVAL, "minima_train_check_params: NULL argument");
    MINIMA_TRY(minima_optimizer_check_params(&p->opt));
    if (p->epochs < 1)
        MINIMA_FAIL(MINIMA_EINVAL, "epochs: expected an integer >= 1, found %d", p->epochs);
    if (!(p->grad_tol >= 0) || !isfinite(p->grad_tol))
        MINIMA_FAIL(MINIMA_EINVAL, "gradient tolerance: expected a finite number >= 0, found %g",
                    p->grad_tol);
    if (p->grad_every < 0)
        MINIMA_FAIL(MINIMA_EINVAL, "gradient check interval: expected an integer >= 0, found %d",
                    p->grad_every);
    return MINIMA_OK;
}

uint64_t minima_train_init_seed(uint64_t seed)
{
    minima_rng rng;
    minima_rng_seed2(&rng, seed, UINT64_MAX);
    return minima_rng_u64(&rng);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void minima_trainer_free(minima_trainer *tr)
{
    if (!tr) return;
    minima_net_free(tr->full_net);
    minima_net_free(tr->test_net);
    minima_net_free(tr->batch_net);
    minima_net_free(tr->tail_net);
    minima_dataset_free(tr->batch_data);
    minima_dataset_free(tr->tail_data);
    minima_optimizer_free(tr->opt);
    minima_free(tr->perm);
    minima_free(tr->grad);
    minima_free(tr);
}

/* A data set of `rows` examples shaped like `like`, and a net over it that
 * takes all of it in one batch. */
static minima_status make_batch(const minima_trainer *tr, size_t rows, minima_dataset **data,
                                minima_net **net)
{
    const minima_dataset *t = tr->train;
    MINIMA_TRY(minima_dataset_create(data, rows, t->d, t->labels ? t->n_classes : 0,
                                     t->targets ? t->d_target : 0));
    minima_net_params np = minima_net_default_params(tr->model);
    np.batch_size = 0;
    np.cache_limit = 0;    /* training never takes curvature products */
    return minima_net_create(net, tr->model, *data, &np);
}

minima_status minima_trainer_alloc(minima_trainer **out, minima_model *model,
                                   const minima_dataset *train, const minima_dataset *test,
                                   const minima_train_params *params)
{
    if (!out || !model || !train)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_trainer_alloc: NULL argument");
    *out = NULL;
    minima_train_params p = params ? *params : minima_train_default_params();
    MINIMA_TRY(minima_train_check_params(&p));
    if (train->n == 0) MINIMA_FAIL(MINIMA_EINVAL, "training set '%s' has no examples",
                                   train->name ? train->name : "?");
    minima_status s = MINIMA_ENOMEM;
    minima_trainer *tr = minima_calloc(1, sizeof *tr);
    if (!tr) MINIMA_FAIL(MINIMA_ENOMEM, "trainer: out of memory");
    tr->p = p;
    tr->model = model;
    tr->train = train;
    tr->test = test;
    tr->n = train->n;
    tr->data_crc = minima_train_data_crc(train);
    tr->n_params = model->n_params;
    tr->perm_epoch = -1;
    tr->full_batch = p.batch_size == 0 || p.batch_size >= tr->n;
    tr->batch = tr->full_batch ? tr->n : p.batch_size;
    if (tr->full_batch) tr->steps_per_epoch = 1;
    else tr->steps_per_epoch = p.drop_last ? tr->n / tr->batch : (tr->n + tr->batch - 1) / tr->batch;

    minima_net_params np = minima_net_default_params(model);
    np.batch_size = p.eval_batch;
    np.cache_limit = 0;
    if ((s = minima_net_create(&tr->full_net, model, train, &np)) != MINIMA_OK) goto fail;
    if (test && (s = minima_net_create(&tr->test_net, model, test, &np)) != MINIMA_OK) goto fail;
    if ((s = minima_optimizer_alloc(&tr->opt, tr->n_params, &p.opt)) != MINIMA_OK) goto fail;
    s = MINIMA_ENOMEM;
    if (!(tr->grad = minima_alloc(tr->n_params, sizeof *tr->grad))) goto nomem;
    if (!tr->full_batch) {
        if (!(tr->perm = minima_alloc(tr->n, sizeof *tr->perm))) goto nomem;
        if ((s = make_batch(tr, tr->batch, &tr->batch_data, &tr->batch_net)) != MINIMA_OK) goto fail;
        size_t tail = tr->n % tr->batch;
        if (tail && !p.drop_last &&
            (s = make_batch(tr, tail, &tr->tail_data, &tr->tail_net)) != MINIMA_OK)
            goto fail;
    }
    *out = tr;
    return MINIMA_OK;
nomem:
    minima_trainer_free(tr);
    MINIMA_FAIL(MINIMA_ENOMEM, "trainer for %zu parameters and %zu examples: out of memory",
                model->n_params, train->n);
fail:
    minima_trainer_free(tr);
    return s;
}

/* Copies examples perm[start .. start+rows) into `dst`. */
static void fill_batch(const minima_trainer *tr, size_t start, minima_dataset *dst)
{
    const minima_dataset *t = tr->train;
    const size_t d = (size_t)t->d;
    for (size_t r = 0; r < dst->n; r++) {
        size_t i = tr->perm[start + r];
        memcpy(dst->x + r * d, t->x + i * d, d * sizeof *dst->x);
        if (t->labels && dst->labels) dst->labels[r] = t->labels[i];
        if (t->targets && dst->targets)
            memcpy(dst->targets + r * (size_t)t->d_target, t->targets + i * (size_t)t->d_target,
                   (size_t)t->d_target * sizeof *dst->targets);
    }
}

static int all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* One optimizer step: step `tr->step_in_epoch` of epoch `tr->epoch`. Leaves
 * the state untouched on failure. */
static minima_status train_step(minima_trainer *tr)
{
    double *theta = tr->model->theta;
    double loss;
    size_t rows;
    if (tr->full_batch) {
        if (!tr->grad_valid)
            MINIMA_TRY(minima_net_gradient(tr->full_net, theta, &tr->grad_loss, tr->grad));
        loss = tr->grad_loss;
        rows = tr->n;
    } else {
        if (tr->perm_epoch != tr->epoch) {
            minima_rng rng;
            minima_rng_seed2(&rng, tr->p.seed, (uint64_t)tr->epoch);
            minima_rng_permutation(&rng, tr->perm, tr->n);
            tr->perm_epoch = tr->epoch;
        }
        size_t start = tr->step_in_epoch * tr->batch;
        rows = tr->n - start < tr->batch ? tr->n - start : tr->batch;
        minima_net *net = rows == tr->batch ? tr->batch_net : tr->tail_net;
        minima_dataset *data = rows == tr->batch ? tr->batch_data : tr->tail_data;
        MINIMA_ASSERT(net && data && data->n == rows);
        fill_batch(tr, start, data);
        MINIMA_TRY(minima_net_gradient(net, theta, &loss, tr->grad));
    }
    tr->grad_valid = 0;
    if (!isfinite(loss) || !all_finite(tr->grad, tr->n_params))
        MINIMA_FAIL(MINIMA_EFAILED,
                    "training diverged at epoch %d, step %zu: the %s is not finite "
                    "(loss %g); try a smaller learning rate (now %g)",
                    tr->epoch + 1, tr->step_in_epoch + 1,
                    isfinite(loss) ? "gradient" : "loss", loss, tr->p.opt.lr);
    minima_optimizer_step(tr->opt, theta, tr->grad);
    if (!all_finite(theta, tr->n_params))
        MINIMA_FAIL(MINIMA_EFAILED,
                    "training diverged at epoch %d, step %zu: the parameters overflowed "
                    "(loss before the step %g); try a smaller learning rate (now %g)",
                    tr->epoch + 1, tr->step_in_epoch + 1, loss, tr->p.opt.lr);
    tr->batch_loss_sum += (double)rows * loss;
    tr->batch_loss_count += (double)rows;
    tr->step_in_epoch++;
    return MINIMA_OK;
}

static int want_grad_norm(const minima_trainer *tr)
{
    if (tr->p.grad_every > 0)
        return tr->epoch % tr->p.grad_every == 0 || tr->epoch >= tr->p.epochs;
    return tr->p.grad_tol > 0;
}

/* Evaluates the parameters at the end of epoch `tr->epoch`. */
static minima_status evaluate(minima_trainer *tr, minima_epoch_stats *st)
{
    const double *theta = tr->model->theta;
    if (tr->p.eval_train) {
        MINIMA_TRY(minima_net_loss(tr->full_net, theta, &st->train_loss, &st->train_accuracy));
    } else if (tr->batch_loss_count > 0) {
        st->train_loss = tr->batch_loss_sum / tr->batch_loss_count;
    }
    if (want_grad_norm(tr)) {
        double loss, sum = 0;
        MINIMA_TRY(minima_net_gradient(tr->full_net, theta, &loss, tr->grad));
        for (size_t i = 0; i < tr->n_params; i++) sum += tr->grad[i] * tr->grad[i];
        st->grad_norm = sqrt(sum);
        if (tr->full_batch) {
            tr->grad_valid = 1;
            tr->grad_loss = loss;
        }
    }
    if (tr->test_net)
        MINIMA_TRY(minima_net_loss(tr->test_net, theta, &st->test_loss, &st->test_accuracy));
    /* finite parameters can still overflow the loss: that is divergence too */
    if (isnan(st->train_loss) ? tr->p.eval_train || tr->batch_loss_count > 0 : !isfinite(st->train_loss))
        MINIMA_FAIL(MINIMA_EFAILED, "training diverged at the end of epoch %d: the training loss is %g; "
                    "try a smaller learning rate (now %g)", tr->epoch, st->train_loss, tr->p.opt.lr);
    return MINIMA_OK;
}

minima_status minima_trainer_epoch(minima_trainer *tr, minima_epoch_stats *stats)
{
    if (!tr || !stats) MINIMA_FAIL(MINIMA_EINVAL, "minima_trainer_epoch: NULL argument");
    double t0 = now_seconds();
    minima_epoch_stats st;
    memset(&st, 0, sizeof st);
    st.train_loss = st.train_accuracy = st.test_loss = st.test_accuracy = st.grad_norm = NAN;
    if (!tr->pending_eval) {
        if (minima_trainer_done(tr))
            MINIMA_FAIL(MINIMA_EINVAL, "training is finished (%d epochs%s); raise the epoch "
                        "budget to continue", tr->epoch, tr->converged ? ", converged" : "");
        if (tr->step_in_epoch == 0) tr->batch_loss_sum = tr->batch_loss_count = 0;
        char task[48];
        snprintf(task, sizeof task, "epoch %d/%d", tr->epoch + 1, tr->p.epochs);
        while (tr->step_in_epoch < tr->steps_per_epoch) {
            MINIMA_TRY(train_step(tr));
            if (!tr->full_batch)
                minima_progress(task, (double)tr->step_in_epoch, (double)tr->steps_per_epoch);
            else    /* one step an epoch: report the epochs instead */
                minima_progress("training", (double)tr->epoch + 1, (double)tr->p.epochs);
            if (tr->step_in_epoch < tr->steps_per_epoch && minima_interrupted())
                MINIMA_FAIL(MINIMA_EINTERRUPTED, "training interrupted at epoch %d, step %zu of %zu",
                            tr->epoch + 1, tr->step_in_epoch, tr->steps_per_epoch);
        }
        tr->epoch++;
        tr->step_in_epoch = 0;
        tr->pending_eval = 1;
        if (minima_interrupted())
            MINIMA_FAIL(MINIMA_EINTERRUPTED, "training interrupted after epoch %d", tr->epoch);
    }
    MINIMA_TRY(evaluate(tr, &st));
    tr->pending_eval = 0;
    if (isfinite(st.grad_norm)) tr->converged = tr->p.grad_tol > 0 && st.grad_norm <= tr->p.grad_tol;
    st.epoch = tr->epoch;
    st.steps = minima_optimizer_steps(tr->opt);
    st.converged = tr->converged;
    st.seconds = now_seconds() - t0;
    *stats = st;
    return MINIMA_OK;
}

int minima_trainer_done(const minima_trainer *tr)
{
    if (tr->pending_eval) return 0;
    return tr->epoch >= tr->p.epochs || tr->converged;
}

int minima_trainer_epochs_done(const minima_trainer *tr) { return tr->epoch; }
uint64_t minima_trainer_steps(const minima_trainer *tr) { return minima_optimizer_steps(tr->opt); }
size_t minima_trainer_steps_per_epoch(const minima_trainer *tr) { return tr->steps_per_epoch; }
const minima_train_params *minima_trainer_params(const minima_trainer *tr) { return &tr->p; }

minima_status minima_trainer_set_epochs(minima_trainer *tr, int epochs)
{
    if (!tr) MINIMA_FAIL(MINIMA_EINVAL, "minima_trainer_set_epochs: NULL argument");
    if (epochs < 1) MINIMA_FAIL(MINIMA_EINVAL, "epochs: expected an integer >= 1, found %d", epochs);
    tr->p.epochs = epochs;
    return MINIMA_OK;
}
