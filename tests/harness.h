/* harness.h — the test harness: checks that count, a report that fails.
 *
 *   static void test_something(void) { CHECK(x == 1); CHECK_CLOSE(a, b, 1e-12); }
 *   int main(void) { RUN(test_something); return harness_report(); }
 *
 * A failed check prints file, line and the values, and the program exits
 * nonzero; ctest then reports the test as failed.
 *
 * The graph tests (tests/test_*graph*.c) share their architectures, random
 * models, data and rescaling factors through the harness_graph_* helpers
 * below, so that every one of them builds exactly the same numbers; the
 * measure tests share harness_net, harness_measure and harness_extra, the
 * theorem tests harness_theorem_run and CHECK_THEOREM. */
#ifndef MINIMA_TEST_HARNESS_H
#define MINIMA_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "minima/data.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/sharpness.h"
#include "minima/status.h"
#include "minima/theorem.h"

extern int harness_checks, harness_failures;
extern const char *harness_current;

void harness_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int harness_report(void);
/* Relative difference |a-b| / max(|a|, |b|, floor). */
double harness_reldiff(double a, double b, double floor);
/* max_i |a_i - b_i| / max(max_i |b_i|, floor). */
double harness_vec_reldiff(const double *a, const double *b, size_t n, double floor);
/* Path of a committed fixture: $MINIMA_FIXTURES/name (static buffer). */
const char *harness_fixture(const char *name);
/* A fresh temporary directory for this test (static buffer), removed never. */
const char *harness_tmpdir(void);

/* ---- graph models for the tests ------------------------------------------
 *
 * The three architectures of tests/fixtures/graph_reference.json, as
 * minima_arch_parse strings:
 *   LENET:   1x12x12 input, conv 4 3x3 pad 1, relu, maxpool 2, conv 6 3x3,
 *            relu, maxpool 2, flatten, linear 10, relu, linear 5;
 *   STRIDED: 2x11x9 input, conv 6 3x3 stride 2 pad 1, relu, conv 6 3x3 pad 2
 *            dilation 2 groups 3, relu, avgpool 2, flatten, linear 7;
 *   RESNET:  2x8x8 input, conv 3 3x3 pad 1, relu, two residual blocks
 *            (conv 3 3x3 pad 1, relu, conv 3 3x3 pad 1) each followed by a
 *            relu, global average pooling, linear 3. */
#define HARNESS_ARCH_LENET "1x12x12:conv4k3p1,relu,maxpool2,conv6k3,relu,maxpool2,flatten,10,relu,5"
#define HARNESS_ARCH_STRIDED "2x11x9:conv6k3s2p1,relu,conv6k3p2d2g3,relu,avgpool2,flatten,7"
#define HARNESS_ARCH_RESNET "2x8x8:conv3k3p1,relu,res(conv3k3p1,relu,conv3k3p1),relu," \
                            "res(conv3k3p1,relu,conv3k3p1),relu,gap,3"

/* The model of minima_arch_parse(arch, bias, MINIMA_ACT_RELU, 0.01),
 * initialised by minima_model_init(m, seed); then bias entry j of every node
 * is raised by 0.05 * (j % 3 + 1), so that few pre-activations sit near a
 * ReLU kink (nothing to do when bias is 0), and the loss is
 * MINIMA_LOSS_CE. Counts one check (the parse); NULL when arch does not
 * parse. Free with minima_model_free. */
minima_model *harness_graph_model_bias(const char *arch, int bias, uint64_t seed);
/* harness_graph_model_bias(arch, 1, seed): the model with biases. */
minima_model *harness_graph_model(const char *arch, uint64_t seed);
/* A classification set of n examples sized for m: features (n x inputs of
 * m, row-major) filled in one minima_rng_fill_uniform call in [-1, 1] from
 * a minima_rng seeded with seed, label of example i = i % (outputs of m),
 * no regression targets. Counts one check; NULL on error. Free with
 * minima_dataset_free. */
minima_dataset *harness_graph_data(const minima_model *m, size_t n, uint64_t seed);
/* n log-factors u[k] = log(10) * (2 U_k - 1), U_k the k-th
 * minima_rng_uniform draw of a minima_rng seeded with seed: factors exp(u)
 * spread over two decades, [0.1, 10]. */
void harness_graph_log_factors(double *u, int n, uint64_t seed);

/* A = Q diag(lambda) Q^T with Q a random orthogonal matrix (QR of a
 * Gaussian matrix from `seed`): a dense symmetric test matrix with a known
 * spectrum, (n, n) row-major, exactly symmetric, malloc'd (free it). */
double *harness_spectral_matrix(size_t n, const double *lambda, uint64_t seed);
/* calloc of n doubles, zeroed; one double when n is 0 (never NULL for lack
 * of size). Free with free. */
double *harness_dalloc(size_t n);

/* ---- nets and measures ---------------------------------------------------- */

/* minima_net_create(m, d) with minima_net_default_params(m) but the loss
 * `loss`. Counts one check; NULL on error. Free with minima_net_free. */
minima_net *harness_net(const minima_model *m, const minima_dataset *d, minima_loss loss);
/* The registered measure `name` computed on net by minima_measure_compute
 * with settings and seed, its result in *res (res may be NULL): its value,
 * or NaN with a failed check when the measure is not registered or the
 * computation fails. Counts two checks when the measure is registered, one
 * when it is not. */
double harness_measure(minima_net *net, const char *name, const char *settings, uint64_t seed,
                       minima_measure_result *res);
/* The value of the extra named `name` in a measure's result r; NaN and a failed check when r
 * has none of that name. Counts one check only when it is missing. */
double harness_extra(const minima_measure_result *r, const char *name);

/* ---- theorem checks ------------------------------------------------------- */

/* The result of the theorem check `name` run by minima_theorem_run(env, p);
 * a zeroed result with a failed check when no check has that name. Counts
 * one check when there is none of that name, two otherwise (the lookup and
 * the status). */
minima_theorem_result harness_theorem_run(const char *name, minima_theorem_env *env,
                                          const minima_theorem_params *p);

#define RUN(fn) do { harness_current = #fn; fn(); } while (0)

#define CHECK(cond) do { harness_checks++; if (!(cond)) \
    harness_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond); } while (0)
#define CHECK_MSG(cond, ...) do { harness_checks++; if (!(cond)) \
    harness_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define CHECK_OK(expr) do { harness_checks++; minima_status s_ = (expr); if (s_ != MINIMA_OK) \
    harness_fail(__FILE__, __LINE__, "%s returned %s: %s", #expr, minima_strerror(s_), \
                 minima_last_error()); } while (0)
#define CHECK_STATUS(expr, want) do { harness_checks++; minima_status s_ = (expr); if (s_ != (want)) \
    harness_fail(__FILE__, __LINE__, "%s returned %s (%s), expected %s", #expr, \
                 minima_strerror(s_), minima_last_error(), minima_strerror(want)); } while (0)
/* |a - b| <= tol * max(|a|, |b|, 1e-300) */
#define CHECK_REL(a, b, tol) do { harness_checks++; double a_ = (a), b_ = (b); \
    double r_ = harness_reldiff(a_, b_, 1e-300); if (!(r_ <= (tol))) \
    harness_fail(__FILE__, __LINE__, "%s = %.17g vs %s = %.17g: relative difference %.3g > %.3g", \
                 #a, a_, #b, b_, r_, (double)(tol)); } while (0)
/* |a - b| <= tol */
#define CHECK_ABS(a, b, tol) do { harness_checks++; double a_ = (a), b_ = (b); \
    if (!(fabs(a_ - b_) <= (tol))) harness_fail(__FILE__, __LINE__, \
    "%s = %.17g vs %s = %.17g: difference %.3g > %.3g", #a, a_, #b, b_, fabs(a_ - b_), (double)(tol)); } while (0)

/* A theorem result r is applicable as want_applicable and, when applicable,
 * passed as want_passed; on failure prints its reason, hypotheses and
 * details. */
#define CHECK_THEOREM(r, want_applicable, want_passed) CHECK_MSG( \
    (r).applicable == (want_applicable) && (!(want_applicable) || (r).passed == (want_passed)), \
    "%s: applicable %d passed %d, expected %d %d\n  reason: %s\n  hypotheses: %s\n  details: %s", \
    (r).name, (r).applicable, (r).passed, want_applicable, want_passed, (r).reason, \
    (r).hypotheses, (r).details)

#endif
