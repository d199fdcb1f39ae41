/* seed_checkpoint.c — writes the seed checkpoints of the checkpoint
 * harness: for each trainer of checkpoint_setup.h, its state at the start,
 * part-way through an epoch (interrupted) and after each epoch.
 *
 *   seed_checkpoint OUTDIR
 *
 * Built with the replay programs (target seed_checkpoint); run once when
 * the checkpoint format or checkpoint_setup.h changes. */
#include <stdio.h>

#include "checkpoint_setup.h"

/* Progress callback: asks to stop once the first step is done. */
static void stop_after_one(const char *task, double done, double total, void *user)
{
    (void)task;
    (void)total;
    (void)user;
    if (done >= 1) minima_interrupt();
}

static int save(ckpt_setup *c, const char *dir, int which, const char *tag)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s-%s.ckpt", dir, ckpt_setup_names[which], tag);
    if (minima_trainer_save_checkpoint(c->trainer, path) != MINIMA_OK) {
        fprintf(stderr, "%s: %s\n", path, minima_last_error());
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    int rc = 0;
    for (int which = 0; which < CKPT_SETUPS; which++) {
        ckpt_setup c;
        if (ckpt_setup_make(&c, which) != MINIMA_OK) {
            fprintf(stderr, "setup %d: %s\n", which, minima_last_error());
            return 1;
        }
        rc |= save(&c, argv[1], which, "start");
        /* Interrupted after the first step of epoch 1. */
        minima_set_progress(stop_after_one, NULL);
        minima_epoch_stats st;
        minima_status s = minima_trainer_epoch(c.trainer, &st);
        minima_set_progress(NULL, NULL);
        minima_clear_interrupt();
        if (s == MINIMA_EINTERRUPTED) rc |= save(&c, argv[1], which, "mid");
        char tag[32];
        for (int e = 1; !minima_trainer_done(c.trainer); e++) {
            if (minima_trainer_epoch(c.trainer, &st) != MINIMA_OK) {
                fprintf(stderr, "setup %d: %s\n", which, minima_last_error());
                rc = 1;
                break;
            }
            snprintf(tag, sizeof tag, "epoch%d", e);
            rc |= save(&c, argv[1], which, tag);
        }
        ckpt_setup_free(&c);
    }
    return rc;
}
