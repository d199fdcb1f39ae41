/* measure_settings.c — the measures' settings, described once per measure
 * as a table of minima_setting (sharpness.h): the parser with its range
 * checks, the JSON of the settings used, and the texts of ranges and
 * defaults that `minima sharpness --list` and the docs show. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minima/format.h"
#include "minima/sharpness.h"

static double *double_at(void *values, const minima_setting *s)
{
    return (double *)(void *)((char *)values + s->offset);
}

static int *int_at(void *values, const minima_setting *s)
{
    return (int *)(void *)((char *)values + s->offset);
}

static double value_of(const void *values, const minima_setting *s)
{
    const char *at = (const char *)values + s->offset;
    if (s->kind == MINIMA_SETTING_DOUBLE || s->kind == MINIMA_SETTING_PNORM) return *(const double *)(const void *)at;
    return *(const int *)(const void *)at;
}

static void put_default(void *values, const minima_setting *s)
{
    if (s->kind == MINIMA_SETTING_DOUBLE || s->kind == MINIMA_SETTING_PNORM) *double_at(values, s) = s->def;
    else *int_at(values, s) = (int)s->def;
}

void minima_setting_range_text(const minima_setting *s, char *buf, size_t size)
{
    if (s->kind == MINIMA_SETTING_BOOL) { snprintf(buf, size, "0 or 1"); return; }
    if (s->kind == MINIMA_SETTING_PNORM) { snprintf(buf, size, "2 or inf"); return; }
    const char *what = s->kind == MINIMA_SETTING_INT ? "an integer" : "a number";
    char lo[MINIMA_DOUBLE_CHARS], hi[MINIMA_DOUBLE_CHARS];
    minima_format_double(lo, sizeof lo, s->min);
    minima_format_double(hi, sizeof hi, s->max);
    int has_lo = isfinite(s->min), has_hi = isfinite(s->max);
    int lo_open = (s->flags & MINIMA_SETTING_MIN_OPEN) != 0, hi_open = (s->flags & MINIMA_SETTING_MAX_OPEN) != 0;
    if (has_lo && has_hi)
        snprintf(buf, size, "%s in %c%s, %s%c", what, lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
    else if (has_lo)
        snprintf(buf, size, "%s %s %s", what, lo_open ? ">" : ">=", lo);
    else if (has_hi)
        snprintf(buf, size, "%s %s %s", what, hi_open ? "<" : "<=", hi);
    else
        snprintf(buf, size, "%s", what);
}

void minima_setting_default_text(const minima_setting *s, char *buf, size_t size)
{
    if (isnan(s->def)) snprintf(buf, size, "auto");
    else if (s->kind == MINIMA_SETTING_PNORM) snprintf(buf, size, isinf(s->def) ? "inf" : "2");
    else if (s->kind == MINIMA_SETTING_INT || s->kind == MINIMA_SETTING_BOOL) snprintf(buf, size, "%d", (int)s->def);
    else minima_format_double(buf, size, s->def);
}

static int in_range(const minima_setting *s, double x)
{
    if (s->kind == MINIMA_SETTING_BOOL) return x == 0 || x == 1;
    if (s->kind == MINIMA_SETTING_PNORM) return x == 2 || isinf(x);
    if (s->flags & MINIMA_SETTING_MIN_OPEN ? !(x > s->min) : !(x >= s->min)) return 0;
    if (s->flags & MINIMA_SETTING_MAX_OPEN ? !(x < s->max) : !(x <= s->max)) return 0;
    return 1;
}

/* Reads one value of kind s->kind from text (NUL-terminated) into *x. */
static minima_status read_value(const char *measure, const minima_setting *s, const char *text, double *x)
{
    char range[96];
    minima_setting_range_text(s, range, sizeof range);
    if (s->kind == MINIMA_SETTING_PNORM) {
        if (!strcmp(text, "2")) { *x = 2; return MINIMA_OK; }
        if (!strcmp(text, "inf") || !strcmp(text, "infinity")) { *x = INFINITY; return MINIMA_OK; }
        MINIMA_FAIL(MINIMA_EINVAL, "measure %s: setting '%s': expected %s, found '%s'", measure, s->name,
                    range, text);
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v))
        MINIMA_FAIL(MINIMA_EINVAL, "measure %s: setting '%s': expected %s, found '%s'", measure, s->name,
                    range, text);
    if (s->kind != MINIMA_SETTING_DOUBLE && (v != floor(v) || fabs(v) > 2e9))
        MINIMA_FAIL(MINIMA_EINVAL, "measure %s: setting '%s': expected %s, found '%s' (not an integer)",
                    measure, s->name, range, text);
    *x = v;
    return MINIMA_OK;
}

minima_status minima_settings_parse(const char *measure, const minima_setting *table, size_t n,
                                    const char *settings, void *values)
{
    for (size_t i = 0; i < n; i++) put_default(values, &table[i]);
    char seen[64] = {0};
    if (n > sizeof seen)
        MINIMA_FAIL(MINIMA_EINVAL, "measure %s: %zu settings, at most %zu supported", measure, n, sizeof seen);
    for (const char *p = settings; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq)
            MINIMA_FAIL(MINIMA_EINVAL, "measure %s: setting '%.*s': expected key=value", measure, (int)len, p);
        size_t klen = (size_t)(eq - p);
        const minima_setting *s = NULL;
        size_t at = 0;
        for (size_t i = 0; i < n && !s; i++)
            if (strlen(table[i].name) == klen && !strncmp(table[i].name, p, klen)) { s = &table[i]; at = i; }
        if (!s) {
            char keys[512] = "";
            size_t kl = 0;
            for (size_t i = 0; i < n && kl < sizeof keys; i++)
                kl += (size_t)snprintf(keys + kl, sizeof keys - kl, "%s%s", i ? ", " : "", table[i].name);
            MINIMA_FAIL(MINIMA_EINVAL, "measure %s: unknown setting '%.*s'; its settings are %s", measure,
                        (int)klen, p, n ? keys : "(none)");
        }
        if (seen[at])
            MINIMA_FAIL(MINIMA_EINVAL, "measure %s: setting '%s' given twice", measure, s->name);
        seen[at] = 1;
        char text[64];
        size_t vlen = len - klen - 1;
        if (vlen >= sizeof text)
            MINIMA_FAIL(MINIMA_EINVAL, "measure %s: setting '%s': value of %zu characters, expected at most %zu",
                        measure, s->name, vlen, sizeof text - 1);
        memcpy(text, eq + 1, vlen);
        text[vlen] = '\0';
        double x = 0;
        MINIMA_TRY(read_value(measure, s, text, &x));
        if (!in_range(s, x)) {
            char range[96];
            minima_setting_range_text(s, range, sizeof range);
            MINIMA_FAIL(MINIMA_EINVAL, "measure %s: setting '%s' = %s is out of range: expected %s", measure,
                        s->name, text, range);
        }
        if (s->kind == MINIMA_SETTING_DOUBLE || s->kind == MINIMA_SETTING_PNORM) *double_at(values, s) = x;
        else *int_at(values, s) = (int)x;
        p = end ? end + 1 : NULL;
    }
    return MINIMA_OK;
}

int minima_settings_json(const minima_setting *table, size_t n, const void *values, const char *extra,
                         char *buf, size_t size)
{
    size_t total = 0;   /* characters needed so far; written up to size - 1 */
#define PUT(...)                                                                   \
    do {                                                                           \
        size_t at_ = total < size ? total : size;                                  \
        int k_ = snprintf(buf + at_, size - at_, __VA_ARGS__);                      \
        if (k_ > 0) total += (size_t)k_;                                           \
    } while (0)
    if (size) buf[0] = '\0';
    PUT("{");
    for (size_t i = 0; i < n; i++) {
        const minima_setting *s = &table[i];
        double x = value_of(values, s);
        PUT("%s\"%s\": ", i ? ", " : "", s->name);
        if (s->kind == MINIMA_SETTING_PNORM && isinf(x)) {
            PUT("\"inf\"");
        } else if (s->kind == MINIMA_SETTING_DOUBLE || s->kind == MINIMA_SETTING_PNORM) {
            char num[MINIMA_DOUBLE_CHARS];
            minima_format_double(num, sizeof num, x);
            if (isfinite(x)) PUT("%s", num);
            else PUT("null");
        } else {
            PUT("%d", (int)x);
        }
    }
    if (extra && *extra) PUT("%s%s", n ? ", " : "", extra);
    PUT("}");
#undef PUT
    return (int)total;
}

void minima_measure_defaults(const minima_measure *m, char *buf, size_t size)
{
    size_t len = 0;
    if (size) buf[0] = '\0';
    for (size_t i = 0; m && i < m->n_settings && len < size; i++) {
        char d[MINIMA_DOUBLE_CHARS];
        minima_setting_default_text(&m->settings[i], d, sizeof d);
        int k = snprintf(buf + len, size - len, "%s%s=%s", i ? "," : "", m->settings[i].name, d);
        if (k > 0) len += (size_t)k;
    }
}
