/* harness.c — see harness.h. */
#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
