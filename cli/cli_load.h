/* cli_load.h — the model + data + net that most subcommands start from.
 *
 * A subcommand declares a cli_net_args, splices CLI_NET_OPTIONS(args) into
 * its option table (--model --data --labels --subset --loss --batch
 * --data-seed --max-data-bytes --cache-limit --ignore-unknown --activation --arch
 * --order), and calls cli_net_open
 * after parsing. Commands that load a model without data splice
 * CLI_MODEL_OPTIONS (--activation --arch --order) and call cli_load_model.
 *
 * --arch is the same for every model a command loads, so the option sets
 * one variable, cli_load_arch, that every load reads (load_model puts it
 * in minima_load_options.arch): commands need not pass it along. */
#ifndef MINIMA_CLI_LOAD_H
#define MINIMA_CLI_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "cli_common.h"
#include "minima/data.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/safetensors.h"

typedef struct {
    const char *model_path;
    const char *source;
    const char *labels;
    const char *loss_name;
    size_t subset;
    size_t batch;
    uint64_t data_seed;
    const char *max_data_bytes;   /* --max-data-bytes SIZE, or NULL: the default */
    const char *cache_limit;      /* --cache-limit SIZE, or NULL: the engine's default (8G) */
    int ignore_unknown;
    const char *activation; /* --activation relu|leaky_relu[:SLOPE]|tanh (NULL: the file's) */
    const char *order;      /* --order a,b,c (NULL: the file's, or numbering and shapes) */
    int float32;            /* curvature products in float32 (not in CLI_NET_OPTIONS) */
} cli_net_args;

/* Defaults: batch 1000, everything else empty. */
cli_net_args cli_net_default_args(void);

/* --arch ARCH (NULL: not given): the architecture of a state dict that
 * carries no graph, given to every minima_model_load of the command. */
extern const char *cli_load_arch;
#define CLI_ARCH_OPTION \
    {"--arch", OPT_STRING, &cli_load_arch, "architecture of a state dict that carries no graph (SHAPE:LAYER,...), docs/model-files.md", "ARCH"}

#define CLI_ACTIVATION_OPTION(activation) \
    {"--activation", OPT_STRING, &(activation), "the model's activation: relu, leaky_relu[:SLOPE] or tanh (overrides the file; default: the file's, else relu with a warning)", "ACT"}
/* `name` is "--order", or "--layer-order" where a command's --order means something else. */
#define CLI_ORDER_OPTION(name, order) \
    {name, OPT_STRING, &(order), "the model's layer names in the order they run (default: recorded in the file, else the only order the numbering and shapes allow)", "A,B,C"}
#define CLI_MODEL_OPTIONS(activation, order) \
    CLI_ACTIVATION_OPTION(activation), CLI_ARCH_OPTION, CLI_ORDER_OPTION("--order", order)

/* Everything but the layer order (for a command that adds it under another name). */
#define CLI_NET_OPTIONS_BUT_ORDER(a) \
    CLI_ACTIVATION_OPTION((a).activation), CLI_ARCH_OPTION, \
    {"--model", OPT_STRING, &(a).model_path, "the model file (safetensors, or ONNX: a name ending in .onnx)", "MODEL"}, \
    {"--data", OPT_STRING, &(a).source, "data set: fashion-mnist[:test], X.npy, IMAGES.idx[.gz], FILE.csv, synthetic:NAME[:N]", "SRC"}, \
    {"--labels", OPT_STRING, &(a).labels, "labels file for IDX or .npy features", "FILE"}, \
    {"--subset", OPT_SIZE, &(a).subset, "use the first N examples (0: all)", "N", CLI_IN(0, 1e9)}, \
    {"--loss", OPT_STRING, &(a).loss_name, "ce or mse (default: the model's metadata, else ce)", "ce|mse"}, \
    {"--batch", OPT_SIZE, &(a).batch, "examples per internal batch (0: all at once)", "B", CLI_IN(0, 1e9)}, \
    {"--data-seed", OPT_U64, &(a).data_seed, "seed of synthetic data sources", "S", CLI_ANY}, \
    CLI_DATA_LIMIT_OPTION((a).max_data_bytes), \
    {"--cache-limit", OPT_STRING, &(a).cache_limit, "memory the curvature cache may take, e.g. 16G (default 8G; 0: none); above it every product recomputes the passes (docs/engine.md)", "SIZE"}, \
    {"--ignore-unknown", OPT_FLAG, &(a).ignore_unknown, "skip model tensors that are not a Linear layer's weight or bias", NULL}

#define CLI_NET_OPTIONS(a) CLI_NET_OPTIONS_BUT_ORDER(a), CLI_ORDER_OPTION("--order", (a).order)

/* --max-data-bytes SIZE: the data-size limit (docs/data.md). */
#define CLI_DATA_LIMIT_OPTION(var) \
    {"--max-data-bytes", OPT_STRING, &(var), "largest data set to load, e.g. 64G (default 16G)", "SIZE"}

/* Parses --max-data-bytes into *bytes (NULL text: the default). Returns -1
 * on success, else the exit code after printing the error. */
int cli_data_limit(const char *cmd, const char *text, uint64_t *bytes);

typedef struct {
    minima_model *model;
    minima_dataset *data;
    minima_net *net;
} cli_net;

/* Loads the model and the data, checks they fit, and creates the net.
 * Returns -1 on success, else the exit code after printing the error
 * (everything already loaded is released). */
int cli_net_open(const char *cmd, const cli_net_args *args, cli_net *out);

/* Loads a model with the load options lo plus --activation and --order
 * (NULL: not given) and --arch (cli_load_arch, unless lo.arch is set). lo.expected_inputs helps settle the layer order. On
 * stderr it warns when the activation is only assumed and notes a layer
 * order taken from the shapes that differs from the name order. Returns -1
 * on success, else the exit code after printing the error. */
int cli_load_model(const char *cmd, const char *path, const char *activation, const char *order,
                   minima_load_options lo, minima_model **out);

/* Writes the keys "activation", "activation_source" and "layer_order_source"
 * (the library's minima_model_source_json)
 * (no comma before or after) for a --json result. */
void cli_json_model_source(FILE *f, const minima_model *m);
void cli_net_close(cli_net *n);

#endif
