/* report_json_impl.h — a growing text buffer for the --json writers of
 * report_*.c: numbers as minima_format_double writes them (null when not
 * finite), strings escaped as the command line always has. */
#ifndef MINIMA_REPORT_JSON_IMPL_H
#define MINIMA_REPORT_JSON_IMPL_H

#include <stddef.h>

#include "minima/model.h"
#include "minima/status.h"

typedef struct {
    char *text;
    size_t len, cap;
    int failed;          /* an allocation failed: everything after is dropped */
} rj_buf;

void rj_printf(rj_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rj_number(rj_buf *b, double x);
void rj_string(rj_buf *b, const char *s);          /* NULL: "" */
void rj_string_or_null(rj_buf *b, const char *s);  /* NULL: null */
void rj_model_source(rj_buf *b, minima_activation act, minima_provenance act_source,
                     minima_provenance order_source);
/* Hands the text over (*out, minima_free it), or frees it and fails with MINIMA_ENOMEM. */
minima_status rj_finish(rj_buf *b, char **out);

/* Seconds on a monotonic clock. */
double rj_now(void);

#endif
