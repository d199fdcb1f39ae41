/* report_audit.c — `minima audit`'s run and its --json text (report.h): the
 * audit of audit.h plus the model's and data's numbers the JSON carries. */
#include <math.h>
#include <string.h>

#include "minima/alloc.h"
#include "minima/report.h"
#include "report/report_json_impl.h"

minima_audit_request minima_audit_default_request(void)
{
    minima_audit_request r;
    memset(&r, 0, sizeof r);
    r.measures = "all";
    r.params = minima_audit_default_params();
    return r;
}

void minima_audit_report_free(minima_audit_report *r)
{
    if (!r) return;
    minima_audit_result_free(&r->audit);
    minima_free(r->model_label);
    minima_free(r->data_label);
    memset(r, 0, sizeof *r);
}

#define MAX_NAMES 64

minima_status minima_audit_report_run(minima_net *net, const minima_audit_request *q, minima_audit_report *r)
{
    memset(r, 0, sizeof *r);
    const minima_model *model = minima_net_model(net);
    const char *names[MAX_NAMES];
    size_t n_names = 0;
    char buf[2048];
    minima_status st;
    if (q->measures && strcmp(q->measures, "all")) {
        if (strlen(q->measures) >= sizeof buf)
            return minima_error(MINIMA_EINVAL, "measures: a list of at most %zu characters, found %zu",
                                sizeof buf - 1, strlen(q->measures));
        memcpy(buf, q->measures, strlen(q->measures) + 1);
        for (char *p = buf; *p;) {
            size_t len = strcspn(p, ",");
            char *next = p + len + (p[len] == ',');
            p[len] = 0;
            if (len) {
                if (n_names >= MAX_NAMES)
                    return minima_error(MINIMA_EINVAL, "measures: at most %d names", MAX_NAMES);
                if (!minima_measure_find(p))
                    return minima_error(MINIMA_EINVAL, "unknown measure '%s' (see minima sharpness --list, "
                                        "or all)", p);
                names[n_names++] = p;
            }
            p = next;
        }
        if (!n_names) return minima_error(MINIMA_EINVAL, "measures: no measure named");
    }
    r->activation = model->activation;
    r->activation_source = model->activation_source;
    r->order_source = model->order_source;
    r->n_examples = minima_net_n_examples(net);
    r->n_params = model->n_params;
    r->params = q->params;
    r->strict = q->strict;
    r->loss = NAN;
    if ((q->model_label && !(r->model_label = minima_strdup(q->model_label))) ||
        (q->data_label && !(r->data_label = minima_strdup(q->data_label)))) {
        minima_audit_report_free(r);
        return minima_error(MINIMA_ENOMEM, "out of memory");
    }
    if ((st = minima_net_loss(net, NULL, &r->loss, NULL)) != MINIMA_OK) {
        minima_audit_report_free(r);
        return st;
    }
    if (q->on_start) q->on_start(r, q->user);
    st = minima_audit_run(net, n_names ? names : NULL, n_names, &q->params, &r->audit);
    if (st != MINIMA_OK && st != MINIMA_EINTERRUPTED) minima_audit_report_free(r);
    return st;
}

static void json_values(rj_buf *b, const double *v, size_t n)
{
    rj_printf(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) rj_printf(b, ", ");
        rj_number(b, v[i]);
    }
    rj_printf(b, "]");
}

minima_status minima_audit_report_json(const minima_audit_report *rep, char **json)
{
    const minima_audit_result *r = &rep->audit;
    const minima_audit_params *p = &rep->params;
    rj_buf b = {0};
    rj_printf(&b, "{\"model\": ");
    rj_string_or_null(&b, rep->model_label);
    rj_printf(&b, ", \"data\": ");
    rj_string_or_null(&b, rep->data_label);
    rj_printf(&b, ", ");
    rj_model_source(&b, rep->activation, rep->activation_source, rep->order_source);
    rj_printf(&b, ", \"n_examples\": %zu, \"n_params\": %zu, \"loss\": ", rep->n_examples, rep->n_params);
    rj_number(&b, rep->loss);
    rj_printf(&b, ", \"orbit\": {\"decades\": %d, \"step\": ", p->decades);
    rj_number(&b, p->decade_step);
    rj_printf(&b, ", \"neuron_draws\": %d, \"spread\": ", p->neuron_draws);
    rj_number(&b, p->spread);
    rj_printf(&b, ", \"seed\": %llu, \"equivalence_tol\": ", (unsigned long long)p->seed);
    rj_number(&b, p->equivalence_tol);
    rj_printf(&b, ", \"invariant_tol\": ");
    rj_number(&b, p->invariant_tol);
    rj_printf(&b, ", \"moved_tol\": ");
    rj_number(&b, p->moved_tol);
    rj_printf(&b, ", \"approx_tol\": ");
    rj_number(&b, p->approx_tol);
    rj_printf(&b, ", \"canonical_tol\": ");
    rj_number(&b, p->canonical_tol);
    /* the group the points come from: "mlp" (layer-wise maps and per-neuron
     * draws) or "graph" (stage-wise maps and per-channel-class draws) */
    rj_printf(&b, ", \"group\": \"%s\", \"n_stages\": %zu, \"n_classes\": %zu", r->graph ? "graph" : "mlp",
              r->n_stages, r->n_classes);
    rj_printf(&b, "}, \"points\": [");
    for (size_t i = 0; i < r->n_points; i++) {
        const minima_audit_point *pt = &r->points[i];
        rj_printf(&b, "%s{\"kind\": \"%s\", \"log10_alpha\": ", i ? ", " : "",
                  pt->kind == MINIMA_AUDIT_POINT_NEURON ? "neuron" : "layer");
        rj_number(&b, pt->log10_alpha);
        if (pt->kind == MINIMA_AUDIT_POINT_NEURON) {
            rj_printf(&b, ", \"seed\": %llu, \"spread\": ", (unsigned long long)pt->seed);
            rj_number(&b, pt->spread);
        }
        rj_printf(&b, ", \"norm\": ");
        rj_number(&b, pt->norm);
        rj_printf(&b, ", \"max_abs_diff\": ");
        rj_number(&b, pt->equivalence.max_abs_diff);
        rj_printf(&b, ", \"rel_diff\": ");
        rj_number(&b, pt->equivalence.rel_diff);
        rj_printf(&b, ", \"equivalent\": %s, \"canonical_distance\": ", pt->equivalent ? "true" : "false");
        rj_number(&b, pt->canonical_distance);
        rj_printf(&b, "}");
    }
    rj_printf(&b, "], \"measures\": [");
    for (size_t j = 0; j < r->n_measures; j++) {
        const minima_audit_measure *am = &r->measures[j];
        rj_printf(&b, "%s{\"name\": ", j ? ", " : "");
        rj_string(&b, am->measure->name);
        rj_printf(&b, ", \"title\": ");
        rj_string(&b, am->measure->title);
        rj_printf(&b, ", \"invariant_expected\": ");
        rj_string(&b, minima_invariance_name(am->expected));
        rj_printf(&b, ", \"value\": ");
        rj_number(&b, am->v0);
        rj_printf(&b, ", \"min\": ");
        rj_number(&b, am->min);
        rj_printf(&b, ", \"max\": ");
        rj_number(&b, am->max);
        rj_printf(&b, ", \"ratio\": ");
        rj_number(&b, am->ratio);
        rj_printf(&b, ", \"rel_spread\": ");
        rj_number(&b, am->rel_spread);
        rj_printf(&b, ", \"spread_absolute\": %s, \"verdict\": ", am->spread_absolute ? "true" : "false");
        rj_string(&b, am->verdict);
        rj_printf(&b, ", \"measured\": %s, \"agrees\": %s, \"values\": ", am->measured ? "true" : "false",
                  am->agrees ? "true" : "false");
        json_values(&b, am->values, r->n_points);
        rj_printf(&b, ", \"seconds\": ");
        rj_number(&b, am->seconds_total);
        rj_printf(&b, ", \"settings\": ");
        rj_string(&b, am->settings);
        rj_printf(&b, ", \"params\": %s", am->params[0] ? am->params : "{}");
        if (am->canonical) {
            rj_printf(&b, ", \"canonical\": {\"value\": ");
            rj_number(&b, am->canonical_value);
            rj_printf(&b, ", \"rel_spread\": ");
            rj_number(&b, am->canonical_rel_spread);
            rj_printf(&b, ", \"n\": %zu, \"values\": ", am->n_canonical);
            json_values(&b, am->canonical, r->n_points);
            rj_printf(&b, "}");
        }
        if (am->status != MINIMA_OK) {
            rj_printf(&b, ", \"error\": ");
            rj_string(&b, am->error);
        }
        if (am->note[0]) {
            rj_printf(&b, ", \"note\": ");
            rj_string(&b, am->note);
        }
        rj_printf(&b, "}");
    }
    rj_printf(&b, "]");
    if (r->canonical_error[0]) {
        rj_printf(&b, ", \"canonical_error\": ");
        rj_string(&b, r->canonical_error);
    }
    rj_printf(&b, ", \"n_not_equivalent\": %zu, \"all_agree\": %s, \"disagreements\": [", r->n_not_equivalent,
              r->all_agree ? "true" : "false");
    for (int list = 0; list < 2; list++) {
        int first = 1;
        if (list) rj_printf(&b, "], \"not_measured\": [");
        for (size_t j = 0; j < r->n_measures; j++) {
            const minima_audit_measure *am = &r->measures[j];
            if (list ? am->measured : (!am->measured || am->agrees)) continue;
            rj_printf(&b, "%s", first ? "" : ", ");
            rj_string(&b, am->measure->name);
            first = 0;
        }
    }
    rj_printf(&b, "], \"strict\": %s, \"seconds\": ", rep->strict ? "true" : "false");
    rj_number(&b, r->seconds);
    rj_printf(&b, "}\n");
    return rj_finish(&b, json);
}
