/* bench_cnn.c — one Hessian-vector product of a convolutional network over
 * Fashion-MNIST, minima against PyTorch on the same data, weights,
 * direction and thread count, in one invocation.
 *
 *   build/bench_cnn [--arch A] [--n 10000] [--reps 5] [--threads T]
 *                   [--batch 1000] [--data fashion-mnist|random|SRC]
 *                   [--memory BYTES] [--no-torch]
 *
 * The network (default 1x28x28:conv32k3p1,relu,conv64k3p1,relu,maxpool2,
 * flatten,128,relu,10, with biases, cross-entropy) is built by
 * minima_arch_parse and initialised by minima_model_init (seed 1); the data
 * are the first --n training images. Printed, never asserted:
 *   - the machine's DGEMM and SGEMM rates, measured here with the same
 *     threads, at bench_net's shape (10000x784 by 784x512) and at the GEMM
 *     shape of the layer with the most multiply-adds (a convolution as
 *     im2col: (32 images * Ho*Wo) x (C_in/groups * kh*kw) by that x C_out);
 *   - the cache's bytes (minima_net_cache_bytes) next to the bytes of one
 *     forward pass's activations (every node's output but flatten's, which
 *     moves no data; float64, all N examples);
 *   - float64: seconds to create the net, the first product (it fills the
 *     cache), the median of --reps products with the cache warm, GFLOP/s;
 *   - the same with params.float32 (products in float32 on the cache), and
 *     its largest error relative to the float64 product;
 *   - the same with cache_limit = 0: every product recomputes the forward
 *     and backward passes batch by batch;
 *   - then bench/torch_cnn_hvp.py (Debian's python3-torch) in float64 and
 *     float32 with the same threads (torch.set_num_threads, OMP_NUM_THREADS)
 *     and OMP_WAIT_POLICY=passive: double backprop over batches of --batch,
 *     its first product and the median of --reps, the ratios
 *     torch_time / minima_time, and the difference between PyTorch's float64
 *     product and minima's (the check that both computed the same thing).
 *
 * FLOPs of one product. A node with parameters does m multiply-adds per
 * example: linear out*in; conv2d C_out * (C_in/groups) * kh*kw * Ho*Wo. A
 * forward pass is 2m flops. With the cache warm a Hessian-vector product
 * costs, as counted for bench_spectrum's MLPs: 6 * 2m for a node reading
 * another layer's output (R{Z} = V A + W R{A}; (Hv)_W = R{G}^T A + G^T R{A};
 * R{G_in} = W^T R{G} + V^T G: six products of that size) and 2 * 2m for a
 * node reading the input itself (R{Z} = V X, (Hv)_W = R{G}^T X). Without the
 * cache a product adds the anchor's passes of its batch: 2m forward and 2m
 * for the signal of the node's input (not for a node reading the input;
 * no weight gradient is formed). Biases,
 * activations, pooling, adds and the loss are not counted: they are
 * elementwise, a small fraction.
 *
 * If the cache of N examples (plus the data) would take more than 60% of
 * this machine's memory (--memory sets the budget), N is reduced to what
 * fits and the reason is printed. */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_common.h"
#include "minima/net.h"
#include "minima/npy.h"
#include "minima/rng.h"

char *openblas_get_corename(void);
void openblas_set_num_threads(int n);

#define MAX_REPS 31

static void die(const char *what)
{
    fprintf(stderr, "bench_cnn: %s: %s\n", what, minima_last_error());
    exit(1);
}

static double gb(double bytes)
{
    return bytes / 1e9;
}

/* Multiply-adds per example of node i (0 for nodes without parameters). */
static double node_macs(const minima_model *m, int i)
{
    const minima_node *nd = &m->nodes[i];
    if (nd->kind == MINIMA_NODE_LINEAR)
        return (double)nd->out * (double)minima_shape_size(m->nodes[nd->inputs[0]].shape);
    if (nd->kind == MINIMA_NODE_CONV2D) {
        const minima_shape in = m->nodes[nd->inputs[0]].shape;
        return (double)nd->out * (double)(in.c / nd->groups) * nd->kernel[0] * nd->kernel[1] *
               (double)nd->shape.h * (double)nd->shape.w;
    }
    return 0;
}

/* Flops of one product with the cache warm and of the gradient pass a
 * product without the cache adds, for n examples (see the top). */
static void hvp_flops(const minima_model *m, double n, double *hvp, double *grad)
{
    double h = 0, g = 0;
    for (int i = 1; i < m->n_nodes; i++) {
        double mac2 = 2.0 * node_macs(m, i) * n;
        if (mac2 == 0) continue;
        int first = m->nodes[i].inputs[0] == 0;
        h += (first ? 2 : 6) * mac2;
        g += (first ? 1 : 2) * mac2;   /* forward, and the input's signal (no weight gradient) */
    }
    *hvp = h;
    *grad = g;
}

/* GFLOP/s of C = A B^T, A (M, K), B (N, K), in float64 or float32:
 * the median of 5 after one warm-up. */
static double gemm_rate(int M, int K, int N, int single)
{
    size_t sa = (size_t)M * K, sb = (size_t)K * N, sc = (size_t)M * N;
    size_t es = single ? sizeof(float) : sizeof(double);
    void *a = malloc(sa * es), *b = malloc(sb * es), *c = malloc(sc * es);
    if (!a || !b || !c) { free(a); free(b); free(c); return NAN; }
    for (size_t i = 0; i < sa; i++) {
        double x = (double)(i % 17) / 17.0;
        if (single) ((float *)a)[i] = (float)x; else ((double *)a)[i] = x;
    }
    for (size_t i = 0; i < sb; i++) {
        double x = (double)(i % 13) / 13.0;
        if (single) ((float *)b)[i] = (float)x; else ((double *)b)[i] = x;
    }
    double t[5];
    for (int r = -1; r < 5; r++) {
        double t0 = bench_now();
        if (single)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f,
                        c, N);
        else
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0, a, K, b, K, 0.0, c,
                        N);
        if (r >= 0) t[r] = bench_now() - t0;
    }
    free(a); free(b); free(c);
    return 2.0 * M * N * K / bench_median(t, 5) / 1e9;
}

/* The GEMM shape of the node with the most multiply-adds. */
static void largest_gemm(const minima_model *m, int *M, int *K, int *N, char *label, size_t size)
{
    int best = -1;
    for (int i = 1; i < m->n_nodes; i++)
        if (node_macs(m, i) > 0 && (best < 0 || node_macs(m, i) > node_macs(m, best))) best = i;
    *M = *K = *N = 0;
    if (best < 0) return;
    const minima_node *nd = &m->nodes[best];
    const minima_shape in = m->nodes[nd->inputs[0]].shape;
    char name[96];
    minima_model_node_label(m, best, name, sizeof name);
    if (nd->kind == MINIMA_NODE_CONV2D) {
        *M = 32 * nd->shape.h * nd->shape.w;
        *K = in.c / nd->groups * nd->kernel[0] * nd->kernel[1];
        *N = nd->out / nd->groups;
        snprintf(label, size, "%s as im2col over 32 images", name);
    } else {
        *M = 1000;
        *K = (int)minima_shape_size(in);
        *N = nd->out;
        snprintf(label, size, "%s over 1000 examples", name);
    }
}

typedef struct {
    double create, first, median, times[MAX_REPS];
} timing;

/* Create a net with these settings and time it, its first product (into
 * hv) and the median of reps more. */
static timing time_hvp(const minima_model *m, const minima_dataset *x, size_t batch,
                       size_t cache_limit, int float32, const double *v, double *hv, int reps,
                       int *cached)
{
    timing t;
    minima_net_params p = minima_net_default_params(m);
    p.loss = MINIMA_LOSS_CE;
    p.batch_size = batch;
    p.cache_limit = cache_limit;
    p.float32 = float32;
    minima_net *net = NULL;
    double t0 = bench_now();
    if (minima_net_create(&net, m, x, &p) != MINIMA_OK) die("creating the net");
    t.create = bench_now() - t0;
    *cached = minima_net_cache_enabled(net);
    t0 = bench_now();
    if (minima_net_hvp(net, v, hv) != MINIMA_OK) die("Hessian-vector product");
    t.first = bench_now() - t0;
    for (int r = 0; r < reps; r++) {
        t0 = bench_now();
        if (minima_net_hvp(net, v, hv) != MINIMA_OK) die("Hessian-vector product");
        t.times[r] = bench_now() - t0;
    }
    double sorted[MAX_REPS];
    memcpy(sorted, t.times, (size_t)reps * sizeof *sorted);
    t.median = bench_median(sorted, reps);
    minima_net_free(net);
    return t;
}

static cJSON *run_torch(const char *dir, const char *arch, const char *dtype, int threads,
                        int reps, size_t batch)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "OMP_WAIT_POLICY=passive OMP_NUM_THREADS=%d /usr/bin/python3 %s/torch_cnn_hvp.py "
             "'%s' --theta %s/theta.npy --x %s/x.npy --y %s/y.npy --v %s/v.npy "
             "--hv-out %s/hv_%s.npy --threads %d --dtype %s --reps %d --batch %zu",
             threads, MINIMA_BENCH_DIR, arch, dir, dir, dir, dir, dir, dtype, threads, dtype, reps,
             batch);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    if (pclose(p) != 0) return NULL;
    return cJSON_Parse(buf);
}

static double jnum(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* max |a - b| / max |b| */
static double max_rel(const double *a, const double *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fabs(b[i]));
    }
    return s > 0 ? d / s : d;
}

/* max |Hv_torch - hv| / max |hv| for the product PyTorch wrote in dtype. */
static double torch_error(const char *dir, const char *dtype, const double *hv, size_t P)
{
    char path[600];
    snprintf(path, sizeof path, "%s/hv_%s.npy", dir, dtype);
    minima_npy_array a;
    double e = NAN;
    if (minima_npy_read(path, 0, &a) != MINIMA_OK) return NAN;
    if (a.n_rows * a.row_size == P) e = max_rel(a.data, hv, P);
    minima_npy_array_free(&a);
    return e;
}

static void remove_dir(const char *dir)
{
    static const char *const names[] = {"theta.npy", "x.npy", "y.npy", "v.npy", "hv_float64.npy",
                                        "hv_float32.npy"};
    char path[600];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_cnn [--arch A] [--n N] [--reps R (1..%d)] [--threads T] "
                    "[--batch B] [--data fashion-mnist|random|SRC] [--memory BYTES] [--no-torch]\n",
            MAX_REPS);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *arch = "1x28x28:conv32k3p1,relu,conv64k3p1,relu,maxpool2,flatten,128,relu,10";
    const char *source = "fashion-mnist";
    size_t n = 10000, batch = 1000;
    int reps = 5, torch = 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = ncpu > 0 ? (int)ncpu : 1;
    uint64_t memory = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--arch") && i + 1 < argc) arch = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc) n = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) source = argv[++i];
        else if (!strcmp(argv[i], "--memory") && i + 1 < argc) {
            if (minima_data_parse_size(argv[++i], &memory) != MINIMA_OK) die("--memory");
        } else if (!strcmp(argv[i], "--no-torch")) torch = 0;
        else usage();
    }
    if (reps < 1 || reps > MAX_REPS || threads < 1 || n < 1 || batch < 1) usage();
    if (strchr(arch, '\'')) {
        fprintf(stderr, "bench_cnn: --arch: expected an architecture string, found a quote in '%s'\n",
                arch);
        return 2;
    }
    if (!memory) {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        memory = pages > 0 && page > 0 ? (uint64_t)((double)pages * (double)page * 0.6) : (uint64_t)8 << 30;
    }
    openblas_set_num_threads(threads);

    minima_model *m = NULL;
    minima_status s = minima_arch_parse(arch, 1, MINIMA_ACT_RELU, 0.0, &m);
    if (s != MINIMA_OK) {
        fprintf(stderr, "bench_cnn: cannot build the model '%s': minima_arch_parse returned %s: %s\n"
                        "bench_cnn: this benchmark needs the architecture parser and the graph "
                        "engine (conv2d, pooling); expected a model, found none\n",
                arch, minima_strerror(s), minima_last_error());
        return 1;
    }
    m->loss = MINIMA_LOSS_CE;
    minima_model_init(m, 1);
    size_t d_in = minima_model_n_inputs(m);
    int d_out = minima_model_n_outputs(m);

    minima_dataset *x = NULL;
    if (!strcmp(source, "random")) {
        if (minima_dataset_create(&x, n, (int)d_in, d_out, 0) != MINIMA_OK) die("random data");
        minima_rng rng;
        minima_rng_seed(&rng, 2);
        minima_rng_fill_uniform(&rng, x->x, n * d_in, 0, 1);
        for (size_t i = 0; i < n; i++) x->labels[i] = (int32_t)minima_rng_below(&rng, (uint64_t)d_out);
    } else {
        minima_data_options o = minima_data_default_options();
        o.subset = n;
        o.n_outputs = d_out;
        if (minima_data_load(source, &o, &x) != MINIMA_OK) die(source);
    }
    if ((size_t)x->d != d_in || !x->labels) {
        fprintf(stderr, "bench_cnn: %s: expected labelled examples of %zu values for %s, found %d "
                        "values%s\n", source, d_in, arch, x->d, x->labels ? "" : " and no labels");
        return 1;
    }
    if (x->n < n) printf("bench_cnn: %s has %zu examples, fewer than --n %zu\n", source, x->n, n);

    /* Does the cache fit? Ask a net that keeps none. */
    minima_net_params probe_p = minima_net_default_params(m);
    probe_p.batch_size = batch;
    probe_p.cache_limit = 0;
    minima_net *probe = NULL;
    if (minima_net_create(&probe, m, x, &probe_p) != MINIMA_OK) die("creating the net");
    double cache = (double)minima_net_cache_bytes(probe);
    minima_net_free(probe);
    double data_bytes = (double)x->n * (double)d_in * 8.0;
    if (cache + data_bytes > (double)memory) {
        size_t fit = (size_t)((double)x->n * ((double)memory - data_bytes) / cache);
        fit = fit >= batch ? fit / batch * batch : fit / 100 * 100;
        if (fit == 0) {
            fprintf(stderr, "bench_cnn: the cache of %zu examples needs %.2f GB; %.2f GB of memory "
                            "(--memory) holds not even 100 examples\n", x->n, gb(cache), gb((double)memory));
            return 1;
        }
        printf("bench_cnn: the cache of N = %zu examples needs %.2f GB (plus %.2f GB of data), "
               "more than the %.2f GB budget (60%% of this machine's memory, or --memory): "
               "using N = %zu\n", x->n, gb(cache), gb(data_bytes), gb((double)memory), fit);
        minima_dataset *cut = NULL;
        if (minima_dataset_slice(x, 0, fit, &cut) != MINIMA_OK) die("slicing the data");
        minima_dataset_free(x);
        x = cut;
        if (minima_net_create(&probe, m, x, &probe_p) != MINIMA_OK) die("creating the net");
        cache = (double)minima_net_cache_bytes(probe);
        minima_net_free(probe);
        data_bytes = (double)x->n * (double)d_in * 8.0;
    }
    double N = (double)x->n, acts = 0;
    for (int i = 1; i < m->n_nodes; i++)       /* flatten moves no data */
        if (m->nodes[i].kind != MINIMA_NODE_FLATTEN) acts += (double)minima_shape_size(m->nodes[i].shape);
    acts *= 8.0 * N;
    double fh, fg;
    hvp_flops(m, N, &fh, &fg);

    printf("bench_cnn: %s with biases, cross-entropy, P = %zu, N = %zu (%s), batches of %zu, "
           "%d BLAS threads, OpenBLAS kernels %s, medians of %d\n", arch, m->n_params, x->n,
           x->name ? x->name : source, batch, threads, openblas_get_corename(), reps);
    int gm, gk, gn;
    char glabel[160];
    largest_gemm(m, &gm, &gk, &gn, glabel, sizeof glabel);
    double d1 = gemm_rate(10000, 784, 512, 0), s1 = gemm_rate(10000, 784, 512, 1);
    double d2 = gemm_rate(gm, gk, gn, 0), s2 = gemm_rate(gm, gk, gn, 1);
    printf("GEMM here: DGEMM %.1f GF/s, SGEMM %.1f GF/s at 10000x784 by 784x512; "
           "DGEMM %.1f GF/s, SGEMM %.1f GF/s at %dx%d by %dx%d (%s)\n", d1, s1, d2, s2, gm, gk, gk,
           gn, glabel);
    printf("flops per product: %.4g with the cache warm, %.4g recomputing (counted from the layer "
           "shapes: bench/bench_cnn.c)\n", fh, fh + fg);
    printf("memory: cache %.3f GB (minima_net_cache_bytes); one forward pass's activations %.3f GB "
           "(every node's output but flatten's, float64) plus the input %.3f GB\n", gb(cache), gb(acts),
           gb(data_bytes));

    size_t P = m->n_params;
    double *v = malloc(P * sizeof *v), *hv = malloc(P * sizeof *hv), *hv32 = malloc(P * sizeof *hv32);
    if (!v || !hv || !hv32) die("memory for the vectors");
    minima_rng rng;
    minima_rng_seed(&rng, 3);
    minima_rng_fill_normal(&rng, v, P);
    int cached;
    size_t limit = (size_t)memory;

    timing t64 = time_hvp(m, x, batch, limit, 0, v, hv, reps, &cached);
    printf("\n%-40s %10s %12s %12s %12s %10s\n", "minima", "create", "first HVP", "HVP", "GFLOP/s",
           "of GEMM");
    printf("%-40s %9.3fs %11.3fs %11.3fs %12.1f %9.0f%%%s\n", "float64, cache", t64.create, t64.first,
           t64.median, fh / t64.median / 1e9, 100 * fh / t64.median / 1e9 / d2,
           cached ? "" : "  (the cache did not fit: recomputed)");
    timing t32 = time_hvp(m, x, batch, limit, 1, v, hv32, reps, &cached);
    printf("%-40s %9.3fs %11.3fs %11.3fs %12.1f %9.0f%%   error %.2e (max |Hv32 - Hv64| / max |Hv64|)%s\n",
           "float32 products, cache", t32.create, t32.first, t32.median, fh / t32.median / 1e9,
           100 * fh / t32.median / 1e9 / s2, max_rel(hv32, hv, P),
           cached ? "" : "  (the cache did not fit: recomputed)");
    timing tr = time_hvp(m, x, batch, 0, 0, v, hv32, reps, &cached);
    printf("%-40s %9.3fs %11.3fs %11.3fs %12.1f %9.0f%%   error %.2e (against the cached product)\n",
           "float64, cache_limit = 0 (recompute)", tr.create, tr.first, tr.median,
           (fh + fg) / tr.median / 1e9, 100 * (fh + fg) / tr.median / 1e9 / d2, max_rel(hv32, hv, P));
    printf("(GFLOP/s of the recomputing product count its gradient pass too; \"of GEMM\" is against "
           "the largest layer's GEMM rate, DGEMM or SGEMM)\n");

    if (torch) {
        char dir[] = "/tmp/minima-bench-cnn-XXXXXX";
        if (!mkdtemp(dir)) { perror("bench_cnn: mkdtemp"); return 1; }
        char path[600];
        size_t shp[2] = {P, 0};
        snprintf(path, sizeof path, "%s/theta.npy", dir);
        if (minima_npy_write(path, 1, shp, m->theta) != MINIMA_OK) die("writing theta.npy");
        snprintf(path, sizeof path, "%s/v.npy", dir);
        if (minima_npy_write(path, 1, shp, v) != MINIMA_OK) die("writing v.npy");
        size_t xs[2] = {x->n, d_in};
        snprintf(path, sizeof path, "%s/x.npy", dir);
        if (minima_npy_write(path, 2, xs, x->x) != MINIMA_OK) die("writing x.npy");
        int64_t *y = malloc(x->n * sizeof *y);
        if (!y) die("memory for the labels");
        for (size_t i = 0; i < x->n; i++) y[i] = x->labels[i];
        snprintf(path, sizeof path, "%s/y.npy", dir);
        if (minima_npy_write_int64(path, 1, xs, y) != MINIMA_OK) die("writing y.npy");
        free(y);
        cJSON *j64 = run_torch(dir, arch, "float64", threads, reps, batch);
        cJSON *j32 = run_torch(dir, arch, "float32", threads, reps, batch);
        if (!j64 || !j32)
            fprintf(stderr, "bench_cnn: the PyTorch reference failed (is /usr/bin/python3 with "
                            "python3-torch installed? MINIMA_WITH_TORCH=1 make setup)\n");
        double diff = j64 ? torch_error(dir, "float64", hv, P) : NAN;
        double diff32 = j32 ? torch_error(dir, "float32", hv, P) : NAN;
        double p64 = jnum(j64, "seconds_per_hvp"), p32 = jnum(j32, "seconds_per_hvp");
        printf("\n%-40s %10s %12s %12s %12s %10s\n", "PyTorch (double backprop)", "", "first HVP",
               "HVP", "GFLOP/s", "torch/minima");
        printf("%-40s %10s %11.3fs %11.3fs %12.1f %12.2f\n", "float64", "", jnum(j64, "seconds_first_hvp"),
               p64, fh / p64 / 1e9, p64 / t64.median);
        printf("%-40s %10s %11.3fs %11.3fs %12.1f %12.2f   (against minima's float32 products)\n",
               "float32 (oneDNN convolutions, if any)", "", jnum(j32, "seconds_first_hvp"), p32,
               fh / p32 / 1e9, p32 / t32.median);
        printf("torch/minima, the time of one product: float64 %.2f, float32 %.2f; PyTorch %s, %d "
               "threads, OMP_WAIT_POLICY=passive\n", p64 / t64.median, p32 / t32.median,
               cJSON_IsString(cJSON_GetObjectItem(j64, "torch"))
                   ? cJSON_GetObjectItem(j64, "torch")->valuestring : "?", threads);
        printf("max |Hv_torch - Hv_minima| / max |Hv_minima|, against minima's float64 product: "
               "torch float64 %.2e, torch float32 %.2e\n", diff, diff32);
        cJSON_Delete(j64);
        cJSON_Delete(j32);
        remove_dir(dir);
    }
    free(v); free(hv); free(hv32);
    minima_dataset_free(x);
    minima_model_free(m);
    return 0;
}
