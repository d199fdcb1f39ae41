/* harness.c — see harness.h. */
#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <lapacke.h>

#include "minima/rng.h"

int harness_checks, harness_failures;
const char *harness_current = "";

void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    harness_failures++;
    fprintf(stderr, "FAIL %s:%d [%s]: ", file, line, harness_current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int harness_report(void)
{
    printf("%d passed, %d failed\n", harness_checks - harness_failures, harness_failures);
    return harness_failures ? 1 : 0;
}

double harness_reldiff(double a, double b, double floor)
{
    double scale = fmax(fmax(fabs(a), fabs(b)), floor);
    if (a == b) return 0;
    return fabs(a - b) / scale;
}

double harness_vec_reldiff(const double *a, const double *b, size_t n, double floor)
{
    double num = 0, den = floor;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= num)) num = d;     /* NaN propagates */
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / den;
}

const char *harness_fixture(const char *name)
{
    static char path[4096];
    const char *dir = getenv("MINIMA_FIXTURES");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/fixtures", name);
    return path;
}

const char *harness_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/minima-test-XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); exit(1); }
    }
    return dir;
}

minima_model *harness_graph_model_bias(const char *arch, int bias, uint64_t seed)
{
    minima_model *m = NULL;
    CHECK_OK(minima_arch_parse(arch, bias, MINIMA_ACT_RELU, 0.01, &m));
    if (!m) return NULL;
    minima_model_init(m, seed);
    /* Biases away from zero so that few pre-activations sit near a kink. */
    for (int i = 1; i < m->n_nodes; i++)
        for (size_t j = 0; j < m->nodes[i].n_bias; j++)
            m->theta[m->nodes[i].bias_offset + j] += 0.05 * (double)((j % 3) + 1);
    m->loss = MINIMA_LOSS_CE;
    return m;
}

minima_model *harness_graph_model(const char *arch, uint64_t seed)
{
    return harness_graph_model_bias(arch, 1, seed);
}

minima_dataset *harness_graph_data(const minima_model *m, size_t n, uint64_t seed)
{
    minima_dataset *d = NULL;
    size_t d_in = minima_model_n_inputs(m);
    int classes = minima_model_n_outputs(m);
    CHECK_OK(minima_dataset_create(&d, n, (int)d_in, classes, 0));
    if (!d) return NULL;
    minima_rng r;
    minima_rng_seed(&r, seed);
    minima_rng_fill_uniform(&r, d->x, n * d_in, -1, 1);
    for (size_t i = 0; i < n; i++) d->labels[i] = (int)(i % (size_t)classes);
    return d;
}

void harness_graph_log_factors(double *u, int n, uint64_t seed)
{
    minima_rng r;
    minima_rng_seed(&r, seed);
    for (int k = 0; k < n; k++) u[k] = log(10.0) * (2 * minima_rng_uniform(&r) - 1);
}

double *harness_dalloc(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

minima_net *harness_net(const minima_model *m, const minima_dataset *d, minima_loss loss)
{
    minima_net_params p = minima_net_default_params(m);
    p.loss = loss;
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, d, &p));
    return net;
}

double harness_measure(minima_net *net, const char *name, const char *settings, uint64_t seed,
                       minima_measure_result *res)
{
    minima_measure_result tmp;
    if (!res) res = &tmp;
    const minima_measure *m = minima_measure_find(name);
    CHECK_MSG(m != NULL, "measure %s is not registered", name);
    if (!m) return NAN;
    minima_status st = minima_measure_compute(m, net, settings, seed, res);
    CHECK_MSG(st == MINIMA_OK, "%s: %s (%s)", name, minima_strerror(st), minima_last_error());
    return st == MINIMA_OK ? res->value : NAN;
}

double harness_extra(const minima_measure_result *r, const char *name)
{
    for (int i = 0; i < r->n_extras; i++)
        if (!strcmp(r->extras[i].name, name)) return r->extras[i].value;
    CHECK_MSG(0, "extra %s missing", name);
    return NAN;
}

minima_theorem_result harness_theorem_run(const char *name, minima_theorem_env *env,
                                          const minima_theorem_params *p)
{
    minima_theorem_result r;
    memset(&r, 0, sizeof r);
    const minima_theorem_check *c = minima_theorem_find(name);
    CHECK_MSG(c != NULL, "no check named %s", name);
    if (!c) return r;
    CHECK_OK(minima_theorem_run(c, env, p, &r));
    return r;
}

double *harness_spectral_matrix(size_t n, const double *lambda, uint64_t seed)
{
    double *q = malloc(n * n * sizeof *q), *tau = malloc(n * sizeof *tau);
    double *ql = malloc(n * n * sizeof *ql), *a = malloc(n * n * sizeof *a);
    minima_rng rng;
    minima_rng_seed(&rng, seed);
    minima_rng_fill_normal(&rng, q, n * n);
    LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (int)n, (int)n, q, (int)n, tau);
    LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (int)n, (int)n, (int)n, q, (int)n, tau);
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < n; c++) ql[r * n + c] = q[r * n + c] * lambda[c];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)n, 1.0, ql, (int)n,
                q, (int)n, 0.0, a, (int)n);
    for (size_t r = 0; r < n; r++)     /* exactly symmetric */
        for (size_t c = r + 1; c < n; c++) a[c * n + r] = a[r * n + c];
    free(q);
    free(tau);
    free(ql);
    return a;
}
