/* report_json.c — the shared pieces of the --json writers (report.h). */
#include "report/report_json_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "minima/alloc.h"
#include "minima/format.h"
#include "minima/report.h"

static int reserve(rj_buf *b, size_t extra)
{
    if (b->failed) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra + 1) cap *= 2;
    char *t = minima_realloc(b->text, cap, 1);
    if (!t) {
        b->failed = 1;
        return 0;
    }
    b->text = t;
    b->cap = cap;
    return 1;
}

void rj_printf(rj_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->text + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rj_number(rj_buf *b, double x)
{
    char s[MINIMA_DOUBLE_CHARS];
    if (!isfinite(x)) {
        rj_printf(b, "null");
        return;
    }
    minima_format_double(s, sizeof s, x);
    rj_printf(b, "%s", s);
}

static size_t escape(char *dst, const char *s)
{
    size_t n = 0;
    dst[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': dst[n++] = '\\'; dst[n++] = '"'; break;
        case '\\': dst[n++] = '\\'; dst[n++] = '\\'; break;
        case '\n': dst[n++] = '\\'; dst[n++] = 'n'; break;
        case '\t': dst[n++] = '\\'; dst[n++] = 't'; break;
        case '\r': dst[n++] = '\\'; dst[n++] = 'r'; break;
        default:
            if (*p < 0x20) n += (size_t)sprintf(dst + n, "\\u%04x", *p);
            else dst[n++] = (char)*p;
        }
    }
    dst[n++] = '"';
    dst[n] = 0;
    return n;
}

void rj_string(rj_buf *b, const char *s)
{
    size_t worst = 6 * (s ? strlen(s) : 0) + 2;
    if (!reserve(b, worst)) return;
    b->len += escape(b->text + b->len, s);
}

void rj_string_or_null(rj_buf *b, const char *s)
{
    if (s) rj_string(b, s);
    else rj_printf(b, "null");
}

void rj_model_source(rj_buf *b, minima_activation act, minima_provenance act_source,
                     minima_provenance order_source)
{
    rj_printf(b, "\"activation\": ");
    rj_string(b, minima_activation_name(act));
    rj_printf(b, ", \"activation_source\": ");
    rj_string(b, minima_provenance_name(act_source));
    rj_printf(b, ", \"layer_order_source\": ");
    rj_string(b, minima_provenance_name(order_source));
}

minima_status rj_finish(rj_buf *b, char **out)
{
    *out = NULL;
    if (!b->failed && !b->text && !reserve(b, 0)) b->failed = 1;
    if (b->failed) {
        minima_free(b->text);
        memset(b, 0, sizeof *b);
        return minima_error(MINIMA_ENOMEM, "out of memory writing a JSON result");
    }
    b->text[b->len] = 0;
    *out = b->text;
    memset(b, 0, sizeof *b);
    return MINIMA_OK;
}

double rj_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int minima_model_source_json(const minima_model *model, char *buf, size_t size)
{
    rj_buf b = {0};
    rj_model_source(&b, model->activation, model->activation_source, model->order_source);
    char *text = NULL;
    if (rj_finish(&b, &text) != MINIMA_OK) {
        minima_clear_error();
        return -1;
    }
    size_t n = strlen(text);
    int rc = -1;
    if (n < size) {
        memcpy(buf, text, n + 1);
        rc = (int)n;
    }
    minima_free(text);
    return rc;
}
