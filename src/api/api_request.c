/* api_request.c — "key=value,key=value" requests against a table of keys
 * (see api_request_impl.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_request_impl.h"
#include "minima/alloc.h"

/* ---- values ------------------------------------------------------------ */

static void range_text(char *buf, size_t size, const req_key *k)
{
    snprintf(buf, size, "%c%.17g, %.17g%c", k->lo_open ? '(' : '[', k->lo, k->hi, k->hi_open ? ')' : ']');
}

static int in_range(const req_key *k, double x)
{
    return (k->lo_open ? x > k->lo : x >= k->lo) && (k->hi_open ? x < k->hi : x <= k->hi);
}

static int all_digits(const char *s, int allow_minus)
{
    if (allow_minus && *s == '-') s++;
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static minima_status parse_number(const char *fn, const char *key, const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || isspace((unsigned char)*v) || *end || errno || !isfinite(x))
        return minima_error(MINIMA_EINVAL, "%s: request key '%s': expected a finite number, found '%s'", fn,
                            key, v);
    *out = x;
    return MINIMA_OK;
}

static minima_status set_value(const char *fn, const req_key *k, const char *v)
{
    char range[96];
    range_text(range, sizeof range, k);
    switch (k->kind) {
    case RK_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true")) *(int *)k->value = 1;
        else if (!strcmp(v, "0") || !strcmp(v, "false")) *(int *)k->value = 0;
        else return minima_error(MINIMA_EINVAL, "%s: request: %s must be 0 or 1, found '%s'", fn, k->key, v);
        return MINIMA_OK;
    case RK_STRING:
        *(const char **)k->value = v;
        return MINIMA_OK;
    case RK_INT: case RK_SIZE: {
        errno = 0;
        char *end;
        long long x = strtoll(v, &end, 10);
        if (!all_digits(v, k->kind == RK_INT) || *end || errno || !in_range(k, (double)x))
            return minima_error(MINIMA_EINVAL, "%s: request key '%s': expected an integer in %s, found '%s'",
                                fn, k->key, range, v);
        if (k->kind == RK_INT) *(int *)k->value = (int)x;
        else *(size_t *)k->value = (size_t)x;
        return MINIMA_OK;
    }
    case RK_U64: {
        errno = 0;
        char *end;
        unsigned long long x = strtoull(v, &end, 10);
        if (!all_digits(v, 0) || *end || errno)
            return minima_error(MINIMA_EINVAL, "%s: request key '%s': expected an integer in [0, 2^64 - 1], "
                                "found '%s'", fn, k->key, v);
        *(uint64_t *)k->value = (uint64_t)x;
        return MINIMA_OK;
    }
    case RK_DOUBLE: {
        double x;
        minima_status st = parse_number(fn, k->key, v, &x);
        if (st != MINIMA_OK) return st;
        if (!in_range(k, x))
            return minima_error(MINIMA_EINVAL, "%s: request key '%s': expected a number in %s, found '%s'", fn,
                                k->key, range, v);
        *(double *)k->value = x;
        return MINIMA_OK;
    }
    case RK_LIST: {
        req_list *l = k->value;
        size_t n = 1;
        for (const char *p = v; *p; p++) n += *p == ';';
        double *a = minima_alloc(n, sizeof *a);
        if (!a) return minima_error(MINIMA_ENOMEM, "out of memory");
        int i = 0;
        char item[64];
        for (const char *p = v;; ) {
            size_t len = strcspn(p, ";");
            if (len == 0 || len >= sizeof item) {
                minima_free(a);
                return minima_error(MINIMA_EINVAL, "%s: request key '%s': expected numbers separated by ';', "
                                    "found '%s' (entry %d %s)", fn, k->key, v, i + 1, len ? "too long" : "empty");
            }
            memcpy(item, p, len);
            item[len] = 0;
            minima_status st = parse_number(fn, k->key, item, &a[i]);
            if (st != MINIMA_OK) { minima_free(a); return st; }
            i++;
            p += len;
            if (!*p) break;
            p++;
        }
        minima_free(l->v);
        l->v = a;
        l->n = i;
        return MINIMA_OK;
    }
    }
    return minima_error(MINIMA_EINVAL, "%s: request key '%s': unsupported kind", fn, k->key);
}

char *minima_api_request_trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* Parses `request` against the table. String values point into *buf (a
 * copy of the request; minima_free it after the run). */
/* "a, b, c": the keys of the table, for messages. */
static void key_list(const req_key *keys, char *out, size_t size)
{
    size_t n = 0;
    out[0] = 0;
    for (const req_key *c = keys; c->key && n < size; c++)
        n += (size_t)snprintf(out + n, size - n, "%s%s", c == keys ? "" : ", ", c->key);
}

minima_status minima_api_request_parse(const char *fn, const char *request, const req_key *keys, char **buf)
{
    *buf = NULL;
    if (!request || !*request) return MINIMA_OK;
    if (!(*buf = minima_strdup(request))) return minima_error(MINIMA_ENOMEM, "%s: out of memory", fn);
    char known[512];
    key_list(keys, known, sizeof known);
    unsigned char given[64] = {0};       /* which keys the request has set */
    for (char *p = *buf; p;) {
        char *next = strchr(p, ',');
        if (next) *next++ = 0;
        char *item = minima_api_request_trim(p);
        p = next;
        if (!*item)
            return minima_error(MINIMA_EINVAL, "%s: request \"%.200s\": an empty entry; expected "
                                "key=value,key=value with keys %s", fn, request, known);
        char *eq = strchr(item, '=');
        if (!eq)
            return minima_error(MINIMA_EINVAL, "%s: request \"%.200s\": '%.60s' is not key=value; the "
                                "keys are %s", fn, request, item, known);
        *eq = 0;
        char *key = minima_api_request_trim(item), *value = minima_api_request_trim(eq + 1);
        const req_key *k = NULL;
        for (const req_key *c = keys; c->key; c++)
            if (!strcmp(c->key, key)) k = c;
        if (!k)
            return minima_error(MINIMA_EINVAL, "%s: request: unknown key '%.60s'; the keys are %s", fn, key,
                                known);
        size_t idx = (size_t)(k - keys);
        if (idx < sizeof given) {
            if (given[idx])
                return minima_error(MINIMA_EINVAL, "%s: request: key '%s' is given twice", fn, k->key);
            given[idx] = 1;
        }
        minima_status st = set_value(fn, k, value);
        if (st != MINIMA_OK) return st;
    }
    return MINIMA_OK;
}
