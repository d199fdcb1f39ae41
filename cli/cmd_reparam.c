/* cmd_reparam.c — `minima reparam radial|weightnorm|input`: changes of
 * coordinates that leave the function alone and move the Hessian (docs/reparam.md).
 * A thin client of reparam.h, net.h and eigen.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cli_output.h"
#include "cli_load.h"
#include "minima/alloc.h"
#include "minima/data.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/npy.h"
#include "minima/reference.h"
#include "minima/reparam.h"
#include "minima/safetensors.h"
#include "minima/symmetry.h"

int minima_cmd_reparam(int argc, char **argv);
extern const char minima_cmd_reparam_summary[];
const char minima_cmd_reparam_summary[] =
    "reparametrize (radial, weight norm, input representation) and see the Hessian move";

static const char usage_main[] =
    "usage: minima reparam radial|weightnorm|input [options]   (--help after each)\n\n"
    "  radial      the radial map of appendix A around a minimum, or several maps\n"
    "              that rank several minima by flatness in any order you ask\n"
    "  weightnorm  w = s v/||v||: the Hessian in v scales by 1/alpha^2 when v does\n"
    "  input       standardize or whiten the inputs and fold the map into the\n"
    "              first layer: same predictions, different input gradients and\n"
    "              parameter Hessian";


static size_t eig_max_products = 10000;     /* --max-products */

/* The k largest eigenvalues of op by Lanczos (values and residuals, k of each). */
static minima_status top_eigs(minima_linop *op, int k, double tol, uint64_t seed, double *vals,
                              double *res, size_t *n_products)
{
    minima_eigs_params p = minima_eigs_default_params();
    p.max_products = eig_max_products;
    p.k_top = k < (int)op->n ? k : (int)op->n;
    p.tol = tol;
    p.seed = seed;
    minima_eigs_result r;
    memset(&r, 0, sizeof r);
    minima_status st = minima_eigs(op, &p, &r);
    for (int i = 0; i < k; i++) {
        vals[i] = i < r.n_top ? r.top[i] : NAN;
        if (res) res[i] = i < r.n_top ? r.top_residual[i] : NAN;
    }
    if (n_products) *n_products += r.n_products;
    minima_eigs_result_free(&r);
    return st;
}

static void json_array(const double *v, int n)
{
    putchar('[');
    for (int i = 0; i < n; i++) { if (i) printf(", "); json_number(stdout, v[i]); }
    putchar(']');
}

/* ---- radial ------------------------------------------------------------ */

static const char usage_radial[] =
    "usage: minima reparam radial --model MODEL --data SRC [--center MODEL]\n"
    "                             [--rhat R] [--delta D] [--rho P] [--top K] [--json]\n"
    "       minima reparam radial --model MODEL --data SRC [--center MODEL] --fig5 A,B\n"
    "                             [--top K] [--json]\n"
    "       minima reparam radial --model M1,M2,... --data SRC [--order i,j,...]\n"
    "                             [--factor F] [--max-delta D] [--json]\n\n"
    "Appendix A of Dinh et al. (2017): eta = g^{-1}(theta) = c + psi(r)/r (theta - c),\n"
    "r = ||theta - c||, psi(r) = rho r/rhat inside rhat, linear up to delta, r beyond:\n"
    "a bijection that moves only the ball B(c, delta). In eta coordinates the Hessian\n"
    "at a critical point is J^T H J with J = dg/deta, which is (rhat/rho)^2 H inside\n"
    "rhat. One model: the top K eigenvalues of H at the model's parameters theta,\n"
    "and of the Hessian in eta around --center (default: the model itself; same\n"
    "architecture). Several models (minima of one architecture): their spectral\n"
    "norms in theta, then radial maps with disjoint balls chosen so that in eta the\n"
    "norms come out in --order (model indices, sharpest first; default: the reverse\n"
    "of the order in theta), consecutive ranks a --factor apart, and the measured\n"
    "norms in eta. --fig5 A,B uses the main text's Fig. 5 map instead,\n"
    "eta = c + (||theta - c||^2 + B)^A (theta - c) (B >= 0, A > -1/2), whose Hessian\n"
    "at the centre is B^{-2A} H. Eigenvalues by Lanczos (eigen.h). The formula drops\n"
    "sum_i dL/dtheta_i hess g_i, exact only where the gradient vanishes: ||grad|| is\n"
    "reported.";

typedef struct {
    minima_model *model;
    minima_net *net;
    minima_linop *hess;
    double grad_norm, loss, lambda;
} radial_min;

static int load_min(const char *cmd, const char *path, const cli_net_args *a,
                    const minima_dataset *data, radial_min *out)
{
    minima_status st;
    minima_load_options lo = minima_load_default_options();
    lo.ignore_unknown = a->ignore_unknown;
    lo.expected_inputs = data->d;
    int rc = cli_load_model(cmd, path, a->activation, a->order, lo, &out->model);
    if (rc >= 0) return rc;
    if ((st = minima_model_require_mlp(out->model, "the radial reparametrization (Dinh et al. "
                                       "Sec. 5.1, on layers)")) != MINIMA_OK)
        return cli_fail(cmd, st);
    if (out->model->widths[0] != data->d)
        return cli_usage_error(cmd, "model '%s' takes %d inputs, data has %d features", path,
                               out->model->widths[0], data->d);
    minima_net_params np = minima_net_default_params(out->model);
    if (a->loss_name && minima_loss_parse(a->loss_name, &np.loss) != MINIMA_OK)
        return cli_usage_error(cmd, "option --loss: expected ce or mse, found '%s'", a->loss_name);
    np.batch_size = a->batch;
    if ((st = minima_net_create(&out->net, out->model, data, &np)) != MINIMA_OK) return cli_fail(cmd, st);
    double *g = minima_alloc(out->model->n_params, sizeof *g);
    if (!g) return cli_fail(cmd, minima_error(MINIMA_ENOMEM, "out of memory"));
    st = minima_net_gradient(out->net, NULL, &out->loss, g);
    double s = 0;
    for (size_t i = 0; i < out->model->n_params; i++) s += g[i] * g[i];
    minima_free(g);
    out->grad_norm = sqrt(s);
    if (st != MINIMA_OK) return cli_fail(cmd, st);
    if ((st = minima_linop_hessian(&out->hess, out->net)) != MINIMA_OK) return cli_fail(cmd, st);
    return -1;
}

static void free_min(radial_min *m)
{
    minima_linop_free(m->hess);
    minima_net_free(m->net);
    minima_model_free(m->model);
}

static int same_arch(const minima_model *a, const minima_model *b)
{
    if (a->n_layers != b->n_layers || a->has_bias != b->has_bias) return 0;
    for (int k = 0; k <= a->n_layers; k++) if (a->widths[k] != b->widths[k]) return 0;
    return 1;
}

static int cmd_radial(int argc, char **argv)
{
    cli_net_args a = cli_net_default_args();
    const char *center_path = NULL, *order_s = NULL, *fig5_s = NULL;
    double rhat = 0.5, delta = 1.0, rho = 0.05, tol = 1e-8;
    int top = 1, json = 0;
    uint64_t seed = 0;
    minima_radial_plan_params pp = minima_radial_plan_default_params();
    const cli_option opts[] = {
        CLI_NET_OPTIONS_BUT_ORDER(a),           /* --order is this command's ranking */
        CLI_ORDER_OPTION("--layer-order", a.order),
        {"--center", OPT_STRING, &center_path, "model whose parameters are the centre (default: --model)", "MODEL"},
        {"--rhat", OPT_DOUBLE, &rhat, "radius rhat, 0 < rhat < delta", "R", CLI_OPEN(0, 1e100)},
        {"--delta", OPT_DOUBLE, &delta, "radius of the ball that moves", "D", CLI_OPEN(0, 1e100)},
        {"--rho", OPT_DOUBLE, &rho, "image radius of rhat, 0 < rho < delta", "P", CLI_OPEN(0, 1e100)},
        {"--fig5", OPT_STRING, &fig5_s, "one model: the Fig. 5 map with exponent A and offset B", "A,B"},
        {"--top", OPT_INT, &top, "eigenvalues to compute (one model)", "K", CLI_IN(1, 10000)},
        {"--order", OPT_STRING, &order_s, "several models: indices, sharpest first in eta", "i,j,..."},
        {"--factor", OPT_DOUBLE, &pp.factor, "several models: ratio of consecutive norms in eta", "F", CLI_OPEN(1, 1e6)},
        {"--max-delta", OPT_DOUBLE, &pp.max_delta, "several models: largest ball radius", "D", CLI_OPEN(0, 1e100)},
        {"--tol", OPT_DOUBLE, &tol, "Lanczos relative residual tolerance", "X", CLI_OPEN(0, 1)},
        {"--max-products", OPT_SIZE, &eig_max_products, "Lanczos fails (exit 1) after N products", "N", CLI_IN(1, 1e9)},
        {"--seed", OPT_U64, &seed, "Lanczos start vector seed", "S", CLI_ANY},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("reparam radial", usage_radial, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (!a.model_path) return cli_usage_error("reparam radial", "--model MODEL is required");
    if (!a.source) return cli_usage_error("reparam radial", "--data SRC is required");
    if (top < 1) return cli_usage_error("reparam radial", "option --top: expected >= 1, found %d", top);
    /* split the model list */
    int m = 1;
    for (const char *c = a.model_path; *c; c++) m += *c == ',';
    char *paths_buf = minima_strdup(a.model_path);
    char **paths = calloc((size_t)m, sizeof *paths);
    radial_min *mins = calloc((size_t)m, sizeof *mins);
    int *order = calloc((size_t)m, sizeof *order);
    double *vals = calloc((size_t)top * 2 + (size_t)m * 3, sizeof *vals);
    minima_radial *maps = calloc((size_t)m, sizeof *maps);
    const double **centers = calloc((size_t)m, sizeof *centers);
    minima_dataset *data = NULL;
    minima_model *center = NULL;
    minima_linop *he = NULL;
    double *eta = NULL;
    minima_status st;
    if (!paths_buf || !paths || !mins || !order || !vals || !maps || !centers) {
        rc = cli_fail("reparam radial", minima_error(MINIMA_ENOMEM, "out of memory"));
        goto done;
    }
    {
        char *save = NULL, *tok = strtok_r(paths_buf, ",", &save);
        for (int i = 0; i < m; i++, tok = strtok_r(NULL, ",", &save)) {
            if (!tok) { rc = cli_usage_error("reparam radial", "option --model: empty name in '%s'", a.model_path); goto done; }
            paths[i] = tok;
        }
    }
    minima_data_options dopt = minima_data_default_options();
    dopt.labels_path = a.labels;
    dopt.subset = a.subset;
    dopt.seed = a.data_seed;
    if ((rc = cli_data_limit("reparam radial", a.max_data_bytes, &dopt.max_bytes)) >= 0) goto done;
    if ((st = minima_data_load(a.source, &dopt, &data)) != MINIMA_OK) { rc = cli_fail("reparam radial", st); goto done; }
    for (int i = 0; i < m; i++) {
        if ((rc = load_min("reparam radial", paths[i], &a, data, &mins[i])) >= 0) goto done;
        if (i > 0 && !same_arch(mins[0].model, mins[i].model)) {
            rc = cli_usage_error("reparam radial", "models '%s' and '%s' differ in architecture",
                                 paths[0], paths[i]);
            goto done;
        }
    }
    size_t P = mins[0].model->n_params, nprod = 0;
    if (m == 1) {
        /* one model: H at theta, and J H J in eta around the centre */
        const double *c = mins[0].model->theta;
        if (center_path) {
            minima_load_options lo = minima_load_default_options();
            lo.ignore_unknown = a.ignore_unknown;
            lo.expected_inputs = mins[0].model->widths[0];
            if ((rc = cli_load_model("reparam radial", center_path, a.activation, a.order, lo, &center)) >= 0) goto done;
            if (!same_arch(center, mins[0].model)) {
                rc = cli_usage_error("reparam radial", "--center '%s' and --model '%s' differ in architecture",
                                     center_path, paths[0]);
                goto done;
            }
            c = center->theta;
        }
        double r = 0;
        for (size_t i = 0; i < P; i++) r += (mins[0].model->theta[i] - c[i]) * (mins[0].model->theta[i] - c[i]);
        r = sqrt(r);
        const char *region = r <= rhat ? "inside rhat" : r <= delta ? "annulus" : "outside delta";
        double pred = (rhat / rho) * (rhat / rho), fa = NAN, fb = NAN;
        int pred_valid = r <= rhat;
        if (fig5_s) {
            double *ab = NULL;
            cli_range any = CLI_ANY;
            int nab = cli_parse_list("reparam radial", "--fig5", fig5_s, any, &ab);
            if (nab < 0) { rc = EXIT_USAGE; goto done; }
            if (nab != 2) {
                free(ab);
                rc = cli_usage_error("reparam radial", "option --fig5: expected A,B, found '%s'", fig5_s);
                goto done;
            }
            minima_powradial pm = {c, ab[0], ab[1]};
            free(ab);
            if ((st = minima_powradial_hessian(&he, mins[0].hess, &pm, mins[0].model->theta)) != MINIMA_OK) {
                rc = cli_fail("reparam radial", st);
                goto done;
            }
            region = r == 0 ? "centre (Fig. 5 map)" : "off centre (Fig. 5 map)";
            pred = pow(pm.b, -2 * pm.a);
            pred_valid = r == 0;
            fa = pm.a;
            fb = pm.b;
        } else {
            minima_radial map = {c, rhat, delta, rho};
            minima_radial_set set = {P, 1, &map};
            if ((st = minima_radial_check(&set)) != MINIMA_OK) { rc = cli_fail("reparam radial", st); goto done; }
            if (!(eta = minima_alloc(P, sizeof *eta))) { rc = cli_fail("reparam radial", minima_error(MINIMA_ENOMEM, "out of memory")); goto done; }
            minima_radial_to_eta(&set, mins[0].model->theta, eta);
            if ((st = minima_radial_hessian(&he, mins[0].hess, &set, eta)) != MINIMA_OK) { rc = cli_fail("reparam radial", st); goto done; }
        }
        double *lt = vals, *le = vals + top;
        minima_status s1 = top_eigs(mins[0].hess, top, tol, seed, lt, NULL, &nprod);
        minima_status s2 = top_eigs(he, top, tol, seed, le, NULL, &nprod);
        if (s1 != MINIMA_OK || s2 != MINIMA_OK) rc = cli_fail("reparam radial", s1 != MINIMA_OK ? s1 : s2);
        if (json) {
            printf("{\"model\": ");
            json_string(stdout, paths[0]);
            printf(", ");
            cli_json_model_source(stdout, mins[0].model);
            printf(", \"n_params\": %zu, \"loss\": ", P);
            json_number(stdout, mins[0].loss);
            printf(", \"grad_norm\": ");
            json_number(stdout, mins[0].grad_norm);
            if (fig5_s) {
                printf(", \"map\": \"fig5\", \"a\": "); json_number(stdout, fa);
                printf(", \"b\": "); json_number(stdout, fb);
            } else {
                printf(", \"map\": \"radial\", \"rhat\": "); json_number(stdout, rhat);
                printf(", \"delta\": "); json_number(stdout, delta);
                printf(", \"rho\": "); json_number(stdout, rho);
            }
            printf(", \"distance\": "); json_number(stdout, r);
            printf(", \"region\": "); json_string(stdout, region);
            printf(", \"top_theta\": "); json_array(lt, top);
            printf(", \"top_eta\": "); json_array(le, top);
            printf(", \"ratio\": "); json_number(stdout, le[0] / lt[0]);
            printf(", \"predicted_ratio\": ");
            json_number(stdout, pred_valid ? pred : NAN);
            printf(", \"n_hvp\": %zu}\n", nprod);
        } else {
            fprintf(stderr, "model        %s (%zu parameters), loss %.10g, ||grad|| %.3g\n", paths[0], P,
                    mins[0].loss, mins[0].grad_norm);
            if (fig5_s)
                fprintf(stderr, "Fig. 5 map   a %g, b %g; theta is %.4g from the centre (%s)\n", fa, fb, r, region);
            else
                fprintf(stderr, "radial map   rhat %g, delta %g, rho %g; theta is %.4g from the centre (%s)\n",
                        rhat, delta, rho, r, region);
            for (int i = 0; i < top; i++)
                fprintf(stderr, "lambda_%d     theta %.10g   eta %.10g   ratio %.6g\n", i + 1, lt[i], le[i],
                        le[i] / lt[i]);
            if (pred_valid)
                fprintf(stderr, "predicted    ratio %s = %.6g\n", fig5_s ? "b^(-2a)" : "(rhat/rho)^2", pred);
            if (mins[0].grad_norm > 1e-6)
                fprintf(stderr, "note         theta is not a critical point (||grad|| = %.3g): the eta "
                        "Hessian shown omits the gradient term\n", mins[0].grad_norm);
        }
        if (rc < 0) rc = EXIT_OK;
        goto done;
    }
    /* several minima: plan radial maps that rank them in the requested order */
    double *lam = vals + 2 * top, *pred = lam + m, *meas = pred + m;
    for (int i = 0; i < m; i++) {
        if ((st = top_eigs(mins[i].hess, 1, tol, seed, &lam[i], NULL, &nprod)) != MINIMA_OK) {
            rc = cli_fail("reparam radial", st);
            goto done;
        }
        centers[i] = mins[i].model->theta;
    }
    if (order_s) {
        double *ov = NULL;
        cli_range idx = CLI_IN(0, m - 1);
        int no = cli_parse_list("reparam radial", "--order", order_s, idx, &ov);
        if (no < 0) { rc = EXIT_USAGE; goto done; }
        for (int i = 0; i < no; i++)
            if (ov[i] != floor(ov[i])) no = -1;     /* an index is a whole number */
        if (no != m) {
            free(ov);
            rc = cli_usage_error("reparam radial", "option --order: expected %d model indices, found '%s'", m, order_s);
            goto done;
        }
        for (int i = 0; i < m; i++) order[i] = (int)ov[i];
        free(ov);
    } else {
        /* the reverse of the ranking in theta: flattest first becomes sharpest */
        for (int i = 0; i < m; i++) order[i] = i;
        for (int i = 0; i < m; i++)
            for (int j = i + 1; j < m; j++)
                if (lam[order[j]] < lam[order[i]]) { int t = order[i]; order[i] = order[j]; order[j] = t; }
    }
    if ((st = minima_radial_plan(P, m, centers, lam, order, &pp, maps, pred)) != MINIMA_OK) {
        rc = cli_fail("reparam radial", st);
        goto done;
    }
    minima_radial_set set = {P, m, maps};
    if ((st = minima_radial_check(&set)) != MINIMA_OK) { rc = cli_fail("reparam radial", st); goto done; }
    for (int i = 0; i < m; i++) {
        /* each centre is its own image: eta_i = theta_i */
        if ((st = minima_radial_hessian(&he, mins[i].hess, &set, centers[i])) != MINIMA_OK ||
            (st = top_eigs(he, 1, tol, seed, &meas[i], NULL, &nprod)) != MINIMA_OK) {
            rc = cli_fail("reparam radial", st);
            goto done;
        }
        minima_linop_free(he);
        he = NULL;
    }
    int ordered = 1;
    for (int j = 1; j < m; j++) ordered &= meas[order[j]] < meas[order[j - 1]];
    if (json) {
        printf("{\"n_params\": %zu, \"factor\": ", P);
        json_number(stdout, pp.factor);
        printf(", \"order\": [");
        for (int i = 0; i < m; i++) printf(i ? ", %d" : "%d", order[i]);
        printf("], \"minima\": [");
        for (int i = 0; i < m; i++) {
            printf(i ? ", {\"model\": " : "{\"model\": ");
            json_string(stdout, paths[i]);
            printf(", ");
            cli_json_model_source(stdout, mins[i].model);
            printf(", \"loss\": "); json_number(stdout, mins[i].loss);
            printf(", \"grad_norm\": "); json_number(stdout, mins[i].grad_norm);
            printf(", \"top_theta\": "); json_number(stdout, lam[i]);
            printf(", \"rhat\": "); json_number(stdout, maps[i].rhat);
            printf(", \"rho\": "); json_number(stdout, maps[i].rho);
            printf(", \"delta\": "); json_number(stdout, maps[i].delta);
            printf(", \"predicted_eta\": "); json_number(stdout, pred[i]);
            printf(", \"top_eta\": "); json_number(stdout, meas[i]);
            printf("}");
        }
        printf("], \"ordered\": %s, \"n_hvp\": %zu}\n", ordered ? "true" : "false", nprod);
    } else {
        fprintf(stderr, "%-3s %-30s %14s %12s %12s %12s %14s %14s\n", "#", "model", "lambda theta",
                "rhat", "rho", "delta", "predicted eta", "lambda eta");
        for (int i = 0; i < m; i++)
            fprintf(stderr, "%-3d %-30.30s %14.6g %12.4g %12.4g %12.4g %14.6g %14.6g\n", i, paths[i],
                    lam[i], maps[i].rhat, maps[i].rho, maps[i].delta, pred[i], meas[i]);
        fprintf(stderr, "requested order (sharpest first):");
        for (int i = 0; i < m; i++) fprintf(stderr, " %d", order[i]);
        fprintf(stderr, " — %s\n", ordered ? "obtained" : "NOT obtained");
    }
    rc = ordered ? EXIT_OK : EXIT_COMPUTE;
done:
    minima_linop_free(he);
    for (int i = 0; mins && i < m; i++) free_min(&mins[i]);
    minima_model_free(center);
    minima_dataset_free(data);
    minima_free(eta);
    minima_free(paths_buf);
    free(paths); free(mins); free(order); free(vals); free(maps); free(centers);
    return rc;
}

/* ---- weightnorm --------------------------------------------------------- */

static const char usage_wn[] =
    "usage: minima reparam weightnorm --model MODEL --data SRC [--scales a1,a2,...]\n"
    "                                 [--tol X] [--json]\n\n"
    "Weight normalization w = s v/||v|| for every output unit of every layer. The\n"
    "same network has coordinates xi = (v, s, b) with ||v_i|| = alpha for any\n"
    "alpha > 0. For each alpha in --scales this reports the largest eigenvalue of\n"
    "the Hessian in xi and of its v-block (J^T H J, exact at a critical point):\n"
    "the v-block's scales by 1/alpha^2, so alpha^2 lambda_v stays constant while\n"
    "the function and the loss do not change. Eigenvalues by Lanczos.";

static int cmd_weightnorm(int argc, char **argv)
{
    cli_net_args a = cli_net_default_args();
    const char *scales_s = "0.1,1,10";
    double tol = 1e-8;
    int json = 0;
    uint64_t seed = 0;
    const cli_option opts[] = {
        CLI_NET_OPTIONS(a),
        {"--scales", OPT_STRING, &scales_s, "norms alpha of v, comma-separated", "a1,a2,..."},
        {"--tol", OPT_DOUBLE, &tol, "Lanczos relative residual tolerance", "X", CLI_OPEN(0, 1)},
        {"--max-products", OPT_SIZE, &eig_max_products, "Lanczos fails (exit 1) after N products", "N", CLI_IN(1, 1e9)},
        {"--seed", OPT_U64, &seed, "Lanczos start vector seed", "S", CLI_ANY},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("reparam weightnorm", usage_wn, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    double *scales = NULL;
    cli_range positive = CLI_LO_OPEN(0, 1e100);
    int ns = cli_parse_list("reparam weightnorm", "--scales", scales_s, positive, &scales);
    if (ns < 0) return EXIT_USAGE;
    for (int i = 0; i < ns; i++)
        if (!(scales[i] > 0)) {
            double bad = scales[i];
            free(scales);
            return cli_usage_error("reparam weightnorm", "option --scales: %g is not > 0", bad);
        }
    cli_net cn;
    if ((rc = cli_net_open("reparam weightnorm", &a, &cn)) >= 0) { free(scales); return rc; }
    minima_status st;
    if ((st = minima_model_require_mlp(cn.model, "weight normalization (per row of a layer)"))
        != MINIMA_OK) {
        free(scales);
        rc = cli_fail("reparam weightnorm", st);
        cli_net_close(&cn);
        return rc;
    }
    minima_linop *H = NULL, *Hx = NULL, *Hv = NULL;
    double *xi = NULL, *res = calloc((size_t)ns * 2 + 1, sizeof *res);
    size_t *vidx = NULL, nv = 0, nprod = 0;
    size_t nx = minima_wn_n_params(cn.model);
    double loss = NAN;
    if (!res || !(xi = minima_alloc(nx, sizeof *xi))) { rc = cli_fail("reparam weightnorm", minima_error(MINIMA_ENOMEM, "out of memory")); goto done; }
    if ((st = minima_net_loss(cn.net, NULL, &loss, NULL)) != MINIMA_OK ||
        (st = minima_linop_hessian(&H, cn.net)) != MINIMA_OK ||
        (st = minima_wn_v_index(cn.model, &vidx, &nv)) != MINIMA_OK ||
        (st = top_eigs(H, 1, tol, seed, &res[2 * ns], NULL, &nprod)) != MINIMA_OK) {
        rc = cli_fail("reparam weightnorm", st);
        goto done;
    }
    for (int i = 0; i < ns; i++) {
        if ((st = minima_wn_from_theta(cn.model, NULL, scales[i], xi)) != MINIMA_OK ||
            (st = minima_wn_hessian(&Hx, H, cn.model, xi)) != MINIMA_OK ||
            (st = minima_linop_subset(&Hv, Hx, vidx, nv)) != MINIMA_OK ||
            (st = top_eigs(Hx, 1, tol, seed, &res[2 * i], NULL, &nprod)) != MINIMA_OK ||
            (st = top_eigs(Hv, 1, tol, seed, &res[2 * i + 1], NULL, &nprod)) != MINIMA_OK) {
            rc = cli_fail("reparam weightnorm", st);
            goto done;
        }
        minima_linop_free(Hv);
        minima_linop_free(Hx);
        Hv = Hx = NULL;
    }
    if (json) {
        printf("{\"model\": ");
        json_string(stdout, a.model_path);
        printf(", ");
        cli_json_model_source(stdout, cn.model);
        printf(", \"n_params\": %zu, \"n_xi\": %zu, \"loss\": ", cn.model->n_params, nx);
        json_number(stdout, loss);
        printf(", \"top_theta\": ");
        json_number(stdout, res[2 * ns]);
        printf(", \"scales\": [");
        for (int i = 0; i < ns; i++) {
            printf(i ? ", {\"v_scale\": " : "{\"v_scale\": ");
            json_number(stdout, scales[i]);
            printf(", \"top_xi\": "); json_number(stdout, res[2 * i]);
            printf(", \"top_v\": "); json_number(stdout, res[2 * i + 1]);
            printf(", \"top_v_times_scale2\": ");
            json_number(stdout, res[2 * i + 1] * scales[i] * scales[i]);
            printf("}");
        }
        printf("], \"n_hvp\": %zu}\n", nprod);
    } else {
        fprintf(stderr, "model %s, loss %.10g, lambda_max(H_theta) = %.10g\n", a.model_path, loss, res[2 * ns]);
        fprintf(stderr, "%12s %16s %16s %20s\n", "||v||", "lambda_max(xi)", "lambda_max(v)", "alpha^2 lambda(v)");
        for (int i = 0; i < ns; i++)
            fprintf(stderr, "%12g %16.10g %16.10g %20.10g\n", scales[i], res[2 * i], res[2 * i + 1],
                    res[2 * i + 1] * scales[i] * scales[i]);
    }
    rc = EXIT_OK;
done:
    minima_linop_free(Hv);
    minima_linop_free(Hx);
    minima_linop_free(H);
    minima_free(vidx);
    minima_free(xi);
    free(res);
    free(scales);
    cli_net_close(&cn);
    return rc;
}

/* ---- input ---------------------------------------------------------------- */

static const char usage_input[] =
    "usage: minima reparam input --model MODEL --data SRC [--method standardize|whiten|zca|pca]\n"
    "                            [--ridge E] [--add-bias] --out MODEL [--out-data U.npy]\n"
    "                            [--top K] [--json]\n\n"
    "Fits x = A u + mu on the data (standardize: A = diag(std); whiten = zca:\n"
    "A = Sigma^{1/2}; pca: A = Q Lambda^{1/2}; eigenvalues/variances + ridge) and\n"
    "writes the model that computes on u = A^{-1}(x - mu) exactly what MODEL\n"
    "computes on x: W_1' = W_1 A, b_1' = b_1 + W_1 mu. A model without biases\n"
    "cannot absorb the mean: --add-bias gives it zero biases on every layer (the\n"
    "first then holds W_1 mu), otherwise it is an error. Reports the largest\n"
    "difference of predictions (it should be rounding), the loss in both, the\n"
    "input-gradient norms ||df/dx||_F per example (mean and max) in both\n"
    "representations, and with --top K > 0 the top eigenvalues of the parameter\n"
    "Hessian in both (Lanczos): same function, different sharpness\n"
    "(docs/reparam.md).\n"
    "--out-data writes u as a float64 .npy file (labels are unchanged).";

static int cmd_input(int argc, char **argv)
{
    cli_net_args a = cli_net_default_args();
    const char *method_s = "standardize", *out_path = NULL, *out_data = NULL;
    minima_input_params ip = minima_input_default_params();
    int add_bias = 0, top = 1, json = 0;
    double tol = 1e-8;
    uint64_t seed = 0;
    const cli_option opts[] = {
        CLI_NET_OPTIONS(a),
        {"--method", OPT_STRING, &method_s, "standardize, whiten (= zca), zca or pca", "M"},
        {"--ridge", OPT_DOUBLE, &ip.ridge, "added to variances / covariance eigenvalues", "E", CLI_IN(0, 1e100)},
        {"--add-bias", OPT_FLAG, &add_bias, "give a bias-free model biases to absorb the mean", NULL},
        {"--out", OPT_STRING, &out_path, "where to write the folded model", "MODEL"},
        {"--out-data", OPT_STRING, &out_data, "write the transformed inputs u as .npy", "FILE"},
        {"--top", OPT_INT, &top, "Hessian eigenvalues to compare (0: none)", "K", CLI_IN(0, 10000)},
        {"--tol", OPT_DOUBLE, &tol, "Lanczos relative residual tolerance", "X", CLI_OPEN(0, 1)},
        {"--max-products", OPT_SIZE, &eig_max_products, "Lanczos fails (exit 1) after N products", "N", CLI_IN(1, 1e9)},
        {"--seed", OPT_U64, &seed, "Lanczos start vector seed", "S", CLI_ANY},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("reparam input", usage_input, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (minima_input_method_parse(method_s, &ip.method) != MINIMA_OK)
        return cli_usage_error("reparam input", "option --method: expected standardize, whiten, zca "
                               "or pca, found '%s'", method_s);
    if (!out_path) return cli_usage_error("reparam input", "--out MODEL is required");
    if (top < 0) return cli_usage_error("reparam input", "option --top: expected >= 0, found %d", top);
    {
        cli_files io = {0};
        cli_files_input(&io, "--model", a.model_path);
        cli_files_input(&io, "--data", a.source);
        cli_files_input(&io, "--labels", a.labels);
        cli_files_output(&io, "--out", out_path, CLI_OUT_FILE);
        cli_files_output(&io, "--out-data", out_data, CLI_OUT_FILE);
        if ((rc = cli_files_check("reparam input", &io)) >= 0) return rc;
    }
    cli_net cn;
    if ((rc = cli_net_open("reparam input", &a, &cn)) >= 0) return rc;
    {
        minima_status req = minima_model_require_mlp(cn.model, "folding an input transform "
                                                     "into the first layer");
        if (req != MINIMA_OK) {
            rc = cli_fail("reparam input", req);
            cli_net_close(&cn);
            return rc;
        }
    }
    minima_input_transform *t = NULL;
    minima_model *folded = NULL;
    minima_dataset *du = NULL;
    minima_net *net2 = NULL;
    minima_linop *H1 = NULL, *H2 = NULL;
    double *o1 = NULL, *o2 = NULL, *g1 = NULL, *g2 = NULL, *ev = NULL;
    minima_status st;
    const minima_dataset *d = cn.data;
    size_t N = d->n, dK = (size_t)cn.model->widths[cn.model->n_layers], nprod = 0;
    if ((st = minima_input_fit(d, &ip, &t)) != MINIMA_OK) { rc = cli_fail("reparam input", st); goto done; }
    if ((st = minima_input_fold(t, cn.model, add_bias, &folded)) != MINIMA_OK) { rc = cli_fail("reparam input", st); goto done; }
    if ((st = minima_dataset_create(&du, N, d->d, d->n_classes, d->d_target)) != MINIMA_OK) { rc = cli_fail("reparam input", st); goto done; }
    if ((st = minima_input_apply(t, d->x, N, du->x)) != MINIMA_OK) { rc = cli_fail("reparam input", st); goto done; }
    if (d->labels) memcpy(du->labels, d->labels, N * sizeof *du->labels);
    if (d->targets) memcpy(du->targets, d->targets, N * (size_t)d->d_target * sizeof *du->targets);
    o1 = minima_alloc(N * dK, sizeof *o1);
    o2 = minima_alloc(N * dK, sizeof *o2);
    g1 = minima_alloc(N, sizeof *g1);
    g2 = minima_alloc(N, sizeof *g2);
    ev = calloc(2 * (size_t)(top > 0 ? top : 1), sizeof *ev);
    if (!o1 || !o2 || !g1 || !g2 || !ev) { rc = cli_fail("reparam input", minima_error(MINIMA_ENOMEM, "out of memory")); goto done; }
    if ((st = minima_reference_forward(cn.model, NULL, d->x, N, o1)) != MINIMA_OK ||
        (st = minima_reference_forward(folded, NULL, du->x, N, o2)) != MINIMA_OK ||
        (st = minima_input_gradient_norms(cn.model, d->x, N, g1)) != MINIMA_OK ||
        (st = minima_input_gradient_norms(folded, du->x, N, g2)) != MINIMA_OK) {
        rc = cli_fail("reparam input", st);
        goto done;
    }
    double maxdiff = 0, maxout = 0, m1 = 0, m2 = 0, x1 = 0, x2 = 0;
    for (size_t i = 0; i < N * dK; i++) {
        maxdiff = fmax(maxdiff, fabs(o1[i] - o2[i]));
        maxout = fmax(maxout, fabs(o1[i]));
    }
    for (size_t i = 0; i < N; i++) {
        m1 += g1[i] / (double)N;
        m2 += g2[i] / (double)N;
        x1 = fmax(x1, g1[i]);
        x2 = fmax(x2, g2[i]);
    }
    minima_net_params np = minima_net_default_params(cn.model);
    np.loss = minima_net_loss_kind(cn.net);
    np.batch_size = a.batch;
    double l1 = NAN, l2 = NAN;
    if ((st = minima_net_create(&net2, folded, du, &np)) != MINIMA_OK ||
        (st = minima_net_loss(cn.net, NULL, &l1, NULL)) != MINIMA_OK ||
        (st = minima_net_loss(net2, NULL, &l2, NULL)) != MINIMA_OK) {
        rc = cli_fail("reparam input", st);
        goto done;
    }
    if (top > 0) {
        if ((st = minima_linop_hessian(&H1, cn.net)) != MINIMA_OK ||
            (st = minima_linop_hessian(&H2, net2)) != MINIMA_OK ||
            (st = top_eigs(H1, top, tol, seed, ev, NULL, &nprod)) != MINIMA_OK ||
            (st = top_eigs(H2, top, tol, seed, ev + top, NULL, &nprod)) != MINIMA_OK) {
            rc = cli_fail("reparam input", st);
            goto done;
        }
    }
    if ((st = minima_model_save(folded, out_path, MINIMA_DTYPE_F64)) != MINIMA_OK) { rc = cli_fail("reparam input", st); goto done; }
    if (out_data) {
        size_t shape[2] = {N, (size_t)d->d};
        if ((st = minima_npy_write(out_data, 2, shape, du->x)) != MINIMA_OK) { rc = cli_fail("reparam input", st); goto done; }
    }
    double rel = maxout > 0 ? maxdiff / maxout : maxdiff;
    if (json) {
        printf("{\"model\": ");
        json_string(stdout, a.model_path);
        printf(", ");
        cli_json_model_source(stdout, cn.model);
        printf(", \"out\": ");
        json_string(stdout, out_path);
        printf(", \"method\": ");
        json_string(stdout, minima_input_method_name(ip.method));
        printf(", \"ridge\": "); json_number(stdout, ip.ridge);
        printf(", \"bias_added\": %s", folded->has_bias && !cn.model->has_bias ? "true" : "false");
        printf(", \"n_examples\": %zu, \"max_abs_diff\": ", N);
        json_number(stdout, maxdiff);
        printf(", \"rel_diff\": "); json_number(stdout, rel);
        printf(", \"loss_x\": "); json_number(stdout, l1);
        printf(", \"loss_u\": "); json_number(stdout, l2);
        printf(", \"input_grad_mean_x\": "); json_number(stdout, m1);
        printf(", \"input_grad_mean_u\": "); json_number(stdout, m2);
        printf(", \"input_grad_max_x\": "); json_number(stdout, x1);
        printf(", \"input_grad_max_u\": "); json_number(stdout, x2);
        if (top > 0) {
            printf(", \"top_x\": "); json_array(ev, top);
            printf(", \"top_u\": "); json_array(ev + top, top);
        }
        printf(", \"n_hvp\": %zu}\n", nprod);
    } else {
        fprintf(stderr, "folded      %s -> %s (%s, ridge %g%s)\n", a.model_path, out_path,
                minima_input_method_name(ip.method), ip.ridge,
                folded->has_bias && !cn.model->has_bias ? ", biases added" : "");
        fprintf(stderr, "predictions max |f(x) - f'(u)| = %.3g (relative %.3g) over %zu examples\n", maxdiff, rel, N);
        fprintf(stderr, "loss        x: %.15g   u: %.15g\n", l1, l2);
        fprintf(stderr, "||df/dx||_F mean %.6g max %.6g   ||df/du||_F mean %.6g max %.6g\n", m1, x1, m2, x2);
        for (int i = 0; i < top; i++)
            fprintf(stderr, "lambda_%d    x: %.10g   u: %.10g\n", i + 1, ev[i], ev[top + i]);
    }
    rc = EXIT_OK;
done:
    minima_linop_free(H1);
    minima_linop_free(H2);
    minima_net_free(net2);
    minima_dataset_free(du);
    minima_model_free(folded);
    minima_input_transform_free(t);
    minima_free(o1); minima_free(o2); minima_free(g1); minima_free(g2);
    free(ev);
    cli_net_close(&cn);
    return rc;
}

int minima_cmd_reparam(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("%s\n", usage_main);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "radial")) return cmd_radial(argc - 1, argv + 1);
    if (!strcmp(argv[1], "weightnorm")) return cmd_weightnorm(argc - 1, argv + 1);
    if (!strcmp(argv[1], "input")) return cmd_input(argc - 1, argv + 1);
    return cli_usage_error("reparam", "unknown kind '%s': expected radial, weightnorm or input", argv[1]);
}
