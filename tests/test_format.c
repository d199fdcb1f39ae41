/* test_format.c — the shortest round-tripping decimal: it reads back
 * exactly and it is short where a value is short. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/format.h"
#include "minima/rng.h"

static void test_short_values(void)
{
    char buf[MINIMA_DOUBLE_CHARS];
    minima_format_double(buf, sizeof buf, 1e-6);
    CHECK_MSG(!strcmp(buf, "1e-06"), "1e-6 printed as %s", buf);
    minima_format_double(buf, sizeof buf, 0.1);
    CHECK_MSG(!strcmp(buf, "0.1"), "0.1 printed as %s", buf);
    minima_format_double(buf, sizeof buf, 0.05);
    CHECK_MSG(!strcmp(buf, "0.05"), "0.05 printed as %s", buf);
    minima_format_double(buf, sizeof buf, 100);
    CHECK_MSG(!strcmp(buf, "100"), "100 printed as %s", buf);
    minima_format_double(buf, sizeof buf, 70000);
    CHECK_MSG(!strcmp(buf, "70000"), "70000 printed as %s", buf);
    minima_format_double(buf, sizeof buf, 1e20);
    CHECK_MSG(!strcmp(buf, "1e+20"), "1e20 printed as %s", buf);
    minima_format_double(buf, sizeof buf, -0.0);
    CHECK_MSG(!strcmp(buf, "-0"), "-0 printed as %s", buf);
    minima_format_double(buf, sizeof buf, NAN);
    CHECK(!strcmp(buf, "nan"));
    minima_format_double(buf, sizeof buf, -INFINITY);
    CHECK(!strcmp(buf, "-inf"));
}

static void test_round_trip(void)
{
    minima_rng rng;
    minima_rng_seed(&rng, 7);
    double specials[] = {1.0 / 3, 2.0 / 3, 0.1 + 0.2, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                         9.9999999999999995e-07, 123456789012345678.0};
    for (size_t i = 0; i < sizeof specials / sizeof *specials + 2000; i++) {
        double x = i < sizeof specials / sizeof *specials
                       ? specials[i]
                       : ldexp(minima_rng_normal(&rng), (int)(minima_rng_uniform(&rng) * 200) - 100);
        char buf[MINIMA_DOUBLE_CHARS], longest[64];
        int n = minima_format_double(buf, sizeof buf, x);
        snprintf(longest, sizeof longest, "%.17g", x);
        CHECK_MSG(strtod(buf, NULL) == x, "%s does not read back as %s", buf, longest);
        CHECK_MSG(n == (int)strlen(buf) && n < MINIMA_DOUBLE_CHARS, "%s: length %d", buf, n);
    }
}

int main(void)
{
    RUN(test_short_values);
    RUN(test_round_trip);
    return harness_report();
}
