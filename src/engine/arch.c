/* arch.c — placeholder until the architecture grammar lands (same issue):
 * only the MLP form is read. */
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/model.h"

minima_status minima_arch_parse(const char *arch, int has_bias, minima_activation activation,
                                double slope, minima_model **out)
{
    if (!arch || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_arch_parse: NULL argument");
    *out = NULL;
    if (strchr(arch, ':'))
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "architecture '%s': the general form is not read yet",
                    arch);
    int *widths = NULL, n = 0;
    MINIMA_TRY(minima_parse_arch(arch, &widths, &n));
    minima_status st = minima_model_create(out, n, widths, has_bias, activation);
    minima_free(widths);
    if (st == MINIMA_OK && activation == MINIMA_ACT_LEAKY_RELU)
        st = minima_model_set_activation(*out, activation, slope);
    return st;
}

void minima_arch_format(const minima_model *model, char *buf, size_t size)
{
    snprintf(buf, size, "graph");
}
