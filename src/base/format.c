/* format.c — shortest round-tripping decimal (see minima/format.h). */
#include "minima/format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int minima_format_double(char *buf, size_t size, double x)
{
    char tmp[MINIMA_DOUBLE_CHARS], best[MINIMA_DOUBLE_CHARS] = "";
    if (isnan(x)) return snprintf(buf, size, "nan");
    if (isinf(x)) return snprintf(buf, size, x > 0 ? "inf" : "-inf");
    /* Of the precisions that read back exactly, the shortest text: "100"
     * (%.3g) rather than "1e+02" (%.1g). */
    for (int p = 1; p <= 17; p++) {
        int n = snprintf(tmp, sizeof tmp, "%.*g", p, x);
        if (strtod(tmp, NULL) != x) continue;
        size_t len = (size_t)n, best_len = strlen(best);
        /* Shorter wins; at equal length plain notation ("70000") beats
         * an exponent ("7e+04"). */
        if (!best[0] || len < best_len || (len == best_len && strchr(best, 'e') && !strchr(tmp, 'e')))
            snprintf(best, sizeof best, "%s", tmp);
    }
    return snprintf(buf, size, "%s", best);
}
