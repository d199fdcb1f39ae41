/* test_parallel.c — the engine's element-wise passes on its own threads
 * and vector units (engine/parallel.h, engine/layer_elementwise.h).
 *
 * What must hold: every result is the same bit for bit with 1 thread (no
 * pool at all) and with any other number, whatever the parts; the kernels
 * compute each value exactly as the scalar loops they replace; the workers
 * are joined when the last network is freed; two networks used at once
 * from two threads of the program still give the single-thread bits.
 * OpenBLAS is held at one thread so that only minima's own threads vary,
 * and the grain is set to 1 value so that even these small passes are
 * split, into parts that do not fall on row boundaries. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/layer_elementwise.h"
#include "engine/parallel.h"
#include "harness.h"
#include "minima/net.h"
#include "minima/rng.h"

void openblas_set_num_threads(int n);

/* ---- the kernels against the loops they replace --------------------------- */

static void fill_special(double *x, size_t n, uint64_t seed)
{
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    minima_rng_fill_normal(&rng, x, n);
    static const double special[] = {0.0, -0.0, 1e-310, -1e-310, 1e300, -1e300, INFINITY,
                                     -INFINITY};
    for (size_t i = 0; i < n; i += 7) x[i] = special[(i / 7) % 8];
}

static int same_f64(const double *a, const double *b, size_t n)
{
    return memcmp(a, b, n * sizeof(double)) == 0;
}

static int same_f32(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static void test_kernels(void)
{
    enum { N = 1037 };
    double *x = harness_dalloc(N), *y = harness_dalloc(N), *g = harness_dalloc(N),
           *r = harness_dalloc(N), *out0 = harness_dalloc(N), *out = harness_dalloc(N),
           *want = harness_dalloc(N);
    float xf[N], yf[N], gf[N], rf[N], of0[N], of[N], wf[N];
    unsigned char on[N], on2[N];
    fill_special(x, N, 1);
    fill_special(y, N, 2);
    fill_special(g, N, 3);
    fill_special(r, N, 4);
    fill_special(out0, N, 5);
    for (size_t i = 0; i < N; i++) {
        y[i] = tanh(y[i]);
        on[i] = x[i] > 0;
        xf[i] = (float)x[i];
        yf[i] = (float)y[i];
        gf[i] = (float)g[i];
        rf[i] = (float)r[i];
        of0[i] = (float)out0[i];
    }
    const double a = 0.07;
    const float af = (float)a;
    minima_par_retain();   /* as a network would: the workers live until the release */
    for (int threads = 1; threads <= 4; threads++) {
        minima_par_configure(threads, 1);
        /* float64 */
        for (ew_op op = EW_ZERO; op <= EW_DTANH_ADD2; op++) {
            memcpy(out, out0, N * sizeof(double));
            memcpy(want, out0, N * sizeof(double));
            memset(on2, 7, N);
            for (size_t i = 0; i < N; i++) switch (op) {
                case EW_ZERO: want[i] = 0.0; break;
                case EW_COPY: want[i] = x[i]; break;
                case EW_ADD: want[i] += x[i]; break;
                case EW_RELU: want[i] = x[i] > 0 ? x[i] : 0.0; break;
                case EW_LEAKY: want[i] = x[i] > 0 ? x[i] : a * x[i]; break;
                case EW_MASK_SET: want[i] = on[i] ? x[i] : 0.0; break;
                case EW_MASK_ADD: want[i] += on[i] ? x[i] : 0.0; break;
                case EW_LEAKY_SET: want[i] = on[i] ? x[i] : a * x[i]; break;
                case EW_LEAKY_ADD: want[i] += on[i] ? x[i] : a * x[i]; break;
                case EW_DTANH_SET: want[i] = 0.0; want[i] += x[i] * (1.0 - y[i] * y[i]); break;
                case EW_DTANH_ADD: want[i] += x[i] * (1.0 - y[i] * y[i]); break;
                case EW_DTANH_ADD2:
                    want[i] += x[i] * (1.0 - y[i] * y[i]);
                    want[i] += g[i] * (-2.0 * y[i] * (1.0 - y[i] * y[i])) * r[i];
                    break;
                default: break;
                }
            int writes_on = op == EW_RELU || op == EW_LEAKY;
            ew_f64(op, N, (ew_args){.x = x, .y = y, .g = g, .r = r, .on = writes_on ? on2 : on,
                                    .out = out, .a = a});
            CHECK_MSG(same_f64(out, want, N), "float64 op %d, %d threads: not the scalar loop's bits",
                      (int)op, threads);
            if (writes_on) CHECK_MSG(memcmp(on2, on, N) == 0, "op %d: mask", (int)op);
        }
        /* float32 */
        for (ew_op op = EW_ZERO; op <= EW_DTANH_ADD2; op++) {
            if (op == EW_RELU || op == EW_LEAKY) continue;
            memcpy(of, of0, sizeof of);
            memcpy(wf, of0, sizeof wf);
            for (size_t i = 0; i < N; i++) switch (op) {
                case EW_ZERO: wf[i] = 0.0f; break;
                case EW_COPY: wf[i] = xf[i]; break;
                case EW_ADD: wf[i] += xf[i]; break;
                case EW_MASK_SET: wf[i] = on[i] ? xf[i] : 0.0f; break;
                case EW_MASK_ADD: wf[i] += on[i] ? xf[i] : 0.0f; break;
                case EW_LEAKY_SET: wf[i] = on[i] ? xf[i] : af * xf[i]; break;
                case EW_LEAKY_ADD: wf[i] += on[i] ? xf[i] : af * xf[i]; break;
                case EW_DTANH_SET: wf[i] = xf[i] * (1.0f - yf[i] * yf[i]); break;
                case EW_DTANH_ADD: wf[i] += xf[i] * (1.0f - yf[i] * yf[i]); break;
                case EW_DTANH_ADD2: {
                    float d = 1.0f - yf[i] * yf[i];
                    wf[i] += xf[i] * d;
                    wf[i] += gf[i] * (-2.0f * yf[i] * d) * rf[i];
                    break;
                }
                default: break;
                }
            ew_f32(op, N, (ew_args){.x = xf, .y = yf, .g = gf, .r = rf, .on = on, .out = of,
                                    .a = a});
            CHECK_MSG(same_f32(of, wf, N), "float32 op %d, %d threads: not the scalar loop's bits",
                      (int)op, threads);
        }
        /* conversions */
        ew_f64(EW_NARROW, N, (ew_args){.x = x, .out = of});
        for (size_t i = 0; i < N; i++) wf[i] = (float)x[i];
        CHECK_MSG(same_f32(of, wf, N), "narrow, %d threads", threads);
        ew_f32(EW_WIDEN, N, (ew_args){.x = xf, .out = out});
        for (size_t i = 0; i < N; i++) want[i] = xf[i];
        CHECK_MSG(same_f64(out, want, N), "widen, %d threads", threads);
        /* bias rows and column sums, 37 columns (not a multiple of a vector) */
        size_t rows = N / 37, m = 37;
        double db[37], dbw[37];
        float dbf[37], dbfw[37];
        memcpy(out, out0, N * sizeof(double));
        memcpy(want, out0, N * sizeof(double));
        ew_bias_rows_f64(rows, m, x, out);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < m; j++) want[i * m + j] += x[j];
        CHECK_MSG(same_f64(out, want, N), "bias rows, %d threads", threads);
        memcpy(of, of0, sizeof of);
        memcpy(wf, of0, sizeof wf);
        ew_bias_rows_f32(rows, m, xf, of);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < m; j++) wf[i * m + j] += xf[j];
        CHECK_MSG(same_f32(of, wf, N), "bias rows float32, %d threads", threads);
        for (size_t j = 0; j < m; j++) db[j] = dbw[j] = out0[j], dbf[j] = dbfw[j] = of0[j];
        ew_colsum_f64(rows, m, g, db);
        ew_colsum_f32(rows, m, gf, dbf);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < m; j++) dbw[j] += g[i * m + j], dbfw[j] += gf[i * m + j];
        CHECK_MSG(same_f64(db, dbw, m), "column sums, %d threads", threads);
        CHECK_MSG(same_f32(dbf, dbfw, m), "column sums float32, %d threads", threads);
    }
    CHECK_MSG(minima_par_workers() >= 3, "4 threads: %d workers", minima_par_workers());
    minima_par_release();
    CHECK_MSG(minima_par_workers() == 0, "the last release left %d workers", minima_par_workers());
    minima_par_configure(0, 0);
    free(x); free(y); free(g); free(r); free(out0); free(out); free(want);
}

/* ---- whole networks --------------------------------------------------------- */

/* Everything the engine computes on one net, in one block of doubles. */
typedef struct {
    size_t P, N, K;
    double *all;     /* loss, acc, grad(theta), grad(anchor), hv, gv, jv, outputs, hv32 */
    size_t len;
} results;

static void compute(minima_net *net, minima_net *net32, const double *theta, const double *v,
                    results *res)
{
    size_t P = res->P, N = res->N, K = res->K;
    double *p = res->all;
    CHECK_OK(minima_net_loss(net, theta, &p[0], &p[1]));
    p += 2;
    CHECK_OK(minima_net_gradient(net, theta, NULL, p));
    p += P;
    CHECK_OK(minima_net_gradient(net, NULL, p, p + 1));
    p += P + 1;
    CHECK_OK(minima_net_hvp(net, v, p));
    p += P;
    CHECK_OK(minima_net_ggnvp(net, v, p));
    p += P;
    CHECK_OK(minima_net_jvp(net, v, p));
    p += N * K;
    CHECK_OK(minima_net_outputs(net, theta, p));
    p += N * K;
    CHECK_OK(minima_net_hvp(net32, v, p));
    p += P;
    CHECK_OK(minima_net_ggnvp(net32, v, p));
    p += P;
    CHECK(p == res->all + res->len);
}

static void check_net(const char *arch, minima_loss loss, size_t cache_limit)
{
    harness_current = arch;
    minima_model *m = harness_graph_model(arch, 11);
    if (!m) return;
    minima_dataset *d = harness_graph_data(m, 37, 12);   /* batches 8, 8, 8, 8, 5 */
    size_t P = m->n_params, N = d->n, K = (size_t)minima_model_n_outputs(m);
    double *theta = harness_dalloc(P), *v = harness_dalloc(P);
    minima_rng rng;
    minima_rng_seed(&rng, 13);
    minima_rng_fill_normal(&rng, v, P);
    for (size_t i = 0; i < P; i++) theta[i] = m->theta[i] * (1.0 + 0.01 * v[(i * 7) % P]);
    results ref = {P, N, K, NULL, 2 + 6 * P + 1 + 2 * N * K};
    ref.all = harness_dalloc(ref.len);
    results got = ref;
    got.all = harness_dalloc(got.len);
    for (int threads = 1; threads <= 5; threads += 1 + (threads > 1)) {
        minima_par_configure(threads, 1);
        minima_net_params p = minima_net_default_params(m), p32;
        p.loss = loss;
        p.batch_size = 8;
        p.cache_limit = cache_limit;
        p32 = p;
        p32.float32 = 1;
        minima_net *net = NULL, *net32 = NULL;
        CHECK_OK(minima_net_create(&net, m, d, &p));
        CHECK_OK(minima_net_create(&net32, m, d, &p32));
        if (!net || !net32) break;
        compute(net, net32, theta, v, threads == 1 ? &ref : &got);
        if (threads == 1) CHECK_MSG(minima_par_workers() == 0, "%s: one thread started workers", arch);
        else {
            CHECK_MSG(minima_par_workers() >= 1, "%s: %d threads started no worker", arch, threads);
            for (size_t i = 0; i < ref.len; i++)
                if (memcmp(&ref.all[i], &got.all[i], sizeof(double)) != 0) {
                    CHECK_MSG(0, "%s (loss %d, cache limit %zu): %d threads differ from one at "
                              "value %zu: %.17g vs %.17g", arch, (int)loss, cache_limit, threads,
                              i, got.all[i], ref.all[i]);
                    break;
                }
        }
        minima_net_free(net);
        minima_net_free(net32);
        CHECK_MSG(minima_par_workers() == 0, "%s: workers still running after the last net", arch);
    }
    minima_par_configure(0, 0);
    free(theta); free(v); free(ref.all); free(got.all);
    minima_dataset_free(d);
    minima_model_free(m);
}

static void test_networks(void)
{
    static const char *archs[] = {
        "7-9-8-3",
        "12:16,relu,res(16,lrelu0.1),tanh,identity,11,relu,4",
        HARNESS_ARCH_RESNET,
        "4x6x6:conv4k3p1g2,lrelu0.1,maxpool2,res(conv4k1,relu),tanh,flatten,8,identity,relu,4",
    };
    for (size_t a = 0; a < sizeof archs / sizeof *archs; a++) {
        check_net(archs[a], MINIMA_LOSS_CE, (size_t)8 << 30);
        check_net(archs[a], MINIMA_LOSS_MSE, (size_t)8 << 30);
        check_net(archs[a], MINIMA_LOSS_CE, 0);    /* no cache: recomputed per product */
    }
}

/* ---- two networks at once ---------------------------------------------------- */

typedef struct { minima_net *net; const double *v; double *hv; int ok; } job;

static void *run_job(void *arg)
{
    job *j = arg;
    j->ok = 1;
    for (int k = 0; k < 5 && j->ok; k++) j->ok = minima_net_hvp(j->net, j->v, j->hv) == MINIMA_OK;
    return NULL;
}

static void test_concurrent(void)
{
    harness_current = "two nets at once";
    minima_model *m = harness_graph_model("10:24,relu,24,lrelu0.2,5", 3);
    if (!m) return;
    minima_dataset *d = harness_graph_data(m, 101, 4);
    size_t P = m->n_params;
    double *v = harness_dalloc(P), *want = harness_dalloc(P), *h1 = harness_dalloc(P),
           *h2 = harness_dalloc(P);
    minima_rng rng;
    minima_rng_seed(&rng, 5);
    minima_rng_fill_normal(&rng, v, P);
    minima_net_params p = minima_net_default_params(m);
    p.batch_size = 16;
    minima_net *a = NULL, *b = NULL;
    CHECK_OK(minima_net_create(&a, m, d, &p));
    CHECK_OK(minima_net_create(&b, m, d, &p));
    if (a && b) {
        minima_par_configure(1, 0);
        CHECK_OK(minima_net_hvp(a, v, want));
        minima_par_configure(3, 1);
        job ja = {a, v, h1, 0}, jb = {b, v, h2, 0};
        pthread_t ta, tb;
        CHECK(pthread_create(&ta, NULL, run_job, &ja) == 0);
        CHECK(pthread_create(&tb, NULL, run_job, &jb) == 0);
        pthread_join(ta, NULL);
        pthread_join(tb, NULL);
        CHECK(ja.ok && jb.ok);
        CHECK_MSG(same_f64(h1, want, P) && same_f64(h2, want, P),
                  "HVPs run from two threads at once differ from the single-thread one");
    }
    minima_net_free(a);
    CHECK_MSG(minima_par_workers() >= 1 || minima_par_workers() == 0, "workers");
    minima_net_free(b);
    CHECK_MSG(minima_par_workers() == 0, "workers still running after the last net");
    minima_par_configure(0, 0);
    free(v); free(want); free(h1); free(h2);
    minima_dataset_free(d);
    minima_model_free(m);
}

int main(void)
{
    openblas_set_num_threads(1);
    RUN(test_kernels);
    RUN(test_networks);
    RUN(test_concurrent);
    return harness_report();
}
