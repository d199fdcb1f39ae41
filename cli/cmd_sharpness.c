/* cmd_sharpness.c — `minima sharpness`: the sharpness and flatness measures
 * of the registry (sharpness.h, docs/sharpness.md) at a model, with their settings,
 * timings and extra numbers; optionally also at the canonical (minimum-norm)
 * representative of the model's rescaling orbit (symmetry.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cli_load.h"
#include "minima/alloc.h"
#include "minima/report.h"
#include "minima/sharpness.h"
#include "minima/symmetry.h"

int minima_cmd_sharpness(int argc, char **argv);
extern const char minima_cmd_sharpness_summary[];
const char minima_cmd_sharpness_summary[] =
    "sharpness and flatness measures of the literature (one registry, settings reported)";

static const char usage[] =
    "usage: minima sharpness --model MODEL --data SRC [--measure NAMES|all]\n"
    "                        [--set NAME:key=v,key=v ...] [--canonical] [--seed S]\n"
    "                        [--json]\n"
    "       minima sharpness --list [--json]\n\n"
    "Evaluates the measures of docs/sharpness.md at the model's parameters over\n"
    "the data set (the training set, as the sources define them). Every value is\n"
    "reported with the settings it was computed with, its time and its extra\n"
    "numbers (bounds, second-order values, estimates' errors).\n"
    "  --measure NAMES  comma-separated registry names, or all (see --list)\n"
    "  --set NAME:k=v   override settings of one measure; repeat for several\n"
    "                   measures (unknown keys are rejected, naming the known ones)\n"
    "  --canonical      also evaluate each measure at the canonical representative:\n"
    "                   the minimum-norm point of the per-neuron rescaling orbit\n"
    "                   (per channel class on a CNN or residual net), where every\n"
    "                   measure is invariant by construction\n"
    "  --list           print the registry: name, title, source, expected invariance\n"
    "                   under rescaling, and every setting: default, accepted\n"
    "                   values (out-of-range values are rejected), meaning\n"
    "Exit codes: 0 ok, 1 a measure failed (the others are still reported), 2 bad\n"
    "usage or input.";

#define MAX_SETS 64

/* Collects every `--set VALUE` / `--set=VALUE` (cli_parse keeps only the last). */
static int collect_sets(int argc, char **argv, const char **sets, int *n_sets)
{
    *n_sets = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (!strcmp(argv[i], "--set") && i + 1 < argc) v = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6)) v = argv[i] + 6;
        else continue;
        if (*n_sets >= MAX_SETS) return cli_usage_error("sharpness", "at most %d --set options", MAX_SETS);
        sets[(*n_sets)++] = v;
    }
    return -1;
}

static const char *kind_name(minima_setting_kind k)
{
    switch (k) {
    case MINIMA_SETTING_DOUBLE: return "number";
    case MINIMA_SETTING_INT: return "integer";
    case MINIMA_SETTING_BOOL: return "bool";
    case MINIMA_SETTING_PNORM: return "p-norm";
    }
    return "?";
}

/* The registry and each measure's settings table (name, default, accepted
 * values, meaning), all from the measures' own descriptions. */
static void print_list(int json)
{
    size_t n;
    const minima_measure *ms = minima_measures(&n);
    char defaults[512], def[64], range[96];
    if (json) {
        printf("{\"measures\": [");
        for (size_t i = 0; i < n; i++) {
            printf("%s{\"name\": ", i ? ", " : "");
            json_string(stdout, ms[i].name);
            printf(", \"title\": ");
            json_string(stdout, ms[i].title);
            printf(", \"source\": ");
            json_string(stdout, ms[i].source);
            printf(", \"invariance\": ");
            json_string(stdout, minima_invariance_name(ms[i].invariance));
            minima_measure_defaults(&ms[i], defaults, sizeof defaults);
            printf(", \"settings\": ");
            json_string(stdout, defaults);
            printf(", \"setting_table\": [");
            for (size_t k = 0; k < ms[i].n_settings; k++) {
                const minima_setting *st = &ms[i].settings[k];
                minima_setting_default_text(st, def, sizeof def);
                minima_setting_range_text(st, range, sizeof range);
                printf("%s{\"name\": ", k ? ", " : "");
                json_string(stdout, st->name);
                printf(", \"kind\": ");
                json_string(stdout, kind_name(st->kind));
                printf(", \"default\": ");
                json_string(stdout, def);
                printf(", \"range\": ");
                json_string(stdout, range);
                printf(", \"doc\": ");
                json_string(stdout, st->doc);
                printf("}");
            }
            printf("]}");
        }
        printf("]}\n");
        return;
    }
    printf("%-22s %-14s %s\n", "measure", "invariant", "title / source / settings");
    for (size_t i = 0; i < n; i++) {
        printf("%-22s %-14s %s\n", ms[i].name, minima_invariance_name(ms[i].invariance), ms[i].title);
        printf("%-37s source: %s\n", "", ms[i].source);
        if (!ms[i].n_settings) printf("%-37s settings: (none)\n", "");
        for (size_t k = 0; k < ms[i].n_settings; k++) {
            const minima_setting *st = &ms[i].settings[k];
            minima_setting_default_text(st, def, sizeof def);
            minima_setting_range_text(st, range, sizeof range);
            printf("%-37s %s=%s  (%s) %s\n", "", st->name, def, range, st->doc);
        }
    }
}

static void print_result_text(const char *label, const minima_measure_result *r)
{
    fprintf(stderr, "  %-22s %-24.15g %8.2f s  %s\n", label, r->value, r->seconds, r->params);
    for (int e = 0; e < r->n_extras; e++)
        fprintf(stderr, "  %-22s   %-20s %.10g\n", "", r->extras[e].name, r->extras[e].value);
    if (r->note[0]) fprintf(stderr, "  %-22s   note: %s\n", "", r->note);
}

/* The table on stderr as the measures are computed (failures also with --json). */
typedef struct {
    const char *model_path, *source;
    int json;
} table_ctx;

static void print_measure(const minima_sharpness_result *r, size_t i, int canonical_point, void *user)
{
    const table_ctx *c = user;
    if (i == (size_t)-1) {
        if (!c->json)
            fprintf(stderr, "measures of %s on %s (%zu examples, %zu parameters, loss %.10g)\n", c->model_path,
                    c->source, r->n_examples, r->n_params, r->loss);
        return;
    }
    const minima_sharpness_entry *e = &r->measures[i];
    minima_status st = canonical_point ? e->canonical_status : e->status;
    if (st == MINIMA_EUNSUPPORTED && !canonical_point)   /* not applicable to a graph */
        fprintf(stderr, "minima sharpness: %s: not applicable: %s\n", e->measure->name, e->error);
    else if (st != MINIMA_OK)
        fprintf(stderr, "minima sharpness: %s%s failed: %s: %s\n", e->measure->name,
                canonical_point ? " at the canonical point" : "", minima_strerror(st),
                canonical_point ? e->canonical_error : e->error);
    else if (!c->json)
        print_result_text(canonical_point ? "  (canonical)" : e->measure->name,
                          canonical_point ? &e->canonical : &e->result);
}

int minima_cmd_sharpness(int argc, char **argv)
{
    cli_net_args na = cli_net_default_args();
    const char *names = "all", *set_dummy = NULL;
    int canonical = 0, list = 0, json = 0;
    uint64_t seed = 0;
    const cli_option opts[] = {
        CLI_NET_OPTIONS(na),
        {"--measure", OPT_STRING, &names, "comma-separated measure names, or all", "NAMES"},
        {"--set", OPT_STRING, &set_dummy, "settings of one measure (repeatable), e.g. dinh_sharpness:eps=1e-2", "NAME:k=v,..."},
        {"--canonical", OPT_FLAG, &canonical, "also evaluate at the canonical (minimum-norm) representative", NULL},
        {"--seed", OPT_U64, &seed, "seed of every random draw (probes, noise, batches)", "S", CLI_ANY},
        {"--list", OPT_FLAG, &list, "print the registry and exit", NULL},
        {"--json", OPT_FLAG, &json, "print the result as JSON on stdout", NULL},
        {NULL, OPT_FLAG, NULL, NULL, NULL},
    };
    int rc = cli_parse("sharpness", usage, opts, argc, argv, NULL, 0, NULL);
    if (rc >= 0) return rc;
    if (list) {
        print_list(json);
        return EXIT_OK;
    }
    const char *sets[MAX_SETS];
    int n_sets = 0;
    if ((rc = collect_sets(argc, argv, sets, &n_sets)) >= 0) return rc;
    for (int i = 0; i < n_sets; i++) {
        const char *colon = strchr(sets[i], ':');
        if (!colon || colon == sets[i])
            return cli_usage_error("sharpness", "option --set: expected NAME:key=value,..., found '%s'", sets[i]);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(colon - sets[i]), sets[i]);
        if (!minima_measure_find(name))
            return cli_usage_error("sharpness", "option --set: unknown measure '%s' (see --list)", name);
    }
    if (!na.model_path) return cli_usage_error("sharpness", "--model MODEL is required");
    if (!na.source) return cli_usage_error("sharpness", "--data SRC is required");
    if (strcmp(names, "all")) {
        /* an unknown name is a usage error before anything is loaded */
        char *buf = strdup(names);
        if (!buf) return cli_fail("sharpness", minima_error(MINIMA_ENOMEM, "out of memory"));
        int named = 0;
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (!minima_measure_find(tok)) {
                size_t nr;
                const minima_measure *ms = minima_measures(&nr);
                fprintf(stderr, "minima sharpness: unknown measure '%s'; the registry has:", tok);
                for (size_t i = 0; i < nr; i++) fprintf(stderr, " %s", ms[i].name);
                fprintf(stderr, " (or all)\n");
                free(buf);
                return EXIT_USAGE;
            }
            named = 1;
        }
        free(buf);
        if (!named) return cli_usage_error("sharpness", "--measure: no measure named");
    }

    cli_net cn;
    rc = cli_net_open("sharpness", &na, &cn);
    if (rc >= 0) return rc;
    if (canonical && cn.model->activation == MINIMA_ACT_TANH)
        fprintf(stderr, "minima sharpness: warning: tanh is not homogeneous; the 'canonical' point "
                "computes a different function\n");
    minima_sharpness_request rq = minima_sharpness_default_request();
    rq.measures = names;
    rq.settings = sets;
    rq.n_settings = n_sets;
    rq.canonical = canonical;
    rq.seed = seed;
    rq.model_label = na.model_path;
    rq.data_label = na.source;
    table_ctx tc = {na.model_path, na.source, json};
    rq.on_measure = print_measure;
    rq.user = &tc;
    minima_sharpness_result r;
    minima_status st = minima_sharpness_run(cn.net, &rq, &r);
    if (st != MINIMA_OK) { rc = cli_fail("sharpness", st); goto done; }
    if (json) {
        char *text = NULL;
        if ((st = minima_sharpness_json(&r, &text)) != MINIMA_OK) { rc = cli_fail("sharpness", st); goto done; }
        fputs(text, stdout);
        minima_free(text);
    } else {
        if (canonical)
            fprintf(stderr, "canonical representative: ||theta|| %.10g -> %.10g (%d iterations%s)\n",
                    r.canonical_info.norm_before, r.canonical_info.norm_after, r.canonical_info.iterations,
                    r.canonical_info.converged ? "" : ", NOT converged");
        fprintf(stderr, "%zu measure%s in %.2f s\n", r.n_measures, r.n_measures == 1 ? "" : "s", r.seconds);
    }
    rc = r.n_failed ? EXIT_COMPUTE : EXIT_OK;
done:
    minima_sharpness_result_free(&r);
    cli_net_close(&cn);
    return rc;
}
