/* cli_load.c — model + data + net for a subcommand (see cli_load.h). */
#include "cli_load.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "minima/report.h"
#include "minima/safetensors.h"

const char *cli_load_arch = NULL;

cli_net_args cli_net_default_args(void)
{
    cli_net_args a;
    memset(&a, 0, sizeof a);
    a.batch = 1000;
    return a;
}

int cli_data_limit(const char *cmd, const char *text, uint64_t *bytes)
{
    *bytes = MINIMA_DATA_DEFAULT_MAX_BYTES;
    if (text && minima_data_parse_size(text, bytes) != MINIMA_OK)
        return cli_usage_error(cmd, "option --max-data-bytes: %s", minima_last_error());
    return -1;
}

void cli_net_close(cli_net *n)
{
    if (!n) return;
    minima_net_free(n->net);
    minima_dataset_free(n->data);
    minima_model_free(n->model);
    memset(n, 0, sizeof *n);
}

/* The load's log messages (an overridden activation, skipped tensors),
 * held until the load has succeeded and then printed as warnings of the
 * command: a load that fails and is tried again says each thing once. */
static char held_log[2048];

static void hold_log(minima_log_level level, const char *msg, void *user)
{
    size_t used = strlen(held_log);
    if (level >= MINIMA_LOG_WARN && used < sizeof held_log)
        snprintf(held_log + used, sizeof held_log - used, "minima %s: warning: %s\n",
                 (const char *)user, msg);
}

/* cli_load_model; with quiet_failure a failed load prints nothing and
 * returns -2 (the library's message stays recorded). */
static int load_model(const char *cmd, const char *path, const char *activation, const char *order,
                      minima_load_options lo, int quiet_failure, minima_model **out)
{
    *out = NULL;
    if (activation) {
        char name[32];
        size_t n = strcspn(activation, ":");
        if (n >= sizeof name || (snprintf(name, sizeof name, "%.*s", (int)n, activation),
                                 minima_activation_parse(name, &lo.activation) != MINIMA_OK))
            return cli_usage_error(cmd, "option --activation: expected relu, leaky_relu[:SLOPE] or "
                                   "tanh, found '%s'", activation);
        lo.leaky_slope = 0.01;                      /* PyTorch's nn.LeakyReLU default */
        if (activation[n] == ':') {
            const char *sv = activation + n + 1;
            char *end;
            errno = 0;
            double a = strtod(sv, &end);
            if (lo.activation != MINIMA_ACT_LEAKY_RELU)
                return cli_usage_error(cmd, "option --activation: only leaky_relu takes a slope, "
                                       "found '%s'", activation);
            if (end == sv || *end || errno || !(a > 0 && a < 1))
                return cli_usage_error(cmd, "option --activation: the slope must be a number between "
                                       "0 and 1, found '%s'", sv);
            lo.leaky_slope = a;
        }
        lo.activation_set = 1;
    }
    lo.order = order;
    if (!lo.arch) lo.arch = cli_load_arch;
    held_log[0] = '\0';
    minima_set_log(hold_log, (void *)cmd);
    minima_status st = minima_model_load(path, &lo, out);
    minima_set_log(NULL, NULL);
    if (st != MINIMA_OK) return quiet_failure ? -2 : cli_fail(cmd, st);
    fputs(held_log, stderr);
    const minima_model *m = *out;
    if (m->activation_source == MINIMA_FROM_ASSUMED)
        fprintf(stderr, "minima %s: warning: %s records no activation; assuming relu (pass "
                "--activation to set it)\n", cmd, path);
    int name_order = 1;
    for (int k = 1; k < m->n_layers; k++)
        if (minima_natural_compare(m->layer_names[k - 1], m->layer_names[k]) > 0) name_order = 0;
    if (m->order_source == MINIMA_FROM_SHAPES && !name_order) {
        fprintf(stderr, "minima %s: note: %s does not record the order of its layers; the shapes "
                "chain only as ", cmd, path);
        for (int k = 0; k < m->n_layers; k++)
            fprintf(stderr, "%s%s", k ? " -> " : "", m->layer_names[k]);
        fprintf(stderr, " (not the order of the names), which is used\n");
    }
    return -1;
}

int cli_load_model(const char *cmd, const char *path, const char *activation, const char *order,
                   minima_load_options lo, minima_model **out)
{
    return load_model(cmd, path, activation, order, lo, 0, out);
}

void cli_json_model_source(FILE *f, const minima_model *m)
{
    char buf[256];
    if (minima_model_source_json(m, buf, sizeof buf) >= 0) fputs(buf, f);
}

int cli_net_open(const char *cmd, const cli_net_args *a, cli_net *out)
{
    memset(out, 0, sizeof *out);
    if (!a->model_path) return cli_usage_error(cmd, "--model MODEL is required");
    if (!a->source) return cli_usage_error(cmd, "--data SRC is required");
    uint64_t limit;
    int lrc = cli_data_limit(cmd, a->max_data_bytes, &limit);
    if (lrc >= 0) return lrc;
    minima_status st;
    minima_load_options lo = minima_load_default_options();
    lo.ignore_unknown = a->ignore_unknown;
    minima_data_options dopt = minima_data_default_options();
    dopt.labels_path = a->labels;
    dopt.subset = a->subset;
    dopt.seed = a->data_seed;
    dopt.max_bytes = limit;
    /* The model before the data: the labels are read for the loss and the
     * outputs of the network they will meet. Most files settle the order
     * of their layers alone; when one does not (or does not load), the
     * data's feature count may settle it, so the data are read once more,
     * first, to learn it, and the model is loaded again with it. */
    int rc = load_model(cmd, a->model_path, a->activation, a->order, lo, 1, &out->model);
    if (rc == -2) {
        minima_dataset *features = NULL;
        if (minima_data_load(a->source, &dopt, &features) == MINIMA_OK) lo.expected_inputs = features->d;
        minima_dataset_free(features);
        minima_clear_error();
        rc = load_model(cmd, a->model_path, a->activation, a->order, lo, 0, &out->model);
    }
    if (rc >= 0) {
        cli_net_close(out);
        return rc;
    }
    minima_net_params np = minima_net_default_params(out->model);
    if (a->loss_name && minima_loss_parse(a->loss_name, &np.loss) != MINIMA_OK) {
        cli_net_close(out);
        return cli_usage_error(cmd, "option --loss: expected ce or mse, found '%s'", a->loss_name);
    }
    np.batch_size = a->batch;
    np.float32 = a->float32;
    if (a->cache_limit) {
        uint64_t bytes = 0;   /* "0": no cache, every product recomputes */
        if (strcmp(a->cache_limit, "0") != 0 &&
            minima_data_parse_size(a->cache_limit, &bytes) != MINIMA_OK) {
            cli_net_close(out);
            return cli_usage_error(cmd, "option --cache-limit: %s", minima_last_error());
        }
        np.cache_limit = bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
    }
    dopt.labels_use = np.loss == MINIMA_LOSS_CE ? MINIMA_LABELS_CLASSES : MINIMA_LABELS_TARGETS;
    dopt.n_outputs = minima_model_n_outputs(out->model);
    if ((st = minima_data_load(a->source, &dopt, &out->data)) != MINIMA_OK) {
        cli_net_close(out);
        return cli_fail(cmd, st);
    }
    if (out->model->is_mlp && out->data->d != out->model->widths[0]) {
        rc = cli_usage_error(cmd, "model '%s' takes d_0 = %d inputs (layer '%s' weight is "
                                 "[%d, %d]) but data '%s' has %d features per example",
                                 a->model_path, out->model->widths[0], out->model->layer_names[0],
                                 out->model->widths[1], out->model->widths[0], a->source,
                                 out->data->d);
        cli_net_close(out);
        return rc;
    }
    if (!out->model->is_mlp && (size_t)out->data->d != minima_model_n_inputs(out->model)) {
        char shape[64];
        minima_shape_string(out->model->nodes[0].shape, shape, sizeof shape);
        rc = cli_usage_error(cmd, "model '%s' takes inputs of shape %s (%zu values) but data '%s' "
                             "has %d features per example", a->model_path, shape,
                             minima_model_n_inputs(out->model), a->source, out->data->d);
        cli_net_close(out);
        return rc;
    }
    if ((st = minima_net_create(&out->net, out->model, out->data, &np)) != MINIMA_OK) {
        cli_net_close(out);
        return cli_fail(cmd, st);
    }
    return -1;
}
