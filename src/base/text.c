/* text.c — the growing text buffer of base/text_impl.h. */
#include "base/text_impl.h"

#include <stdarg.h>
#include <stdio.h>

#include "minima/alloc.h"

void minima_text_put(minima_text *t, const char *fmt, ...)
{
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { t->failed = 1; return; }
        if (t->s && (size_t)n < t->cap - t->len) { t->len += (size_t)n; return; }
        size_t cap = t->cap ? t->cap : 256;
        while (cap <= t->len + (size_t)n) cap *= 2;
        char *p = minima_realloc(t->s, cap, 1);
        if (!p) { t->failed = 1; return; }
        t->s = p;
        t->cap = cap;
    }
}

void minima_text_json_string(minima_text *t, const char *s)
{
    minima_text_put(t, "\"");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '"': minima_text_put(t, "\\\""); break;
        case '\\': minima_text_put(t, "\\\\"); break;
        case '\n': minima_text_put(t, "\\n"); break;
        case '\t': minima_text_put(t, "\\t"); break;
        case '\r': minima_text_put(t, "\\r"); break;
        default:
            if (*p < 0x20) minima_text_put(t, "\\u%04x", *p);
            else minima_text_put(t, "%c", *p);
        }
    }
    minima_text_put(t, "\"");
}
