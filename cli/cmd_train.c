/* cmd_train.c — `minima train`: train a network, checkpoint it, resume it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_common.h"
#include "cli_load.h"
#include "cli_output.h"
#include "minima/alloc.h"
#include "minima/data.h"
#include "minima/model.h"
#include "minima/safetensors.h"
#include "minima/train.h"

int minima_cmd_train(int argc, char **argv);
extern const char minima_cmd_train_summary[];
const char minima_cmd_train_summary[] = "train a network (SGD or Adam), with checkpoints and exact resume";

static const char usage[] =
    "usage: minima train --data SRC [--labels F] [--subset N] [--test SRC]\n"
    "                    [--arch 784-128-128-10 | SHAPE:LAYER,...] [--no-bias]\n"
    "                    [--activation relu|leaky_relu]\n"
    "                    [--loss ce|mse] [--optimizer sgd|adam] [--lr X] [--momentum X]\n"
    "                    [--nesterov] [--weight-decay X] [--batch B | --full-batch]\n"
    "                    [--epochs E] [--grad-tol X] [--seed S] [--checkpoint-every N]\n"
    "                    --out MODEL [--resume] [--json]\n\n"
    "Trains a network in float64 with PyTorch's SGD (momentum,\n"
    "Nesterov, weight decay) or Adam, on shuffled mini-batches (the order of epoch e\n"
    "is drawn from the seed and e) or on the full batch (gradient descent), for\n"
    "--epochs epochs or until the full training-set gradient norm is <= --grad-tol.\n"
    "--arch is a fully connected network's widths (784-128-10, --activation between\n"
    "the layers) or any rectified network in the general form SHAPE:LAYER,...,\n"
    "e.g. 1x28x28:conv32k3p1,relu,maxpool2,conv64k3p1,relu,maxpool2,flatten,128,relu,10\n"
    "(docs/model-files.md lists the layers and their PyTorch modules).\n"
    "The weights start from PyTorch's nn.Linear/nn.Conv2d initialisation (scale) drawn from\n"
    "--seed (through minima_train_init_seed: a teacher drawn from the same seed is\n"
    "not the starting point).\n"
    "SRC is fashion-mnist[:test], IMAGES.idx[.gz] or X.npy with --labels, FILE.csv\n"
    "or synthetic:NAME[:N] (drawn with --data-seed). Without --test, a --data of\n"
    "fashion-mnist is evaluated on fashion-mnist:test after every epoch.\n\n"
    "After each epoch a line on stderr gives the training loss and accuracy (of the\n"
    "whole training set at the end of the epoch), the test loss and accuracy, the\n"
    "gradient norm when it is computed, and the seconds taken. The model is written\n"
    "to MODEL (safetensors, F64, atomically) with the training settings in its\n"
    "metadata; the trainer's state (weights, optimizer state, epoch and step) goes to\n"
    "MODEL.ckpt every --checkpoint-every epochs, at the end, and on Ctrl-C (exit\n"
    "130). Rerun the same command with --resume to continue: the result is the same,\n"
    "bit for bit, as a run that was never stopped; a larger --epochs extends a\n"
    "finished run. --lr defaults to 0.02 for sgd and 0.001 for adam. Exit 1 when\n"
    "--grad-tol is not reached within --epochs (the model is still written).";

/* Whether `--name` appears on the command line (with or without =value). */
static int given(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], name, n) && (argv[i][n] == '\0' || argv[i][n] == '=')) return 1;
    return 0;
}

/* The test hook of --stop-after-steps: a progress callback that counts
 * optimizer steps (the trainer reports one per step) and acts like Ctrl-C
 * at the n-th. It replaces the progress bar. */
static size_t stop_after, steps_seen;
static void count_steps(const char *task, double done, double total, void *user)
{
    (void)task; (void)done; (void)total; (void)user;
    if (++steps_seen == stop_after) minima_interrupt();
}

static int set_meta_num(minima_model *m, const char *key, double x)
{
    char buf[64];
    if (!isfinite(x)) return 0;
    for (int prec = 15; prec <= 17; prec++) {     /* the shortest text that reads back as x */
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    return minima_model_set_meta(m, key, buf) != MINIMA_OK;
}

static int set_meta_u64(minima_model *m, const char *key, unsigned long long x)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", x);
    return minima_model_set_meta(m, key, buf) != MINIMA_OK;
}

/* Writes the stats as a JSON object, left open for more keys. */
static void json_stats_open(FILE *f, const minima_epoch_stats *st)
{
    fprintf(f, "{\"epoch\": %d, \"steps\": %llu, \"train_loss\": ", st->epoch,
            (unsigned long long)st->steps);
    json_number(f, st->train_loss);
    fprintf(f, ", \"train_accuracy\": ");
    json_number(f, st->train_accuracy);
    fprintf(f, ", \"test_loss\": ");
    json_number(f, st->test_loss);
    fprintf(f, ", \"test_accuracy\": ");
    json_number(f, st->test_accuracy);
    fprintf(f, ", \"grad_norm\": ");
    json_number(f, st->grad_norm);
    fprintf(f, ", \"seconds\": ");
    json_number(f, st->seconds);
}

static void print_epoch(const minima_epoch_stats *st, int epochs)
{
    char line[256];
    int n = snprintf(line, sizeof line, "epoch %d/%d  train loss %.6g", st->epoch, epochs,
                     st->train_loss);
    if (isfinite(st->train_accuracy))
        n += snprintf(line + n, sizeof line - (size_t)n, " acc %.2f%%", 100 * st->train_accuracy);
    if (isfinite(st->test_loss))
        n += snprintf(line + n, sizeof line - (size_t)n, "  test loss %.6g", st->test_loss);
    if (isfinite(st->test_accuracy))
        n += snprintf(line + n, sizeof line - (size_t)n, " acc %.2f%%", 100 * st->test_accuracy);
    if (isfinite(st->grad_norm))
        n += snprintf(line + n, sizeof line - (size_t)n, "  |grad| %.3e", st->grad_norm);
    snprintf(line + n, sizeof line - (size_t)n, "  %.2fs", st->seconds);
    fprintf(stderr, "%s%s\n", isatty(STDERR_FILENO) ? "\r\033[K" : "", line);
}

int minima_cmd_train(int argc, char **argv)
{
    const char *source = NULL, *labels = NULL, *test_source = NULL, *test_labels = NULL;
    const char *arch = "784-128-128-10", *act_name = "relu", *loss_name = "ce";
    const char *opt_name = "sgd", *out = NULL, *max_data_bytes = NULL;
    /* Defaults: the library's (chosen for Fashion-MNIST: over 80 % test accuracy
     * after 5 epochs on 10 000 examples). */
    const minima_train_params def = minima_train_default_params();
    size_t subset = 0, batch = def.batch_size, checkpoint_every = 1, stop_steps = 0;
    uint64_t seed = def.seed, data_seed = 0;
    double lr = def.opt.lr, momentum = def.opt.momentum, weight_decay = def.opt.weight_decay;
    double grad_tol = def.grad_tol;
    int epochs = def.epochs, no_bias = 0, full_batch = 0, nesterov = 0, resume = 0, json = 0;
    int log_every = 1, grad_every = 0;
    const cli_option opts[] = {
        {"--data", OPT_STRING, &source, "training data (see above)", "SRC"},
        {"--labels", OPT_STRING, &labels, "labels file for IDX or .npy training features", "FILE"},
        {"--subset", OPT_SIZE, &subset, "train on the first N examples (0: all)", "N", CLI_IN(0, 1e9)},
        {"--data-seed", OPT_U64, &data_seed, "seed of synthetic training data (test data: S+1)", "S", CLI_ANY},
        CLI_DATA_LIMIT_OPTION(max_data_bytes),
        {"--test", OPT_STRING, &test_source,
         "evaluation data after each epoch (default: fashion-mnist:test for fashion-mnist)", "SRC"},
        {"--test-labels", OPT_STRING, &test_labels, "labels file for IDX or .npy test features", "FILE"},
        {"--arch", OPT_STRING, &arch, "layer widths d_0-d_1-...-d_K, or SHAPE:LAYER,... "
         "(docs/model-files.md)", "ARCH"},
        {"--no-bias", OPT_FLAG, &no_bias, "linear layers without biases", NULL},
        {"--activation", OPT_STRING, &act_name, "relu or leaky_relu", "NAME"},
        {"--loss", OPT_STRING, &loss_name, "ce (cross-entropy, labels) or mse (targets)", "ce|mse"},
        {"--optimizer", OPT_STRING, &opt_name, "sgd or adam", "sgd|adam"},
        {"--lr", OPT_DOUBLE, &lr, "learning rate (adam: 0.001 unless given)", "X", CLI_LO_OPEN(0, 1e6)},
        {"--momentum", OPT_DOUBLE, &momentum, "SGD momentum", "X", CLI_HI_OPEN(0, 1)},
        {"--nesterov", OPT_FLAG, &nesterov, "Nesterov momentum (sgd)", NULL},
        {"--weight-decay", OPT_DOUBLE, &weight_decay, "L2 weight decay added to the gradient", "X", CLI_IN(0, 1e6)},
        {"--batch", OPT_SIZE, &batch, "examples per step (the last batch of an epoch may be smaller)", "B", CLI_IN(0, 1e9)},
        {"--full-batch", OPT_FLAG, &full_batch, "gradient descent on the whole training set", NULL},
        {"--epochs", OPT_INT, &epochs, "number of epochs (the most, with --grad-tol)", "E", CLI_IN(1, 100000000)},
        {"--grad-tol", OPT_DOUBLE, &grad_tol,
         "stop once the full gradient norm is <= X (0: off); computed every epoch", "X", CLI_IN(0, 1e100)},
        {"--grad-every", OPT_INT, &grad_every,
         "compute the gradient norm every N epochs (0: only for --grad-tol)", "N", CLI_IN(0, 100000000)},
        {"--seed", OPT_U64, &seed, "seed of the initial weights and of the shuffles", "S", CLI_ANY},
        {"--checkpoint-every", OPT_SIZE, &checkpoint_every,
         "write MODEL.ckpt every N epochs (0: only at the end and on Ctrl-C)", "N", CLI_IN(0, 100000000)},
        {"--log-every", OPT_INT, &log_every, "print every N-th epoch's line (and the last)", "N", CLI_IN(1, 100000000)},
        {"--out", OPT_STRING, &out, "the trained model (safetensors)", "MODEL"},
        {"--resume", OPT_FLAG, &resume, "continue from MODEL.ckpt (same options)", NULL},
        {"--stop-after-steps", OPT_SIZE, &stop_steps,
         "act as if Ctrl-C came after N steps (for testing resume; 0: off)", "N", CLI_IN(0, 1e15)},
        {"--json", OPT_FLAG, &json, "print a summary as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("train", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (!source) return cli_usage_error("train", "--data SRC is required");
    if (!out) return cli_usage_error("train", "--out MODEL is required");

    /* Settings that are checked before anything is loaded. */
    minima_train_params tp = def;
    minima_activation act;
    minima_loss loss;
    if (minima_activation_parse(act_name, &act) != MINIMA_OK)
        return cli_usage_error("train", "option --activation: expected relu or leaky_relu, found '%s'",
                               act_name);
    if (minima_loss_parse(loss_name, &loss) != MINIMA_OK)
        return cli_usage_error("train", "option --loss: expected ce or mse, found '%s'", loss_name);
    if (minima_optimizer_parse(opt_name, &tp.opt.kind) != MINIMA_OK)
        return cli_usage_error("train", "option --optimizer: expected sgd or adam, found '%s'",
                               opt_name);
    if (tp.opt.kind == MINIMA_OPT_ADAM) {
        if (given(argc, argv, "--momentum") || nesterov)
            return cli_usage_error("train", "--momentum and --nesterov apply to --optimizer sgd; "
                                   "Adam uses beta1 = 0.9, beta2 = 0.999");
        if (!given(argc, argv, "--lr")) lr = 0.001;
    }
    if (full_batch && given(argc, argv, "--batch"))
        return cli_usage_error("train", "--batch and --full-batch exclude each other");
    if (!full_batch && batch == 0)
        return cli_usage_error("train", "option --batch: expected an integer >= 1, found 0 "
                               "(use --full-batch for gradient descent)");
    if (log_every < 1)
        return cli_usage_error("train", "option --log-every: expected an integer >= 1, found %d",
                               log_every);
    tp.opt.lr = lr;
    tp.opt.momentum = tp.opt.kind == MINIMA_OPT_SGD ? momentum : 0;
    tp.opt.nesterov = nesterov;
    tp.opt.weight_decay = weight_decay;
    tp.batch_size = full_batch ? 0 : batch;
    tp.epochs = epochs;
    tp.grad_tol = grad_tol;
    tp.grad_every = grad_every;
    tp.seed = seed;
    if (minima_train_check_params(&tp) != MINIMA_OK)
        return cli_usage_error("train", "%s", minima_last_error());
    minima_model *model = NULL;
    if (minima_arch_parse(arch, !no_bias, act, 0.01, &model) != MINIMA_OK)
        return cli_usage_error("train", "option --arch: %s", minima_last_error());
    size_t n_inputs = minima_model_n_inputs(model);

    size_t ckpt_len = strlen(out) + 6;
    char *ckpt = minima_alloc(ckpt_len, 1);
    minima_dataset *train = NULL, *test = NULL;
    minima_trainer *tr = NULL;
    minima_epoch_stats *hist = NULL, last;
    size_t n_hist = 0;
    minima_status st;
    double t_start = cli_now();
    memset(&last, 0, sizeof last);
    last.train_loss = last.train_accuracy = last.test_loss = last.test_accuracy = NAN;
    last.grad_norm = NAN;
    if (!ckpt) {
        rc = cli_fail("train", minima_error(MINIMA_ENOMEM, "out of memory"));
        goto done;
    }
    snprintf(ckpt, ckpt_len, "%s.ckpt", out);
    {   /* the model and its checkpoint replace none of the inputs (--resume reads the checkpoint on purpose) */
        cli_files io = {0};
        cli_files_input(&io, "--data", source);
        cli_files_input(&io, "--labels", labels);
        cli_files_input(&io, "--test", test_source);
        cli_files_input(&io, "--test-labels", test_labels);
        cli_files_output(&io, "--out", out, CLI_OUT_FILE);
        cli_files_output(&io, "--out's checkpoint", ckpt, CLI_OUT_FILE);
        if ((rc = cli_files_check("train", &io)) >= 0) goto done;
    }
    if (resume && access(ckpt, F_OK) != 0) {
        rc = cli_usage_error("train", "--resume: no checkpoint '%s' to resume from (it is written "
                             "beside --out MODEL)", ckpt);
        goto done;
    }

    minima_data_options dopt = minima_data_default_options();
    dopt.labels_path = labels;
    dopt.subset = subset;
    dopt.seed = data_seed;
    dopt.labels_use = loss == MINIMA_LOSS_CE ? MINIMA_LABELS_CLASSES : MINIMA_LABELS_TARGETS;
    dopt.n_outputs = minima_model_n_outputs(model);
    if ((rc = cli_data_limit("train", max_data_bytes, &dopt.max_bytes)) >= 0) goto done;
    if ((st = minima_data_load(source, &dopt, &train)) != MINIMA_OK) {
        rc = cli_fail("train", st);
        goto done;
    }
    if (!test_source && (!strcmp(source, "fashion-mnist") || !strcmp(source, "fashion-mnist:train")))
        test_source = "fashion-mnist:test";
    if (test_source) {
        minima_data_options topt = minima_data_default_options();
        topt.labels_path = test_labels;
        topt.seed = data_seed + 1;
        topt.labels_use = dopt.labels_use;
        topt.n_outputs = dopt.n_outputs;
        topt.max_bytes = dopt.max_bytes;
        if ((st = minima_data_load(test_source, &topt, &test)) != MINIMA_OK) {
            rc = cli_fail("train", st);
            goto done;
        }
    }
    if ((size_t)train->d != n_inputs) {
        rc = cli_usage_error("train", "--arch %s takes %zu inputs but data '%s' has %d "
                             "features per example", arch, n_inputs, source, train->d);
        goto done;
    }
    model->loss = loss;
    minima_model_init(model, minima_train_init_seed(seed));
    if ((st = minima_trainer_alloc(&tr, model, train, test, &tp)) != MINIMA_OK) {
        rc = cli_fail("train", st);
        goto done;
    }
    if (resume) {
        if ((st = minima_trainer_load_checkpoint(tr, ckpt)) != MINIMA_OK) {
            rc = cli_fail("train", st);
            goto done;
        }
        fprintf(stderr, "resuming from %s: %d epochs and %llu steps done\n", ckpt,
                minima_trainer_epochs_done(tr), (unsigned long long)minima_trainer_steps(tr));
    }
    if (resume && minima_trainer_done(tr)) {
        fprintf(stderr, "minima train: the run in %s is finished (%d epochs%s); raise --epochs "
                "to continue it\n", ckpt, minima_trainer_epochs_done(tr),
                grad_tol > 0 ? " or --grad-tol reached" : "");
        rc = EXIT_OK;
        goto done;
    }
    fprintf(stderr, "training %s (%zu parameters) on %s (%zu examples), %s lr %g, %s, "
                "%zu steps an epoch\n", arch, model->n_params, source, train->n, opt_name, lr,
                full_batch ? "full batch" : "mini-batches", minima_trainer_steps_per_epoch(tr));
    if (stop_steps) {
        stop_after = stop_steps;
        steps_seen = 0;
        minima_set_progress(count_steps, NULL);
    }

    while (!minima_trainer_done(tr)) {
        minima_epoch_stats es;
        st = minima_trainer_epoch(tr, &es);
        if (st == MINIMA_EINTERRUPTED) {
            minima_status cs = minima_trainer_save_checkpoint(tr, ckpt);
            if (isatty(STDERR_FILENO)) fprintf(stderr, "\r\033[K");
            if (cs != MINIMA_OK) {
                rc = cli_fail("train", cs);
                goto done;
            }
            fprintf(stderr, "minima train: interrupted after %d epochs and %llu steps; the state "
                    "is in %s.\nRun the same command with --resume to continue.\n",
                    minima_trainer_epochs_done(tr), (unsigned long long)minima_trainer_steps(tr),
                    ckpt);
            rc = 130;
            goto done;
        }
        if (st != MINIMA_OK) {
            rc = cli_fail("train", st);
            goto done;
        }
        last = es;
        minima_epoch_stats *h = minima_realloc(hist, n_hist + 1, sizeof *hist);
        if (!h) {
            rc = cli_fail("train", minima_error(MINIMA_ENOMEM, "out of memory"));
            goto done;
        }
        hist = h;
        hist[n_hist++] = es;
        if (es.epoch % log_every == 0 || minima_trainer_done(tr)) print_epoch(&es, tp.epochs);
        if (checkpoint_every && (size_t)es.epoch % checkpoint_every == 0 &&
            !minima_trainer_done(tr) &&
            (st = minima_trainer_save_checkpoint(tr, ckpt)) != MINIMA_OK) {
            rc = cli_fail("train", st);
            goto done;
        }
    }

    /* The settings and final numbers go into the model's metadata. Nothing
     * time-dependent: the same run writes the same bytes. */
    {
        char buf[32];
        int bad = minima_model_set_meta(model, "optimizer", opt_name) != MINIMA_OK;
        bad |= set_meta_num(model, "lr", lr);
        if (tp.opt.kind == MINIMA_OPT_SGD) {
            bad |= set_meta_num(model, "momentum", tp.opt.momentum);
            bad |= minima_model_set_meta(model, "nesterov", nesterov ? "true" : "false") != MINIMA_OK;
        }
        bad |= set_meta_num(model, "weight_decay", weight_decay);
        if (full_batch) bad |= minima_model_set_meta(model, "batch_size", "full") != MINIMA_OK;
        else bad |= set_meta_u64(model, "batch_size", batch);
        bad |= set_meta_u64(model, "epochs", (unsigned long long)minima_trainer_epochs_done(tr));
        bad |= set_meta_u64(model, "steps", (unsigned long long)minima_trainer_steps(tr));
        bad |= set_meta_u64(model, "seed", seed);
        bad |= minima_model_set_meta(model, "data", source) != MINIMA_OK;
        if (subset) bad |= set_meta_u64(model, "subset", subset);
        if (!strncmp(source, "synthetic:", 10)) bad |= set_meta_u64(model, "data_seed", data_seed);
        bad |= set_meta_u64(model, "n_train", train->n);
        if (test_source) bad |= minima_model_set_meta(model, "test_data", test_source) != MINIMA_OK;
        if (grad_tol > 0) bad |= set_meta_num(model, "grad_tol", grad_tol);
        bad |= set_meta_num(model, "train_loss", last.train_loss);
        bad |= set_meta_num(model, "train_accuracy", last.train_accuracy);
        bad |= set_meta_num(model, "test_loss", last.test_loss);
        bad |= set_meta_num(model, "test_accuracy", last.test_accuracy);
        bad |= set_meta_num(model, "grad_norm", last.grad_norm);
        snprintf(buf, sizeof buf, "minima %s", "0.1.0");
        bad |= minima_model_set_meta(model, "trained_by", buf) != MINIMA_OK;
        if (bad) {
            rc = cli_fail("train", MINIMA_ENOMEM);
            goto done;
        }
    }
    if ((st = minima_model_save(model, out, MINIMA_DTYPE_F64)) != MINIMA_OK ||
        (st = minima_trainer_save_checkpoint(tr, ckpt)) != MINIMA_OK) {
        rc = cli_fail("train", st);
        goto done;
    }
    int converged = grad_tol > 0 && last.converged;
    fprintf(stderr, "wrote %s (%d epochs, %llu steps)%s\n", out, minima_trainer_epochs_done(tr),
            (unsigned long long)minima_trainer_steps(tr),
            converged ? ", gradient norm below --grad-tol" : "");
    fprintf(stderr, "kept %s, the trainer's state (weights and optimizer state), so that "
            "--resume with a larger --epochs can extend the run; delete it when that is not "
            "needed\n", ckpt);
    rc = EXIT_OK;
    if (grad_tol > 0 && !converged) {
        fprintf(stderr, "minima train: the gradient norm %.3e is above --grad-tol %g after %d "
                "epochs (the model is written; raise --epochs and --resume to go on)\n",
                last.grad_norm, grad_tol, minima_trainer_epochs_done(tr));
        rc = EXIT_COMPUTE;
    }
    if (json) {
        printf("{\"epochs\": [");
        for (size_t i = 0; i < n_hist; i++) {
            if (i) printf(", ");
            json_stats_open(stdout, &hist[i]);
            printf("}");
        }
        printf("], \"final\": ");
        json_stats_open(stdout, &last);
        printf(", \"converged\": %s, \"n_params\": %zu, \"n_train\": %zu, \"total_seconds\": ",
               converged ? "true" : "false", model->n_params, train->n);
        json_number(stdout, cli_now() - t_start);
        printf("}, \"out\": ");
        json_string(stdout, out);
        printf(", \"checkpoint\": ");
        json_string(stdout, ckpt);
        printf("}\n");
    }
done:
    minima_free(hist);
    minima_trainer_free(tr);
    minima_model_free(model);
    minima_dataset_free(train);
    minima_dataset_free(test);
    minima_free(ckpt);
    return rc;
}
