/* cmd_sharpness.c — `minima sharpness`: the sharpness and flatness measures
 * of the registry (sharpness.h, SPEC §6) at a model, with their settings,
 * timings and extra numbers; optionally also at the canonical (minimum-norm)
 * representative of the model's rescaling orbit (symmetry.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cli_load.h"
#include "minima/alloc.h"
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
    "Evaluates the measures of SPEC §6 at the model's parameters over the data set\n"
    "(the training set, as the sources define them). Every value is reported with\n"
    "the settings it was computed with, its time and its extra numbers (bounds,\n"
    "second-order values, estimates' errors).\n"
    "  --measure NAMES  comma-separated registry names, or all (see --list)\n"
    "  --set NAME:k=v   override settings of one measure; repeat for several\n"
    "                   measures (unknown keys are rejected, naming the known ones)\n"
    "  --canonical      also evaluate each measure at the canonical representative:\n"
    "                   the minimum-norm point of the per-neuron rescaling orbit,\n"
    "                   where every measure is invariant by construction\n"
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

/* The settings string for a measure from the --set list: "NAME:k=v,...";
 * the last one for a name wins. NULL when none. */
static const char *settings_for(const char *name, const char *const *sets, int n_sets)
{
    const char *found = NULL;
    size_t n = strlen(name);
    for (int i = 0; i < n_sets; i++)
        if (!strncmp(sets[i], name, n) && sets[i][n] == ':') found = sets[i] + n + 1;
    return found;
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

/* Splits "a,b,c" or "all" into registry entries; a usage error for an
 * unknown name, listing the registry. */
static int select_measures(const char *names, const minima_measure ***out, size_t *n_out)
{
    size_t n;
    const minima_measure *ms = minima_measures(&n);
    const minima_measure **sel = calloc(n ? n : 1, sizeof *sel);
    if (!sel) return cli_fail("sharpness", minima_error(MINIMA_ENOMEM, "out of memory"));
    size_t k = 0;
    if (!strcmp(names, "all")) {
        for (size_t i = 0; i < n; i++) sel[k++] = &ms[i];
    } else {
        char *buf = strdup(names);
        if (!buf) { free(sel); return cli_fail("sharpness", minima_error(MINIMA_ENOMEM, "out of memory")); }
        for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            const minima_measure *m = minima_measure_find(tok);
            if (!m) {
                fprintf(stderr, "minima sharpness: unknown measure '%s'; the registry has:", tok);
                for (size_t i = 0; i < n; i++) fprintf(stderr, " %s", ms[i].name);
                fprintf(stderr, " (or all)\n");
                free(buf);
                free(sel);
                return EXIT_USAGE;
            }
            int dup = 0;
            for (size_t j = 0; j < k; j++) dup |= sel[j] == m;
            if (!dup && k < n) sel[k++] = m;
        }
        free(buf);
        if (k == 0) { free(sel); return cli_usage_error("sharpness", "--measure: no measure named"); }
    }
    *out = sel;
    *n_out = k;
    return -1;
}

/* Extras go into the measure's JSON object as keys of their own; a name
 * that would shadow a fixed key gets the prefix "extra_". */
static void json_extras(const minima_measure_result *r)
{
    static const char *const fixed[] = {"name", "title", "source", "invariance", "value", "params",
                                        "seconds", "note", "error", "canonical", NULL};
    for (int e = 0; e < r->n_extras; e++) {
        int clash = 0;
        for (int f = 0; fixed[f]; f++) clash |= !strcmp(fixed[f], r->extras[e].name);
        char key[48];
        snprintf(key, sizeof key, "%s%s", clash ? "extra_" : "", r->extras[e].name);
        printf(", ");
        json_string(stdout, key);
        printf(": ");
        json_number(stdout, r->extras[e].value);
    }
}

static void json_result_fields(const minima_measure_result *r)
{
    printf("\"value\": ");
    json_number(stdout, r->value);
    printf(", \"params\": %s, \"seconds\": ", r->params[0] ? r->params : "{}");
    json_number(stdout, r->seconds);
    if (r->note[0]) {
        printf(", \"note\": ");
        json_string(stdout, r->note);
    }
    json_extras(r);
}

static void print_result_text(const char *label, const minima_measure_result *r)
{
    fprintf(stderr, "  %-22s %-24.15g %8.2f s  %s\n", label, r->value, r->seconds, r->params);
    for (int e = 0; e < r->n_extras; e++)
        fprintf(stderr, "  %-22s   %-20s %.10g\n", "", r->extras[e].name, r->extras[e].value);
    if (r->note[0]) fprintf(stderr, "  %-22s   note: %s\n", "", r->note);
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
    const minima_measure **sel = NULL;
    size_t n_sel = 0;
    if ((rc = select_measures(names, &sel, &n_sel)) >= 0) return rc;

    cli_net cn;
    rc = cli_net_open("sharpness", &na, &cn);
    if (rc >= 0) { free(sel); return rc; }
    minima_measure_result *res = NULL, *cres = NULL;
    minima_status *status = NULL, *cstatus = NULL;
    double *scales = NULL, *theta_c = NULL;
    minima_sym_canonical_info cinfo;
    memset(&cinfo, 0, sizeof cinfo);
    size_t P = cn.model->n_params;
    double loss = NAN, t0 = cli_now();
    minima_status st;
    res = calloc(n_sel, sizeof *res);
    cres = calloc(n_sel, sizeof *cres);
    status = calloc(n_sel, sizeof *status);
    cstatus = calloc(n_sel, sizeof *cstatus);
    if (!res || !cres || !status || !cstatus) {
        rc = cli_fail("sharpness", minima_error(MINIMA_ENOMEM, "out of memory"));
        goto done;
    }
    if ((st = minima_net_loss(cn.net, NULL, &loss, NULL)) != MINIMA_OK) { rc = cli_fail("sharpness", st); goto done; }
    if (canonical) {
        size_t nu = minima_sym_n_units(cn.model);
        scales = minima_alloc(nu ? nu : 1, sizeof *scales);
        theta_c = minima_alloc(P, sizeof *theta_c);
        if (!scales || !theta_c) { rc = cli_fail("sharpness", minima_error(MINIMA_ENOMEM, "out of memory")); goto done; }
        minima_sym_canonical_params cp = minima_sym_canonical_default_params();
        if ((st = minima_sym_canonical(cn.model, NULL, &cp, scales, &cinfo)) != MINIMA_OK) {
            rc = cli_fail("sharpness", st);
            goto done;
        }
        minima_sym_apply(cn.model, scales, cn.model->theta, theta_c);
        if (cn.model->activation == MINIMA_ACT_TANH)
            fprintf(stderr, "minima sharpness: warning: tanh is not homogeneous; the 'canonical' point "
                    "computes a different function\n");
    }
    if (!json)
        fprintf(stderr, "measures of %s on %s (%zu examples, %zu parameters, loss %.10g)\n", na.model_path,
                na.source, minima_net_n_examples(cn.net), P, loss);
    int failed = 0;
    for (size_t i = 0; i < n_sel; i++) {
        const minima_measure *m = sel[i];
        const char *set = settings_for(m->name, sets, n_sets);
        status[i] = minima_measure_compute(m, cn.net, set, seed, &res[i]);
        if (status[i] == MINIMA_EINTERRUPTED) { rc = cli_fail("sharpness", status[i]); goto done; }
        if (status[i] != MINIMA_OK) {
            if (minima_status_is_usage(status[i])) { rc = cli_fail("sharpness", status[i]); goto done; }
            fprintf(stderr, "minima sharpness: %s failed: %s: %s\n", m->name, minima_strerror(status[i]),
                    minima_last_error());
            snprintf(res[i].note, sizeof res[i].note, "failed: %s", minima_last_error());
            failed = 1;
        } else if (!json) {
            print_result_text(m->name, &res[i]);
        }
        if (canonical) {
            if ((st = minima_net_set_point(cn.net, theta_c)) != MINIMA_OK) { rc = cli_fail("sharpness", st); goto done; }
            cstatus[i] = minima_measure_compute(m, cn.net, set, seed, &cres[i]);
            if ((st = minima_net_set_point(cn.net, cn.model->theta)) != MINIMA_OK) { rc = cli_fail("sharpness", st); goto done; }
            if (cstatus[i] == MINIMA_EINTERRUPTED) { rc = cli_fail("sharpness", cstatus[i]); goto done; }
            if (cstatus[i] != MINIMA_OK) {
                fprintf(stderr, "minima sharpness: %s at the canonical point failed: %s: %s\n", m->name,
                        minima_strerror(cstatus[i]), minima_last_error());
                snprintf(cres[i].note, sizeof cres[i].note, "failed: %s", minima_last_error());
                failed = 1;
            } else if (!json) {
                print_result_text("  (canonical)", &cres[i]);
            }
        }
    }
    double seconds = cli_now() - t0;
    if (json) {
        printf("{\"model\": ");
        json_string(stdout, na.model_path);
        printf(", \"data\": ");
        json_string(stdout, na.source);
        printf(", ");
        cli_json_model_source(stdout, cn.model);
        printf(", \"n_examples\": %zu, \"n_params\": %zu, \"loss\": ", minima_net_n_examples(cn.net), P);
        json_number(stdout, loss);
        printf(", \"seed\": %llu", (unsigned long long)seed);
        if (canonical) {
            printf(", \"canonical\": {\"norm_before\": ");
            json_number(stdout, cinfo.norm_before);
            printf(", \"norm_after\": ");
            json_number(stdout, cinfo.norm_after);
            printf(", \"iterations\": %d, \"converged\": %s, \"n_degenerate\": %zu}", cinfo.iterations,
                   cinfo.converged ? "true" : "false", cinfo.n_degenerate);
        }
        printf(", \"measures\": [");
        for (size_t i = 0; i < n_sel; i++) {
            printf("%s{\"name\": ", i ? ", " : "");
            json_string(stdout, sel[i]->name);
            printf(", \"title\": ");
            json_string(stdout, sel[i]->title);
            printf(", \"source\": ");
            json_string(stdout, sel[i]->source);
            printf(", \"invariance\": ");
            json_string(stdout, minima_invariance_name(
                minima_measure_invariance(sel[i], settings_for(sel[i]->name, sets, n_sets))));
            printf(", ");
            json_result_fields(&res[i]);
            if (status[i] != MINIMA_OK) {
                printf(", \"error\": ");
                json_string(stdout, minima_strerror(status[i]));
            }
            if (canonical) {
                printf(", \"canonical\": {");
                json_result_fields(&cres[i]);
                if (cstatus[i] != MINIMA_OK) {
                    printf(", \"error\": ");
                    json_string(stdout, minima_strerror(cstatus[i]));
                }
                printf("}");
            }
            printf("}");
        }
        printf("], \"seconds\": ");
        json_number(stdout, seconds);
        printf("}\n");
    } else {
        if (canonical)
            fprintf(stderr, "canonical representative: ||theta|| %.10g -> %.10g (%d iterations%s)\n",
                    cinfo.norm_before, cinfo.norm_after, cinfo.iterations, cinfo.converged ? "" : ", NOT converged");
        fprintf(stderr, "%zu measure%s in %.2f s\n", n_sel, n_sel == 1 ? "" : "s", seconds);
    }
    rc = failed ? EXIT_COMPUTE : EXIT_OK;
done:
    free(res);
    free(cres);
    free(status);
    free(cstatus);
    minima_free(scales);
    minima_free(theta_c);
    free(sel);
    cli_net_close(&cn);
    return rc;
}
