/* cmd_audit.c — `minima audit`: every measure along the model's rescaling
 * orbit, checked against the invariance the literature expects (audit.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli_common.h"
#include "cli_load.h"
#include "minima/audit.h"
#include "minima/plot.h"
#include "minima/sharpness.h"

int minima_cmd_audit(int argc, char **argv);
extern const char minima_cmd_audit_summary[];
const char minima_cmd_audit_summary[] =
    "audit measures for invariance along the model's function-preserving rescaling orbit";

static const char usage[] =
    "usage: minima audit --model MODEL --data SRC [--measure NAMES|all] [--decades N]\n"
    "                    [--step X] [--neuron-draws N] [--spread X] [--seed S]\n"
    "                    [--set NAME:key=v,... ...] [--canonical-points N] [--no-canonical]\n"
    "                    [--plot FILE] [--json]\n\n"
    "Dinh et al. (2017): a rescaling that leaves the network's function unchanged\n"
    "can move most flatness measures arbitrarily. The audit evaluates each measure\n"
    "at the model and along its orbit — layer-wise maps alpha_1 = 10^s, alpha_K =\n"
    "10^-s for s = -N..N (biases rescaled to match), and random per-neuron scalings\n"
    "exp(spread z) — after checking that every point computes the same outputs on\n"
    "the data. For each measure: min, max, ratio max/min, the relative spread\n"
    "max|v - v0|/|v0|, a verdict, whether it agrees with the registry's\n"
    "expectation, and for measures not expected invariant the value at the\n"
    "canonical (minimum-norm) representative computed from every orbit point.\n"
    "Slow searches run with the audit's cheaper settings (see docs/audit.md);\n"
    "--set overrides them. A table goes to stderr; --json to stdout.\n"
    "Exit codes: 0 every verdict agrees with its expectation, 1 some do not (named)\n"
    "or a computation failed, 2 bad usage or input.";

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

static const char *point_label(const minima_audit_point *pt, char *buf, size_t size)
{
    if (pt->kind == MINIMA_AUDIT_POINT_NEURON)
        snprintf(buf, size, "neurons seed %llu spread %g", (unsigned long long)pt->seed, pt->spread);
    else if (pt->log10_alpha == 0)
        snprintf(buf, size, "theta (alpha = 1)");
    else
        snprintf(buf, size, "alpha_1 = 1e%+g, alpha_K = 1e%+g", pt->log10_alpha, -pt->log10_alpha);
    return buf;
}

static void print_table(const minima_audit_result *r)
{
    char lab[96];
    if (r->canonical_error[0])
        fprintf(stderr, "no canonical values: %s\n", r->canonical_error);
    fprintf(stderr, "\norbit points (outputs compared with theta's on every example):\n");
    fprintf(stderr, "  %-36s %12s %11s %12s %10s\n", "point", "||theta||", "rel diff", "equivalent",
            "canon dist");
    for (size_t i = 0; i < r->n_points; i++) {
        const minima_audit_point *pt = &r->points[i];
        fprintf(stderr, "  %-36s %12.6g %11.2g %12s %10.2g\n", point_label(pt, lab, sizeof lab), pt->norm,
                pt->equivalence.rel_diff, pt->equivalent ? "yes" : "NO (skipped)", pt->canonical_distance);
    }
    fprintf(stderr, "\n  %-21s %-9s %12s %12s %10s  %-50s %s\n", "measure", "invariant", "min", "max", "ratio",
            "verdict", "canonical value (spread)");
    for (size_t j = 0; j < r->n_measures; j++) {
        const minima_audit_measure *am = &r->measures[j];
        char canon[64] = "-";
        if (am->canonical)
            snprintf(canon, sizeof canon, "%.6g (%.1g)", am->canonical_value, am->canonical_rel_spread);
        fprintf(stderr, "%s %-21s %-9s %12.5g %12.5g %10.3g  %-50s %s\n", am->agrees ? " " : "!",
                am->measure->name, minima_invariance_name(am->expected), am->min, am->max, am->ratio,
                am->verdict, canon);
        if (am->status != MINIMA_OK)
            fprintf(stderr, "  %-21s failed: %s: %s\n", "", minima_strerror(am->status), am->error);
        if (am->note[0]) fprintf(stderr, "  %-21s note: %s\n", "", am->note);
    }
}

static void json_values(const double *v, size_t n)
{
    printf("[");
    for (size_t i = 0; i < n; i++) {
        if (i) printf(", ");
        json_number(stdout, v[i]);
    }
    printf("]");
}

static void print_json(const minima_audit_result *r, const minima_audit_params *p, const cli_net_args *na,
                       size_t n_examples, size_t n_params, double loss)
{
    printf("{\"model\": ");
    json_string(stdout, na->model_path);
    printf(", \"data\": ");
    json_string(stdout, na->source);
    printf(", \"n_examples\": %zu, \"n_params\": %zu, \"loss\": ", n_examples, n_params);
    json_number(stdout, loss);
    printf(", \"orbit\": {\"decades\": %d, \"step\": ", p->decades);
    json_number(stdout, p->decade_step);
    printf(", \"neuron_draws\": %d, \"spread\": ", p->neuron_draws);
    json_number(stdout, p->spread);
    printf(", \"seed\": %llu, \"equivalence_tol\": ", (unsigned long long)p->seed);
    json_number(stdout, p->equivalence_tol);
    printf(", \"invariant_tol\": ");
    json_number(stdout, p->invariant_tol);
    printf(", \"moved_tol\": ");
    json_number(stdout, p->moved_tol);
    printf(", \"approx_tol\": ");
    json_number(stdout, p->approx_tol);
    printf(", \"canonical_tol\": ");
    json_number(stdout, p->canonical_tol);
    printf("}, \"points\": [");
    for (size_t i = 0; i < r->n_points; i++) {
        const minima_audit_point *pt = &r->points[i];
        printf("%s{\"kind\": \"%s\", \"log10_alpha\": ", i ? ", " : "",
               pt->kind == MINIMA_AUDIT_POINT_NEURON ? "neuron" : "layer");
        json_number(stdout, pt->log10_alpha);
        if (pt->kind == MINIMA_AUDIT_POINT_NEURON) {
            printf(", \"seed\": %llu, \"spread\": ", (unsigned long long)pt->seed);
            json_number(stdout, pt->spread);
        }
        printf(", \"norm\": ");
        json_number(stdout, pt->norm);
        printf(", \"max_abs_diff\": ");
        json_number(stdout, pt->equivalence.max_abs_diff);
        printf(", \"rel_diff\": ");
        json_number(stdout, pt->equivalence.rel_diff);
        printf(", \"equivalent\": %s, \"canonical_distance\": ", pt->equivalent ? "true" : "false");
        json_number(stdout, pt->canonical_distance);
        printf("}");
    }
    printf("], \"measures\": [");
    for (size_t j = 0; j < r->n_measures; j++) {
        const minima_audit_measure *am = &r->measures[j];
        printf("%s{\"name\": ", j ? ", " : "");
        json_string(stdout, am->measure->name);
        printf(", \"title\": ");
        json_string(stdout, am->measure->title);
        printf(", \"invariant_expected\": ");
        json_string(stdout, minima_invariance_name(am->expected));
        printf(", \"value\": ");
        json_number(stdout, am->v0);
        printf(", \"min\": ");
        json_number(stdout, am->min);
        printf(", \"max\": ");
        json_number(stdout, am->max);
        printf(", \"ratio\": ");
        json_number(stdout, am->ratio);
        printf(", \"rel_spread\": ");
        json_number(stdout, am->rel_spread);
        printf(", \"spread_absolute\": %s, \"verdict\": ", am->spread_absolute ? "true" : "false");
        json_string(stdout, am->verdict);
        printf(", \"agrees\": %s, \"values\": ", am->agrees ? "true" : "false");
        json_values(am->values, r->n_points);
        printf(", \"seconds\": ");
        json_number(stdout, am->seconds_total);
        printf(", \"settings\": ");
        json_string(stdout, am->settings);
        printf(", \"params\": %s", am->params[0] ? am->params : "{}");
        if (am->canonical) {
            printf(", \"canonical\": {\"value\": ");
            json_number(stdout, am->canonical_value);
            printf(", \"rel_spread\": ");
            json_number(stdout, am->canonical_rel_spread);
            printf(", \"n\": %zu, \"values\": ", am->n_canonical);
            json_values(am->canonical, r->n_points);
            printf("}");
        }
        if (am->status != MINIMA_OK) {
            printf(", \"error\": ");
            json_string(stdout, am->error);
        }
        if (am->note[0]) {
            printf(", \"note\": ");
            json_string(stdout, am->note);
        }
        printf("}");
    }
    printf("]");
    if (r->canonical_error[0]) {
        printf(", \"canonical_error\": ");
        json_string(stdout, r->canonical_error);
    }
    printf(", \"n_not_equivalent\": %zu, \"all_agree\": %s, \"disagreements\": [", r->n_not_equivalent,
           r->all_agree ? "true" : "false");
    int first = 1;
    for (size_t j = 0; j < r->n_measures; j++) {
        if (r->measures[j].agrees) continue;
        printf("%s", first ? "" : ", ");
        json_string(stdout, r->measures[j].measure->name);
        first = 0;
    }
    printf("], \"seconds\": ");
    json_number(stdout, r->seconds);
    printf("}\n");
}

static const char *short_expectation(minima_invariance inv)
{
    switch (inv) {
    case MINIMA_INVARIANCE_EXACT: return "invariant";
    case MINIMA_INVARIANCE_NONE: return "not inv.";
    case MINIMA_INVARIANCE_APPROX: return "≈ invariant";
    case MINIMA_INVARIANCE_OPEN: return "open";
    }
    return "?";
}

/* The layer-wise points of a series (values or canonical values) sorted by
 * s, as x = 10^s, y; returns the count. With normalize, y = |v / v0|. */
static size_t layer_series(const minima_audit_result *r, const double *v, int normalize, double v0,
                           double *x, double *y)
{
    size_t m = 0;
    for (size_t i = 0; i < r->n_points; i++) {
        if (!r->points[i].equivalent || !isfinite(v[i]) || r->points[i].kind != MINIMA_AUDIT_POINT_LAYER)
            continue;
        x[m] = r->points[i].log10_alpha;
        y[m++] = normalize ? fabs(v[i] / v0) : v[i];
    }
    for (size_t a = 1; a < m; a++)   /* insertion sort by s */
        for (size_t b = a; b > 0 && x[b - 1] > x[b]; b--) {
            double t = x[b]; x[b] = x[b - 1]; x[b - 1] = t;
            t = y[b]; y[b] = y[b - 1]; y[b - 1] = t;
        }
    for (size_t a = 0; a < m; a++) x[a] = pow(10, x[a]);
    return m;
}

/* Panel 0: every measure divided by its value at theta, |v(alpha)/v(1)| on
 * log-log axes, coloured by what the literature expects — invariant
 * measures lie on the line at 1, the others fan out. */
static void draw_overview(minima_panel *p, const minima_audit_result *r, double *x, double *y)
{
    minima_panel_set_title(p, "all: |v(α) / v(1)|");
    minima_panel_set_labels(p, "α#d1#u = 1/α#dK#u", "value / value at θ");
    minima_panel_set_log(p, 1, 1);
    minima_panel_set_grid(p, 1);
    static const struct {
        minima_invariance inv;
        minima_color color;
        minima_dash dash;
        const char *label;
    } cls[] = {
        {MINIMA_INVARIANCE_NONE, MINIMA_COLOR_VERMILLION, MINIMA_DASH_SOLID, "not invariant"},
        {MINIMA_INVARIANCE_OPEN, MINIMA_COLOR_GREEN, MINIMA_DASH_DASHED, "open"},
        {MINIMA_INVARIANCE_APPROX, MINIMA_COLOR_ORANGE, MINIMA_DASH_DASHED, "approx. invariant"},
        {MINIMA_INVARIANCE_EXACT, MINIMA_COLOR_BLUE, MINIMA_DASH_SOLID, "invariant"},
    };
    int drawn = 0;
    double lo = INFINITY, hi = 0;
    for (size_t c = 0; c < sizeof cls / sizeof *cls; c++) {
        int labelled = 0;
        for (size_t j = 0; j < r->n_measures; j++) {
            const minima_audit_measure *am = &r->measures[j];
            if (am->expected != cls[c].inv || !isfinite(am->v0) || am->v0 == 0) continue;
            size_t m = layer_series(r, am->values, 1, am->v0, x, y);
            size_t pos = 0;
            for (size_t a = 0; a < m; a++) pos += y[a] > 0;
            if (pos == 0) continue;
            minima_style st = minima_style_default();
            st.color = cls[c].color;
            st.dash = cls[c].dash;
            st.width = cls[c].inv == MINIMA_INVARIANCE_EXACT ? 2.5 : 1.2;
            st.label = labelled ? NULL : cls[c].label;
            if (minima_panel_line(p, x, y, m, &st) == MINIMA_OK) {
                labelled = 1;
                drawn = 1;
                for (size_t a = 0; a < m; a++)
                    if (y[a] > 0 && isfinite(y[a])) { lo = fmin(lo, y[a]); hi = fmax(hi, y[a]); }
            }
        }
    }
    if (!drawn) {
        minima_panel_set_log(p, 1, 0);
        minima_panel_set_yrange(p, 0, 2);
        minima_panel_set_xrange(p, 0.1, 10);
        minima_panel_text(p, 1, 1, "no finite values", 0.5, NULL);
        return;
    }
    /* room above the curves for the legend */
    lo = fmin(lo, 0.5);
    hi = fmax(hi, 2);
    minima_panel_set_yrange(p, lo / 2, hi * pow(hi / lo, 0.6));
    minima_panel_set_legend(p, MINIMA_LEGEND_TOP_LEFT);
}

/* Panel 0 is the overview; then one panel per measure: the value against
 * alpha_1 on a log axis (layer-wise points, a line), the per-neuron draws
 * (triangles at alpha = 1), the canonical value (dashed). Log value axis
 * when every value is > 0. */
static int draw(const char *path, const minima_audit_result *r, const char *model_path)
{
    size_t n = r->n_measures, n_panels = n + 1;
    int cols = 3;
    if (n_panels <= 2) cols = (int)n_panels;
    else if (n_panels == 4) cols = 2;
    else if (n_panels % 3 && n_panels % 4 == 0) cols = 4;
    size_t rows = (n_panels + (size_t)cols - 1) / (size_t)cols;
    if (rows > 8) rows = 8;   /* the figure's limit: measures past 8 rows are left out */
    minima_figure *fig = NULL;
    minima_status st = minima_figure_create((int)rows, cols, 600 * cols, 400 * (int)rows + 60, &fig);
    if (st != MINIMA_OK) return cli_fail("audit", st);
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    char title[512];
    snprintf(title, sizeof title, "%s on its rescaling orbit (dashed: canonical point; ≠: disagrees)", base);
    minima_figure_set_title(fig, title);
    minima_figure_set_text_scale(fig, rows >= 5 ? 0.5 : rows >= 3 ? 0.65 : 0.9);
    size_t np = r->n_points;
    double *x = malloc((np ? np : 1) * sizeof *x), *y = malloc((np ? np : 1) * sizeof *y);
    double *ones = malloc((np ? np : 1) * sizeof *ones), *yn = malloc((np ? np : 1) * sizeof *yn);
    if (!x || !y || !ones || !yn) {
        free(x); free(y); free(ones); free(yn);
        minima_figure_destroy(fig);
        return cli_fail("audit", minima_error(MINIMA_ENOMEM, "out of memory"));
    }
    draw_overview(minima_figure_panel(fig, 0, 0), r, x, y);
    /* the key of the per-measure panels goes into the first flat one (room
     * above and below its line), else into the first panel */
    size_t key = 0;
    for (size_t j = 0; j < n; j++)
        if (isfinite(r->measures[j].rel_spread) && r->measures[j].rel_spread < 1e-3 && !r->measures[j].canonical) {
            key = j;
            break;
        }
    for (size_t j = 0; j < n && j + 1 < rows * (size_t)cols; j++) {
        const minima_audit_measure *am = &r->measures[j];
        size_t slot = j + 1;
        minima_panel *p = minima_figure_panel(fig, (int)(slot / (size_t)cols), (int)(slot % (size_t)cols));
        char pt[256];
        snprintf(pt, sizeof pt, "%s (%s)%s", am->measure->name, short_expectation(am->expected),
                 am->agrees ? "" : " ≠");
        minima_panel_set_title(p, pt);
        minima_panel_set_labels(p, "α#d1#u = 1/α#dK#u", "value");
        int all_pos = 1;
        size_t nn = 0;
        for (size_t i = 0; i < np; i++) {
            double v = am->values[i];
            if (!r->points[i].equivalent || !isfinite(v)) continue;
            if (v <= 0) all_pos = 0;
            if (r->points[i].kind == MINIMA_AUDIT_POINT_NEURON) {
                ones[nn] = 1;
                yn[nn++] = v;
            }
        }
        int canon = am->canonical && isfinite(am->canonical_value);
        if (canon && am->canonical_value <= 0) all_pos = 0;
        size_t m = layer_series(r, am->values, 0, 0, x, y);
        minima_panel_set_log(p, 1, all_pos);
        minima_panel_set_grid(p, 1);
        minima_panel_set_legend(p, j != key ? MINIMA_LEGEND_NONE :
                                   isfinite(r->measures[j].rel_spread) && r->measures[j].rel_spread < 1e-3
                                   ? MINIMA_LEGEND_BOTTOM_RIGHT : MINIMA_LEGEND_AUTO);
        if (m == 0 && nn == 0) {
            minima_panel_set_log(p, 1, 0);
            minima_panel_set_xrange(p, 0.1, 10);
            minima_panel_set_yrange(p, 0, 2);
            minima_panel_text(p, 1, 1, "no finite value", 0.5, NULL);
            continue;
        }
        /* an invariant measure: a range wide enough to show it flat */
        if (isfinite(am->rel_spread) && am->rel_spread < 1e-3 && am->v0 != 0 && isfinite(am->v0) &&
            (!canon || fabs(am->canonical_value - am->v0) < 1e-3 * fabs(am->v0))) {
            double v0 = am->v0;
            if (all_pos) minima_panel_set_yrange(p, v0 / 3, v0 * 3);
            else minima_panel_set_yrange(p, v0 - 0.5 * fabs(v0), v0 + 0.5 * fabs(v0));
        }
        minima_style line = minima_style_default();
        line.color = MINIMA_COLOR_BLUE;
        line.marker = MINIMA_MARKER_CIRCLE;
        line.label = "layer-wise T#dα#u";
        if (m > 0) minima_panel_line(p, x, y, m, &line);
        if (nn > 0) {
            minima_style sc = minima_style_default();
            sc.color = MINIMA_COLOR_VERMILLION;
            sc.marker = MINIMA_MARKER_TRIANGLE;
            sc.marker_size = 1.3;
            sc.label = "per-neuron draws (at α = 1)";
            minima_panel_scatter(p, ones, yn, nn, &sc);
        }
        if (canon) {
            minima_style cs = minima_style_default();
            cs.color = MINIMA_COLOR_GREEN;
            cs.dash = MINIMA_DASH_DASHED;
            cs.width = 2;
            cs.label = "canonical representative";
            minima_panel_hline(p, am->canonical_value, &cs);
        }
    }
    /* grid cells past the last measure: a note instead of empty axes */
    for (size_t slot = n_panels; slot < rows * (size_t)cols; slot++) {
        minima_panel *p = minima_figure_panel(fig, (int)(slot / (size_t)cols), (int)(slot % (size_t)cols));
        minima_panel_set_xrange(p, 0, 1);
        minima_panel_set_yrange(p, 0, 1);
        minima_panel_text(p, 0.5, 0.5, "(no measure)", 0.5, NULL);
    }
    st = minima_plot_render(fig, path);
    free(x); free(y); free(ones); free(yn);
    minima_figure_destroy(fig);
    if (st != MINIMA_OK) return cli_fail("audit", st);
    fprintf(stderr, "wrote %s\n", path);
    return -1;
}

int minima_cmd_audit(int argc, char **argv)
{
    cli_net_args na = cli_net_default_args();
    minima_audit_params p = minima_audit_default_params();
    const char *names_s = "all", *plot = NULL, *set_dummy = NULL;
    int json = 0, no_canonical = 0;
    const cli_option opts[] = {
        CLI_NET_OPTIONS(na),
        {"--measure", OPT_STRING, &names_s, "comma-separated measure names, or all", "NAMES"},
        {"--decades", OPT_INT, &p.decades, "layer-wise alpha_1 = 10^s for s = -N..N", "N"},
        {"--step", OPT_DOUBLE, &p.decade_step, "step of s in decades", "X"},
        {"--neuron-draws", OPT_INT, &p.neuron_draws, "random per-neuron orbit points", "N"},
        {"--spread", OPT_DOUBLE, &p.spread, "their log-normal spread: unit scales exp(X z)", "X"},
        {"--seed", OPT_U64, &p.seed, "seed of the neuron draws and of every measure", "S"},
        {"--set", OPT_STRING, &set_dummy, "settings of one measure (repeatable), over the audit's", "NAME:k=v,..."},
        {"--canonical-points", OPT_INT, &p.canonical_points, "canonical values from the first N points (0: all)", "N"},
        {"--no-canonical", OPT_FLAG, &no_canonical, "skip the values at the canonical representative", NULL},
        {"--equivalence-tol", OPT_DOUBLE, &p.equivalence_tol, "points whose outputs differ more (relative) are skipped", "X"},
        {"--invariant-tol", OPT_DOUBLE, &p.invariant_tol, "relative spread counted as invariant", "X"},
        {"--moved-tol", OPT_DOUBLE, &p.moved_tol, "relative spread counted as moved", "X"},
        {"--approx-tol", OPT_DOUBLE, &p.approx_tol, "spread allowed for approximately invariant measures", "X"},
        {"--plot", OPT_STRING, &plot, "draw each measure against alpha (.png, .svg, .pdf)", "FILE"},
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
    char namebuf[2048];
    const char *names[64];
    size_t n_names = 0;
    if ((rc = split_names(names_s, namebuf, sizeof namebuf, names, 64, &n_names)) >= 0) return rc;

    cli_net cn;
    rc = cli_net_open("audit", &na, &cn);
    if (rc >= 0) return rc;
    double loss = NAN;
    minima_audit_result r;
    memset(&r, 0, sizeof r);
    minima_status st = minima_net_loss(cn.net, NULL, &loss, NULL);
    if (st != MINIMA_OK) { rc = cli_fail("audit", st); goto done; }
    if (!json)
        fprintf(stderr, "audit of %s on %s: %zu examples, %zu parameters, loss %.10g, activation %s\n",
                na.model_path, na.source, minima_net_n_examples(cn.net), cn.model->n_params, loss,
                minima_activation_name(cn.model->activation));
    st = minima_audit_run(cn.net, n_names ? names : NULL, n_names, &p, &r);
    if (st != MINIMA_OK) {
        if (st == MINIMA_EINTERRUPTED && r.measures && r.points) {
            fprintf(stderr, "minima audit: interrupted; what was computed so far:\n");
            print_table(&r);
        }
        rc = cli_fail("audit", st);
        goto done;
    }
    print_table(&r);
    if (plot) {
        int prc = draw(plot, &r, na.model_path);
        if (prc >= 0) { rc = prc; goto done; }
    }
    if (json) print_json(&r, &p, &na, minima_net_n_examples(cn.net), cn.model->n_params, loss);
    if (r.n_not_equivalent)
        fprintf(stderr, "minima audit: %zu orbit point%s did not compute the same function (relative output "
                "difference > %g) and %s skipped%s\n", r.n_not_equivalent, r.n_not_equivalent == 1 ? "" : "s",
                p.equivalence_tol, r.n_not_equivalent == 1 ? "was" : "were",
                cn.model->activation == MINIMA_ACT_TANH ? " (tanh is not homogeneous)" : "");
    int n_dis = 0;
    for (size_t j = 0; j < r.n_measures; j++) n_dis += !r.measures[j].agrees;
    if (n_dis) {
        fprintf(stderr, "minima audit: %d verdict%s disagree%s with the expected invariance:", n_dis,
                n_dis == 1 ? "" : "s", n_dis == 1 ? "s" : "");
        for (size_t j = 0; j < r.n_measures; j++)
            if (!r.measures[j].agrees) fprintf(stderr, " %s", r.measures[j].measure->name);
        fprintf(stderr, "\n");
    } else if (!r.n_not_equivalent) {
        fprintf(stderr, "every verdict agrees with the expected invariance (%.1f s)\n", r.seconds);
    }
    rc = r.all_agree ? EXIT_OK : EXIT_COMPUTE;
done:
    minima_audit_result_free(&r);
    cli_net_close(&cn);
    return rc;
}
