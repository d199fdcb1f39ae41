/* cmd_rescale.c — `minima rescale`: apply a function-preserving rescaling
 * (layer-wise alpha, random per-neuron orbit point, or the canonical
 * minimum-norm representative) and write the new model; optionally check
 * observational equivalence on a data set. A thin client of symmetry.h for
 * multilayer perceptrons and of graph_symmetry.h for any other graph. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cli_load.h"
#include "cli_output.h"
#include "minima/data.h"
#include "minima/graph_stage.h"
#include "minima/graph_symmetry.h"
#include "minima/model.h"
#include "minima/safetensors.h"
#include "minima/symmetry.h"

int minima_cmd_rescale(int argc, char **argv);
extern const char minima_cmd_rescale_summary[];
const char minima_cmd_rescale_summary[] =
    "apply a function-preserving rescaling (layer-wise, per-neuron, canonical) to a model";

static const char usage[] =
    "usage: minima rescale --model MODEL (--alpha a1,...,aK | --neurons SEED:SPREAD |\n"
    "                      --canonical) [--derive-last] [--group neuron|layer]\n"
    "                      --out MODEL [--data SRC [--labels FILE] [--check]] [--json]\n"
    "                      [--activation ACT] [--order A,B,C] [--force]\n\n"
    "Writes a model that computes exactly the same function (for ReLU and leaky\n"
    "ReLU networks) with different parameters (Dinh et al. 2017). A tanh model is\n"
    "refused (exit 2): rescaling changes its function; --force writes it anyway,\n"
    "with a warning.\n"
    "  --alpha a1,...,aK   layer-wise: W_k -> a_k W_k, b_k -> (a_1...a_k) b_k. The K\n"
    "                      factors must be > 0 and multiply to 1 (within 1e-12);\n"
    "                      with --derive-last give K-1 and the last is 1/product.\n"
    "  --neurons SEED:SPREAD  a random point of the per-neuron orbit: every hidden\n"
    "                      unit scaled by exp(SPREAD z), z ~ N(0,1) seeded by SEED\n"
    "                      (combined with --alpha if both are given).\n"
    "  --canonical         the minimum-Euclidean-norm point of the orbit under\n"
    "                      --group (neuron: per-neuron balancing; layer: T_alpha).\n"
    "The output is float64 safetensors with the same layer names and metadata.\n"
    "With --data, the outputs of both models are compared on every example and the\n"
    "largest difference is reported (absolute and relative to max |output|); with\n"
    "--check the command fails (exit 1) if the relative difference exceeds --tol.\n"
    "A graph model (conv, pooling, residual adds; docs/symmetry.md, \"The rescaling\n"
    "group of a graph\") is rescaled by its channel classes: --alpha takes one factor\n"
    "per stage plus one for the output node (S+1, product 1; S with --derive-last)\n"
    "and gives every class of stage s the factor a1...as; --neurons draws\n"
    "exp(SPREAD z) per free class (after --alpha if both are given); --canonical\n"
    "takes the minimum-norm point over every class (--group neuron) or over the\n"
    "stage-wise maps (--group layer), by Newton (--max-iter and --step-tol do not\n"
    "apply). tanh channels are fixed by the graph group, so a graph with tanh keeps\n"
    "its function and needs no --force.\n"
    "Exit codes: 0 ok, 1 check failed or computation failed, 2 bad usage or input.";

static void json_equivalence(const minima_sym_equivalence *eq)
{
    printf("{\"max_abs_diff\": ");
    json_number(stdout, eq->max_abs_diff);
    printf(", \"max_abs_output\": ");
    json_number(stdout, eq->max_abs_output);
    printf(", \"rel_diff\": ");
    json_number(stdout, eq->rel_diff);
    printf(", \"worst_example\": %zu, \"n_examples\": %zu}", eq->worst_example, eq->n_examples);
}

/* What graph_rescale did. */
typedef struct {
    int n_classes, n_stages;
    double *alpha;                 /* (n_stages + 1) the stage-wise factors applied (1s if none) */
    minima_gsym_canonical_info cinfo;
    int converged;
} graph_result;

/* The rescaled parameters of a graph model (minima/graph_symmetry.h),
 * written into out->theta: the log-factors u of the free classes are
 *   --alpha             the stage-wise map T_alpha (minima_gsym_stage_u),
 *   --neurons           a random point u0 + SPREAD z (minima_gsym_random_u,
 *                       u0 the stage-wise map's when --alpha is given, else 0),
 *   --canonical         the minimum-norm point over the whole group
 *                       (minima_gsym_canonical), or with --group layer over
 *                       the stage-wise maps (minima_gsym_stage_canonical).
 * A canonical search that stops after its step limit (MINIMA_ENOCONV) still
 * leaves a better orbit point: it is used and res->converged says so. */
static minima_status graph_rescale(const minima_model *model, minima_model *out,
                                   const double *alpha, int n_alpha, int derive_last,
                                   int neurons, uint64_t seed, double spread, int canonical,
                                   int layer_group, graph_result *res)
{
    minima_gsym *g = NULL;
    minima_status st = minima_gsym_create(model, &g);
    if (st != MINIMA_OK) return st;
    res->n_classes = g->n_classes;
    res->n_stages = g->n_stages;
    res->converged = 1;
    double *u = malloc((g->n_classes ? (size_t)g->n_classes : 1) * sizeof *u);
    res->alpha = malloc(((size_t)g->n_stages + 1) * sizeof *res->alpha);
    if (!u || !res->alpha) {
        free(u);
        minima_gsym_free(g);
        return minima_error(MINIMA_ENOMEM, "out of memory for %d log-factors", g->n_classes);
    }
    for (int k = 0; k <= g->n_stages; k++) res->alpha[k] = 1.0;
    for (int k = 0; k < g->n_classes; k++) u[k] = 0.0;
    if (canonical) {
        st = layer_group ? minima_gsym_stage_canonical(g, model, NULL, res->alpha, u, out->theta,
                                                       &res->cinfo)
                         : minima_gsym_canonical(g, model, NULL, u, out->theta, &res->cinfo);
        if (st == MINIMA_ENOCONV) {
            res->converged = 0;
            st = MINIMA_OK;
        }
    } else {
        if (alpha)
            st = minima_gsym_stage_u(g, alpha, n_alpha, derive_last, 1e-12, u, res->alpha);
        if (st == MINIMA_OK && neurons) st = minima_gsym_random_u(g, seed, spread, u, u);
        if (st == MINIMA_OK) st = minima_gsym_apply(g, model, u, NULL, out->theta);
    }
    free(u);
    minima_gsym_free(g);
    return st;
}

int minima_cmd_rescale(int argc, char **argv)
{
    const char *model_path = NULL, *out_path = NULL, *alpha_s = NULL, *neurons_s = NULL;
    const char *source = NULL, *labels = NULL, *group_s = "neuron", *activation = NULL, *order = NULL,
               *max_data_bytes = NULL;
    int canonical = 0, derive_last = 0, check = 0, json = 0, ignore_unknown = 0, max_iter = 10000;
    int force = 0;
    double tol = 1e-12, step_tol = 1e-13;
    size_t subset = 0;
    uint64_t data_seed = 0;
    const cli_option opts[] = {
        {"--model", OPT_STRING, &model_path, "the model file (safetensors, or ONNX: a name ending in .onnx)", "MODEL"},
        CLI_MODEL_OPTIONS(activation, order),
        {"--force", OPT_FLAG, &force, "rescale a tanh model although the result is another function", NULL},
        {"--alpha", OPT_STRING, &alpha_s, "layer-wise factors, comma-separated", "a1,...,aK"},
        {"--derive-last", OPT_FLAG, &derive_last, "give K-1 factors; the last is 1/product", NULL},
        {"--neurons", OPT_STRING, &neurons_s, "random per-neuron orbit point", "SEED:SPREAD"},
        {"--canonical", OPT_FLAG, &canonical, "the minimum-norm point of the orbit", NULL},
        {"--group", OPT_STRING, &group_s, "group for --canonical: neuron or layer", "G"},
        {"--max-iter", OPT_INT, &max_iter, "canonical: Newton steps / balancing sweeps", "N", CLI_IN(1, 1000000)},
        {"--step-tol", OPT_DOUBLE, &step_tol, "canonical: stop when max |log factor| <= X", "X", CLI_IN(0, 1)},
        {"--out", OPT_STRING, &out_path, "where to write the rescaled model", "MODEL"},
        {"--data", OPT_STRING, &source, "data set for the equivalence check", "SRC"},
        {"--labels", OPT_STRING, &labels, "labels file for IDX or .npy features", "FILE"},
        {"--subset", OPT_SIZE, &subset, "use the first N examples (0: all)", "N", CLI_IN(0, 1e9)},
        {"--data-seed", OPT_U64, &data_seed, "seed of synthetic data sources", "S", CLI_ANY},
        CLI_DATA_LIMIT_OPTION(max_data_bytes),
        {"--check", OPT_FLAG, &check, "fail (exit 1) if the relative output difference > --tol", NULL},
        {"--tol", OPT_DOUBLE, &tol, "tolerance of --check (relative to max |output|)", "X", CLI_IN(0, 1e6)},
        {"--ignore-unknown", OPT_FLAG, &ignore_unknown,
         "skip model tensors that are not a Linear layer's weight or bias", NULL},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("rescale", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (!model_path) return cli_usage_error("rescale", "--model MODEL is required");
    if (!out_path) return cli_usage_error("rescale", "--out MODEL is required");
    if (!alpha_s && !neurons_s && !canonical)
        return cli_usage_error("rescale", "one of --alpha, --neurons or --canonical is required");
    if (canonical && (alpha_s || neurons_s))
        return cli_usage_error("rescale", "--canonical cannot be combined with --alpha or --neurons");
    if (derive_last && !alpha_s) return cli_usage_error("rescale", "--derive-last needs --alpha");
    if (check && !source) return cli_usage_error("rescale", "--check needs --data SRC");
    if (!(tol >= 0)) return cli_usage_error("rescale", "option --tol: expected >= 0, found %g", tol);
    {   /* --out equal to --model is refused too: no model is rewritten in place */
        cli_files io = {0};
        cli_files_input(&io, "--model", model_path);
        cli_files_input(&io, "--data", source);
        cli_files_input(&io, "--labels", labels);
        cli_files_output(&io, "--out", out_path, CLI_OUT_FILE);
        int frc = cli_files_check("rescale", &io);
        if (frc >= 0) return frc;
    }
    minima_sym_canonical_params cp = minima_sym_canonical_default_params();
    if (!strcmp(group_s, "neuron")) cp.group = MINIMA_SYM_NEURON;
    else if (!strcmp(group_s, "layer")) cp.group = MINIMA_SYM_LAYER;
    else return cli_usage_error("rescale", "option --group: expected neuron or layer, found '%s'", group_s);
    cp.max_iter = max_iter;
    cp.step_tol = step_tol;
    uint64_t nseed = 0;
    double spread = 0;
    if (neurons_s) {
        char *end;
        errno = 0;
        unsigned long long sv = strtoull(neurons_s, &end, 10);
        if (end == neurons_s || *end != ':' || errno || neurons_s[0] == '-')
            return cli_usage_error("rescale", "option --neurons: expected SEED:SPREAD (e.g. 1:0.5), "
                                   "found '%s'", neurons_s);
        const char *sp = end + 1;
        spread = strtod(sp, &end);
        if (end == sp || *end || !isfinite(spread) || spread < 0)
            return cli_usage_error("rescale", "option --neurons: SPREAD must be a number >= 0, "
                                   "found '%s'", sp);
        nseed = (uint64_t)sv;
    }
    double *alpha = NULL;
    int n_alpha = 0;
    cli_range positive = CLI_LO_OPEN(0, 1e100);
    if (alpha_s && (n_alpha = cli_parse_list("rescale", "--alpha", alpha_s, positive, &alpha)) < 0)
        return EXIT_USAGE;

    minima_model *model = NULL, *out = NULL;
    minima_dataset *data = NULL;
    graph_result gres;
    memset(&gres, 0, sizeof gres);
    double *scales = NULL, *used = NULL;
    minima_status st;
    minima_load_options lo = minima_load_default_options();
    lo.ignore_unknown = ignore_unknown;
    if (source) {        /* the data first: its width helps settle the order of the layers */
        minima_data_options dopt = minima_data_default_options();
        dopt.labels_path = labels;
        dopt.subset = subset;
        dopt.seed = data_seed;
        if ((rc = cli_data_limit("rescale", max_data_bytes, &dopt.max_bytes)) >= 0) goto done;
        if ((st = minima_data_load(source, &dopt, &data)) != MINIMA_OK) { rc = cli_fail("rescale", st); goto done; }
        lo.expected_inputs = data->d;
    }
    if ((rc = cli_load_model("rescale", model_path, activation, order, lo, &model)) >= 0) goto done;
    const int graph = !model->is_mlp;
    /* The MLP tanh rule below does not apply to a graph: the graph group ties
     * the channels read or written by tanh to the factor 1, so every graph
     * rescaling preserves the function, tanh or not. */
    size_t nu = graph ? 0 : minima_sym_n_units(model);
    int K = graph ? 0 : model->n_layers, n_classes = 0;
    minima_sym_canonical_info cinfo;
    memset(&cinfo, 0, sizeof cinfo);
    if (graph) {
        if ((st = minima_model_copy(model, &out)) != MINIMA_OK ||
            (st = graph_rescale(model, out, alpha, n_alpha, derive_last, neurons_s != NULL, nseed,
                                spread, canonical, cp.group == MINIMA_SYM_LAYER, &gres)) != MINIMA_OK) {
            rc = cli_fail("rescale", st);
            goto done;
        }
        n_classes = gres.n_classes;
        cinfo.converged = gres.converged;
        cinfo.iterations = gres.cinfo.iterations;
        cinfo.n_degenerate = (size_t)gres.cinfo.n_degenerate;
    } else {
        if (model->activation == MINIMA_ACT_TANH && !force) {
            rc = cli_usage_error("rescale", "'%s' uses tanh (%s), which is not non-negative homogeneous: "
                                 "a rescaled model would compute a different function; pass --force to "
                                 "write it anyway", model_path,
                                 model->activation_source == MINIMA_FROM_OPTION ? "given by --activation"
                                                                                : "recorded in the file");
            goto done;
        }
        if (model->activation == MINIMA_ACT_TANH)
            fprintf(stderr, "minima rescale: warning: '%s' uses tanh, which is not non-negative "
                    "homogeneous: the rescaled model computes a DIFFERENT function (--force)\n", model_path);
        scales = malloc((nu ? nu : 1) * sizeof *scales);
        used = malloc((size_t)K * sizeof *used);
        if (!scales || !used) { rc = cli_fail("rescale", minima_error(MINIMA_ENOMEM, "out of memory")); goto done; }
        minima_sym_identity(model, scales);
        for (int k = 0; k < K; k++) used[k] = 1.0;
        if (alpha && (st = minima_sym_layer_scales(model, alpha, n_alpha, derive_last, 1e-12, scales, used)) != MINIMA_OK) {
            rc = cli_fail("rescale", st);
            goto done;
        }
        if (neurons_s && (st = minima_sym_random_scales(model, nseed, spread, alpha ? used : NULL, scales)) != MINIMA_OK) {
            rc = cli_fail("rescale", st);
            goto done;
        }
        if (canonical && (st = minima_sym_canonical(model, NULL, &cp, scales, &cinfo)) != MINIMA_OK) {
            rc = cli_fail("rescale", st);
            goto done;
        }
        if ((st = minima_model_copy(model, &out)) != MINIMA_OK) { rc = cli_fail("rescale", st); goto done; }
        minima_sym_apply_model(out, scales);
    }
    if ((st = minima_model_check_finite(out)) != MINIMA_OK) { rc = cli_fail("rescale", st); goto done; }
    double n0 = 0, n1 = 0;
    for (size_t i = 0; i < model->n_params; i++) {
        n0 += model->theta[i] * model->theta[i];
        n1 += out->theta[i] * out->theta[i];
    }
    minima_sym_equivalence eq;
    memset(&eq, 0, sizeof eq);
    int passed = 1;
    if (source) {
        if ((st = minima_sym_check_equivalence(model, out, data, &eq)) != MINIMA_OK) {
            rc = cli_fail("rescale", st);
            goto done;
        }
        passed = eq.rel_diff <= tol;
    }
    /* a failed check writes nothing: the user's files stay as they were */
    if (!(check && !passed) && (st = minima_model_save(out, out_path, MINIMA_DTYPE_F64)) != MINIMA_OK) {
        rc = cli_fail("rescale", st);
        goto done;
    }
    const char *mode = canonical ? "canonical" : neurons_s ? "neurons" : "alpha";
    if (json) {
        printf("{\"model\": ");
        json_string(stdout, model_path);
        printf(", \"out\": ");
        json_string(stdout, out_path);
        printf(", \"mode\": ");
        json_string(stdout, mode);
        printf(", ");
        cli_json_model_source(stdout, model);
        if (graph) {
            printf(", \"alpha\": [");
            for (int k = 0; k <= gres.n_stages; k++) {
                if (k) printf(", ");
                json_number(stdout, gres.alpha[k]);
            }
            printf("], \"n_stages\": %d, \"n_classes\": %d, \"norm_before\": ", gres.n_stages,
                   n_classes);
        } else {
            printf(", \"alpha\": [");
            for (int k = 0; k < K; k++) { if (k) printf(", "); json_number(stdout, used[k]); }
            printf("], \"n_units\": %zu, \"norm_before\": ", nu);
        }
        json_number(stdout, sqrt(n0));
        printf(", \"norm_after\": ");
        json_number(stdout, sqrt(n1));
        if (canonical) {
            printf(", \"canonical\": {\"group\": ");
            json_string(stdout, group_s);
            printf(", \"iterations\": %d, \"converged\": %s, \"n_degenerate\": %zu}", cinfo.iterations,
                   cinfo.converged ? "true" : "false", cinfo.n_degenerate);
        }
        if (source) {
            printf(", \"equivalence\": ");
            json_equivalence(&eq);
            printf(", \"tol\": ");
            json_number(stdout, tol);
            printf(", \"passed\": %s", passed ? "true" : "false");
        }
        printf("}\n");
    } else {
        if (graph) {
            fprintf(stderr, "rescaled    %s -> %s (%s, %d channel classes in %d stages)\n", model_path,
                    out_path, mode, n_classes, gres.n_stages);
            if (alpha || (canonical && cp.group == MINIMA_SYM_LAYER)) {
                fprintf(stderr, "alpha       ");
                for (int k = 0; k <= gres.n_stages; k++)
                    fprintf(stderr, "%s%.10g", k ? ", " : "", gres.alpha[k]);
                fprintf(stderr, "  (stage-wise; the last for the output node)\n");
            }
        }
        else
            fprintf(stderr, "rescaled    %s -> %s (%s, %zu hidden units)\n", model_path, out_path, mode, nu);
        fprintf(stderr, "||theta||   %.10g -> %.10g\n", sqrt(n0), sqrt(n1));
        if (canonical)
            fprintf(stderr, "canonical   group %s, %d iterations, %s, %zu degenerate %s\n", group_s,
                    cinfo.iterations, cinfo.converged ? "converged" : "NOT converged", cinfo.n_degenerate,
                    !graph ? "units" : cp.group == MINIMA_SYM_LAYER ? "stages" : "classes");
        if (source)
            fprintf(stderr, "outputs     max |f - f'| = %.3g, relative %.3g over %zu examples (%s at tol %g)\n",
                    eq.max_abs_diff, eq.rel_diff, eq.n_examples, passed ? "equivalent" : "DIFFERENT", tol);
    }
    rc = (check && !passed) ? EXIT_COMPUTE : EXIT_OK;
    if (check && !passed)
        fprintf(stderr, "minima rescale: the outputs differ by %.3g relative (> %g)\n", eq.rel_diff, tol);
done:
    free(gres.alpha);
    free(alpha);
    free(scales);
    free(used);
    minima_dataset_free(data);
    minima_model_free(out);
    minima_model_free(model);
    return rc;
}
