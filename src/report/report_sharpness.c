/* report_sharpness.c — `minima sharpness`'s computation and its --json text
 * (report.h): the registry's measures at the model and, when asked, at the
 * canonical representative of its rescaling orbit. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/graph_symmetry.h"
#include "minima/report.h"
#include "report/report_json_impl.h"

minima_sharpness_request minima_sharpness_default_request(void)
{
    minima_sharpness_request r;
    memset(&r, 0, sizeof r);
    r.measures = "all";
    return r;
}

void minima_sharpness_result_free(minima_sharpness_result *r)
{
    if (!r) return;
    minima_free(r->measures);
    minima_free(r->model_label);
    minima_free(r->data_label);
    memset(r, 0, sizeof *r);
}

/* The settings for a measure: the last "NAME:..." entry for its name, or NULL. */
static const char *settings_for(const char *name, const char *const *sets, int n_sets)
{
    const char *found = NULL;
    size_t n = strlen(name);
    for (int i = 0; i < n_sets; i++)
        if (sets[i] && !strncmp(sets[i], name, n) && sets[i][n] == ':') found = sets[i] + n + 1;
    return found;
}

static minima_status check_settings(const char *const *sets, int n_sets)
{
    for (int i = 0; i < n_sets; i++) {
        const char *colon = sets[i] ? strchr(sets[i], ':') : NULL;
        if (!colon || colon == sets[i])
            return minima_error(MINIMA_EINVAL, "settings: expected NAME:key=value,..., found '%s'",
                                sets[i] ? sets[i] : "");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(colon - sets[i]), sets[i]);
        if (!minima_measure_find(name))
            return minima_error(MINIMA_EINVAL, "settings: unknown measure '%s' (see minima sharpness --list)",
                                name);
    }
    return MINIMA_OK;
}

/* "a,b,c" or "all" into registry entries (no duplicates), in order. */
static minima_status select_measures(const char *names, const minima_measure ***out, size_t *n_out)
{
    size_t n;
    const minima_measure *ms = minima_measures(&n);
    *out = NULL;
    *n_out = 0;
    const minima_measure **sel = minima_alloc(n ? n : 1, sizeof *sel);
    if (!sel) return minima_error(MINIMA_ENOMEM, "out of memory");
    size_t k = 0;
    if (!names || !strcmp(names, "all")) {
        for (size_t i = 0; i < n; i++) sel[k++] = &ms[i];
    } else {
        const char *p = names;
        while (*p) {
            size_t len = strcspn(p, ",");
            if (len) {
                char tok[64];
                const minima_measure *m = NULL;
                if (len < sizeof tok) {
                    memcpy(tok, p, len);
                    tok[len] = 0;
                    m = minima_measure_find(tok);
                }
                if (!m) {
                    minima_free(sel);
                    return minima_error(MINIMA_EINVAL, "unknown measure '%.*s' (see minima sharpness --list, "
                                        "or all)", (int)len, p);
                }
                int dup = 0;
                for (size_t j = 0; j < k; j++) dup |= sel[j] == m;
                if (!dup && k < n) sel[k++] = m;
            }
            p += len;
            if (*p == ',') p++;
        }
        if (k == 0) {
            minima_free(sel);
            return minima_error(MINIMA_EINVAL, "measures: no measure named");
        }
    }
    *out = sel;
    *n_out = k;
    return MINIMA_OK;
}

static minima_status copy_label(const char *s, char **out)
{
    *out = NULL;
    if (!s) return MINIMA_OK;
    if (!(*out = minima_strdup(s))) return minima_error(MINIMA_ENOMEM, "out of memory");
    return MINIMA_OK;
}

static void record_failure(minima_status st, minima_measure_result *res, char *error, size_t size)
{
    snprintf(error, size, "%s", minima_last_error());
    snprintf(res->note, sizeof res->note, "failed: %s", minima_last_error());
    (void)st;
}

/* The canonical representative of a graph model (graph_symmetry.h): the
 * minimum-norm point of its per-channel-class orbit, by Newton's method,
 * into theta_c, with its numbers in the MLP's info. Newton's method
 * stopping at its step limit (MINIMA_ENOCONV) leaves a better orbit point:
 * used, with converged = 0, as the MLP's method does at max_iter. */
static minima_status graph_canonical(const minima_model *model, const double *theta0, double *theta_c,
                                     minima_sym_canonical_info *info)
{
    minima_gsym *g = NULL;
    minima_status st = minima_gsym_create(model, &g);
    if (st != MINIMA_OK) return st;
    double *u = minima_alloc(g->n_classes ? (size_t)g->n_classes : 1, sizeof *u);
    if (!u) {
        minima_gsym_free(g);
        return minima_error(MINIMA_ENOMEM, "out of memory for %d log-factors", g->n_classes);
    }
    minima_gsym_canonical_info gi;
    memset(&gi, 0, sizeof gi);
    st = minima_gsym_canonical(g, model, theta0, u, theta_c, &gi);
    memset(info, 0, sizeof *info);
    info->converged = st == MINIMA_OK;
    if (st == MINIMA_ENOCONV) st = MINIMA_OK;
    info->norm_before = gi.norm_before;
    info->norm_after = gi.norm_after;
    info->iterations = gi.iterations;
    info->n_degenerate = (size_t)gi.n_degenerate;
    minima_free(u);
    minima_gsym_free(g);
    return st;
}

minima_status minima_sharpness_run(minima_net *net, const minima_sharpness_request *q,
                                   minima_sharpness_result *r)
{
    memset(r, 0, sizeof *r);
    double t0 = rj_now();
    const minima_model *model = minima_net_model(net);
    const minima_measure **sel = NULL;
    size_t n_sel = 0;
    double *scales = NULL, *theta_c = NULL, *theta0 = NULL;
    size_t P = model->n_params;
    minima_status st;
    if (q->n_settings < 0 || (q->n_settings > 0 && !q->settings))
        return minima_error(MINIMA_EINVAL, "settings: %d entries without values", q->n_settings);
    if ((st = check_settings(q->settings, q->n_settings)) != MINIMA_OK) return st;
    if ((st = select_measures(q->measures, &sel, &n_sel)) != MINIMA_OK) return st;
    r->activation = model->activation;
    r->activation_source = model->activation_source;
    r->order_source = model->order_source;
    r->n_examples = minima_net_n_examples(net);
    r->n_params = P;
    r->seed = q->seed;
    r->loss = NAN;
    if ((st = copy_label(q->model_label, &r->model_label)) != MINIMA_OK) goto fail;
    if ((st = copy_label(q->data_label, &r->data_label)) != MINIMA_OK) goto fail;
    r->measures = minima_alloc(n_sel, sizeof *r->measures);
    if (!r->measures) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto fail; }
    memset(r->measures, 0, n_sel * sizeof *r->measures);
    r->n_measures = n_sel;
    if ((st = minima_net_loss(net, NULL, &r->loss, NULL)) != MINIMA_OK) goto fail;
    /* the anchor, restored after the canonical evaluations */
    theta0 = minima_alloc(P, sizeof *theta0);
    if (!theta0) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto fail; }
    memcpy(theta0, minima_net_point(net), P * sizeof *theta0);
    if (q->canonical) {
        theta_c = minima_alloc(P, sizeof *theta_c);
        if (!theta_c) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto fail; }
        if (model->is_mlp) {
            size_t nu = minima_sym_n_units(model);
            scales = minima_alloc(nu ? nu : 1, sizeof *scales);
            if (!scales) { st = minima_error(MINIMA_ENOMEM, "out of memory"); goto fail; }
            minima_sym_canonical_params cp = minima_sym_canonical_default_params();
            if ((st = minima_sym_canonical(model, theta0, &cp, scales, &r->canonical_info)) != MINIMA_OK)
                goto fail;
            minima_sym_apply(model, scales, theta0, theta_c);
        } else if ((st = graph_canonical(model, theta0, theta_c, &r->canonical_info)) != MINIMA_OK) {
            goto fail;
        }
        r->canonical = 1;
    }
    if (q->on_measure) q->on_measure(r, (size_t)-1, 0, q->user);
    for (size_t i = 0; i < n_sel; i++) {
        minima_sharpness_entry *e = &r->measures[i];
        const minima_measure *m = sel[i];
        e->measure = m;
        e->settings = settings_for(m->name, q->settings, q->n_settings);
        e->invariance = minima_measure_invariance(m, e->settings);
        e->status = minima_measure_compute(m, net, e->settings, q->seed, &e->result);
        if (e->status == MINIMA_EINTERRUPTED) { st = e->status; goto fail; }
        if (e->status != MINIMA_OK) {
            /* A measure defined for layers refuses a graph (MINIMA_EUNSUPPORTED):
             * in a list, it is not applicable to this model (recorded, not a
             * failure, the others go on); asked for alone, it is the answer. */
            int not_for_model = e->status == MINIMA_EUNSUPPORTED && !model->is_mlp && n_sel > 1;
            if (minima_status_is_usage(e->status) && !not_for_model) { st = e->status; goto fail; }
            if (not_for_model) {
                snprintf(e->error, sizeof e->error, "%s", minima_last_error());
                snprintf(e->result.note, sizeof e->result.note, "not applicable: %s",
                         minima_last_error());
            } else {
                record_failure(e->status, &e->result, e->error, sizeof e->error);
                r->n_failed++;
            }
        }
        if (q->on_measure) q->on_measure(r, i, 0, q->user);
        if (q->canonical) {
            if ((st = minima_net_set_point(net, theta_c)) != MINIMA_OK) goto fail;
            e->canonical_status = minima_measure_compute(m, net, e->settings, q->seed, &e->canonical);
            if ((st = minima_net_set_point(net, theta0)) != MINIMA_OK) goto fail;
            if (e->canonical_status == MINIMA_EINTERRUPTED) { st = e->canonical_status; goto fail; }
            if (e->canonical_status != MINIMA_OK) {
                record_failure(e->canonical_status, &e->canonical, e->canonical_error, sizeof e->canonical_error);
                if (e->status == MINIMA_OK) r->n_failed++;
            }
            if (q->on_measure) q->on_measure(r, i, 1, q->user);
        }
    }
    r->seconds = rj_now() - t0;
    minima_free(sel);
    minima_free(scales);
    minima_free(theta_c);
    minima_free(theta0);
    return MINIMA_OK;
fail:
    minima_free(sel);
    minima_free(scales);
    minima_free(theta_c);
    minima_free(theta0);
    minima_sharpness_result_free(r);
    return st;
}

/* Extras go into the measure's JSON object as keys of their own; a name
 * that would shadow a fixed key gets the prefix "extra_". */
static void json_extras(rj_buf *b, const minima_measure_result *r)
{
    static const char *const fixed[] = {"name", "title", "source", "invariance", "value", "params",
                                        "seconds", "note", "error", "canonical", NULL};
    for (int e = 0; e < r->n_extras; e++) {
        int clash = 0;
        for (int f = 0; fixed[f]; f++) clash |= !strcmp(fixed[f], r->extras[e].name);
        char key[48];
        snprintf(key, sizeof key, "%s%s", clash ? "extra_" : "", r->extras[e].name);
        rj_printf(b, ", ");
        rj_string(b, key);
        rj_printf(b, ": ");
        rj_number(b, r->extras[e].value);
    }
}

static void json_result_fields(rj_buf *b, const minima_measure_result *r, minima_status st)
{
    rj_printf(b, "\"value\": ");
    rj_number(b, r->value);
    rj_printf(b, ", \"params\": %s, \"seconds\": ", r->params[0] ? r->params : "{}");
    rj_number(b, r->seconds);
    if (r->note[0]) {
        rj_printf(b, ", \"note\": ");
        rj_string(b, r->note);
    }
    json_extras(b, r);
    if (st != MINIMA_OK) {
        rj_printf(b, ", \"error\": ");
        rj_string(b, minima_strerror(st));
    }
}

minima_status minima_sharpness_json(const minima_sharpness_result *r, char **json)
{
    rj_buf b = {0};
    rj_printf(&b, "{\"model\": ");
    rj_string_or_null(&b, r->model_label);
    rj_printf(&b, ", \"data\": ");
    rj_string_or_null(&b, r->data_label);
    rj_printf(&b, ", ");
    rj_model_source(&b, r->activation, r->activation_source, r->order_source);
    rj_printf(&b, ", \"n_examples\": %zu, \"n_params\": %zu, \"loss\": ", r->n_examples, r->n_params);
    rj_number(&b, r->loss);
    rj_printf(&b, ", \"seed\": %llu", (unsigned long long)r->seed);
    if (r->canonical) {
        const minima_sym_canonical_info *ci = &r->canonical_info;
        rj_printf(&b, ", \"canonical\": {\"norm_before\": ");
        rj_number(&b, ci->norm_before);
        rj_printf(&b, ", \"norm_after\": ");
        rj_number(&b, ci->norm_after);
        rj_printf(&b, ", \"iterations\": %d, \"converged\": %s, \"n_degenerate\": %zu}", ci->iterations,
                  ci->converged ? "true" : "false", ci->n_degenerate);
    }
    rj_printf(&b, ", \"measures\": [");
    for (size_t i = 0; i < r->n_measures; i++) {
        const minima_sharpness_entry *e = &r->measures[i];
        rj_printf(&b, "%s{\"name\": ", i ? ", " : "");
        rj_string(&b, e->measure->name);
        rj_printf(&b, ", \"title\": ");
        rj_string(&b, e->measure->title);
        rj_printf(&b, ", \"source\": ");
        rj_string(&b, e->measure->source);
        rj_printf(&b, ", \"invariance\": ");
        rj_string(&b, minima_invariance_name(e->invariance));
        rj_printf(&b, ", ");
        json_result_fields(&b, &e->result, e->status);
        if (r->canonical) {
            rj_printf(&b, ", \"canonical\": {");
            json_result_fields(&b, &e->canonical, e->canonical_status);
            rj_printf(&b, "}");
        }
        rj_printf(&b, "}");
    }
    rj_printf(&b, "], \"seconds\": ");
    rj_number(&b, r->seconds);
    rj_printf(&b, "}\n");
    return rj_finish(&b, json);
}
