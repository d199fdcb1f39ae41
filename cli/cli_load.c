/* cli_load.c — model + data + net for a subcommand (see cli_load.h). */
#include "cli_load.h"

#include <string.h>

#include "minima/safetensors.h"

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
    if ((st = minima_model_load(a->model_path, &lo, &out->model)) != MINIMA_OK)
        return cli_fail(cmd, st);
    minima_net_params np = minima_net_default_params(out->model);
    if (a->loss_name && minima_loss_parse(a->loss_name, &np.loss) != MINIMA_OK) {
        cli_net_close(out);
        return cli_usage_error(cmd, "option --loss: expected ce or mse, found '%s'", a->loss_name);
    }
    np.batch_size = a->batch;
    np.float32 = a->float32;
    minima_data_options dopt = minima_data_default_options();
    dopt.labels_path = a->labels;
    dopt.subset = a->subset;
    dopt.seed = a->data_seed;
    /* labels are read for the loss and the network they will meet */
    dopt.labels_use = np.loss == MINIMA_LOSS_CE ? MINIMA_LABELS_CLASSES : MINIMA_LABELS_TARGETS;
    dopt.n_outputs = out->model->widths[out->model->n_layers];
    dopt.max_bytes = limit;
    if ((st = minima_data_load(a->source, &dopt, &out->data)) != MINIMA_OK) {
        cli_net_close(out);
        return cli_fail(cmd, st);
    }
    if (out->data->d != out->model->widths[0]) {
        int rc = cli_usage_error(cmd, "model '%s' takes d_0 = %d inputs (layer '%s' weight is "
                                 "[%d, %d]) but data '%s' has %d features per example",
                                 a->model_path, out->model->widths[0], out->model->layer_names[0],
                                 out->model->widths[1], out->model->widths[0], a->source,
                                 out->data->d);
        cli_net_close(out);
        return rc;
    }
    if ((st = minima_net_create(&out->net, out->model, out->data, &np)) != MINIMA_OK) {
        cli_net_close(out);
        return cli_fail(cmd, st);
    }
    return -1;
}
