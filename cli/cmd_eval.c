/* cmd_eval.c — `minima eval`: a model's loss and accuracy on a data set. */
#include <math.h>
#include <stdio.h>

#include "cli_common.h"
#include "cli_load.h"
#include "minima/data.h"
#include "minima/model.h"
#include "minima/net.h"

int minima_cmd_eval(int argc, char **argv);
extern const char minima_cmd_eval_summary[];
const char minima_cmd_eval_summary[] = "loss and accuracy of a model on a data set";

static const char usage[] =
    "usage: minima eval --model MODEL --data SRC [--labels FILE] [--subset N]\n"
    "                   [--loss ce|mse] [--batch B] [--json]\n\n"
    "Evaluates the mean loss (exactly PyTorch's CrossEntropyLoss() or MSELoss(), in\n"
    "float64) and the accuracy of a safetensors model on a data set. SRC is\n"
    "fashion-mnist[:test], IMAGES.idx[.gz] or X.npy with --labels, FILE.csv or\n"
    "synthetic:NAME[:N]. The loss defaults to the one in the model's metadata, else\n"
    "ce. --json prints {loss, accuracy, n_examples, ...} on stdout (accuracy is null\n"
    "without class labels).";

int minima_cmd_eval(int argc, char **argv)
{
    cli_net_args na = cli_net_default_args();
    int json = 0;
    const cli_option opts[] = {
        CLI_NET_OPTIONS(na),
        {"--seed", OPT_U64, &na.data_seed, "seed of synthetic data sources (same as --data-seed)", "S", CLI_ANY},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("eval", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    double t0 = cli_now();
    cli_net cn;
    rc = cli_net_open("eval", &na, &cn);
    if (rc >= 0) return rc;
    double loss = NAN, accuracy = NAN;
    minima_status st = minima_net_loss(cn.net, NULL, &loss, &accuracy);
    if (st != MINIMA_OK) {
        rc = cli_fail("eval", st);
        goto done;
    }
    double seconds = cli_now() - t0;
    minima_loss kind = minima_net_loss_kind(cn.net);
    if (json) {
        printf("{\"model\": ");
        json_string(stdout, na.model_path);
        printf(", \"data\": ");
        json_string(stdout, na.source);
        printf(", ");
        cli_json_model_source(stdout, cn.model);
        printf(", \"loss_kind\": ");
        json_string(stdout, minima_loss_name(kind));
        printf(", \"loss\": ");
        json_number(stdout, loss);
        printf(", \"accuracy\": ");
        json_number(stdout, accuracy);
        printf(", \"n_examples\": %zu, \"n_params\": %zu, \"seconds\": ", cn.data->n,
               cn.model->n_params);
        json_number(stdout, seconds);
        printf("}\n");
    } else {
        fprintf(stderr, "model       %s (%zu parameters)\n", na.model_path, cn.model->n_params);
        fprintf(stderr, "data        %s (%zu examples)\n", na.source, cn.data->n);
        fprintf(stderr, "loss (%s)   %.17g\n", minima_loss_name(kind), loss);
        if (isfinite(accuracy)) fprintf(stderr, "accuracy    %.6f\n", accuracy);
        else fprintf(stderr, "accuracy    - (no class labels)\n");
    }
    rc = EXIT_OK;
done:
    cli_net_close(&cn);
    return rc;
}
