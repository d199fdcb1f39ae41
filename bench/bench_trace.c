/* bench_trace.c — products each trace estimator needs on a real network's
 * Hessian (or Gauss-Newton matrix), over several seeds.
 *
 *   build/bench_trace --model M.safetensors [--subset 2000] [--layers SPEC]
 *                     [--ggn] [--rtol 1e-2] [--seeds 5] [--max 4000]
 *                     [--methods hutchinson,hutch++,xtrace] [--exact]
 *                     [--ref TRACE] [--dense] [--fixed PRODUCTS]
 *
 * For each method and seed (seeds 1..S) runs the adaptive estimator to
 * --rtol (at most --max probes or test vectors) and prints the products it
 * took, the estimate, its standard error and, when a reference is known
 * (--exact: the exact trace by n products first; --ref: a given value), the
 * actual relative error, and per method the rms relative error and how
 * often the error is within 2 standard errors. --fixed P: a fixed budget of
 * P products instead (hutch++: P/3 sketch, P/3 probes; xtrace: P/2 test
 * vectors). --dense: copy the operator into a dense matrix first (n
 * products; implies --exact) and run the estimators on the copy, so that
 * many seeds cost nothing. The data is the first --subset Fashion-MNIST
 * training images. Keep runs short on shared machines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/data.h"
#include "minima/linop.h"
#include "minima/net.h"
#include "minima/safetensors.h"
#include "minima/trace.h"

static void die(const char *what)
{
    fprintf(stderr, "bench_trace: %s: %s\n", what, minima_last_error());
    exit(1);
}

int main(int argc, char **argv)
{
    const char *model = NULL, *layers = NULL, *methods = "hutchinson,hutch++,xtrace";
    size_t subset = 2000, max = 4000;
    int seeds = 5, ggn = 0, exact = 0, have_ref = 0, dense = 0;
    size_t fixed = 0;
    double rtol = 1e-2, ref = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--subset") && i + 1 < argc) subset = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--layers") && i + 1 < argc) layers = argv[++i];
        else if (!strcmp(argv[i], "--ggn")) ggn = 1;
        else if (!strcmp(argv[i], "--exact")) exact = 1;
        else if (!strcmp(argv[i], "--dense")) dense = exact = 1;
        else if (!strcmp(argv[i], "--fixed") && i + 1 < argc) fixed = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--rtol") && i + 1 < argc) rtol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) seeds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max") && i + 1 < argc) max = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--methods") && i + 1 < argc) methods = argv[++i];
        else if (!strcmp(argv[i], "--ref") && i + 1 < argc) { ref = atof(argv[++i]); have_ref = 1; }
        else {
            fprintf(stderr, "usage: bench_trace --model M [--subset N] [--layers SPEC] [--ggn] "
                            "[--rtol X] [--seeds S] [--max N] [--methods LIST] [--exact] [--ref T]\n");
            return 2;
        }
    }
    if (!model) die("--model is required");
    minima_model *m = NULL;
    if (minima_model_load(model, NULL, &m) != MINIMA_OK) die("loading the model");
    minima_data_options o = minima_data_default_options();
    o.subset = subset;
    minima_dataset *x = NULL;
    if (minima_data_load("fashion-mnist", &o, &x) != MINIMA_OK) die("loading fashion-mnist");
    minima_net *net = NULL;
    if (minima_net_create(&net, m, x, NULL) != MINIMA_OK) die("net");
    minima_linop *full = NULL, *op = NULL;
    if ((ggn ? minima_linop_ggn(&full, net) : minima_linop_hessian(&full, net)) != MINIMA_OK)
        die("operator");
    op = full;
    size_t *index = NULL, n_index = 0;
    if (layers) {
        if (minima_linop_select_layers(m, layers, &index, &n_index) != MINIMA_OK) die("--layers");
        if (minima_linop_subset(&op, full, index, n_index) != MINIMA_OK) die("subset");
    }
    printf("bench_trace: %s of %s on %zu images, n = %zu%s%s, rtol %g, seeds 1..%d\n",
           ggn ? "Gauss-Newton" : "Hessian", model, x->n, op->n, layers ? ", layers " : "",
           layers ? layers : "", rtol, seeds);
    minima_trace_result r;
    if (exact) {
        if (minima_trace_exact(op, &r) != MINIMA_OK) die("exact trace");
        ref = r.estimate;
        have_ref = 1;
        printf("exact trace %.12g (%zu products, %.1f s)\n", ref, r.n_products, r.seconds);
    }
    double *a = NULL;
    if (dense) {
        /* The matrix itself, column by column (n more products): the
         * estimators then run on an exact copy at no cost per product. */
        size_t n = op->n;
        a = malloc(n * n * sizeof *a);
        double *e = calloc(n, sizeof *e);
        for (size_t j = 0; j < n; j++) {
            e[j] = 1;
            if (minima_linop_apply(op, e, a + j * n) != MINIMA_OK) die("dense copy");
            e[j] = 0;
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) a[i * n + j] = a[j * n + i] = 0.5 * (a[i * n + j] + a[j * n + i]);
        free(e);
        if (op != full) minima_linop_free(op);
        if (minima_linop_dense(&op, n, a) != MINIMA_OK) die("dense operator");
        printf("estimators run on the dense copy of the matrix\n");
    }
    printf("%-10s %4s %8s %8s %16s %10s %10s %9s %6s\n", "method", "seed", "products", "samples",
           "estimate", "stderr", "rel.se", "rel.err", "conv");
    char list[256];
    snprintf(list, sizeof list, "%s", methods);
    for (char *meth = strtok(list, ","); meth; meth = strtok(NULL, ",")) {
        double sum_products = 0, e2 = 0, se2 = 0;
        int cover = 0;
        for (int s = 1; s <= seeds; s++) {
            minima_trace_params p = minima_trace_default_params();
            p.rtol = rtol;
            p.max_samples = max;
            p.seed = (uint64_t)s;
            if (fixed) {
                /* A fixed budget of `fixed` products (hutch++: thirds, as in its paper). */
                int pp = !strcmp(meth, "hutch++"), xt = !strcmp(meth, "xtrace");
                p.min_samples = p.max_samples = pp ? fixed / 3 : xt ? fixed / 2 : fixed;
                p.sketch = fixed / 3;
            }
            minima_status st;
            if (!strcmp(meth, "hutchinson")) st = minima_trace_hutchinson(op, &p, &r);
            else if (!strcmp(meth, "hutch++")) st = minima_trace_hutchpp(op, &p, &r);
            else if (!strcmp(meth, "xtrace")) st = minima_trace_xtrace(op, &p, &r);
            else if (!strcmp(meth, "xnystrace")) st = minima_trace_xnystrace(op, &p, &r);
            else { fprintf(stderr, "bench_trace: unknown method %s\n", meth); return 2; }
            if (st != MINIMA_OK) die(meth);
            sum_products += (double)r.n_products;
            printf("%-10s %4d %8zu %8zu %16.10g %10.3g %10.2e", meth, s, r.n_products, r.samples,
                   r.estimate, r.std_error, r.std_error / fabs(r.estimate));
            double err = (r.estimate - ref) / fabs(ref), rse = r.std_error / fabs(ref);
            e2 += err * err;
            se2 += rse * rse;
            cover += fabs(err) <= 2 * rse;
            if (have_ref) printf(" %9.2e", fabs(err));
            else printf(" %9s", "-");
            printf(" %6s\n", r.converged ? "yes" : "NO");
            fflush(stdout);
        }
        printf("%-10s mean products %.1f", meth, sum_products / seeds);
        if (have_ref)
            printf(", rms relative error %.3g, rms relative stderr %.3g, |error| <= 2 stderr in %d of %d",
                   sqrt(e2 / seeds), sqrt(se2 / seeds), cover, seeds);
        printf("\n");
    }
    if (op != full) minima_linop_free(op);
    minima_linop_free(full);
    free(a);
    minima_free(index);
    minima_net_free(net);
    minima_dataset_free(x);
    minima_model_free(m);
    return 0;
}
