/* cmd_theorem.c — `minima theorem`: the paper's theorems checked
 * numerically (docs/theorem.md), on built-in networks or on the user's model and
 * data. A thin client of theorem.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "cli_output.h"
#include "cli_load.h"
#include "minima/figures.h"
#include "minima/theorem.h"

int minima_cmd_theorem(int argc, char **argv);
extern const char minima_cmd_theorem_summary[];
const char minima_cmd_theorem_summary[] =
    "check the theorems of Dinh et al. 2017 numerically (built-in networks or yours)";

static const char usage[] =
    "usage: minima theorem [NAME|all] [--model MODEL --data SRC] [--seed S] [--grad-tol X]\n"
    "                      [--max-products N]\n"
    "                      [--json] [--list] [--figures DIR]\n\n"
    "Runs the numerical check of each theorem of the paper (docs/theorem.md):\n"
    "both sides computed on a real network, with the tolerance, the hypotheses verified\n"
    "(||grad L||, lambda_min, rank tolerance, ...) and a verdict. NAME is one of the\n"
    "names --list prints, or all (the default). Without --model the checks run on\n"
    "built-in networks (teacher data, full-batch training polished to a critical\n"
    "point); with --model and --data they run on yours, and each check that does not\n"
    "apply (Thm 2 needs one hidden layer, Thm 5 a small net at a minimum, ...) says why.\n"
    "A table goes to stderr; --json prints {\"theorems\": [{name, passed, details, ...}]}\n"
    "on stdout. Exit codes: 0 every applicable check passed, 1 one failed (or a\n"
    "computation failed), 2 bad usage or input.";

static void print_json(const minima_theorem_result *res, const int *have, size_t n,
                       double seconds, int all_ok, const minima_model *model)
{
    size_t count;
    const minima_theorem_check *checks = minima_theorems(&count);
    printf("{");
    if (model) {
        cli_json_model_source(stdout, model);
        printf(", ");
    }
    printf("\"theorems\": [");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!have[i]) continue;
        const minima_theorem_result *r = &res[i];
        printf("%s{\"name\": ", first ? "" : ", ");
        first = 0;
        json_string(stdout, r->name);
        printf(", \"title\": ");
        json_string(stdout, r->title);
        printf(", \"paper\": ");
        json_string(stdout, i < count ? checks[i].paper : "");
        printf(", \"applicable\": %s, \"passed\": %s", r->applicable ? "true" : "false",
               r->passed ? "true" : "false");
        printf(", \"reason\": ");
        json_string(stdout, r->reason);
        printf(", \"details\": ");
        json_string(stdout, r->details);
        printf(", \"hypotheses\": ");
        json_string(stdout, r->hypotheses);
        printf(", \"tolerance\": ");
        json_number(stdout, r->tolerance);
        printf(", \"loss\": ");
        json_number(stdout, r->loss);
        printf(", \"grad_norm\": ");
        json_number(stdout, r->grad_norm);
        printf(", \"lambda_min\": ");
        json_number(stdout, r->lambda_min);
        printf(", \"seconds\": ");
        json_number(stdout, r->seconds);
        printf(", \"numbers\": {");
        for (int k = 0; k < r->n_numbers; k++) {
            if (k) printf(", ");
            json_string(stdout, r->numbers[k].name);
            printf(": ");
            json_number(stdout, r->numbers[k].value);
        }
        printf("}}");
    }
    printf("], \"all_passed\": %s, \"seconds\": ", all_ok ? "true" : "false");
    json_number(stdout, seconds);
    printf("}\n");
}

/* The first sentence-ish of the details, for the table. */
static void print_row(const minima_theorem_result *r)
{
    const char *verdict = !r->applicable ? "n/a " : r->passed ? "PASS" : "FAIL";
    fprintf(stderr, "%-7s %s %7.2fs  %s\n", r->name, verdict, r->seconds, r->title);
    if (!r->applicable) {
        fprintf(stderr, "                       not applicable: %s\n", r->reason);
        return;
    }
    if (r->hypotheses[0]) fprintf(stderr, "                       hypotheses: %s\n", r->hypotheses);
    fprintf(stderr, "                       %s\n", r->details);
}

int minima_cmd_theorem(int argc, char **argv)
{
    cli_net_args na = cli_net_default_args();
    uint64_t seed = 1;
    int json = 0, list = 0;
    double grad_tol = -1;
    size_t max_products = 10000;
    const char *figures = NULL;
    const cli_option opts[] = {
        CLI_NET_OPTIONS(na),
        {"--seed", OPT_U64, &seed, "seed of the built-in networks and random probes", "S", CLI_ANY},
        {"--grad-tol", OPT_DOUBLE, &grad_tol,
         "||grad L|| below which a point counts as critical (-1: 1e-8)", "X", CLI_IN(-1, 1e100)},
        {"--max-products", OPT_SIZE, &max_products,
         "Lanczos gives up after this many Hessian-vector products (the check then fails)", "N",
         CLI_IN(3, 1e9)},
        {"--json", OPT_FLAG, &json, "print the results as JSON on stdout", NULL},
        {"--list", OPT_FLAG, &list, "list the checks and exit", NULL},
        /* ---- figures: `--figures DIR` draws the paper's figures (figures.h) ---- */
        {"--figures", OPT_STRING, &figures, "also draw the paper's figures into DIR", "DIR"},
        {0},
    };
    const char *pos[2];
    int n_pos = 0;
    int rc = cli_parse("theorem", usage, opts, argc, argv, pos, 2, &n_pos);
    if (rc >= 0) return rc;
    size_t count;
    const minima_theorem_check *checks = minima_theorems(&count);
    if (list) {
        for (size_t i = 0; i < count; i++)
            printf("%-7s %-45s %s\n", checks[i].name, checks[i].paper, checks[i].title);
        return EXIT_OK;
    }
    if (n_pos > 1) return cli_usage_error("theorem", "expected one NAME or all, found %d", n_pos);
    const char *which = n_pos ? pos[0] : "all";
    if (strcmp(which, "all") != 0 && !minima_theorem_find(which))
        return cli_usage_error("theorem", "unknown theorem '%s' (minima theorem --list names them)", which);
    if ((na.model_path != NULL) != (na.source != NULL))
        return cli_usage_error("theorem", "--model and --data go together");
    {
        cli_files io = {0};
        cli_files_output(&io, "--figures", figures, CLI_OUT_DIR);
        if ((rc = cli_files_check("theorem", &io)) >= 0) return rc;
    }

    minima_theorem_params p = minima_theorem_default_params();
    p.seed = seed;
    if (grad_tol >= 0) p.grad_tol = grad_tol;
    p.max_products = max_products;
    cli_install_handlers();
    cli_net cn = {0};
    minima_theorem_env *env = NULL;
    minima_theorem_result *res = NULL;
    int *have = NULL;
    minima_status st;
    if (na.model_path) {
        if ((rc = cli_net_open("theorem", &na, &cn)) >= 0) return rc;
        /* the checks build their own nets from the model: carry --loss over */
        cn.model->loss = minima_net_loss_kind(cn.net);
        st = minima_theorem_env_user(&env, cn.model, cn.data);
    } else {
        st = minima_theorem_env_builtin(&env, &p);
    }
    if (st != MINIMA_OK) { rc = cli_fail("theorem", st); goto done; }
    res = calloc(count, sizeof *res);
    have = calloc(count, sizeof *have);
    if (!res || !have) { rc = cli_fail("theorem", minima_error(MINIMA_ENOMEM, "out of memory")); goto done; }
    double t0 = cli_now();
    int all_ok = 1, computed_ok = 1;
    fprintf(stderr, "minima theorem: %s\n", na.model_path ? na.model_path : "built-in networks");
    for (size_t i = 0; i < count; i++) {
        if (strcmp(which, "all") != 0 && strcmp(which, checks[i].name) != 0) continue;
        st = minima_theorem_run(&checks[i], env, &p, &res[i]);
        if (st == MINIMA_EINTERRUPTED) { rc = cli_fail("theorem", st); goto done; }
        if (st != MINIMA_OK) {
            fprintf(stderr, "minima theorem: %s: %s: %s\n", checks[i].name, minima_strerror(st),
                    minima_last_error());
            computed_ok = 0;
            res[i].applicable = 1;
            res[i].passed = 0;
            snprintf(res[i].details, sizeof res[i].details, "computation failed: %s: %s",
                     minima_strerror(st), minima_last_error());
        }
        have[i] = 1;
        print_row(&res[i]);
        if (res[i].applicable && !res[i].passed) all_ok = 0;
    }
    /* ---- --figures DIR: the paper's figures (figures.h), drawn after the checks ---- */
    int figures_ok = 1;
    if (figures) {
        minima_figures_params fp = minima_figures_default_params();
        fp.seed = seed;
        st = minima_figures_draw(figures, &fp, NULL);
        if (st == MINIMA_EINTERRUPTED) { rc = cli_fail("theorem", st); goto done; }
        if (st != MINIMA_OK) {          /* the checks' results are still printed below */
            cli_fail("theorem", st);
            figures_ok = 0;
        } else {
            fprintf(stderr, "minima theorem: the paper's figures are in %s\n", figures);
        }
    }
    double seconds = cli_now() - t0;
    fprintf(stderr, "minima theorem: %s (%.1f s)\n",
            all_ok ? "every applicable check passed" : "SOME CHECKS FAILED", seconds);
    if (json) print_json(res, have, count, seconds, all_ok && computed_ok, na.model_path ? cn.model : NULL);
    rc = all_ok && computed_ok && figures_ok ? EXIT_OK : EXIT_COMPUTE;
done:
    free(res);
    free(have);
    minima_theorem_env_free(env);
    if (na.model_path) cli_net_close(&cn);
    return rc;
}
