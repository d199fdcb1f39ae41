/* cmd_eval.c — `minima eval`: a model's loss and accuracy on a data set. */
#include <math.h>
#include <stdio.h>

#include "cli_common.h"
#include "minima/data.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/safetensors.h"

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
    const char *model_path = NULL, *source = NULL, *labels = NULL, *loss_name = NULL;
    size_t subset = 0, batch = 1000;
    uint64_t seed = 0;
    int json = 0, ignore_unknown = 0;
    const cli_option opts[] = {
        {"--model", OPT_STRING, &model_path, "the model file (safetensors)", "MODEL"},
        {"--data", OPT_STRING, &source, "the data set (see above)", "SRC"},
        {"--labels", OPT_STRING, &labels, "labels file for IDX or .npy features", "FILE"},
        {"--subset", OPT_SIZE, &subset, "use the first N examples (0: all)", "N"},
        {"--loss", OPT_STRING, &loss_name, "ce or mse (default: the model's loss)", "ce|mse"},
        {"--batch", OPT_SIZE, &batch, "examples per batch (0: all at once)", "B"},
        {"--seed", OPT_U64, &seed, "seed of synthetic data sources", "S"},
        {"--ignore-unknown", OPT_FLAG, &ignore_unknown,
         "skip tensors of the model file that are not a Linear layer's weight or bias", NULL},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("eval", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (!model_path) return cli_usage_error("eval", "--model MODEL is required");
    if (!source) return cli_usage_error("eval", "--data SRC is required");

    minima_model *model = NULL;
    minima_dataset *data = NULL;
    minima_net *net = NULL;
    minima_status st;
    double t0 = cli_now();
    minima_load_options lo = minima_load_default_options();
    lo.ignore_unknown = ignore_unknown;
    if ((st = minima_model_load(model_path, &lo, &model)) != MINIMA_OK) {
        rc = cli_fail("eval", st);
        goto done;
    }
    minima_net_params np = minima_net_default_params(model);
    if (loss_name && (st = minima_loss_parse(loss_name, &np.loss)) != MINIMA_OK) {
        rc = cli_usage_error("eval", "option --loss: expected ce or mse, found '%s'", loss_name);
        goto done;
    }
    np.batch_size = batch;
    minima_data_options dopt = minima_data_default_options();
    dopt.labels_path = labels;
    dopt.subset = subset;
    dopt.seed = seed;
    if ((st = minima_data_load(source, &dopt, &data)) != MINIMA_OK) {
        rc = cli_fail("eval", st);
        goto done;
    }
    if (data->d != model->widths[0]) {
        rc = cli_usage_error("eval", "model '%s' takes d_0 = %d inputs (layer '%s' weight is [%d, %d]) "
                             "but data '%s' has %d features per example", model_path,
                             model->widths[0], model->layer_names[0], model->widths[1],
                             model->widths[0], source, data->d);
        goto done;
    }
    if ((st = minima_net_create(&net, model, data, &np)) != MINIMA_OK) {
        rc = cli_fail("eval", st);
        goto done;
    }
    double loss = NAN, accuracy = NAN;
    if ((st = minima_net_loss(net, NULL, &loss, &accuracy)) != MINIMA_OK) {
        rc = cli_fail("eval", st);
        goto done;
    }
    double seconds = cli_now() - t0;
    minima_loss kind = minima_net_loss_kind(net);
    if (json) {
        printf("{\"model\": ");
        json_string(stdout, model_path);
        printf(", \"data\": ");
        json_string(stdout, source);
        printf(", \"loss_kind\": ");
        json_string(stdout, minima_loss_name(kind));
        printf(", \"loss\": ");
        json_number(stdout, loss);
        printf(", \"accuracy\": ");
        json_number(stdout, accuracy);
        printf(", \"n_examples\": %zu, \"n_params\": %zu, \"seconds\": ", data->n, model->n_params);
        json_number(stdout, seconds);
        printf("}\n");
    } else {
        fprintf(stderr, "model       %s (%zu parameters)\n", model_path, model->n_params);
        fprintf(stderr, "data        %s (%zu examples)\n", source, data->n);
        fprintf(stderr, "loss (%s)   %.17g\n", minima_loss_name(kind), loss);
        if (isfinite(accuracy)) fprintf(stderr, "accuracy    %.6f\n", accuracy);
        else fprintf(stderr, "accuracy    - (no class labels)\n");
    }
    rc = EXIT_OK;
done:
    minima_net_free(net);
    minima_dataset_free(data);
    minima_model_free(model);
    return rc;
}
