/* arch.c — placeholder until the architecture grammar lands (same issue). */
#include <stdio.h>

#include "minima/model.h"

minima_status minima_arch_parse(const char *arch, int has_bias, minima_activation activation,
                                double slope, minima_model **out)
{
    MINIMA_FAIL(MINIMA_EUNSUPPORTED, "architecture '%s': the general form is not read yet",
                arch ? arch : "(null)");
}

void minima_arch_format(const minima_model *model, char *buf, size_t size)
{
    snprintf(buf, size, "graph");
}
