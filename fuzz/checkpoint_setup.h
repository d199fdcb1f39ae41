/* checkpoint_setup.h — the trainers the checkpoint harness loads into,
 * shared with the program that writes its seed checkpoints
 * (seed_checkpoint.c), so that the seeds match them field for field.
 *
 * A checkpoint only loads into a trainer of the same architecture, data,
 * optimizer and batch size, so the harness keeps one small trainer per
 * optimizer state layout: plain SGD (no state vector), SGD with momentum
 * (one) and Adam (two). Model 2-3-2 with biases (17 parameters), 8
 * examples of synthetic:blobs with 2 classes, batches of 3 (3 steps per
 * epoch, the last one short), 3 epochs. The momentum trainer reports the
 * mean loss of the epoch's batches (eval_train 0), so a resumed epoch
 * reports a sum carried over from the checkpoint; eval_train is not
 * recorded in a checkpoint, so the same seeds fit all three. */
#ifndef MINIMA_FUZZ_CHECKPOINT_SETUP_H
#define MINIMA_FUZZ_CHECKPOINT_SETUP_H

#include "minima/data.h"
#include "minima/model.h"
#include "minima/train.h"

#define CKPT_SETUPS 3

typedef struct {
    minima_dataset *data;
    minima_model *model;
    minima_trainer *trainer;
} ckpt_setup;

static const char *const ckpt_setup_names[CKPT_SETUPS] = {"sgd", "momentum", "adam"};

static void ckpt_setup_free(ckpt_setup *c)
{
    minima_trainer_free(c->trainer);
    minima_model_free(c->model);
    minima_dataset_free(c->data);
    c->trainer = NULL;
    c->model = NULL;
    c->data = NULL;
}

/* Makes setup `which` (0 .. CKPT_SETUPS-1) in its initial state. */
static minima_status ckpt_setup_make(ckpt_setup *c, int which)
{
    c->data = NULL;
    c->model = NULL;
    c->trainer = NULL;
    minima_data_options o = minima_data_default_options();
    o.seed = 7;
    minima_status s = minima_data_load("synthetic:blobs:8:classes=2", &o, &c->data);
    const int widths[3] = {2, 3, 2};
    if (s == MINIMA_OK) s = minima_model_create(&c->model, 2, widths, 1, MINIMA_ACT_RELU);
    if (s == MINIMA_OK) {
        minima_model_init(c->model, 11);
        minima_train_params p = minima_train_default_params();
        p.batch_size = 3;
        p.epochs = 3;
        p.seed = 5;
        p.eval_batch = 4;
        if (which == 0) {
            p.opt.momentum = 0;
        } else if (which == 1) {
            p.eval_train = 0;
        } else if (which == 2) {
            p.opt.kind = MINIMA_OPT_ADAM;
            p.opt.lr = 0.001;
        }
        s = minima_trainer_alloc(&c->trainer, c->model, c->data, NULL, &p);
    }
    if (s != MINIMA_OK) ckpt_setup_free(c);
    return s;
}

#endif
