/* train_impl.h — the trainer's state, shared by train.c and checkpoint.c. */
#ifndef MINIMA_TRAIN_IMPL_H
#define MINIMA_TRAIN_IMPL_H

#include "minima/net.h"
#include "minima/train.h"

struct minima_trainer {
    minima_train_params p;
    minima_model *model;            /* theta is updated in place */
    const minima_dataset *train;
    const minima_dataset *test;     /* or NULL */
    size_t n;                       /* N training examples */
    uint64_t data_crc;              /* CRC-32 of the training set (features, labels, targets) */
    size_t n_params;                /* P */
    int full_batch;                 /* one step per epoch on the whole set, in its order */
    size_t batch;                   /* B examples per step (N when full_batch) */
    size_t steps_per_epoch;

    minima_optimizer *opt;
    minima_net *full_net;           /* all of train: full-batch steps, loss, gradient norm */
    minima_net *test_net;           /* all of test, or NULL */
    minima_dataset *batch_data;     /* (B rows) filled from the shuffled order each step */
    minima_net *batch_net;
    minima_dataset *tail_data;      /* (N mod B rows) the last, smaller batch, or NULL */
    minima_net *tail_net;
    size_t *perm;                   /* (N) order of the examples in epoch perm_epoch */
    long perm_epoch;                /* -1: perm not drawn */
    double *grad;                   /* (P) */
    int grad_valid;                 /* full batch: grad is the full gradient at theta */
    double grad_loss;               /* the loss that came with grad */

    /* The state a checkpoint saves (with theta and the optimizer). */
    int epoch;                      /* epochs finished */
    size_t step_in_epoch;           /* steps of epoch `epoch` (0-based) done */
    int pending_eval;               /* epoch finished, its evaluation not yet done */
    int converged;                  /* the last computed gradient norm was <= grad_tol */
    double batch_loss_sum;          /* sum over this epoch's steps of batch size * batch loss */
    double batch_loss_count;        /* sum of those batch sizes */
};

#endif
