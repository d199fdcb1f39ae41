/* cmd_landscape.c — `minima landscape`: the loss and accuracy on 1-D and 2-D
 * slices of parameter space through a model, along random, filter-normalized,
 * Hessian-eigenvector or interpolation directions, and the same slices
 * before and after a function-preserving rescaling. A thin client of
 * minima/landscape.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cli_output.h"
#include "cli_load.h"
#include "minima/alloc.h"
#include "minima/graph_symmetry.h"
#include "minima/landscape.h"
#include "minima/safetensors.h"
#include "minima/symmetry.h"

int minima_cmd_landscape(int argc, char **argv);
extern const char minima_cmd_landscape_summary[];
const char minima_cmd_landscape_summary[] =
    "loss landscapes: 1-D/2-D slices along random, filter-normalized, eigenvector or interpolation directions";

static const char usage[] =
    "usage: minima landscape --model MODEL --data SRC [--dir random|filter|eigen|MODEL2]\n"
    "                        [--2d] [--range A|LO:HI] [--points N] [--seed S] [--bias zero|copy|row]\n"
    "                        [--log] [--csv FILE] [--compare-rescaled ALPHAS] [--canonical]\n"
    "                        [--plot FILE] [--json]\n\n"
    "The mean loss (and the accuracy) over the whole data set at every point of a\n"
    "slice through the model's parameters theta, each point evaluated exactly:\n"
    "  1-D  L(theta + t d),  t on --points values in the range\n"
    "  2-D  L(theta + s d1 + t d2),  (s, t) on a --points x --points grid\n"
    "Directions (--dir):\n"
    "  filter   Gaussian, filter-normalized (Li et al. 2018): each row of each\n"
    "           weight matrix (one unit's incoming weights) rescaled to the norm of\n"
    "           the model's row; biases as --bias says (zero: Li et al.'s default)\n"
    "  random   Gaussian, one global scale: ||d|| = ||theta||\n"
    "  eigen    the top Hessian eigenvector(s) at theta (Lanczos), unit norm:\n"
    "           t is a Euclidean distance and L ~ L(theta) + lambda t^2 / 2 near 0\n"
    "  MODEL2   the straight line to a second model of the same shape:\n"
    "           theta(t) = (1-t) theta + t theta2 (1-D only; default range -0.5:1.5)\n"
    "  2-D slices use seeds S and S+1 (random, filter) or the top two eigenvectors.\n"
    "--compare-rescaled ALPHAS computes the slice through theta and through a\n"
    "function-preserving rescaling A theta (the same function), with random AND\n"
    "filter-normalized directions (and eigen with --dir eigen), and draws them side\n"
    "by side. ALPHAS is a1,...,aK (layer-wise, product 1; or K-1 factors and the last\n"
    "is derived) or neurons:SEED:SPREAD (every hidden unit scaled by exp(SPREAD z)).\n"
    "On a graph (conv, pooling, residual adds) ALPHAS is one factor per stage and\n"
    "one for the output node (S+1, product 1; or S, the last derived: minima\n"
    "rescale --alpha) or neurons:SEED:SPREAD (every free channel class).\n"
    "Filter-normalized slices are exactly the same under layer-wise (stage-wise)\n"
    "rescaling (biases zero or copy), not under per-neuron (per-channel)\n"
    "rescaling; random ones change in both cases (docs/landscape.md).\n"
    "--canonical slices through the minimum-norm point of theta's per-neuron orbit\n"
    "(per channel class on a graph; minima rescale --canonical): every rescaling\n"
    "of the network gives the same point, hence the same picture, whatever the\n"
    "directions.\n"
    "Outputs: --plot (PNG/SVG/PDF: loss and accuracy lines, or maps with contours),\n"
    "--csv (t,loss,accuracy / s,t,loss,accuracy; a series column with the comparison),\n"
    "--json on stdout. At least one is required. Ctrl-C stops (exit 130), writing\n"
    "the points done so far beside --csv, to FILE.partial.csv (FILE.csv stays as it\n"
    "was). Output paths are checked before any work, and never replace an input.";

typedef enum { DIR_RANDOM, DIR_FILTER, DIR_EIGEN, DIR_INTERP } dir_kind;

static const char *kind_name(dir_kind k)
{
    switch (k) {
    case DIR_RANDOM: return "random";
    case DIR_FILTER: return "filter";
    case DIR_EIGEN: return "eigen";
    default: return "interpolation";
    }
}

static const char *kind_label(dir_kind k)
{
    switch (k) {
    case DIR_RANDOM: return "random";
    case DIR_FILTER: return "filter-normalized";
    case DIR_EIGEN: return "eigenvector";
    default: return "interpolation";
    }
}

typedef struct {
    cli_net *cn;
    dir_kind kind;
    minima_filter_bias bias;
    uint64_t seed;
    int dims;
    double eig_tol;
    const minima_model *model_b;
} dir_spec;

static size_t eig_max_products = 10000;     /* --max-products */

/* The direction(s) (dims, P) of spec at theta; eigenvalues (dims) for eigen. */
static minima_status make_dirs(const dir_spec *ds, const double *theta, double *d, double *eigvals)
{
    if (ds->kind == DIR_INTERP) return minima_dir_interpolation(ds->cn->model, ds->model_b, d);
    minima_dir_params p = minima_dir_default_params();
    p.kind = ds->kind == DIR_RANDOM ? MINIMA_DIR_RANDOM
           : ds->kind == DIR_FILTER ? MINIMA_DIR_FILTER : MINIMA_DIR_EIGEN;
    p.bias = ds->bias;
    p.seed = ds->seed;
    p.dims = ds->dims;
    p.eig_tol = ds->eig_tol;
    p.eig_max_products = eig_max_products;
    return minima_dir_make(ds->cn->net, theta, &p, d, eigvals);
}

static minima_status run_slice(const dir_spec *ds, const double *theta, const double *d,
                               double lo, double hi, size_t n, minima_landscape *out)
{
    size_t P = ds->cn->model->n_params;
    if (ds->dims == 1) return minima_landscape_1d(ds->cn->net, theta, d, lo, hi, n, out);
    return minima_landscape_2d(ds->cn->net, theta, d, d + P, lo, hi, n, lo, hi, n, out);
}

/* Parses "A" (symmetric) or "LO:HI". */
static int parse_range(const char *s, double *lo, double *hi)
{
    char *end;
    errno = 0;
    double a = strtod(s, &end);
    if (end == s || errno) return 0;
    if (*end == '\0') {
        if (!isfinite(a) || !(a > 0)) return 0;
        *lo = -a;
        *hi = a;
        return 1;
    }
    if (*end != ':') return 0;
    const char *p = end + 1;
    double b = strtod(p, &end);
    if (end == p || *end || errno || !isfinite(a) || !isfinite(b) || !(a < b)) return 0;
    *lo = a;
    *hi = b;
    return 1;
}

/* Parses neurons:SEED:SPREAD; -1 when s has that form and is valid, -2 when
 * s does not start with "neurons:", else the exit code. */
static int parse_neurons(const char *s, uint64_t *seed, double *spread)
{
    if (strncmp(s, "neurons:", 8)) return -2;
    const char *p = s + 8;
    char *end;
    errno = 0;
    unsigned long long sv = strtoull(p, &end, 10);
    if (end == p || *end != ':' || errno || *p == '-')
        return cli_usage_error("landscape", "option --compare-rescaled: expected "
                               "neurons:SEED:SPREAD (e.g. neurons:1:1.0), found '%s'", s);
    const char *q = end + 1;
    double sp = strtod(q, &end);
    if (end == q || *end || !isfinite(sp) || !(sp >= 0))
        return cli_usage_error("landscape", "option --compare-rescaled: SPREAD must be a "
                               "number >= 0, found '%s'", q);
    *seed = (uint64_t)sv;
    *spread = sp;
    return -1;
}

static void describe_alpha(char *desc, size_t desc_size, const char *what, const double *used, int n)
{
    int off = snprintf(desc, desc_size, "%s α = (", what);
    for (int k = 0; k < n && off > 0 && (size_t)off < desc_size; k++)
        off += snprintf(desc + off, desc_size - (size_t)off, "%s%g", k ? ", " : "", used[k]);
    if (off > 0 && (size_t)off < desc_size) snprintf(desc + off, desc_size - (size_t)off, ")");
}

/* The rescaled point of a graph (minima/graph_symmetry.h) for ALPHAS:
 * stage-wise factors (S+1, product 1, or S and the last derived) or
 * neurons:SEED:SPREAD (a random point of the group, per class). */
static int parse_rescaling_graph(const char *s, const minima_model *m, double *theta_r, char *desc,
                                 size_t desc_size)
{
    minima_gsym *g = NULL;
    minima_status st = minima_gsym_create(m, &g);
    if (st != MINIMA_OK) return cli_fail("landscape", st);
    int rc = -1;
    double *u = malloc((g->n_classes ? (size_t)g->n_classes : 1) * sizeof *u);
    double *used = malloc(((size_t)g->n_stages + 1) * sizeof *used);
    double *av = NULL;
    uint64_t seed = 0;
    double spread = 0;
    if (!u || !used) {
        rc = cli_fail("landscape", minima_error(MINIMA_ENOMEM, "out of memory"));
        goto done;
    }
    if (g->n_classes == 0) {
        rc = cli_usage_error("landscape", "--compare-rescaled: the graph has no free channel class "
                             "to rescale (every channel is fixed)");
        goto done;
    }
    if ((rc = parse_neurons(s, &seed, &spread)) >= 0) goto done;
    if (rc == -1) {
        if ((st = minima_gsym_random_u(g, seed, spread, NULL, u)) != MINIMA_OK) {
            rc = cli_fail("landscape", st);
            goto done;
        }
        snprintf(desc, desc_size, "per-channel rescaling, spread %g", spread);
    } else {
        int S = g->n_stages, n = 1;
        for (const char *c = s; *c; c++) n += *c == ',';
        if (n != S + 1 && n != S) {
            rc = cli_usage_error("landscape", "option --compare-rescaled: the graph has %d stage%s: "
                                 "expected %d factors (product 1) or %d (the last derived), found "
                                 "%d in '%s'", S, S == 1 ? "" : "s", S + 1, S, n, s);
            goto done;
        }
        cli_range positive = CLI_LO_OPEN(0, 1e100);
        if (cli_parse_list("landscape", "--compare-rescaled", s, positive, &av) < 0) {
            rc = EXIT_USAGE;
            goto done;
        }
        if ((st = minima_gsym_stage_u(g, av, n, n == S, 1e-12, u, used)) != MINIMA_OK) {
            rc = cli_fail("landscape", st);
            goto done;
        }
        describe_alpha(desc, desc_size, "stage-wise", used, S + 1);
    }
    rc = -1;
    if ((st = minima_gsym_apply(g, m, u, NULL, theta_r)) != MINIMA_OK) rc = cli_fail("landscape", st);
done:
    free(av);
    free(u);
    free(used);
    minima_gsym_free(g);
    return rc;
}

/* Parses ALPHAS into the rescaled point theta_r (P) and a description. */
static int parse_rescaling(const char *s, const minima_model *m, double *theta_r, char *desc,
                           size_t desc_size)
{
    if (!m->is_mlp) return parse_rescaling_graph(s, m, theta_r, desc, desc_size);
    minima_status st;
    size_t nu = minima_sym_n_units(m);
    if (nu == 0) return cli_usage_error("landscape", "--compare-rescaled: the model has no hidden layer to rescale");
    double *scales = malloc(nu * sizeof *scales);
    if (!scales) return cli_fail("landscape", minima_error(MINIMA_ENOMEM, "out of memory"));
    uint64_t seed = 0;
    double spread = 0;
    int rc = parse_neurons(s, &seed, &spread);
    if (rc >= 0) goto done;
    if (rc == -1) {
        if ((st = minima_sym_random_scales(m, seed, spread, NULL, scales)) != MINIMA_OK) {
            rc = cli_fail("landscape", st);
            goto done;
        }
        snprintf(desc, desc_size, "per-neuron rescaling, spread %g", spread);
    } else {
        int K = m->n_layers, n = 1;
        for (const char *c = s; *c; c++) n += *c == ',';
        if (n != K && n != K - 1) {
            rc = cli_usage_error("landscape", "option --compare-rescaled: the model has %d layers: "
                                 "expected %d factors (product 1) or %d (the last derived), found "
                                 "%d in '%s'", K, K, K - 1, n, s);
            goto done;
        }
        double alpha[64], used[64];
        if (K > 64) {
            rc = cli_usage_error("landscape", "option --compare-rescaled: at most 64 layers");
            goto done;
        }
        double *av = NULL;
        cli_range positive = CLI_LO_OPEN(0, 1e100);
        if (cli_parse_list("landscape", "--compare-rescaled", s, positive, &av) < 0) {
            rc = EXIT_USAGE;
            goto done;
        }
        memcpy(alpha, av, (size_t)n * sizeof *alpha);
        free(av);
        if ((st = minima_sym_layer_scales(m, alpha, n, n == K - 1, 1e-12, scales, used)) != MINIMA_OK) {
            rc = cli_fail("landscape", st);
            goto done;
        }
        describe_alpha(desc, desc_size, "layer-wise", used, K);
    }
    rc = -1;
    minima_sym_apply(m, scales, m->theta, theta_r);
done:
    free(scales);
    return rc;
}

/* theta_out = the minimum-norm point of src's orbit: per neuron for a
 * perceptron (minima_sym_canonical), per channel class for a graph
 * (minima_gsym_canonical). */
static int canonical_point(const minima_model *m, const double *src, double *theta_out,
                           const char *which, int quiet)
{
    minima_status st;
    double nb, na;
    int iters, converged;
    if (m->is_mlp) {
        size_t nu = minima_sym_n_units(m);
        double *cs = malloc((nu ? nu : 1) * sizeof *cs);
        if (!cs) return cli_fail("landscape", minima_error(MINIMA_ENOMEM, "out of memory"));
        minima_sym_canonical_info ci;
        st = minima_sym_canonical(m, src, NULL, cs, &ci);
        if (st == MINIMA_OK) minima_sym_apply(m, cs, src, theta_out);
        free(cs);
        if (st != MINIMA_OK) return cli_fail("landscape", st);
        nb = ci.norm_before;
        na = ci.norm_after;
        iters = ci.iterations;
        converged = ci.converged;
    } else {
        minima_gsym *g = NULL;
        if ((st = minima_gsym_create(m, &g)) != MINIMA_OK) return cli_fail("landscape", st);
        double *u = malloc((g->n_classes ? (size_t)g->n_classes : 1) * sizeof *u);
        if (!u) {
            minima_gsym_free(g);
            return cli_fail("landscape", minima_error(MINIMA_ENOMEM, "out of memory"));
        }
        minima_gsym_canonical_info ci;
        memset(&ci, 0, sizeof ci);
        st = minima_gsym_canonical(g, m, src, u, theta_out, &ci);
        free(u);
        minima_gsym_free(g);
        converged = st == MINIMA_OK;
        if (st != MINIMA_OK && st != MINIMA_ENOCONV) return cli_fail("landscape", st);
        nb = ci.norm_before;
        na = ci.norm_after;
        iters = ci.iterations;
    }
    if (!quiet)
        fprintf(stderr, "  canonical representative%s: ||theta|| %.6g -> %.6g (%d %s%s)\n", which, nb,
                na, iters, m->is_mlp ? "sweeps" : "Newton steps", converged ? "" : ", NOT converged");
    return -1;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static void json_array(const double *v, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        if (i) putchar(',');
        json_number(stdout, v[i]);
    }
    putchar(']');
}

static void json_grid(const minima_landscape *ls)
{
    printf("{\"%s\": ", ls->dims == 2 ? "s" : "t");
    json_array(ls->x, ls->nx);
    if (ls->dims == 2) {
        printf(", \"t\": ");
        json_array(ls->y, ls->ny);
    }
    printf(", \"loss\": ");
    json_array(ls->loss, ls->nx * ls->ny);
    printf(", \"accuracy\": ");
    json_array(ls->accuracy, ls->nx * ls->ny);
    printf(", \"loss_at_theta\": ");
    json_number(stdout, ls->loss0);
    printf(", \"accuracy_at_theta\": ");
    json_number(stdout, ls->accuracy0);
    printf(", \"points_done\": %zu, \"seconds\": ", ls->n_done);
    json_number(stdout, ls->seconds);
    printf("}");
}

#define MAX_KINDS 3

int minima_cmd_landscape(int argc, char **argv)
{
    cli_net_args na = cli_net_default_args();
    const char *dir_s = "filter", *range_s = NULL, *csv = NULL, *plot = NULL, *compare_s = NULL;
    const char *bias_s = "zero", *title = NULL;
    int two_d = 0, log_loss = 0, json = 0, canonical = 0;
    size_t points = 0;
    uint64_t seed = 0;
    double eig_tol = 1e-6, clip = 1.0;
    const cli_option opts[] = {
        CLI_NET_OPTIONS(na),
        {"--dir", OPT_STRING, &dir_s, "random, filter, eigen, or a second model file (interpolation)", "D"},
        {"--2d", OPT_FLAG, &two_d, "a 2-D slice (two directions) instead of a 1-D one", NULL},
        {"--range", OPT_STRING, &range_s, "t (and s) in [-A, A], or LO:HI (default 1; -0.5:1.5 for MODEL2)", "A"},
        {"--points", OPT_SIZE, &points, "grid points per axis (0: 51 for 1-D, 31 for 2-D, 41 for MODEL2)", "N", CLI_IN(0, 100001)},
        {"--seed", OPT_U64, &seed, "seed of random directions (2-D: S and S+1) and of Lanczos", "S", CLI_ANY},
        {"--bias", OPT_STRING, &bias_s, "filter normalization of biases: zero, copy (d_b = b) or row", "B"},
        {"--eig-tol", OPT_DOUBLE, &eig_tol, "eigen: Lanczos relative residual tolerance", "X", CLI_OPEN(0, 1)},
        {"--max-products", OPT_SIZE, &eig_max_products, "eigen: Lanczos fails (exit 1) after N products", "N", CLI_IN(1, 1e9)},
        {"--compare-rescaled", OPT_STRING, &compare_s, "also slice through a rescaled model: a1,...,aK or neurons:SEED:SPREAD", "ALPHAS"},
        {"--canonical", OPT_FLAG, &canonical, "slice through the minimum-norm point of the orbit (per neuron, or per channel class on a graph) instead (the same picture for every rescaling)", NULL},
        {"--log", OPT_FLAG, &log_loss, "log scale for the loss (axis or colours)", NULL},
        {"--clip", OPT_DOUBLE, &clip, "2-D: colour range up to this quantile of the loss (1: max)", "Q", CLI_LO_OPEN(0, 1)},
        {"--title", OPT_STRING, &title, "figure title (default: model, data and direction)", "TEXT"},
        {"--csv", OPT_STRING, &csv, "write the grid as CSV to FILE", "FILE"},
        {"--plot", OPT_STRING, &plot, "draw the figure to FILE (.png, .svg, .pdf)", "FILE"},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("landscape", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (!plot && !csv && !json)
        return cli_usage_error("landscape", "nothing to output: give --plot FILE, --csv FILE or --json");
    dir_kind kind;
    if (!strcmp(dir_s, "random")) kind = DIR_RANDOM;
    else if (!strcmp(dir_s, "filter")) kind = DIR_FILTER;
    else if (!strcmp(dir_s, "eigen")) kind = DIR_EIGEN;
    else if (strchr(dir_s, '.') || strchr(dir_s, '/')) kind = DIR_INTERP;
    else return cli_usage_error("landscape", "option --dir: expected random, filter, eigen or a "
                                "model file, found '%s'", dir_s);
    minima_filter_bias bias;
    if (!strcmp(bias_s, "zero")) bias = MINIMA_FILTER_BIAS_ZERO;
    else if (!strcmp(bias_s, "copy")) bias = MINIMA_FILTER_BIAS_COPY;
    else if (!strcmp(bias_s, "row")) bias = MINIMA_FILTER_BIAS_ROW;
    else return cli_usage_error("landscape", "option --bias: expected zero, copy or row, found '%s'", bias_s);
    if (kind == DIR_INTERP && two_d)
        return cli_usage_error("landscape", "--2d needs two directions; interpolation to '%s' is 1-D", dir_s);
    if (kind == DIR_INTERP && canonical)
        return cli_usage_error("landscape", "--canonical does not apply to an interpolation (it would move one end only)");
    if (kind == DIR_INTERP && compare_s)
        return cli_usage_error("landscape", "--compare-rescaled does not apply to an interpolation");
    double lo = kind == DIR_INTERP ? -0.5 : -1.0, hi = kind == DIR_INTERP ? 1.5 : 1.0;
    if (range_s && !parse_range(range_s, &lo, &hi))
        return cli_usage_error("landscape", "option --range: expected A > 0 or LO:HI with LO < HI "
                               "(finite), found '%s'", range_s);
    if (points == 0) points = kind == DIR_INTERP ? 41 : two_d ? 31 : 51;
    if (points < 2 || points > (two_d ? 1001u : 100001u))
        return cli_usage_error("landscape", "option --points: expected 2..%u, found %zu",
                               two_d ? 1001u : 100001u, points);
    if (!(eig_tol > 0 && eig_tol < 1))
        return cli_usage_error("landscape", "option --eig-tol: expected a number in (0, 1), found %g", eig_tol);
    if (!(clip > 0 && clip <= 1))
        return cli_usage_error("landscape", "option --clip: expected a quantile in (0, 1], found %g", clip);

    char *csv_partial = csv ? cli_partial_path(csv) : NULL;   /* where an interrupted run's points go */
    if (csv && !csv_partial) return cli_fail("landscape", minima_error(MINIMA_ENOMEM, "out of memory"));
    {
        cli_files io = {0};
        cli_files_input(&io, "--model", na.model_path);
        cli_files_input(&io, "--data", na.source);
        cli_files_input(&io, "--labels", na.labels);
        if (kind == DIR_INTERP) cli_files_input(&io, "--dir", dir_s);
        cli_files_output(&io, "--csv", csv, CLI_OUT_FILE);
        cli_files_output(&io, "--csv's partial file", csv_partial, CLI_OUT_FILE);
        cli_files_output(&io, "--plot", plot, CLI_OUT_PLOT);
        if ((rc = cli_files_check("landscape", &io)) >= 0) {
            free(csv_partial);
            return rc;
        }
    }

    cli_net cn;
    rc = cli_net_open("landscape", &na, &cn);
    if (rc >= 0) {
        free(csv_partial);
        return rc;
    }
    double t_start = cli_now();
    minima_model *model_b = NULL;
    double *dirs = NULL, *theta_r = NULL, *theta_c = NULL;
    minima_landscape before[MAX_KINDS], after[MAX_KINDS];
    memset(before, 0, sizeof before);
    memset(after, 0, sizeof after);
    dir_kind kinds[MAX_KINDS];
    size_t n_kinds = 0;
    double eig_b[MAX_KINDS][2], eig_a[MAX_KINDS][2];
    double loss_b_model = NAN, acc_b_model = NAN;
    char rescale_desc[256] = "";
    minima_status st = MINIMA_OK;
    const minima_model *m = cn.model;
    size_t P = m->n_params;
    int dims = two_d ? 2 : 1;

    if (kind == DIR_INTERP) {
        minima_load_options lop = minima_load_default_options();
        lop.ignore_unknown = na.ignore_unknown;
        lop.expected_inputs = (int)minima_model_n_inputs(m);
        /* the second model is the first one's kind: same activation option, same order */
        if ((rc = cli_load_model("landscape", dir_s, na.activation, na.order, lop, &model_b)) >= 0) goto done;
    }
    dirs = minima_alloc((size_t)dims * P, sizeof *dirs);
    if (!dirs) { rc = cli_fail("landscape", minima_error(MINIMA_ENOMEM, "out of memory")); goto done; }
    if (compare_s) {
        if (m->is_mlp && m->activation == MINIMA_ACT_TANH)
            fprintf(stderr, "minima landscape: warning: '%s' uses tanh: a rescaling changes its "
                    "function, the comparison compares two different networks\n", na.model_path);
        theta_r = minima_alloc(P, sizeof *theta_r);
        if (!theta_r) { rc = cli_fail("landscape", minima_error(MINIMA_ENOMEM, "out of memory")); goto done; }
        rc = parse_rescaling(compare_s, m, theta_r, rescale_desc, sizeof rescale_desc);
        if (rc >= 0) goto done;
        for (size_t i = 0; i < P; i++)
            if (!isfinite(theta_r[i])) {
                rc = cli_usage_error("landscape", "--compare-rescaled '%s' overflows parameter %zu", compare_s, i);
                goto done;
            }
        kinds[n_kinds++] = DIR_RANDOM;
        kinds[n_kinds++] = DIR_FILTER;
        if (kind == DIR_EIGEN) kinds[n_kinds++] = DIR_EIGEN;
    } else {
        kinds[n_kinds++] = kind;
    }

    const double *theta0 = m->theta;   /* the point the slices go through */
    if (canonical) {
        /* Both points to the minimum-norm representative of their orbit:
         * one point for the whole orbit, hence one picture. */
        theta_c = minima_alloc(P, sizeof *theta_c);
        if (!theta_c) { rc = cli_fail("landscape", minima_error(MINIMA_ENOMEM, "out of memory")); goto done; }
        if ((rc = canonical_point(m, m->theta, theta_c, "", json)) >= 0) goto done;
        if (compare_s && (rc = canonical_point(m, theta_r, theta_r, " of A theta", json)) >= 0) goto done;
        theta0 = theta_c;
    }
    if (!json)
        fprintf(stderr, "landscape of %s on %s (%zu examples, %zu parameters): %s %s slice%s, "
                "%zu points%s in [%g, %g]\n", na.model_path, na.source,
                minima_net_n_examples(cn.net), P,
                compare_s ? "random and filter-normalized" : kind_name(kind), dims == 2 ? "2-D" : "1-D",
                compare_s ? "s before and after rescaling" : "", points,
                dims == 2 ? " a side" : "", lo, hi);
    for (size_t k = 0; k < n_kinds; k++) {
        dir_spec ds = {&cn, kinds[k], bias, seed, dims, eig_tol, model_b};
        if ((st = make_dirs(&ds, theta0, dirs, eig_b[k])) != MINIMA_OK) { rc = cli_fail("landscape", st); goto done; }
        if (kinds[k] == DIR_EIGEN && !json)
            fprintf(stderr, "  top Hessian eigenvalue%s at theta: %.6g%s%.6g\n", dims == 2 ? "s" : "",
                    eig_b[k][0], dims == 2 ? ", " : "", dims == 2 ? eig_b[k][1] : 0.0);
        st = run_slice(&ds, theta0, dirs, lo, hi, points, &before[k]);
        if (st == MINIMA_OK && compare_s) {
            if ((st = make_dirs(&ds, theta_r, dirs, eig_a[k])) != MINIMA_OK) { rc = cli_fail("landscape", st); goto done; }
            st = run_slice(&ds, theta_r, dirs, lo, hi, points, &after[k]);
        }
        if (st == MINIMA_EINTERRUPTED) {
            rc = cli_fail("landscape", st);
            /* The points done go beside --csv, never over it: a good file from an
             * earlier run stays. */
            if (csv && !compare_s && before[0].loss) {
                const minima_landscape *one[1] = {&before[0]};
                if (minima_landscape_write_csv(csv_partial, one, NULL, 1) == MINIMA_OK)
                    fprintf(stderr, "wrote the %zu points done (the others are nan) to %s; "
                            "%s is unchanged\n", before[0].n_done, csv_partial, csv);
                else
                    fprintf(stderr, "minima landscape: %s\n", minima_last_error());
            }
            goto done;
        }
        if (st != MINIMA_OK) { rc = cli_fail("landscape", st); goto done; }
    }
    if (kind == DIR_INTERP &&
        (st = minima_net_loss(cn.net, model_b->theta, &loss_b_model, &acc_b_model)) != MINIMA_OK) {
        rc = cli_fail("landscape", st);
        goto done;
    }
    double seconds = cli_now() - t_start;

    /* ---- outputs ---- */
    const minima_landscape *bp[MAX_KINDS], *ap[MAX_KINDS];
    const char *names[2 * MAX_KINDS], *labels[MAX_KINDS];
    char name_buf[2 * MAX_KINDS][32];
    for (size_t k = 0; k < n_kinds; k++) {
        bp[k] = &before[k];
        ap[k] = &after[k];
        labels[k] = kind_label(kinds[k]);
    }
    char eig_label[96];
    for (size_t k = 0; k < n_kinds; k++)
        if (kinds[k] == DIR_EIGEN && compare_s && dims == 1) {
            /* The eigenvalue moves with the rescaling: say so in the row's title. */
            snprintf(eig_label, sizeof eig_label, "eigvec, λ#d1#u %.3g → %.3g", eig_b[k][0],
                     eig_a[k][0]);
            labels[k] = eig_label;
        }
    if (csv) {
        if (compare_s) {
            const minima_landscape *all[2 * MAX_KINDS];
            for (size_t k = 0; k < n_kinds; k++) {
                snprintf(name_buf[2 * k], sizeof name_buf[0], "%s_before", kind_name(kinds[k]));
                snprintf(name_buf[2 * k + 1], sizeof name_buf[0], "%s_after", kind_name(kinds[k]));
                names[2 * k] = name_buf[2 * k];
                names[2 * k + 1] = name_buf[2 * k + 1];
                all[2 * k] = bp[k];
                all[2 * k + 1] = ap[k];
            }
            st = minima_landscape_write_csv(csv, all, names, 2 * n_kinds);
        } else {
            st = minima_landscape_write_csv(csv, bp, NULL, 1);
        }
        if (st != MINIMA_OK) { rc = cli_fail("landscape", st); goto done; }
        if (!json) fprintf(stderr, "wrote %s\n", csv);
    }
    if (plot) {
        minima_landscape_plot_options po = minima_landscape_plot_default_options();
        po.log_loss = log_loss;
        po.clip_quantile = clip;
        char ttl[512], xl[256], yl[256];
        const char *what = compare_s ? rescale_desc
                         : kind == DIR_RANDOM ? (dims == 2 ? "random directions, ‖d‖ = ‖θ‖"
                                                           : "random direction, ‖d‖ = ‖θ‖")
                         : dims == 2 ? "filter-normalized directions" : "filter-normalized direction";
        if (kind == DIR_EIGEN && !compare_s)
            what = dims == 2 ? "top two Hessian eigenvectors" : "top Hessian eigenvector";
        if (kind == DIR_INTERP) what = "interpolation";
        const char *dname = base_name(na.source);
        if (compare_s)   /* the rescaling is the news; the data is in --json and on stderr */
            snprintf(ttl, sizeof ttl, "%s%s: %s", base_name(na.model_path),
                     canonical ? " (canonical)" : "", what);
        else
            snprintf(ttl, sizeof ttl, "%s, %s%s%zu examples: %s", base_name(na.model_path),
                     strlen(dname) <= 16 ? dname : "", strlen(dname) <= 16 ? " " : "",
                     minima_net_n_examples(cn.net), what);
        po.title = title ? title : ttl;
        if (kind == DIR_INTERP) {
            snprintf(xl, sizeof xl, "t:  θ(t) = (1 − t) θ#dA#u + t θ#dB#u");
            po.xlabel = xl;
            po.mark_x1 = 1.0;
            po.mark_label0 = "A";
            po.mark_label1 = "B";
        } else if (kind == DIR_EIGEN && !compare_s) {
            if (dims == 1) snprintf(xl, sizeof xl, "t:  θ + t v#d1#u,  λ#d1#u = %.4g", eig_b[0][0]);
            else {
                snprintf(xl, sizeof xl, "s along v#d1#u (λ#d1#u = %.4g)", eig_b[0][0]);
                snprintf(yl, sizeof yl, "t along v#d2#u (λ#d2#u = %.4g)", eig_b[0][1]);
                po.ylabel = yl;
            }
            po.xlabel = xl;
        } else if (dims == 1) {
            snprintf(xl, sizeof xl, "t:  θ + t d%s", compare_s ? "" : (kind == DIR_FILTER ? ", d filter-normalized" : ", d random, ‖d‖ = ‖θ‖"));
            po.xlabel = xl;
        }
        if (compare_s)
            st = minima_landscape_plot_compare(plot, bp, ap, labels, n_kinds, "θ",
                                               "A θ", &po);
        else
            st = minima_landscape_plot(plot, bp, NULL, 1, &po);
        if (st != MINIMA_OK) { rc = cli_fail("landscape", st); goto done; }
        if (!json) fprintf(stderr, "wrote %s\n", plot);
    }
    size_t n_points = 0;
    for (size_t k = 0; k < n_kinds; k++) n_points += before[k].n_done + after[k].n_done;
    if (!json) {
        const minima_landscape *b = &before[0];
        if (isnan(b->accuracy0)) fprintf(stderr, "  loss at theta %.10g (no labels: no accuracy)\n", b->loss0);
        else fprintf(stderr, "  loss at theta %.10g, accuracy %.4f\n", b->loss0, b->accuracy0);
        if (kind == DIR_INTERP)
            fprintf(stderr, "  loss at the second model %.10g, accuracy %.4f\n", loss_b_model, acc_b_model);
        for (size_t k = 0; k < n_kinds; k++) {
            size_t n = before[k].nx * before[k].ny, n_bad = 0;
            double lmin = INFINITY, lmax = -INFINITY;
            for (size_t i = 0; i < n; i++) {
                double v = before[k].loss[i];
                if (!isfinite(v)) { n_bad++; continue; }
                lmin = fmin(lmin, v);
                lmax = fmax(lmax, v);
            }
            fprintf(stderr, "  %-20s loss on the grid from %.6g to %.6g\n", kind_name(kinds[k]), lmin, lmax);
            if (n_bad)
                fprintf(stderr, "  warning: %zu grid points have no finite loss (the outputs overflow "
                        "there): choose a smaller --range\n", n_bad);
            if (compare_s) {
                double da, dr;
                minima_landscape_diff(&before[k], &after[k], &da, &dr);
                fprintf(stderr, "  %-20s after rescaling: loss at A theta %.10g; max |difference| "
                        "over the grid %.3g (%.3g relative)%s\n", kind_name(kinds[k]),
                        after[k].loss0, da, dr, dr <= 1e-9 ? "  -> the same slice" : "");
            }
        }
        fprintf(stderr, "%zu grid points x %zu examples in %.2f s (%.2f ms a point)\n", n_points,
                minima_net_n_examples(cn.net), seconds, n_points ? 1e3 * seconds / (double)n_points : 0.0);
    } else {
        printf("{\"direction\": ");
        json_string(stdout, compare_s ? "compare" : kind_name(kind));
        printf(", ");
        cli_json_model_source(stdout, cn.model);
        printf(", \"dims\": %d, \"n_params\": %zu, \"n_examples\": %zu, \"range\": [", dims, P,
               minima_net_n_examples(cn.net));
        json_number(stdout, lo);
        printf(", ");
        json_number(stdout, hi);
        printf("], \"points\": %zu, \"seed\": %llu, \"bias\": ", points, (unsigned long long)seed);
        json_string(stdout, bias_s);
        printf(", \"canonical\": %s", canonical ? "true" : "false");
        printf(", \"loss\": ");
        json_number(stdout, before[0].loss0);
        printf(", \"accuracy\": ");
        json_number(stdout, before[0].accuracy0);
        if (kind == DIR_INTERP) {
            printf(", \"loss_b\": ");
            json_number(stdout, loss_b_model);
            printf(", \"accuracy_b\": ");
            json_number(stdout, acc_b_model);
        }
        if (!compare_s) {
            if (kind == DIR_EIGEN) {
                printf(", \"eigenvalues\": ");
                json_array(eig_b[0], (size_t)dims);
            }
            printf(", \"grid\": ");
            json_grid(&before[0]);
        } else {
            printf(", \"rescaling\": ");
            json_string(stdout, rescale_desc);
            printf(", \"compare\": [");
            for (size_t k = 0; k < n_kinds; k++) {
                double da, dr;
                minima_landscape_diff(&before[k], &after[k], &da, &dr);
                printf("%s{\"direction\": ", k ? ", " : "");
                json_string(stdout, kind_name(kinds[k]));
                printf(", \"max_abs_diff\": ");
                json_number(stdout, da);
                printf(", \"max_rel_diff\": ");
                json_number(stdout, dr);
                if (kinds[k] == DIR_EIGEN) {
                    printf(", \"eigenvalues_before\": ");
                    json_array(eig_b[k], (size_t)dims);
                    printf(", \"eigenvalues_after\": ");
                    json_array(eig_a[k], (size_t)dims);
                }
                printf(", \"before\": ");
                json_grid(&before[k]);
                printf(", \"after\": ");
                json_grid(&after[k]);
                printf("}");
            }
            printf("]");
        }
        printf(", \"n_evaluations\": %zu, \"seconds\": ", n_points);
        json_number(stdout, seconds);
        printf("}\n");
    }
    rc = EXIT_OK;
done:
    for (size_t k = 0; k < MAX_KINDS; k++) {
        minima_landscape_free(&before[k]);
        minima_landscape_free(&after[k]);
    }
    minima_free(dirs);
    minima_free(theta_r);
    minima_free(theta_c);
    minima_model_free(model_b);
    cli_net_close(&cn);
    free(csv_partial);
    return rc;
}
