/* harness.h — the test harness: checks that count, a report that fails.
 *
 *   static void test_something(void) { CHECK(x == 1); CHECK_CLOSE(a, b, 1e-12); }
 *   int main(void) { RUN(test_something); return harness_report(); }
 *
 * A failed check prints file, line and the values, and the program exits
 * nonzero; ctest then reports the test as failed. */
#ifndef MINIMA_TEST_HARNESS_H
#define MINIMA_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "minima/status.h"

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

#endif
