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
#include "api/api_request_impl.h"

void minima_api_free_string(char *s)
{
    minima_free(s);
}


/* ---- spectrum -------------------------------------------------------------- */

minima_status minima_api_spectrum(minima_net *net, const char *request, char **json)
{
    static const char fn[] = "minima_api_spectrum";
    if (!json) return minima_error(MINIMA_EINVAL, "%s: json is NULL", fn);
    *json = NULL;
    if (!net) return minima_error(MINIMA_EINVAL, "%s: net is NULL", fn);
    minima_spectrum_request q = minima_spectrum_default_request();
    int float32 = 0;
    const char *precision = NULL;
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
        OTHER("precision", RK_STRING, &precision),
        NUM("seed", RK_U64, &q.seed, 0, 0),
        {NULL, RK_INT, NULL, 0, 0, 0, 0},
    };
    char *buf = NULL, *layer_spec = NULL;
    minima_net *net32 = NULL;
    minima_spectrum_result r;
    memset(&r, 0, sizeof r);
    minima_status st = minima_api_request_parse(fn, request, keys, &buf);
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
    if (precision) {
        int found = 0;
        for (int p = MINIMA_PRECISION_FLOAT64; p <= MINIMA_PRECISION_AUTO; p++)
            if (!strcmp(precision, minima_precision_name((minima_precision)p))) {
                q.precision = (minima_precision)p;
                found = 1;
            }
        if (!found) {
            st = minima_error(MINIMA_EINVAL, "%s: precision: expected auto, float64, mixed or float32, "
                              "found '%s'", fn, precision);
            goto done;
        }
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
        char *item = minima_api_request_trim(p);
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
    minima_status st = minima_api_request_parse(fn, request, keys, &buf);
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
