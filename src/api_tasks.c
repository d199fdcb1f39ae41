/* api_tasks.c — the commands' computations through plain types (api.h):
 * minima_api_spectrum, minima_api_sharpness and minima_api_audit parse a
 * "key=value,key=value" request into the report.h request (defaults and
 * ranges those of the command-line options), run it and return the
 * command's --json text. Also minima_api_free_string. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/api.h"
#include "minima/report.h"

void minima_api_free_string(char *s)
{
    minima_free(s);
}

/* ---- the request parser -------------------------------------------------- */

typedef enum { RK_INT, RK_SIZE, RK_DOUBLE, RK_U64, RK_BOOL, RK_STRING, RK_LIST } req_kind;

typedef struct {
    const char *key;
    req_kind kind;
    void *value;          /* int*, size_t*, double*, uint64_t*, int*, const char**, req_list* */
    double lo, hi;        /* numeric range */
    int lo_open, hi_open; /* the bound itself is excluded */
} req_key;

typedef struct {
    double *v;
    int n;
} req_list;

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
        else return minima_error(MINIMA_EINVAL, "%s: request key '%s': expected 0 or 1, found '%s'", fn, k->key, v);
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

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* Parses `request` against the table. String values point into *buf (a
 * copy of the request; minima_free it after the run). */
static minima_status parse_request(const char *fn, const char *request, const req_key *keys, char **buf)
{
    *buf = NULL;
    if (!request || !*request) return MINIMA_OK;
    if (!(*buf = minima_strdup(request))) return minima_error(MINIMA_ENOMEM, "out of memory");
    for (char *p = *buf; p;) {
        char *next = strchr(p, ',');
        if (next) *next++ = 0;
        char *item = trim(p);
        p = next;
        if (!*item) {
            if (!p) break;          /* a trailing comma */
            return minima_error(MINIMA_EINVAL, "%s: request '%s': an empty entry", fn, request);
        }
        char *eq = strchr(item, '=');
        if (!eq)
            return minima_error(MINIMA_EINVAL, "%s: request entry '%s': expected key=value", fn, item);
        *eq = 0;
        char *key = trim(item), *value = trim(eq + 1);
        const req_key *k = NULL;
        for (const req_key *c = keys; c->key; c++)
            if (!strcmp(c->key, key)) k = c;
        if (!k) {
            char known[512];
            size_t n = 0;
            known[0] = 0;
            for (const req_key *c = keys; c->key && n < sizeof known; c++)
                n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", c == keys ? "" : ", ", c->key);
            return minima_error(MINIMA_EINVAL, "%s: unknown request key '%s' (known: %s)", fn, key, known);
        }
        minima_status st = set_value(fn, k, value);
        if (st != MINIMA_OK) return st;
    }
    return MINIMA_OK;
}

#define NUM(name, kind, ptr, lo, hi) {name, kind, ptr, lo, hi, 0, 0}
#define OPEN(name, ptr, lo, hi) {name, RK_DOUBLE, ptr, lo, hi, 1, 1}
#define OTHER(name, kind, ptr) {name, kind, ptr, 0, 0, 0, 0}

/* ---- spectrum -------------------------------------------------------------- */

minima_status minima_api_spectrum(minima_net *net, const char *request, char **json)
{
    static const char fn[] = "minima_api_spectrum";
    if (!json) return minima_error(MINIMA_EINVAL, "%s: json is NULL", fn);
    *json = NULL;
    if (!net) return minima_error(MINIMA_EINVAL, "%s: net is NULL", fn);
    minima_spectrum_request q = minima_spectrum_default_request();
    int float32 = 0;
    req_list levels = {0};
    const char *layers = NULL;
    const req_key keys[] = {
        NUM("top", RK_INT, &q.top, 0, 10000),
        NUM("bottom", RK_INT, &q.bottom, 0, 10000),
        OPEN("tol", &q.tol, 0, 1),
        NUM("basis", RK_SIZE, &q.basis, 0, 100000),
        NUM("max_products", RK_SIZE, &q.max_products, 1, 1e9),
        OTHER("trace", RK_BOOL, &q.trace),
        OTHER("trace_method", RK_STRING, &q.trace_method),
        OPEN("trace_rtol", &q.trace_rtol, 0, 1),
        NUM("trace_max", RK_SIZE, &q.trace_max, 2, 1e9),
        OTHER("density", RK_BOOL, &q.density),
        NUM("slq_steps", RK_SIZE, &q.slq_steps, 1, 100000),
        NUM("slq_draws", RK_SIZE, &q.slq_draws, 1, 100000),
        OTHER("exact", RK_BOOL, &q.exact),
        OTHER("levels", RK_LIST, &levels),
        OTHER("layers", RK_STRING, &layers),
        OTHER("ggn", RK_BOOL, &q.ggn),
        OTHER("float32", RK_BOOL, &float32),
        NUM("seed", RK_U64, &q.seed, 0, 0),
        {NULL, RK_INT, NULL, 0, 0, 0, 0},
    };
    char *buf = NULL, *layer_spec = NULL;
    minima_net *net32 = NULL;
    minima_spectrum_result r;
    memset(&r, 0, sizeof r);
    minima_status st = parse_request(fn, request, keys, &buf);
    if (st != MINIMA_OK) goto done;
    if (levels.n) {
        q.levels = levels.v;
        q.n_levels = levels.n;
    }
    if (layers) {
        /* names separated by ';' here, by ',' in the layer selection */
        if (!(layer_spec = minima_strdup(layers))) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto done; }
        for (char *c = layer_spec; *c; c++)
            if (*c == ';') *c = ',';
        q.layers = layer_spec;
    }
    if (float32 && q.tol < 1e-6) {
        st = minima_error(MINIMA_EINVAL, "%s: float32 products carry ~1e-6 relative error: tol %g cannot be "
                          "reached (use 1e-5 or more)", fn, q.tol);
        goto done;
    }
    minima_net *use = net;
    if (float32 && !minima_net_get_params(net).float32) {
        /* the same problem with float32 products, at the same anchor */
        minima_net_params np = minima_net_get_params(net);
        np.float32 = 1;
        if ((st = minima_net_create(&net32, minima_net_model(net), minima_net_data(net), &np)) != MINIMA_OK ||
            (st = minima_net_set_point(net32, minima_net_point(net))) != MINIMA_OK)
            goto done;
        use = net32;
    }
    st = minima_spectrum_run(use, &q, &r);
    if (st == MINIMA_OK || st == MINIMA_ENOCONV) {
        /* Lanczos short of max_products is reported in the JSON ("converged": false) */
        minima_status jst = minima_spectrum_json(&r, json);
        if (jst != MINIMA_OK) st = jst;
        else st = MINIMA_OK;
    }
done:
    minima_spectrum_result_free(&r);
    minima_net_free(net32);
    minima_free(levels.v);
    minima_free(layer_spec);
    minima_free(buf);
    return st;
}

/* ---- sharpness and audit: measures and settings ---------------------------- */

/* Splits "name:k=v,k=v;name:k=v" at ';' in place (into *buf, a copy):
 * *items points at each entry. */
static minima_status split_settings(const char *fn, const char *settings, char **buf, const char ***items,
                                    int *n)
{
    *buf = NULL;
    *items = NULL;
    *n = 0;
    if (!settings || !*settings) return MINIMA_OK;
    if (!(*buf = minima_strdup(settings))) return minima_error(MINIMA_ENOMEM, "out of memory");
    size_t cap = 1;
    for (const char *p = settings; *p; p++) cap += *p == ';';
    const char **a = minima_alloc(cap, sizeof *a);
    if (!a) return minima_error(MINIMA_ENOMEM, "out of memory");
    *items = a;
    for (char *p = *buf; p;) {
        char *next = strchr(p, ';');
        if (next) *next++ = 0;
        char *item = trim(p);
        p = next;
        if (!*item) continue;
        char *colon = strchr(item, ':');
        if (!colon || colon == item || colon - item >= 64)
            return minima_error(MINIMA_EINVAL, "%s: settings: expected NAME:key=value,..., found '%s'", fn, item);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(colon - item), item);
        if (!minima_measure_find(name))
            return minima_error(MINIMA_EINVAL, "%s: settings: unknown measure '%s' (see minima sharpness --list)",
                                fn, name);
        a[(*n)++] = item;
    }
    return MINIMA_OK;
}

minima_status minima_api_sharpness(minima_net *net, const char *measures, const char *settings, uint64_t seed,
                                   char **json)
{
    static const char fn[] = "minima_api_sharpness";
    if (!json) return minima_error(MINIMA_EINVAL, "%s: json is NULL", fn);
    *json = NULL;
    if (!net) return minima_error(MINIMA_EINVAL, "%s: net is NULL", fn);
    char *buf = NULL;
    const char **items = NULL;
    int n_items = 0;
    minima_sharpness_result r;
    memset(&r, 0, sizeof r);
    minima_status st = split_settings(fn, settings, &buf, &items, &n_items);
    if (st == MINIMA_OK) {
        minima_sharpness_request q = minima_sharpness_default_request();
        if (measures && *measures) q.measures = measures;
        q.settings = items;
        q.n_settings = n_items;
        q.seed = seed;
        st = minima_sharpness_run(net, &q, &r);
        /* failed measures are in the JSON ("error", "note") */
        if (st == MINIMA_OK) st = minima_sharpness_json(&r, json);
    }
    minima_sharpness_result_free(&r);
    minima_free(items);
    minima_free(buf);
    return st;
}

minima_status minima_api_audit(minima_net *net, const char *measures, const char *settings, const char *request,
                               char **json)
{
    static const char fn[] = "minima_api_audit";
    if (!json) return minima_error(MINIMA_EINVAL, "%s: json is NULL", fn);
    *json = NULL;
    if (!net) return minima_error(MINIMA_EINVAL, "%s: net is NULL", fn);
    minima_audit_request q = minima_audit_default_request();
    minima_audit_params *p = &q.params;
    int canonical = p->canonical;
    const req_key keys[] = {
        NUM("decades", RK_INT, &p->decades, 0, 30),
        NUM("step", RK_DOUBLE, &p->decade_step, 0.01, 30),
        NUM("neuron_draws", RK_INT, &p->neuron_draws, 0, 1000),
        NUM("neuron_points", RK_INT, &p->neuron_draws, 0, 1000),     /* the same, as api.h names it */
        NUM("spread", RK_DOUBLE, &p->spread, 0, 20),
        NUM("seed", RK_U64, &p->seed, 0, 0),
        OTHER("canonical", RK_BOOL, &canonical),
        NUM("canonical_points", RK_INT, &p->canonical_points, 0, 100000),
        NUM("equivalence_tol", RK_DOUBLE, &p->equivalence_tol, 0, 1),
        NUM("invariant_tol", RK_DOUBLE, &p->invariant_tol, 0, 1e300),
        NUM("moved_tol", RK_DOUBLE, &p->moved_tol, 0, 1e300),
        NUM("approx_tol", RK_DOUBLE, &p->approx_tol, 0, 1e300),
        OTHER("strict", RK_BOOL, &q.strict),
        {NULL, RK_INT, NULL, 0, 0, 0, 0},
    };
    char *buf = NULL, *sbuf = NULL;
    const char **items = NULL;
    int n_items = 0;
    minima_audit_setting *sets = NULL;
    minima_audit_report r;
    memset(&r, 0, sizeof r);
    minima_status st = parse_request(fn, request, keys, &buf);
    if (st != MINIMA_OK) goto done;
    p->canonical = canonical;
    if ((st = split_settings(fn, settings, &sbuf, &items, &n_items)) != MINIMA_OK) goto done;
    if (n_items) {
        /* "name:k=v" into {name, "k=v"}: the ':' becomes the name's end */
        if (!(sets = minima_alloc((size_t)n_items, sizeof *sets))) {
            st = minima_error(MINIMA_ENOMEM, "out of memory");
            goto done;
        }
        for (int i = 0; i < n_items; i++) {
            char *item = (char *)items[i], *colon = strchr(item, ':');
            *colon = 0;
            sets[i].measure = item;
            sets[i].settings = colon + 1;
        }
        p->extra_settings = sets;
        p->n_extra_settings = (size_t)n_items;
    }
    if (measures && *measures) q.measures = measures;
    st = minima_audit_report_run(net, &q, &r);
    if (st == MINIMA_OK) st = minima_audit_report_json(&r, json);
done:
    minima_audit_report_free(&r);
    minima_free(sets);
    minima_free(items);
    minima_free(sbuf);
    minima_free(buf);
    return st;
}
