/* minima/train.h — training a network: optimizers, mini-batches, stopping,
 * checkpoints and exact resume.
 *
 * Three pieces, one file each:
 *
 *   optimizer.c   SGD (momentum, Nesterov, weight decay) and Adam, with
 *                 PyTorch's update formulas (torch.optim.SGD, torch.optim.Adam)
 *                 on a flat float64 parameter array;
 *   train.c       the trainer: shuffled mini-batches (or the full batch),
 *                 one epoch per call, end-of-epoch evaluation, stopping;
 *   checkpoint.c  the trainer's whole state in one file, written atomically,
 *                 read back so that a resumed run is bit-for-bit the run that
 *                 was never interrupted.
 *
 * The trainer is driven step by step (GSL style), so the caller draws
 * progress, writes checkpoints and handles Ctrl-C between calls:
 *
 *     minima_trainer *tr;
 *     minima_trainer_alloc(&tr, model, train, test, &params);
 *     while (!minima_trainer_done(tr)) {
 *         minima_epoch_stats st;
 *         s = minima_trainer_epoch(tr, &st);
 *         if (s == MINIMA_EINTERRUPTED) { minima_trainer_save_checkpoint(tr, ck); break; }
 *         ...print st...
 *     }
 *     minima_trainer_free(tr);
 *
 * Determinism: the order of the examples in epoch e is the permutation drawn
 * by minima_rng_seed2(seed, e); nothing else is random. Same seed, same data,
 * same thread count: same parameters, bit for bit, whether or not the run
 * was interrupted and resumed in between. */
#ifndef MINIMA_TRAIN_H
#define MINIMA_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "minima/data.h"
#include "minima/model.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- optimizers ------------------------------------------------------ */

typedef enum {
    MINIMA_OPT_SGD = 0,   /* torch.optim.SGD (dampening 0) */
    MINIMA_OPT_ADAM       /* torch.optim.Adam (amsgrad off) */
} minima_optimizer_kind;

typedef struct {
    minima_optimizer_kind kind;
    double lr;            /* learning rate > 0; default 0.02 */
    double momentum;      /* SGD: mu in [0, 1); default 0.9 */
    int nesterov;         /* SGD: Nesterov momentum (needs momentum > 0); default 0 */
    double weight_decay;  /* lambda >= 0, added to the gradient (L2, not AdamW); default 0 */
    double beta1, beta2;  /* Adam: in [0, 1); default 0.9, 0.999 */
    double eps;           /* Adam: > 0; default 1e-8 */
} minima_optimizer_params;

/* The defaults above (SGD, lr 0.02, momentum 0.9). */
minima_optimizer_params minima_optimizer_default_params(void);
/* MINIMA_EINVAL naming the field if a value is out of its domain. */
minima_status minima_optimizer_check_params(const minima_optimizer_params *p);
const char *minima_optimizer_name(minima_optimizer_kind kind);        /* "sgd", "adam" */
minima_status minima_optimizer_parse(const char *s, minima_optimizer_kind *kind);

/* An optimizer for n parameters: its state (momentum buffer, or Adam's two
 * moments) and the step count. Allocates once; steps allocate nothing. */
typedef struct minima_optimizer minima_optimizer;

minima_status minima_optimizer_alloc(minima_optimizer **out, size_t n,
                                     const minima_optimizer_params *params);
void minima_optimizer_free(minima_optimizer *opt);

/* One update of theta (n values) with the gradient grad (n values) of the
 * loss at theta. With d = grad + weight_decay * theta:
 *
 *   SGD:  buf = d at the first step, else buf = mu buf + d;
 *         theta -= lr * (nesterov ? d + mu buf : buf)      (mu = 0: theta -= lr d)
 *   Adam: t += 1; m = b1 m + (1-b1) d; v = b2 v + (1-b2) d^2;
 *         theta -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * exactly as PyTorch orders the operations. */
void minima_optimizer_step(minima_optimizer *opt, double *theta, const double *grad);

/* The state, for checkpoints: the number of steps taken and the state
 * vectors (SGD: buf; Adam: m then v; each n values). n_vectors is 0 for
 * plain SGD (momentum 0), 1 for SGD with momentum, 2 for Adam. */
const minima_optimizer_params *minima_optimizer_get_params(const minima_optimizer *opt);
uint64_t minima_optimizer_steps(const minima_optimizer *opt);
int minima_optimizer_n_vectors(const minima_optimizer *opt);
double *minima_optimizer_vector(minima_optimizer *opt, int i);       /* (n) */
/* Restore the step count (the vectors are written through
 * minima_optimizer_vector). */
void minima_optimizer_set_steps(minima_optimizer *opt, uint64_t steps);

/* ---- the trainer ------------------------------------------------------ */

typedef struct {
    minima_optimizer_params opt;
    size_t batch_size;    /* examples per step; default 64; 0 = full batch (gradient descent) */
    int drop_last;        /* skip the last, smaller batch of an epoch (default 0: keep it) */
    int epochs;           /* stop after this many epochs (>= 1); default 5 */
    double grad_tol;      /* also stop once the full-data gradient norm is <= grad_tol;
                             default 0 (off) */
    int grad_every;       /* compute the full-data gradient norm every this many epochs
                             (and at the last); default 0: every epoch if grad_tol > 0,
                             else never */
    int eval_train;       /* evaluate loss and accuracy on the whole training set at the
                             end of each epoch (default 1); 0: report the mean loss of
                             the epoch's batches and no accuracy */
    uint64_t seed;        /* the shuffle of epoch e is minima_rng_seed2(seed, e); default 0 */
    size_t eval_batch;    /* examples per internal batch of full-data passes; default 1000 */
} minima_train_params;

minima_train_params minima_train_default_params(void);
/* MINIMA_EINVAL naming the field if a value is out of its domain. */
minima_status minima_train_check_params(const minima_train_params *p);

/* The seed `minima train --seed S` gives minima_model_init for the initial
 * weights: a stream of S (minima_rng_seed2(S, UINT64_MAX)) rather than S
 * itself, so that a student started from seed S is not the teacher that
 * synthetic:teacher draws from the same S. */
uint64_t minima_train_init_seed(uint64_t seed);

/* What one epoch did. Values not computed are NaN. */
typedef struct {
    int epoch;              /* 1-based number of the epoch just finished */
    uint64_t steps;         /* optimizer steps taken since the start of training */
    double train_loss;      /* at the end-of-epoch parameters (or the batch mean, see eval_train) */
    double train_accuracy;  /* in [0, 1]; NaN without labels */
    double test_loss;       /* on the evaluation set, NaN without one */
    double test_accuracy;
    double grad_norm;       /* Euclidean norm of the full training-set gradient, if computed */
    double seconds;         /* wall time of this call */
    int converged;          /* grad_norm <= grad_tol */
} minima_epoch_stats;

typedef struct minima_trainer minima_trainer;

/* A trainer that updates model->theta in place, on the loss recorded in the
 * model (model->loss), over `train`; `test` (may be NULL) is evaluated at
 * the end of each epoch. Checks that model and data fit (as
 * minima_net_create does) and allocates every workspace. The caller keeps
 * model, train and test alive while the trainer exists. params may be NULL
 * for the defaults. */
minima_status minima_trainer_alloc(minima_trainer **out, minima_model *model,
                                   const minima_dataset *train, const minima_dataset *test,
                                   const minima_train_params *params);
void minima_trainer_free(minima_trainer *tr);

/* Runs the rest of the current epoch (all of it, unless a previous call was
 * interrupted part-way), then evaluates the end-of-epoch parameters and
 * fills *stats. Reports progress once a step ("epoch 3/5": steps done of
 * the epoch's; in full-batch mode "training": epochs done of the budget)
 * and checks minima_interrupted() after every step: when it is set,
 * returns MINIMA_EINTERRUPTED with the state consistent (every step either
 * done or not started) so that a checkpoint taken now resumes exactly. An
 * interrupted evaluation is redone by the next call without training.
 * Returns MINIMA_EFAILED if training diverges: a non-finite loss or
 * gradient (the parameters are those before the step) or parameters that
 * overflow in the step (the model then holds them; do not save it). */
minima_status minima_trainer_epoch(minima_trainer *tr, minima_epoch_stats *stats);
/* Nonzero once the epoch budget is spent or the gradient norm reached
 * grad_tol. */
int minima_trainer_done(const minima_trainer *tr);
/* Epochs finished, steps taken, steps per epoch. */
int minima_trainer_epochs_done(const minima_trainer *tr);
uint64_t minima_trainer_steps(const minima_trainer *tr);
size_t minima_trainer_steps_per_epoch(const minima_trainer *tr);
const minima_train_params *minima_trainer_params(const minima_trainer *tr);
/* Raise the epoch budget (to continue a finished run after a resume). */
minima_status minima_trainer_set_epochs(minima_trainer *tr, int epochs);

/* ---- checkpoints (checkpoint.c) ------------------------------------- */

/* Writes everything needed to continue exactly: the parameters, the
 * optimizer's state and step count, the epoch and the step inside it
 * (the shuffle is a function of seed and epoch), and the parameters that
 * must not change across a resume (architecture, loss, optimizer settings,
 * batch size, seed, number and checksum of the training examples). Atomic:
 * a temporary file in the same directory, flushed, fsync'ed, renamed over
 * `path`; a failure leaves an existing file untouched and no temporary behind.
 *
 * The file (all integers little-endian):
 *
 *     0   8   magic "MINIMACK"
 *     8   4   version (1)
 *     12  4   reserved (0)
 *     16  8   payload bytes L
 *     24  L   payload: fields in a fixed order (see checkpoint.c)
 *     24+L 4  CRC-32 (zlib) of bytes 0 .. 24+L-1 */
minima_status minima_trainer_save_checkpoint(const minima_trainer *tr, const char *path);

/* The CRC-32 of a data set's features, labels and targets (their bytes in
 * memory), which a checkpoint records to refuse a resume on other data. */
uint64_t minima_train_data_crc(const minima_dataset *data);

/* Restores the state written by minima_trainer_save_checkpoint into a
 * trainer made for the same model architecture, loss, data size and
 * training parameters (epochs excepted: the budget is the trainer's).
 * Checks magic, version, sizes and checksum (MINIMA_EFORMAT), and names
 * the first field that differs (MINIMA_EINVAL). On failure the trainer is
 * unchanged. */
minima_status minima_trainer_load_checkpoint(minima_trainer *tr, const char *path);

#ifdef __cplusplus
}
#endif
#endif
