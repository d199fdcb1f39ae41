/* test_train.c — optimizers against hand-computed updates, training that
 * reaches known targets, determinism, and checkpoint/resume bit for bit. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/net.h"
#include "minima/rng.h"
#include "minima/safetensors.h"
#include "minima/tempfile.h"
#include "minima/train.h"

/* ---- fixtures ------------------------------------------------------------ */

static minima_model *make_model(int K, const int *widths, int bias, minima_loss loss, uint64_t seed)
{
    minima_model *m = NULL;
    if (minima_model_create(&m, K, widths, bias, MINIMA_ACT_RELU) != MINIMA_OK) abort();
    minima_model_init(m, seed);
    m->loss = loss;
    return m;
}

/* Three Gaussian blobs in the plane, well separated (centres on a circle of
 * radius 3, standard deviation 0.5). */
static minima_dataset *make_blobs(size_t n, uint64_t seed)
{
    minima_dataset *x = NULL;
    if (minima_dataset_create(&x, n, 2, 3, 0) != MINIMA_OK) abort();
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % 3);
        double a = 2.0943951023931957 * c;
        x->x[2 * i] = 3 * cos(a) + 0.5 * minima_rng_normal(&rng);
        x->x[2 * i + 1] = 3 * sin(a) + 0.5 * minima_rng_normal(&rng);
        x->labels[i] = c;
    }
    return x;
}

/* A regression set whose targets are the outputs of `teacher`: the loss of
 * a student of the same architecture has an exact zero-loss minimum. */
static minima_dataset *make_teacher_set(const minima_model *teacher, size_t n, uint64_t seed)
{
    int d = teacher->widths[0], dk = teacher->widths[teacher->n_layers];
    minima_dataset *x = NULL;
    if (minima_dataset_create(&x, n, d, 0, dk) != MINIMA_OK) abort();
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    minima_rng_fill_normal(&rng, x->x, n * (size_t)d);
    minima_net *net = NULL;
    if (minima_net_create(&net, teacher, x, NULL) != MINIMA_OK) abort();
    if (minima_net_outputs(net, NULL, x->targets) != MINIMA_OK) abort();
    minima_net_free(net);
    return x;
}

/* ---- optimizer formulas ---------------------------------------------------- */

static const double theta0[2] = {1.0, -2.0};
static const double g1[2] = {0.5, -1.0};
static const double g2[2] = {0.25, 0.5};

static void two_steps(const minima_optimizer_params *p, double out1[2], double out2[2])
{
    minima_optimizer *o = NULL;
    double th[2] = {theta0[0], theta0[1]};
    CHECK_OK(minima_optimizer_alloc(&o, 2, p));
    if (!o) return;
    minima_optimizer_step(o, th, g1);
    out1[0] = th[0]; out1[1] = th[1];
    minima_optimizer_step(o, th, g2);
    out2[0] = th[0]; out2[1] = th[1];
    CHECK(minima_optimizer_steps(o) == 2);
    minima_optimizer_free(o);
}

static void test_sgd_formula(void)
{
    double t1[2], t2[2];
    minima_optimizer_params p = minima_optimizer_default_params();
    p.lr = 0.1;
    p.momentum = 0.9;
    p.weight_decay = 0.01;
    /* d1 = g1 + 0.01 theta0 = (0.51, -1.02); buf = d1; theta1 = theta0 - 0.1 d1.
     * d2 = g2 + 0.01 theta1 = (0.25949, 0.48102); buf = 0.9 d1 + d2 = (0.71849, -0.43698). */
    two_steps(&p, t1, t2);
    CHECK_REL(t1[0], 0.949, 1e-15);
    CHECK_REL(t1[1], -1.898, 1e-15);
    CHECK_REL(t2[0], 0.877151, 1e-14);
    CHECK_REL(t2[1], -1.854302, 1e-14);

    /* Nesterov: theta -= lr (d + mu buf). Step 1: 1.9 d1 = (0.969, -1.938). Step 2:
     * d2 = (0.259031, 0.481938), buf = (0.718031, -0.436062),
     * d2 + 0.9 buf = (0.9052589, 0.0894822). */
    p.nesterov = 1;
    two_steps(&p, t1, t2);
    CHECK_REL(t1[0], 0.9031, 1e-15);
    CHECK_REL(t1[1], -1.8062, 1e-15);
    CHECK_REL(t2[0], 0.81257411, 1e-14);
    CHECK_REL(t2[1], -1.81514822, 1e-14);

    /* No momentum, no decay: plain gradient steps. */
    p.nesterov = 0;
    p.momentum = 0;
    p.weight_decay = 0;
    two_steps(&p, t1, t2);
    CHECK_REL(t1[0], 0.95, 1e-15);
    CHECK_REL(t2[0], 0.925, 1e-15);
    CHECK_REL(t2[1], -1.95, 1e-15);
}

static void test_adam_formula(void)
{
    double t1[2], t2[2];
    minima_optimizer_params p = minima_optimizer_default_params();
    p.kind = MINIMA_OPT_ADAM;
    p.lr = 0.01;
    /* Step 1: m = 0.1 g1, v = 0.001 g1^2; m/(1-0.9) = g1, v/(1-0.999) = g1^2:
     * theta1 = theta0 - 0.01 g1 / (|g1| + 1e-8). */
    two_steps(&p, t1, t2);
    CHECK_REL(t1[0], 1.0 - 0.01 * 0.5 / (0.5 + 1e-8), 1e-15);
    CHECK_REL(t1[1], -2.0 + 0.01 * 1.0 / (1.0 + 1e-8), 1e-15);
    /* Step 2: m = (0.07, -0.04), v = (0.00031225, 0.001249), 1-b1^2 = 0.19,
     * 1-b2^2 = 0.001999. */
    double e0 = 0.01 * (0.07 / 0.19) / (sqrt(0.00031225 / 0.001999) + 1e-8);
    double e1 = 0.01 * (-0.04 / 0.19) / (sqrt(0.001249 / 0.001999) + 1e-8);
    CHECK_REL(t2[0], t1[0] - e0, 1e-14);
    CHECK_REL(t2[1], t1[1] - e1, 1e-14);

    /* Weight decay is added to the gradient (torch.optim.Adam, not AdamW):
     * d1 = g1 + 0.1 theta0 = (0.6, -1.2); step 1 moves by lr * sign. */
    p.weight_decay = 0.1;
    two_steps(&p, t1, t2);
    CHECK_REL(t1[0], 1.0 - 0.01 * 0.6 / (0.6 + 1e-8), 1e-15);
    CHECK_REL(t1[1], -2.0 + 0.01 * 1.2 / (1.2 + 1e-8), 1e-15);
}

static void test_bad_params(void)
{
    minima_optimizer_params p = minima_optimizer_default_params();
    minima_optimizer *o = NULL;
    p.lr = 0;
    CHECK_STATUS(minima_optimizer_alloc(&o, 3, &p), MINIMA_EINVAL);
    p = minima_optimizer_default_params();
    p.momentum = 0;
    p.nesterov = 1;
    CHECK_STATUS(minima_optimizer_alloc(&o, 3, &p), MINIMA_EINVAL);
    p = minima_optimizer_default_params();
    p.kind = MINIMA_OPT_ADAM;
    p.beta2 = 1.0;
    CHECK_STATUS(minima_optimizer_alloc(&o, 3, &p), MINIMA_EINVAL);
    CHECK(o == NULL);
    minima_optimizer_kind k;
    CHECK_OK(minima_optimizer_parse("adam", &k));
    CHECK(k == MINIMA_OPT_ADAM);
    CHECK_STATUS(minima_optimizer_parse("rmsprop", &k), MINIMA_EINVAL);
    minima_train_params tp = minima_train_default_params();
    tp.epochs = 0;
    CHECK_STATUS(minima_train_check_params(&tp), MINIMA_EINVAL);
}

/* ---- against PyTorch ------------------------------------------------------- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    if (buf) buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Five full-batch steps of each optimizer on the 5-8-6-3 fixture against
 * torch.optim (tests/fixtures/make_train_reference.py). */
static void test_against_torch(void)
{
    char *text = slurp(harness_fixture("train_reference.json"));
    CHECK_MSG(text != NULL, "cannot read %s", harness_fixture("train_reference.json"));
    if (!text) return;
    cJSON *root = cJSON_Parse(text);
    CHECK(root != NULL);
    minima_dataset *data = NULL;
    minima_data_options o = minima_data_default_options();
    char xpath[1024];
    snprintf(xpath, sizeof xpath, "%s", harness_fixture("torch_mlp_x.npy"));
    o.labels_path = harness_fixture("torch_mlp_y.npy");
    CHECK_OK(minima_data_load(xpath, &o, &data));
    const cJSON *c;
    int n_cases = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        minima_model *m = NULL;
        CHECK_OK(minima_model_load(harness_fixture("torch_mlp_f64.safetensors"), NULL, &m));
        if (!m || !data) break;
        minima_train_params p = minima_train_default_params();
        p.batch_size = 0;
        p.eval_train = 0;
        CHECK_OK(minima_optimizer_parse(cJSON_GetObjectItem(c, "optimizer")->valuestring,
                                        &p.opt.kind));
        p.opt.lr = cJSON_GetObjectItem(c, "lr")->valuedouble;
        p.opt.weight_decay = cJSON_GetObjectItem(c, "weight_decay")->valuedouble;
        if (p.opt.kind == MINIMA_OPT_SGD) {
            p.opt.momentum = cJSON_GetObjectItem(c, "momentum")->valuedouble;
            p.opt.nesterov = cJSON_IsTrue(cJSON_GetObjectItem(c, "nesterov"));
        }
        p.epochs = 5;
        minima_trainer *tr = NULL;
        CHECK_OK(minima_trainer_alloc(&tr, m, data, NULL, &p));
        for (int step = 1; tr && step <= 5; step++) {
            minima_epoch_stats st;
            CHECK_OK(minima_trainer_epoch(tr, &st));
            if (step != 1 && step != 5) continue;
            const cJSON *ref = cJSON_GetObjectItem(c, step == 1 ? "theta_1" : "theta_5");
            double worst = 0;
            size_t i = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, ref) {
                if (i < m->n_params) {
                    double r = harness_reldiff(m->theta[i], e->valuedouble, 1e-3);
                    if (r > worst) worst = r;
                }
                i++;
            }
            CHECK(i == m->n_params);
            CHECK_MSG(worst < 1e-12, "%s after %d steps: parameters differ from PyTorch by %g "
                      "(relative)", name, step, worst);
        }
        n_cases++;
        minima_trainer_free(tr);
        minima_model_free(m);
    }
    CHECK(n_cases == 5);
    minima_dataset_free(data);
    cJSON_Delete(root);
    free(text);
}

/* ---- training -------------------------------------------------------------- */

static void test_blobs(void)
{
    int widths[3] = {2, 16, 3};
    minima_model *m = make_model(2, widths, 1, MINIMA_LOSS_CE, 1);
    minima_dataset *train = make_blobs(600, 11), *test = make_blobs(300, 12);
    minima_train_params p = minima_train_default_params();
    p.batch_size = 32;
    p.epochs = 10;
    p.opt.lr = 0.05;
    minima_trainer *tr = NULL;
    CHECK_OK(minima_trainer_alloc(&tr, m, train, test, &p));
    minima_epoch_stats st;
    memset(&st, 0, sizeof st);
    int n = 0;
    while (tr && !minima_trainer_done(tr)) {
        CHECK_OK(minima_trainer_epoch(tr, &st));
        n++;
        CHECK(st.epoch == n);
        CHECK(isnan(st.grad_norm));
    }
    CHECK(n == 10);
    CHECK(st.steps == 10 * 19);        /* ceil(600 / 32) = 19 steps an epoch */
    CHECK_MSG(st.train_accuracy > 0.95, "train accuracy %g", st.train_accuracy);
    CHECK_MSG(st.test_accuracy > 0.95, "test accuracy %g", st.test_accuracy);
    CHECK(st.train_loss < 0.2);
    /* A finished trainer refuses to go on until its budget is raised. */
    CHECK_STATUS(minima_trainer_epoch(tr, &st), MINIMA_EINVAL);
    CHECK_OK(minima_trainer_set_epochs(tr, 11));
    CHECK_OK(minima_trainer_epoch(tr, &st));
    CHECK(st.epoch == 11);
    minima_trainer_free(tr);
    minima_dataset_free(train);
    minima_dataset_free(test);
    minima_model_free(m);
}

/* Full-batch gradient descent on a teacher's outputs (MSE) from a point
 * near the teacher: the loss has a zero minimum there, and GD reaches a
 * true critical point. */
static void test_teacher_full_batch(void)
{
    int widths[3] = {4, 3, 1};
    minima_model *teacher = make_model(2, widths, 1, MINIMA_LOSS_MSE, 5);
    minima_dataset *data = make_teacher_set(teacher, 64, 6);
    minima_model *m = NULL;
    CHECK_OK(minima_model_copy(teacher, &m));
    minima_rng rng;
    minima_rng_seed(&rng, 7);
    for (size_t i = 0; i < m->n_params; i++) m->theta[i] += 0.05 * minima_rng_normal(&rng);
    minima_train_params p = minima_train_default_params();
    p.batch_size = 0;
    p.epochs = 5000;                   /* about 1000 are needed */
    p.grad_tol = 1e-9;
    p.opt.lr = 0.2;
    p.opt.momentum = 0.9;
    p.eval_train = 0;
    minima_trainer *tr = NULL;
    CHECK_OK(minima_trainer_alloc(&tr, m, data, NULL, &p));
    CHECK(tr && minima_trainer_steps_per_epoch(tr) == 1);
    minima_epoch_stats st;
    memset(&st, 0, sizeof st);
    while (tr && !minima_trainer_done(tr)) {
        minima_status s = minima_trainer_epoch(tr, &st);
        CHECK_OK(s);
        if (s != MINIMA_OK) break;
    }
    CHECK_MSG(st.converged && st.grad_norm <= 1e-9, "after %d epochs: |g| = %g, loss %g",
              st.epoch, st.grad_norm, st.train_loss);
    CHECK(st.epoch < 5000);
    /* Verify independently. */
    minima_net *net = NULL;
    double *g = minima_alloc(m->n_params, sizeof *g), loss, sum = 0;
    CHECK_OK(minima_net_create(&net, m, data, NULL));
    CHECK_OK(minima_net_gradient(net, m->theta, &loss, g));
    for (size_t i = 0; i < m->n_params; i++) sum += g[i] * g[i];
    CHECK(sqrt(sum) < 1e-8);
    CHECK(loss < 1e-15);
    minima_free(g);
    minima_net_free(net);
    minima_trainer_free(tr);
    minima_dataset_free(data);
    minima_model_free(m);
    minima_model_free(teacher);
}

/* ---- determinism and resume -------------------------------------------------- */

/* Trains a fresh 2-16-3 model on blobs for `epochs` epochs. With
 * interrupt_at > 0, interrupts after that many steps (counted over the
 * whole run), checkpoints, throws everything away, and resumes from the
 * file in a new trainer and model. Returns the final parameters. */
static int progress_calls, interrupt_at;
static void count_progress(const char *task, double done, double total, void *user)
{
    (void)task; (void)done; (void)total; (void)user;
    if (++progress_calls == interrupt_at) minima_interrupt();
}

static double *train_run(const minima_train_params *p, int interrupt_after, int *n_interrupts)
{
    int widths[3] = {2, 16, 3};
    minima_dataset *train = make_blobs(150, 21);
    minima_model *m = make_model(2, widths, 1, MINIMA_LOSS_CE, 3);
    minima_trainer *tr = NULL;
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s/resume.ckpt", harness_tmpdir());
    CHECK_OK(minima_trainer_alloc(&tr, m, train, NULL, p));
    progress_calls = 0;
    interrupt_at = interrupt_after;
    minima_set_progress(count_progress, NULL);
    *n_interrupts = 0;
    while (tr && !minima_trainer_done(tr)) {
        minima_epoch_stats st;
        minima_status s = minima_trainer_epoch(tr, &st);
        if (s == MINIMA_EINTERRUPTED) {
            (*n_interrupts)++;
            CHECK_OK(minima_trainer_save_checkpoint(tr, ckpt));
            minima_trainer_free(tr);
            minima_model_free(m);
            minima_clear_interrupt();
            m = make_model(2, widths, 1, MINIMA_LOSS_CE, 99);   /* other weights: overwritten */
            CHECK_OK(minima_trainer_alloc(&tr, m, train, NULL, p));
            CHECK_OK(minima_trainer_load_checkpoint(tr, ckpt));
            continue;
        }
        CHECK_OK(s);
        if (s != MINIMA_OK) break;
    }
    minima_set_progress(NULL, NULL);
    double *theta = minima_alloc(m->n_params, sizeof *theta);
    memcpy(theta, m->theta, m->n_params * sizeof *theta);
    minima_trainer_free(tr);
    minima_model_free(m);
    minima_dataset_free(train);
    return theta;
}

static void test_same_seed_and_resume(void)
{
    const size_t P = 2 * 16 + 16 + 16 * 3 + 3;
    for (int kind = 0; kind < 3; kind++) {
        minima_train_params p = minima_train_default_params();
        p.batch_size = 32;                 /* 150 = 4 * 32 + 22: a smaller last batch */
        p.epochs = 3;
        p.opt.lr = 0.05;
        if (kind == 1) { p.opt.kind = MINIMA_OPT_ADAM; p.opt.lr = 0.01; p.opt.weight_decay = 1e-3; }
        if (kind == 2) { p.opt.nesterov = 1; p.grad_tol = 1e-30; }   /* gradient each epoch */
        int ni;
        double *a = train_run(&p, 0, &ni);
        double *b = train_run(&p, 0, &ni);
        CHECK_MSG(memcmp(a, b, P * sizeof *a) == 0, "optimizer %d: same seed, different parameters", kind);
        /* Interrupt in the middle of epoch 2 (step 7 of 15), and again at
         * its last step (the end-of-epoch evaluation is then redone). */
        double *c = train_run(&p, 7, &ni);
        CHECK(ni == 1);
        CHECK_MSG(memcmp(a, c, P * sizeof *a) == 0, "optimizer %d: resumed run differs", kind);
        minima_free(c);
        c = train_run(&p, 10, &ni);
        CHECK(ni == 1);
        CHECK_MSG(memcmp(a, c, P * sizeof *a) == 0, "optimizer %d: resumed run differs (at an epoch end)", kind);
        minima_free(c);
        /* Another seed gives another run. */
        p.seed = 1;
        c = train_run(&p, 0, &ni);
        CHECK(memcmp(a, c, P * sizeof *a) != 0);
        minima_free(a);
        minima_free(b);
        minima_free(c);
    }
}

static void test_checkpoint_errors(void)
{
    int widths[3] = {2, 16, 3};
    minima_dataset *train = make_blobs(90, 21);
    minima_model *m = make_model(2, widths, 1, MINIMA_LOSS_CE, 3);
    minima_train_params p = minima_train_default_params();
    p.batch_size = 30;
    minima_trainer *tr = NULL, *tr2 = NULL;
    char ckpt[512], bad[512], cmd[1200];
    snprintf(ckpt, sizeof ckpt, "%s/err.ckpt", harness_tmpdir());
    snprintf(bad, sizeof bad, "%s/bad.ckpt", harness_tmpdir());
    CHECK_OK(minima_trainer_alloc(&tr, m, train, NULL, &p));
    minima_epoch_stats st;
    CHECK_OK(minima_trainer_epoch(tr, &st));
    CHECK_OK(minima_trainer_save_checkpoint(tr, ckpt));

    /* Another learning rate: refused, naming the field. */
    minima_model *m2 = make_model(2, widths, 1, MINIMA_LOSS_CE, 3);
    minima_train_params p2 = p;
    p2.opt.lr = 0.2;
    CHECK_OK(minima_trainer_alloc(&tr2, m2, train, NULL, &p2));
    double before = m2->theta[0];
    CHECK_STATUS(minima_trainer_load_checkpoint(tr2, ckpt), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "learning rate") != NULL);
    CHECK(m2->theta[0] == before);
    minima_trainer_free(tr2);

    /* Flipped byte: checksum. Truncated: size. Not a checkpoint: magic. */
    CHECK_OK(minima_trainer_alloc(&tr2, m2, train, NULL, &p));
    FILE *f = fopen(ckpt, "rb");
    unsigned char buf[65536];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    CHECK(n > 200 && n < sizeof buf);
    buf[n / 2] ^= 1;
    f = fopen(bad, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    CHECK_STATUS(minima_trainer_load_checkpoint(tr2, bad), MINIMA_EFORMAT);
    CHECK(strstr(minima_last_error(), "checksum") != NULL);
    buf[n / 2] ^= 1;
    f = fopen(bad, "wb");
    fwrite(buf, 1, n - 9, f);
    fclose(f);
    CHECK_STATUS(minima_trainer_load_checkpoint(tr2, bad), MINIMA_EFORMAT);
    buf[0] = 'X';
    f = fopen(bad, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    CHECK_STATUS(minima_trainer_load_checkpoint(tr2, bad), MINIMA_EFORMAT);
    CHECK(strstr(minima_last_error(), "magic") != NULL);
    CHECK(m2->theta[0] == before);
    CHECK_STATUS(minima_trainer_load_checkpoint(tr2, "/nonexistent/x.ckpt"), MINIMA_EIO);

    /* A failed save leaves no file behind; a good one round-trips. */
    CHECK_STATUS(minima_trainer_save_checkpoint(tr, "/nonexistent/dir/x.ckpt"), MINIMA_EIO);
    CHECK_OK(minima_trainer_load_checkpoint(tr2, ckpt));
    CHECK(memcmp(m->theta, m2->theta, m->n_params * sizeof *m->theta) == 0);
    CHECK(minima_trainer_epochs_done(tr2) == 1);
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", harness_tmpdir());
    CHECK(system(cmd) != 0);                  /* no temporary files left */

    minima_trainer_free(tr);
    minima_trainer_free(tr2);
    minima_model_free(m);
    minima_model_free(m2);
    minima_dataset_free(train);
}

/* Saving a checkpoint registers its temporary file (for a second Ctrl-C's
 * handler to remove) only while it exists: after many saves, good and
 * failed, every registry slot is free again, and removing "all" registered
 * files touches nothing that was written. */
static void test_checkpoint_tempfile_released(void)
{
    int widths[3] = {2, 8, 3};
    minima_dataset *train = make_blobs(60, 5);
    minima_model *m = make_model(2, widths, 1, MINIMA_LOSS_CE, 4);
    minima_train_params p = minima_train_default_params();
    p.batch_size = 20;
    minima_trainer *tr = NULL;
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s/released.ckpt", harness_tmpdir());
    CHECK_OK(minima_trainer_alloc(&tr, m, train, NULL, &p));
    for (int i = 0; i < MINIMA_TEMPFILE_SLOTS + 4; i++) {
        CHECK_OK(minima_trainer_save_checkpoint(tr, ckpt));
        CHECK_STATUS(minima_trainer_save_checkpoint(tr, "/nonexistent/dir/x.ckpt"), MINIMA_EIO);
    }
    minima_tempfile_remove_all();
    FILE *f = fopen(ckpt, "rb");
    CHECK(f != NULL);
    if (f) fclose(f);
    int slot[MINIMA_TEMPFILE_SLOTS];
    for (int i = 0; i < MINIMA_TEMPFILE_SLOTS; i++) {
        slot[i] = minima_tempfile_register("/nonexistent/probe");
        CHECK(slot[i] >= 0);
    }
    for (int i = 0; i < MINIMA_TEMPFILE_SLOTS; i++) minima_tempfile_unregister(slot[i]);
    minima_trainer_free(tr);
    minima_model_free(m);
    minima_dataset_free(train);
}

static void test_divergence(void)
{
    int widths[2] = {4, 2};
    minima_model *teacher = make_model(1, widths, 1, MINIMA_LOSS_MSE, 5);
    minima_dataset *data = make_teacher_set(teacher, 32, 6);
    minima_model *m = make_model(1, widths, 1, MINIMA_LOSS_MSE, 8);
    minima_train_params p = minima_train_default_params();
    p.batch_size = 0;
    p.epochs = 1000;
    p.opt.lr = 1e6;
    minima_trainer *tr = NULL;
    CHECK_OK(minima_trainer_alloc(&tr, m, data, NULL, &p));
    minima_status s = MINIMA_OK;
    minima_epoch_stats st;
    while (tr && s == MINIMA_OK && !minima_trainer_done(tr)) s = minima_trainer_epoch(tr, &st);
    CHECK_STATUS(s, MINIMA_EFAILED);
    CHECK(strstr(minima_last_error(), "diverged") != NULL);
    minima_trainer_free(tr);
    minima_dataset_free(data);
    minima_model_free(m);
    minima_model_free(teacher);
}

static void test_out_of_memory(void)
{
    int widths[3] = {2, 8, 3};
    minima_dataset *train = make_blobs(50, 21), *test = make_blobs(20, 22);
    minima_model *m = make_model(2, widths, 1, MINIMA_LOSS_CE, 3);
    minima_train_params p = minima_train_default_params();
    p.batch_size = 16;
    p.opt.kind = MINIMA_OPT_ADAM;
    int ok = 0;
    for (long k = 0; k < 200 && !ok; k++) {
        minima_trainer *tr = NULL;
        minima_alloc_fail_after(k);
        minima_status s = minima_trainer_alloc(&tr, m, train, test, &p);
        minima_alloc_fail_after(-1);
        CHECK(s == MINIMA_OK || s == MINIMA_ENOMEM);
        CHECK(s == MINIMA_OK || tr == NULL);
        ok = s == MINIMA_OK;
        minima_trainer_free(tr);
    }
    CHECK(ok);
    minima_dataset_free(train);
    minima_dataset_free(test);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_sgd_formula);
    RUN(test_adam_formula);
    RUN(test_bad_params);
    RUN(test_against_torch);
    RUN(test_blobs);
    RUN(test_teacher_full_batch);
    RUN(test_same_seed_and_resume);
    RUN(test_checkpoint_errors);
    RUN(test_checkpoint_tempfile_released);
    RUN(test_divergence);
    RUN(test_out_of_memory);
    return harness_report();
}
