/* fuzz_checkpoint.c — minima_trainer_load_checkpoint on arbitrary bytes.
 *
 * The input is the checkpoint file. Each input is loaded into the three
 * trainers of checkpoint_setup.h (plain SGD, momentum, Adam: zero, one and
 * two state vectors), twice: as it is, and with its last four bytes
 * replaced by the correct CRC-32, so that mutations get past the checksum
 * and reach the checks of the payload. A failed load must leave the
 * trainer unchanged; a successful one must have a step count that fits
 * its epoch, and is followed by the rest of the run
 * (as `minima train --resume` would do), which must not crash. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "checkpoint_setup.h"
#include "fuzz_common.h"

static ckpt_setup setups[CKPT_SETUPS];

static void ensure(int which)
{
    if (!setups[which].trainer && ckpt_setup_make(&setups[which], which) != MINIMA_OK) {
        fprintf(stderr, "checkpoint harness: setup failed: %s\n", minima_last_error());
        abort();
    }
}

static void load(int which, const char *path)
{
    ensure(which);
    ckpt_setup *c = &setups[which];
    minima_model *m = c->model;
    double before[64];
    FUZZ_CHECK(m->n_params <= 64);
    memcpy(before, m->theta, m->n_params * sizeof *before);
    int epochs = minima_trainer_epochs_done(c->trainer);
    uint64_t steps = minima_trainer_steps(c->trainer);

    minima_status s = minima_trainer_load_checkpoint(c->trainer, path);
    FUZZ_CHECK_FAILURE(s);
    if (s != MINIMA_OK) {
        FUZZ_CHECK(memcmp(before, m->theta, m->n_params * sizeof *before) == 0);
        FUZZ_CHECK(minima_trainer_epochs_done(c->trainer) == epochs);
        FUZZ_CHECK(minima_trainer_steps(c->trainer) == steps);
        return;
    }
    FUZZ_CHECK(minima_model_check_finite(m) == MINIMA_OK);
    /* The optimizer has taken one step per step of training: the epochs
     * done, plus at most one epoch begun. A step count outside that range
     * would resume with another Adam bias correction, or drop SGD's
     * momentum buffer (step 0), without a word. */
    uint64_t spe = minima_trainer_steps_per_epoch(c->trainer);
    uint64_t done = (uint64_t)minima_trainer_epochs_done(c->trainer) * spe;
    FUZZ_CHECK(minima_trainer_steps(c->trainer) >= done);
    FUZZ_CHECK(minima_trainer_steps(c->trainer) < done + spe);
    /* Resume: at most the rest of the epoch budget (3 epochs). */
    for (int e = 0; e < 3 && !minima_trainer_done(c->trainer); e++) {
        minima_epoch_stats st;
        minima_status es = minima_trainer_epoch(c->trainer, &st);
        FUZZ_CHECK_FAILURE(es);
        if (es != MINIMA_OK) break;
        /* The momentum trainer reports the mean of its batches' losses,
         * each finite (a diverged step fails), so the mean is a number,
         * unless a sum carried over from the checkpoint is not. */
        if (which == 1) FUZZ_CHECK(!isnan(st.train_loss));
    }
    /* Start the next input from a fresh trainer. */
    ckpt_setup_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write(0, ".ckpt", data, size);
    for (int i = 0; i < CKPT_SETUPS; i++) load(i, path);
    if (size >= 4) {
        unsigned char *fixed = malloc(size);
        if (!fixed) abort();
        memcpy(fixed, data, size);
        uLong crc = crc32(crc32(0L, Z_NULL, 0), fixed, (uInt)(size - 4));
        for (int i = 0; i < 4; i++) fixed[size - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
        path = fuzz_write(1, ".ckpt", fixed, size);
        free(fixed);
        for (int i = 0; i < CKPT_SETUPS; i++) load(i, path);
    }
    minima_clear_error();
    return 0;
}
