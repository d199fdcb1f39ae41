/* bench_conv2d.c — cost of the conv2d kind's passes (src/engine/layer_conv2d.c)
 * on the two convolutions of a LeNet-style CNN, float64, against the
 * machine's own measured DGEMM rate.
 *
 *   build/bench_conv2d [--b 100] [--reps 7] [--threads 2]
 *
 * conv1: 1x28x28 -> 32 channels, 3x3, padding 1 (its input is the data:
 *        no input gradient, R{x} = 0);
 * conv2: 32x28x28 -> 64 channels, 3x3, padding 1 (input gradients, R{x}).
 * For 1 thread and for --threads BLAS threads it prints: the DGEMM rate of
 * conv2's own GEMM shape (64 x 288 x 784) and of a large square one, then
 * for each pass the seconds per --b examples, GFLOP/s and the fraction of
 * the conv2-shape DGEMM rate, and the seconds one HVP's conv passes
 * (rforward + full rbackward of both layers) would take over 10 000 images.
 * Times are the best of --reps runs after one warm-up, by wall clock and by
 * the process's CPU time (per CPU-second: steadier on a loaded machine;
 * with several threads it also counts OpenBLAS's spinning). Flops count the
 * multiply-adds of the convolutions only (2 per tap; biases not counted):
 * with F = 2 out (in/groups) kh kw Ho Wo per example, forward F, backward
 * F (weights) + F (input, conv2), rforward F (V) + F (R{x}, conv2), full
 * rbackward 2F (weights) + 2F (input, conv2). The float32 R-passes are
 * timed too, against SGEMM of the same shape. Prints figures, asserts
 * nothing. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/layer.h"
#include "bench_common.h"
#include "minima/rng.h"

char *openblas_get_corename(void);
void openblas_set_num_threads(int n);

/* CPU seconds of the whole process (all threads): steadier than wall time
 * on a loaded machine. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct { double wall, cpu; } times;

/* The fastest of n runs: on a machine shared with other work the least
 * disturbed run is the steadiest figure (medians moved by 2x between runs). */
static double best(const double *t, int n)
{
    double m = t[0];
    for (int i = 1; i < n; i++)
        if (t[i] < m) m = t[i];
    return m;
}

static double *randn(minima_rng *rng, size_t n)
{
    double *v = malloc(sizeof(double) * n);
    if (!v) {
        fprintf(stderr, "bench_conv2d: out of memory\n");
        exit(1);
    }
    minima_rng_fill_normal(rng, v, n);
    return v;
}

static float *to_f32(const double *v, size_t n)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    if (!f) {
        fprintf(stderr, "bench_conv2d: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) f[i] = (float)v[i];
    return f;
}

/* GFLOP/s of C (M x N) = A (M x K) B (K x N), row-major, best of reps:
 * by wall time and per CPU-second. */
static times gemm_rate(int M, int N, int K, int reps)
{
    minima_rng rng;
    minima_rng_seed(&rng, 1);
    double *a = randn(&rng, (size_t)M * K), *b = randn(&rng, (size_t)K * N),
           *c = randn(&rng, (size_t)M * N);
    int inner = (int)(1e9 / (2.0 * M * N * K)) + 1;   /* about 1 GFLOP a timing */
    double t[32], u[32];
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now(), u0 = cpu_now();
        for (int i = 0; i < inner; i++)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0, a, K, b, N, 0.0,
                        c, N);
        if (r >= 0) {
            t[r] = (bench_now() - t0) / inner;
            u[r] = (cpu_now() - u0) / inner;
        }
    }
    free(a); free(b); free(c);
    double f = 2.0 * M * N * K / 1e9;
    return (times){f / best(t, reps), f / best(u, reps)};
}

/* The same for SGEMM. */
static times sgemm_rate(int M, int N, int K, int reps)
{
    minima_rng rng;
    minima_rng_seed(&rng, 1);
    double *a = randn(&rng, (size_t)M * K), *b = randn(&rng, (size_t)K * N);
    float *a32 = to_f32(a, (size_t)M * K), *b32 = to_f32(b, (size_t)K * N);
    float *c = calloc((size_t)M * N, sizeof(float));
    int inner = (int)(1e9 / (2.0 * M * N * K)) + 1;
    double t[32], u[32];
    for (int r = -1; r < reps; r++) {
        double t0 = bench_now(), u0 = cpu_now();
        for (int i = 0; i < inner; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a32, K, b32, N,
                        0.0f, c, N);
        if (r >= 0) {
            t[r] = (bench_now() - t0) / inner;
            u[r] = (cpu_now() - u0) / inner;
        }
    }
    free(a); free(b); free(a32); free(b32); free(c);
    double f = 2.0 * M * N * K / 1e9;
    return (times){f / best(t, reps), f / best(u, reps)};
}

typedef struct {
    const char *name;
    int C, H, W, O;
    int data_input;            /* 1: no input gradient, rx = NULL */
} layer_spec;

enum { FORWARD, BACKWARD, RFORWARD, RBACKWARD, RFORWARD32, RBACKWARD32, N_PASSES };
static const char *const pass_name[N_PASSES] = {"forward", "backward", "rforward",
                                                 "rbackward full", "rforward f32",
                                                 "rbackward f32"};


/* Seconds per call of each pass on b examples (best of reps), flops per example. */
static void time_layer(const layer_spec *s, size_t b, int reps, times sec[N_PASSES],
                       double flops[N_PASSES])
{
    minima_node node = minima_node_make(MINIMA_NODE_CONV2D, 0);
    node.out = s->O;
    node.kernel[0] = node.kernel[1] = 3;
    node.padding[0] = node.padding[1] = 1;
    minima_shape in = {3, s->C, s->H, s->W};
    const minima_shape *ins[2] = {&in, &in};
    if (layer_conv2d.infer(&node, ins, s->name) != MINIMA_OK) {
        fprintf(stderr, "bench_conv2d: %s\n", minima_last_error());
        exit(1);
    }
    size_t nx = b * minima_shape_size(in), ny = b * minima_shape_size(node.shape);
    minima_rng rng;
    minima_rng_seed(&rng, 7);
    double *x = randn(&rng, nx), *rx = randn(&rng, nx), *gx = randn(&rng, nx);
    double *w = randn(&rng, node.n_weight), *vw = randn(&rng, node.n_weight);
    double *gw = randn(&rng, node.n_weight);
    double *bias = randn(&rng, node.n_bias), *vb = randn(&rng, node.n_bias);
    double *gb = randn(&rng, node.n_bias);
    double *y = randn(&rng, ny), *gy = randn(&rng, ny), *rgy = randn(&rng, ny);
    size_t sb = layer_conv2d.scratch_bytes(&node, ins, b);
    void *scratch = sb ? aligned_alloc(64, sb) : NULL;
    layer_call_f64 c;
    memset(&c, 0, sizeof c);
    c.node = &node;
    c.in_shape[0] = c.in_shape[1] = &in;
    c.b = b;
    c.x[0] = x;
    c.w = w;
    c.bias = bias;
    c.scratch = scratch;
    double *gxs[2] = {s->data_input ? NULL : gx, NULL};
    const double *rxs[2] = {s->data_input ? NULL : rx, NULL};
    /* the same in float32 for the float32 R-passes */
    float *x32 = to_f32(x, nx), *rx32 = to_f32(rx, nx), *gx32 = to_f32(gx, nx);
    float *w32 = to_f32(w, node.n_weight), *vw32 = to_f32(vw, node.n_weight);
    float *gw32 = to_f32(gw, node.n_weight), *bias32 = to_f32(bias, node.n_bias);
    float *vb32 = to_f32(vb, node.n_bias), *gb32 = to_f32(gb, node.n_bias);
    float *y32 = to_f32(y, ny), *gy32 = to_f32(gy, ny), *rgy32 = to_f32(rgy, ny);
    layer_call_f32 c32;
    memset(&c32, 0, sizeof c32);
    c32.node = &node;
    c32.in_shape[0] = c32.in_shape[1] = &in;
    c32.b = b;
    c32.x[0] = x32;
    c32.w = w32;
    c32.bias = bias32;
    c32.scratch = scratch;
    float *gxs32[2] = {s->data_input ? NULL : gx32, NULL};
    const float *rxs32[2] = {s->data_input ? NULL : rx32, NULL};
    double F = layer_conv2d.flops(&node, ins);
    int in_grad = !s->data_input;
    flops[FORWARD] = F;
    flops[BACKWARD] = F * (1 + in_grad);
    flops[RFORWARD] = F * (1 + in_grad);
    flops[RBACKWARD] = F * (1 + in_grad) + F * 2 * in_grad;
    flops[RFORWARD32] = flops[RFORWARD];
    flops[RBACKWARD32] = flops[RBACKWARD];
    for (int p = 0; p < N_PASSES; p++) {
        double t[32], u[32];
        for (int r = -1; r < reps; r++) {
            double t0 = bench_now(), u0 = cpu_now();
            switch (p) {
            case FORWARD: layer_conv2d.forward(&c, y); break;
            case BACKWARD: layer_conv2d.backward(&c, gy, gxs, gw, gb); break;
            case RFORWARD: layer_conv2d.rforward(&c, rxs, vw, vb, y); break;
            case RBACKWARD: layer_conv2d.rbackward(&c, gy, rgy, rxs, vw, 1, gxs, gw, gb); break;
            case RFORWARD32: layer_conv2d.rforward_f32(&c32, rxs32, vw32, vb32, y32); break;
            default:
                layer_conv2d.rbackward_f32(&c32, gy32, rgy32, rxs32, vw32, 1, gxs32, gw32, gb32);
                break;
            }
            if (r >= 0) {
                t[r] = bench_now() - t0;
                u[r] = cpu_now() - u0;
            }
        }
        sec[p].wall = best(t, reps);
        sec[p].cpu = best(u, reps);
    }
    free(x); free(rx); free(gx); free(w); free(vw); free(gw); free(bias); free(vb); free(gb);
    free(y); free(gy); free(rgy); free(scratch);
    free(x32); free(rx32); free(gx32); free(w32); free(vw32); free(gw32); free(bias32);
    free(vb32); free(gb32); free(y32); free(gy32); free(rgy32);
}

int main(int argc, char **argv)
{
    size_t b = 100;
    int reps = 7, threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--b") && i + 1 < argc) b = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_conv2d [--b B] [--reps R] [--threads T]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 31) reps = 7;
    if (b < 1) b = 100;
    if (threads < 1) threads = 1;
    static const layer_spec layers[] = {
        {"conv1 1x28x28->32 k3p1", 1, 28, 28, 32, 1},
        {"conv2 32x28x28->64 k3p1", 32, 28, 28, 64, 0},
    };
    printf("bench_conv2d: LeNet convolutions, b = %zu examples a call, float64, OpenBLAS "
           "kernels %s, best of %d\n", b, openblas_get_corename(), reps);
    for (int th = 1; th <= threads; th += (threads > 1 ? threads - 1 : 1)) {
        openblas_set_num_threads(th);
        times peak = gemm_rate(64, 784, 288, reps), big = gemm_rate(1024, 1024, 1024, reps);
        times speak = sgemm_rate(64, 784, 288, reps);
        printf("\n%d thread%s: DGEMM 64x288x784 %.1f GF/s (%.1f per CPU-s), 1024^3 %.1f GF/s "
               "(%.1f per CPU-s); SGEMM 64x288x784 %.1f GF/s (%.1f per CPU-s)\n", th,
               th > 1 ? "s" : "", peak.wall, peak.cpu, big.wall, big.cpu, speak.wall, speak.cpu);
        printf("%-26s %-15s %9s %8s %9s %9s %9s\n", "layer", "pass", "s/call", "GF/s",
               "of DGEMM", "GF/CPU-s", "of DGEMM");
        double hvp10k = 0;
        for (size_t l = 0; l < sizeof layers / sizeof *layers; l++) {
            times sec[N_PASSES];
            double fl[N_PASSES];
            time_layer(&layers[l], b, reps, sec, fl);
            for (int p = 0; p < N_PASSES; p++) {
                double rate = fl[p] * (double)b / sec[p].wall / 1e9;
                double crate = fl[p] * (double)b / sec[p].cpu / 1e9;
                times ref = p >= RFORWARD32 ? speak : peak;   /* float32 rows: of SGEMM */
                printf("%-26s %-15s %9.5f %8.1f %8.0f%% %9.1f %8.0f%%\n", layers[l].name,
                       pass_name[p], sec[p].wall, rate, 100.0 * rate / ref.wall, crate,
                       100.0 * crate / ref.cpu);
            }
            hvp10k += (sec[RFORWARD].wall + sec[RBACKWARD].wall) * 10000.0 / (double)b;
        }
        printf("conv R-passes of one HVP over 10 000 images (wall): %.2f s\n", hvp10k);
    }
    return 0;
}
