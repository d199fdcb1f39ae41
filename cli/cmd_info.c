/* cmd_info.c — `minima info`: what a model file holds. */
#include <math.h>
#include <stdio.h>

#include "cli_common.h"
#include "cli_load.h"
#include "minima/alloc.h"
#include "minima/graph_symmetry.h"
#include "minima/model.h"
#include "minima/safetensors.h"

int minima_cmd_info(int argc, char **argv);
extern const char minima_cmd_info_summary[];
const char minima_cmd_info_summary[] = "describe a model file: layers, parameters, metadata";

static const char usage[] =
    "usage: minima info [--model] MODEL [--activation ACT] [--order A,B,C] [--json]\n\n"
    "Reads a safetensors model (PyTorch layout: <layer>.weight [out, in], optional\n"
    "<layer>.bias [out]; see docs/model-files.md) and prints its layers in the order\n"
    "they run, parameter count, activation, loss, metadata and per-layer norms, and\n"
    "where the activation (file, option, assumed) and the layer order (file, option,\n"
    "index, shapes) came from. A network that is not a multilayer perceptron (conv,\n"
    "pooling, residual blocks) is printed as its graph, one node per line: index,\n"
    "kind, name, output shape, parameters. --json prints the same to stdout with the\n"
    "keys arch, layers (list of {name, kind, in, out, bias, ...}), nodes (the graph:\n"
    "{index, kind, name, inputs, shape, settings, bias, n_params, offset}), n_params,\n"
    "activation, activation_source and layer_order_source, and symmetry: the\n"
    "function-preserving rescaling group of the graph (docs/symmetry.md),\n"
    "{n_classes, n_residual_classes, n_fixed_nodes, fixed_nodes: [names]}, or null\n"
    "with symmetry_error when the group cannot be formed.";

/* The rescaling group's line. The group lives in src/paper, above the
 * engine's minima_model_info_json, so the JSON comes from
 * minima_gsym_model_info_json (the engine's object plus "symmetry"), and
 * the text line from here. g is NULL when minima_gsym_create failed; err
 * then says why. */
static void print_symmetry_text(FILE *f, const minima_gsym *g, const minima_model *m, const char *err)
{
    char line[1024];
    if (!g) {
        fprintf(f, "symmetry    unavailable: %s\n", err);
        return;
    }
    minima_gsym_describe(g, m, line, sizeof line);
    fprintf(f, "symmetry    %s\n", line);
}

/* The graph, one node per line: index, kind, name, output shape,
 * parameters, and the inputs when they are not the node before. */
static void print_nodes(FILE *f, const minima_model *m)
{
    fprintf(f, "  %5s %-15s %-20s %-14s %10s  %s\n", "node", "kind", "name", "output", "params",
            "inputs");
    for (int i = 0; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        char shape[64], inputs[48] = "";
        minima_shape_string(nd->shape, shape, sizeof shape);
        if (nd->n_inputs == 2)
            snprintf(inputs, sizeof inputs, "%d + %d", nd->inputs[0], nd->inputs[1]);
        else if (nd->n_inputs == 1 && nd->inputs[0] != i - 1)
            snprintf(inputs, sizeof inputs, "%d", nd->inputs[0]);
        fprintf(f, "  %5d %-15s %-20s %-14s %10zu  %s\n", i, minima_node_kind_name(nd->kind),
                nd->name && nd->name[0] ? nd->name : "-", shape, nd->n_weight + nd->n_bias, inputs);
    }
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].folded_batchnorm) {
            char label[160];
            minima_model_node_label(m, i, label, sizeof label);
            fprintf(f, "batch norm folded into %s\n", label);
        }
}

/* A graph that is not a multilayer perceptron: its nodes, then the norms of
 * its parametric ones. */
static void print_graph(FILE *f, const minima_model *m, const char *arch, const minima_gsym *g,
                        const char *gerr)
{
    int n_param = 0;
    for (int i = 1; i < m->n_nodes; i++) n_param += m->nodes[i].n_weight > 0;
    fprintf(f, "arch        %s\n", arch);
    fprintf(f, "graph       %d nodes, %d with parameters\n", m->n_nodes, n_param);
    fprintf(f, "parameters  %zu\n", m->n_params);
    print_symmetry_text(f, g, m, gerr);
    fprintf(f, "loss        %s\n\n", minima_loss_name(m->loss));
    print_nodes(f, m);
    fprintf(f, "\n  %-20s %-8s %10s %14s %14s %14s\n", "layer", "kind", "params", "||W||_F",
            "max|W|", "||b||");
    for (int i = 1; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        if (!nd->n_weight) continue;
        minima_node_norms nn = minima_model_node_norms(m, i);
        char bn[32] = "-";
        if (nd->n_bias) snprintf(bn, sizeof bn, "%.6g", nn.bias_norm);
        fprintf(f, "  %-20s %-8s %10zu %14.6g %14.6g %14s\n", nd->name[0] ? nd->name : "(unnamed)",
                minima_node_kind_name(nd->kind), nd->n_weight + nd->n_bias, nn.weight_norm,
                nn.weight_max_abs, bn);
    }
    fprintf(f, "\n||theta||_2 %.6g\n", minima_model_theta_norm(m));
    if (m->n_meta) {
        fprintf(f, "metadata\n");
        for (int i = 0; i < m->n_meta; i++) fprintf(f, "  %s = %s\n", m->meta[i].key, m->meta[i].value);
    }
}

static void print_text(FILE *f, const minima_model *m, const char *path, const minima_gsym *g,
                       const char *gerr)
{
    char arch[4096];
    minima_model_arch_string(m, arch, sizeof arch);
    fprintf(f, "model       %s\n", path);
    if (!m->is_mlp) {
        print_graph(f, m, arch, g, gerr);
        return;
    }
    fprintf(f, "arch        %s (%d layer%s, %s)\n", arch, m->n_layers, m->n_layers == 1 ? "" : "s",
            m->has_bias ? "with biases" : "no biases");
    fprintf(f, "parameters  %zu\n", m->n_params);
    print_symmetry_text(f, g, m, gerr);
    static const char *const said[] = {"set by the program", "recorded in the file",
                                       "given by --activation", "ASSUMED: the file records none",
                                       "", ""};
    if (m->activation == MINIMA_ACT_LEAKY_RELU)
        fprintf(f, "activation  leaky_relu (slope %g; %s)\n", m->leaky_slope, said[m->activation_source]);
    else
        fprintf(f, "activation  %s (%s)\n", minima_activation_name(m->activation),
                said[m->activation_source]);
    static const char *const how[] = {"set by the program", "recorded in the file",
                                      "given by --order", "", "by the number in the layer names",
                                      "the only order in which the shapes chain"};
    fprintf(f, "order       ");
    for (int k = 0; k < m->n_layers; k++)
        fprintf(f, "%s%s", k ? " -> " : "", m->layer_names[k][0] ? m->layer_names[k] : "(unnamed)");
    fprintf(f, " (%s)\n", how[m->order_source]);
    fprintf(f, "loss        %s\n\n", minima_loss_name(m->loss));
    fprintf(f, "  %-20s %8s %8s %10s %14s %14s %14s\n", "layer", "in", "out", "params", "||W||_F",
            "max|W|", "||b||");
    for (int k = 0; k < m->n_layers; k++) {
        minima_node_norms nn = minima_model_node_norms(m, 2 * k + 1);
        char bn[32] = "-";
        if (m->has_bias) snprintf(bn, sizeof bn, "%.6g", nn.bias_norm);
        fprintf(f, "  %-20s %8d %8d %10zu %14.6g %14.6g %14s\n",
                m->layer_names[k][0] ? m->layer_names[k] : "(unnamed)", m->widths[k],
                m->widths[k + 1], minima_model_layer_params(m, k), nn.weight_norm,
                nn.weight_max_abs, bn);
    }
    for (int k = 0; k < m->n_layers; k++)
        if (m->nodes[2 * k + 1].folded_batchnorm)
            fprintf(f, "batch norm folded into layer '%s'\n", m->layer_names[k]);
    fprintf(f, "\n||theta||_2 %.6g\n", minima_model_theta_norm(m));
    if (m->n_meta) {
        fprintf(f, "metadata\n");
        for (int i = 0; i < m->n_meta; i++) fprintf(f, "  %s = %s\n", m->meta[i].key, m->meta[i].value);
    }
}

int minima_cmd_info(int argc, char **argv)
{
    const char *model_path = NULL, *activation = NULL, *order = NULL, *positional[1] = {NULL};
    int json = 0, allow_nonfinite = 0, ignore_unknown = 0, n_pos = 0;
    const cli_option opts[] = {
        {"--model", OPT_STRING, &model_path, "the model file (safetensors; may also be given alone)", "MODEL"},
        CLI_MODEL_OPTIONS(activation, order),
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {"--allow-nonfinite", OPT_FLAG, &allow_nonfinite, "accept NaN/Inf parameters", NULL},
        {"--ignore-unknown", OPT_FLAG, &ignore_unknown,
         "skip tensors that are not a Linear layer's weight or bias", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("info", usage, opts, argc, argv, positional, 1, &n_pos);
    if (rc >= 0) return rc;
    if (n_pos && model_path)
        return cli_usage_error("info", "the model is given twice ('%s' and --model '%s'); give it once",
                               positional[0], model_path);
    if (n_pos) model_path = positional[0];
    if (!model_path) return cli_usage_error("info", "a model file is required: minima info MODEL");
    minima_load_options lo = minima_load_default_options();
    lo.allow_nonfinite = allow_nonfinite;
    lo.ignore_unknown = ignore_unknown;
    minima_model *m = NULL;
    if ((rc = cli_load_model("info", model_path, activation, order, lo, &m)) >= 0) return rc;
    if (json) {
        char *text = NULL;
        minima_status st = minima_gsym_model_info_json(m, model_path, &text);
        if (st != MINIMA_OK) {
            minima_model_free(m);
            return cli_fail("info", st);
        }
        printf("%s\n", text);
        minima_free(text);
    } else {
        /* A graph the group does not know (or memory running out) costs the
         * symmetry line only, not the rest of the description. */
        minima_gsym *g = NULL;
        char gerr[512] = "";
        if (minima_gsym_create(m, &g) != MINIMA_OK) {
            snprintf(gerr, sizeof gerr, "%s", minima_last_error());
            g = NULL;
        }
        print_text(stderr, m, model_path, g, gerr);
        minima_gsym_free(g);
    }
    minima_model_free(m);
    return EXIT_OK;
}
