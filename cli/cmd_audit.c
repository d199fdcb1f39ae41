/* cmd_audit.c — `minima audit`: every measure along the model's rescaling
 * orbit, checked against the invariance the literature expects (audit.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_common.h"
#include "cli_output.h"
#include "cli_load.h"
#include "minima/alloc.h"
#include "minima/audit.h"
#include "minima/plot.h"
#include "minima/report.h"
#include "minima/sharpness.h"

int minima_cmd_audit(int argc, char **argv);
extern const char minima_cmd_audit_summary[];
const char minima_cmd_audit_summary[] =
    "audit measures for invariance along the model's function-preserving rescaling orbit";

static const char usage[] =
    "usage: minima audit --model MODEL --data SRC [--measure NAMES|all] [--decades N]\n"
    "                    [--step X] [--neuron-draws N] [--spread X] [--seed S]\n"
    "                    [--set NAME:key=v,... ...] [--canonical-points N] [--no-canonical]\n"
    "                    [--plot FILE] [--strict] [--json]\n\n"
    "Dinh et al. (2017): a rescaling that leaves the network's function unchanged\n"
    "can move most flatness measures arbitrarily. The audit evaluates each measure\n"
    "at the model and along its orbit — layer-wise maps alpha_1 = 10^s, alpha_K =\n"
    "10^-s for s = -N..N (biases rescaled to match), and random per-neuron scalings\n"
    "exp(spread z); on a CNN or residual net, stage-wise maps alpha_1 = 10^s,\n"
    "alpha_{S+1} = 10^-s and random per-channel-class scalings of its graph's group\n"
    "— after checking that every point computes the same outputs on\n"
    "the data. For each measure: min, max, ratio max/min, the relative spread\n"
    "max|v - v0|/|v0|, a verdict, whether it agrees with the registry's\n"
    "expectation, and for measures not expected invariant the value at the\n"
    "canonical (minimum-norm) representative computed from every orbit point.\n"
    "Slow searches run with the audit's cheaper settings (see docs/audit.md);\n"
    "--set overrides them. A table goes to stderr; --json to stdout.\n"
    "A verdict that contradicts the expectation is a finding about the measure (or\n"
    "the literature), not a failure: it is marked ! and named. A measure that failed\n"
    "or gave no finite value at some point is 'not measured' (marked ?), with the\n"
    "reason; it neither agrees nor disagrees.\n"
    "Exit codes: 0 the audit ran (findings are in the table and the JSON); with\n"
    "--strict, 1 when any measure disagrees or was not measured or an orbit point\n"
    "did not compute the same function; 1 a computation failed; 2 bad usage or\n"
    "input; 130 interrupted.";

#define MAX_SETS 64

static int collect_sets(int argc, char **argv, minima_audit_setting *sets, char bufs[][64], int *n_sets)
{
    *n_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--set") && i + 1 < argc) v = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6)) v = argv[i] + 6;
        else continue;
        if (*n_sets >= MAX_SETS) return cli_usage_error("audit", "at most %d --set options", MAX_SETS);
        const char *colon = strchr(v, ':');
        if (!colon || colon == v || colon - v >= 64)
            return cli_usage_error("audit", "option --set: expected NAME:key=value,..., found '%s'", v);
        snprintf(bufs[*n_sets], 64, "%.*s", (int)(colon - v), v);
        if (!minima_measure_find(bufs[*n_sets]))
            return cli_usage_error("audit", "option --set: unknown measure '%s' (see minima sharpness --list)",
                                   bufs[*n_sets]);
        sets[*n_sets].measure = bufs[*n_sets];
        sets[*n_sets].settings = colon + 1;
        (*n_sets)++;
    }
    return -1;
}

/* "a,b,c" into names (pointers into buf); "all" gives 0 names. */
static int split_names(const char *s, char *buf, size_t size, const char **names, size_t max, size_t *n)
{
    *n = 0;
    if (!strcmp(s, "all")) return -1;
    snprintf(buf, size, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n >= max) return cli_usage_error("audit", "--measure: too many names");
        if (!minima_measure_find(tok)) {
            size_t nr;
            const minima_measure *ms = minima_measures(&nr);
            fprintf(stderr, "minima audit: unknown measure '%s'; the registry has:", tok);
            for (size_t i = 0; i < nr; i++) fprintf(stderr, " %s", ms[i].name);
            fprintf(stderr, " (or all)\n");
            return EXIT_USAGE;
        }
        names[(*n)++] = tok;
    }
    if (*n == 0) return cli_usage_error("audit", "--measure: no measure named");
    return -1;
}

/* On a graph the maps are stage-wise (alpha_{S+1} the output node's
 * factor) and the draws per channel class. */
static const char *point_label(const minima_audit_result *r, const minima_audit_point *pt, char *buf,
                               size_t size)
{
    if (pt->kind == MINIMA_AUDIT_POINT_NEURON)
        snprintf(buf, size, "%s seed %llu spread %g", r->graph ? "channels" : "neurons",
                 (unsigned long long)pt->seed, pt->spread);
    else if (pt->log10_alpha == 0)
        snprintf(buf, size, "theta (alpha = 1)");
    else if (r->graph)
        snprintf(buf, size, "alpha_1 = 1e%+g, alpha_%zu = 1e%+g", pt->log10_alpha, r->n_stages + 1,
                 -pt->log10_alpha);
    else
        snprintf(buf, size, "alpha_1 = 1e%+g, alpha_K = 1e%+g", pt->log10_alpha, -pt->log10_alpha);
    return buf;
}

static void print_table(const minima_audit_result *r)
{
    char lab[96];
    if (r->canonical_error[0])
        fprintf(stderr, "no canonical values: %s\n", r->canonical_error);
    if (r->graph)
        fprintf(stderr, "\norbit of the graph's group: stage-wise maps over %zu stages, per-channel draws "
                "over %zu classes\n", r->n_stages, r->n_classes);
    fprintf(stderr, "\norbit points (outputs compared with theta's on every example):\n");
    fprintf(stderr, "  %-36s %12s %11s %12s %10s\n", "point", "||theta||", "rel diff", "equivalent",
            "canon dist");
    for (size_t i = 0; i < r->n_points; i++) {
        const minima_audit_point *pt = &r->points[i];
        fprintf(stderr, "  %-36s %12.6g %11.2g %12s %10.2g\n", point_label(r, pt, lab, sizeof lab), pt->norm,
                pt->equivalence.rel_diff, pt->equivalent ? "yes" : "NO (skipped)", pt->canonical_distance);
    }
    fprintf(stderr, "\n  %-21s %-9s %12s %12s %10s  %-50s %s\n", "measure", "invariant", "min", "max", "ratio",
            "verdict", "canonical value (spread)");
    for (size_t j = 0; j < r->n_measures; j++) {
        const minima_audit_measure *am = &r->measures[j];
        char canon[64] = "-";
        if (am->canonical)
            snprintf(canon, sizeof canon, "%.6g (%.1g)", am->canonical_value, am->canonical_rel_spread);
        fprintf(stderr, "%s %-21s %-9s %12.5g %12.5g %10.3g  %-50s %s\n",
                !am->measured ? "?" : am->agrees ? " " : "!",
                am->measure->name, minima_invariance_name(am->expected), am->min, am->max, am->ratio,
                am->verdict, canon);
        if (am->status != MINIMA_OK)
            fprintf(stderr, "  %-21s failed: %s: %s\n", "", minima_strerror(am->status), am->error);
        if (am->note[0]) fprintf(stderr, "  %-21s note: %s\n", "", am->note);
    }
}

typedef struct {
    const char *model_path, *source;
} header_ctx;

static void print_header(const minima_audit_report *r, void *user)
{
    const header_ctx *c = user;
    fprintf(stderr, "audit of %s on %s: %zu examples, %zu parameters, loss %.10g, activation %s\n",
            c->model_path, c->source, r->n_examples, r->n_params, r->loss, minima_activation_name(r->activation));
}

int minima_cmd_audit(int argc, char **argv)
{
    cli_net_args na = cli_net_default_args();
    minima_audit_params p = minima_audit_default_params();
    const char *names_s = "all", *plot = NULL, *set_dummy = NULL;
    int json = 0, no_canonical = 0, strict = 0;
    const cli_option opts[] = {
        CLI_NET_OPTIONS(na),
        {"--measure", OPT_STRING, &names_s, "comma-separated measure names, or all", "NAMES"},
        {"--decades", OPT_INT, &p.decades, "layer- (graph: stage-)wise alpha_1 = 10^s for s = -N..N", "N", CLI_IN(0, 30)},
        {"--step", OPT_DOUBLE, &p.decade_step, "step of s in decades", "X", CLI_IN(0.01, 30)},
        {"--neuron-draws", OPT_INT, &p.neuron_draws, "random per-neuron (graph: per-channel) orbit points", "N", CLI_IN(0, 1000)},
        {"--spread", OPT_DOUBLE, &p.spread, "their log-normal spread: unit scales exp(X z)", "X", CLI_IN(0, 20)},
        {"--seed", OPT_U64, &p.seed, "seed of the neuron draws and of every measure", "S", CLI_ANY},
        {"--set", OPT_STRING, &set_dummy, "settings of one measure (repeatable), over the audit's", "NAME:k=v,..."},
        {"--canonical-points", OPT_INT, &p.canonical_points, "canonical values from the first N points (0: all)", "N", CLI_IN(0, 100000)},
        {"--no-canonical", OPT_FLAG, &no_canonical, "skip the values at the canonical representative", NULL},
        {"--equivalence-tol", OPT_DOUBLE, &p.equivalence_tol, "points whose outputs differ more (relative) are skipped", "X", CLI_IN(0, 1)},
        {"--invariant-tol", OPT_DOUBLE, &p.invariant_tol, "relative spread counted as invariant", "X", CLI_IN(0, 1e300)},
        {"--moved-tol", OPT_DOUBLE, &p.moved_tol, "relative spread counted as moved", "X", CLI_IN(0, 1e300)},
        {"--approx-tol", OPT_DOUBLE, &p.approx_tol, "spread allowed for approximately invariant measures", "X", CLI_IN(0, 1e300)},
        {"--plot", OPT_STRING, &plot, "draw each measure against alpha (.png, .svg, .pdf)", "FILE"},
        {"--strict", OPT_FLAG, &strict, "exit 1 when a verdict disagrees, a measure is not measured or a point is flagged", NULL},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("audit", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    minima_audit_setting sets[MAX_SETS];
    char set_names[MAX_SETS][64];
    int n_sets = 0;
    if ((rc = collect_sets(argc, argv, sets, set_names, &n_sets)) >= 0) return rc;
    p.extra_settings = sets;
    p.n_extra_settings = (size_t)n_sets;
    p.canonical = !no_canonical;
    if (p.decades < 0 || p.decades > 30) return cli_usage_error("audit", "--decades: expected 0..30, found %d", p.decades);
    if (!(p.decade_step > 0)) return cli_usage_error("audit", "--step: expected > 0, found %g", p.decade_step);
    if (p.neuron_draws < 0 || p.neuron_draws > 1000)
        return cli_usage_error("audit", "--neuron-draws: expected 0..1000, found %d", p.neuron_draws);
    if (!(p.spread >= 0 && p.spread <= 20)) return cli_usage_error("audit", "--spread: expected in [0, 20], found %g", p.spread);
    if (p.canonical_points < 0) return cli_usage_error("audit", "--canonical-points: expected >= 0, found %d", p.canonical_points);
    if (!(p.equivalence_tol >= 0) || !(p.invariant_tol >= 0) || !(p.moved_tol >= 0) || !(p.approx_tol >= 0))
        return cli_usage_error("audit", "tolerances must be >= 0");
    if (plot) {
        const char *dot = strrchr(plot, '.');
        if (!dot || (strcasecmp(dot, ".png") && strcasecmp(dot, ".svg") && strcasecmp(dot, ".pdf")))
            return cli_usage_error("audit", "--plot '%s': expected a .png, .svg or .pdf file name", plot);
    }
    if (!na.model_path) return cli_usage_error("audit", "--model MODEL is required");
    if (!na.source) return cli_usage_error("audit", "--data SRC is required");
    {
        cli_files io = {0};
        cli_files_input(&io, "--model", na.model_path);
        cli_files_input(&io, "--data", na.source);
        cli_files_input(&io, "--labels", na.labels);
        cli_files_output(&io, "--plot", plot, CLI_OUT_PLOT);
        if ((rc = cli_files_check("audit", &io)) >= 0) return rc;
    }
    char namebuf[2048];
    const char *names[64];
    size_t n_names = 0;
    if ((rc = split_names(names_s, namebuf, sizeof namebuf, names, 64, &n_names)) >= 0) return rc;

    cli_net cn;
    rc = cli_net_open("audit", &na, &cn);
    if (rc >= 0) return rc;
    minima_audit_request rq = minima_audit_default_request();
    rq.measures = names_s;
    rq.params = p;
    rq.strict = strict;
    rq.model_label = na.model_path;
    rq.data_label = na.source;
    header_ctx hc = {na.model_path, na.source};
    if (!json) {
        rq.on_start = print_header;
        rq.user = &hc;
    }
    minima_audit_report rep;
    minima_status st = minima_audit_report_run(cn.net, &rq, &rep);
    const minima_audit_result *rr = &rep.audit;
    if (st != MINIMA_OK) {
        if (st == MINIMA_EINTERRUPTED && rr->measures && rr->points) {
            fprintf(stderr, "minima audit: interrupted; what was computed so far:\n");
            print_table(rr);
        }
        rc = cli_fail("audit", st);
        goto done;
    }
    print_table(rr);
    /* The results first: a plot that fails to write loses nothing computed. */
    if (json) {
        char *text = NULL;
        if ((st = minima_audit_report_json(&rep, &text)) != MINIMA_OK) { rc = cli_fail("audit", st); goto done; }
        fputs(text, stdout);
        minima_free(text);
    }
    const minima_audit_result r = *rr;
    if (plot) {
        minima_status pst = minima_audit_plot(plot, &r, na.model_path);
        if (pst != MINIMA_OK) {
            cli_fail("audit", pst);
            rc = EXIT_COMPUTE;          /* the results above stand; only the figure is missing */
            goto done;
        }
        fprintf(stderr, "wrote %s\n", plot);
    }
    if (r.n_not_equivalent)
        fprintf(stderr, "minima audit: %zu orbit point%s did not compute the same function (relative output "
                "difference > %g) and %s skipped%s\n", r.n_not_equivalent, r.n_not_equivalent == 1 ? "" : "s",
                p.equivalence_tol, r.n_not_equivalent == 1 ? "was" : "were",
                cn.model->activation == MINIMA_ACT_TANH ? " (tanh is not homogeneous)" : "");
    for (int list = 0; list < 2; list++) {
        size_t count = list ? r.n_not_measured : r.n_disagree;
        if (!count) continue;
        if (list)
            fprintf(stderr, "minima audit: %zu measure%s not measured (marked ?, reason in the verdict):", count,
                    count == 1 ? "" : "s");
        else
            fprintf(stderr, "minima audit: %zu verdict%s disagree%s with the expected invariance (marked !; a "
                    "finding, see docs/audit.md):", count, count == 1 ? "" : "s", count == 1 ? "s" : "");
        for (size_t j = 0; j < r.n_measures; j++) {
            const minima_audit_measure *am = &r.measures[j];
            if (list ? !am->measured : (am->measured && !am->agrees)) fprintf(stderr, " %s", am->measure->name);
        }
        fprintf(stderr, "\n");
    }
    if (r.all_agree)
        fprintf(stderr, "every verdict agrees with the expected invariance (%.1f s)\n", r.seconds);
    rc = EXIT_OK;
    if (strict && !r.all_agree) {
        fprintf(stderr, "minima audit: --strict: exit 1 (not every measure was measured and agrees)\n");
        rc = EXIT_COMPUTE;
    }
done:
    minima_audit_report_free(&rep);
    cli_net_close(&cn);
    return rc;
}
