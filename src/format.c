/* format.c — shortest round-tripping decimal (see minima/format.h). */
#include "minima/format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int minima_format_double(char *buf, size_t size, double x)
{
    char tmp[MINIMA_DOUBLE_CHARS];
    if (isnan(x)) return snprintf(buf, size, "nan");
    if (isinf(x)) return snprintf(buf, size, x > 0 ? "inf" : "-inf");
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*g", p, x);
        if (strtod(tmp, NULL) == x) break;
    }
    return snprintf(buf, size, "%s", tmp);
}
