/* test_report.c — report.h and the task functions of api.h: the request
 * parser (unknown keys, ranges, lists), the JSON texts (they parse, with the
 * documented keys), and the same numbers as the command line: the CLI's
 * --json and the API's JSON for the same model, data and request are the
 * same text once the "seconds" fields (and the file names in "model" and
 * "data") are taken out. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/api.h"
#include "minima/data.h"
#include "minima/report.h"
#include "minima/safetensors.h"

#define DATA "synthetic:blobs:120"

static char dir[64], model_path[128];
static minima_model *model;
static minima_dataset *data;
static minima_net *net;

/* A 2-6-4 ReLU MLP written to a file and read back, so that in-process and
 * command line see the same model (and the same provenance keys). */
static int setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/minima_test_report_XXXXXX");
    if (!mkdtemp(dir)) return 0;
    snprintf(model_path, sizeof model_path, "%s/m.safetensors", dir);
    int w[] = {2, 6, 4};
    minima_model *m = NULL;
    if (minima_model_create(&m, 2, w, 1, MINIMA_ACT_RELU) != MINIMA_OK) return 0;
    minima_model_init(m, 7);
    minima_status st = minima_model_save(m, model_path, MINIMA_DTYPE_F64);
    minima_model_free(m);
    if (st != MINIMA_OK) return 0;
    minima_load_options lo = minima_load_default_options();
    if (minima_model_load(model_path, &lo, &model) != MINIMA_OK) return 0;
    minima_data_options dopt = minima_data_default_options();
    dopt.labels_use = MINIMA_LABELS_CLASSES;
    dopt.n_outputs = 4;
    if (minima_data_load(DATA, &dopt, &data) != MINIMA_OK) return 0;
    minima_net_params np = minima_net_default_params(model);
    return minima_net_create(&net, model, data, &np) == MINIMA_OK;
}

static void teardown(void)
{
    minima_net_free(net);
    minima_dataset_free(data);
    minima_model_free(model);
    unlink(model_path);
    rmdir(dir);
}

/* Removes every `"key": VALUE` (VALUE a number, null, true/false or a
 * string) with the ", " before it, in place. */
static void strip_key(char *s, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    char *p;
    while ((p = strstr(s, pat))) {
        char *start = p, *end = p + strlen(pat);
        if (*end == '"') {
            end++;
            while (*end && *end != '"') end += *end == '\\' ? 2 : 1;
            if (*end) end++;
        } else {
            while (*end && *end != ',' && *end != '}' && *end != ']') end++;
        }
        if (start - s >= 2 && start[-2] == ',' && start[-1] == ' ') start -= 2;
        else if (*end == ',' && end[1] == ' ') end += 2;
        memmove(start, end, strlen(end) + 1);
    }
}

/* The CLI's stdout for `minima ARGS`, or NULL. */
static char *run_cli(const char *args)
{
    const char *bin = getenv("MINIMA_BIN");
    if (!bin) return NULL;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' %s --model '%s' --data " DATA " --json 2>/dev/null", bin, args, model_path);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) { free(buf); buf = NULL; }
            else buf = b;
        }
    }
    pclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

static void same_text(const char *what, const char *cli, char *api)
{
    CHECK_MSG(cli && api, "%s: no output (cli %p, api %p)", what, (const void *)cli, (const void *)api);
    if (!cli || !api) return;
    char *c = strdup(cli);
    const char *keys[] = {"seconds", "model", "data"};
    for (int i = 0; i < 3; i++) {
        strip_key(c, keys[i]);
        strip_key(api, keys[i]);
    }
    CHECK_MSG(!strcmp(c, api), "%s: the CLI and the API differ:\ncli: %.600s\napi: %.600s", what, c, api);
    free(c);
}

static cJSON *parse_with(const char *json, const char *const *keys)
{
    cJSON *j = cJSON_Parse(json);
    CHECK_MSG(j != NULL, "not JSON: %.200s", json ? json : "(null)");
    for (int i = 0; j && keys[i]; i++)
        CHECK_MSG(cJSON_GetObjectItemCaseSensitive(j, keys[i]) != NULL, "key '%s' missing", keys[i]);
    return j;
}

static void test_request_parser(void)
{
    char *json = NULL;
    CHECK_STATUS(minima_api_spectrum(net, "top=2,nope=1", &json), MINIMA_EINVAL);
    CHECK(json == NULL);
    CHECK(strstr(minima_last_error(), "'nope'") != NULL);
    CHECK(strstr(minima_last_error(), "top") != NULL);     /* the known keys are listed */
    CHECK_STATUS(minima_api_spectrum(net, "top=-1", &json), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "'top'") && strstr(minima_last_error(), "[0, 10000]") &&
          strstr(minima_last_error(), "'-1'"));
    CHECK_STATUS(minima_api_spectrum(net, "tol=1", &json), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "(0, 1)") != NULL);
    CHECK_STATUS(minima_api_spectrum(net, "top=2x", &json), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_spectrum(net, "top", &json), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_spectrum(net, "top=1,top=2", &json), MINIMA_EINVAL);   /* one parser for */
    CHECK(strstr(minima_last_error(), "given twice") != NULL);                     /* every request */
    CHECK_STATUS(minima_api_spectrum(net, "top=1,,trace=1", &json), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "empty entry") != NULL);
    CHECK_STATUS(minima_api_spectrum(net, "trace=2", &json), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_spectrum(net, "trace_method=lucky", &json), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_spectrum(net, "exact=1,levels=1;;2", &json), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "levels") != NULL);
    CHECK_STATUS(minima_api_spectrum(net, "exact=1,levels=1;nan", &json), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_spectrum(net, "float32=1", &json), MINIMA_EINVAL);   /* tol 1e-8 unreachable */
    CHECK_STATUS(minima_api_spectrum(net, "seed=-3", &json), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_spectrum(net, "layers=#0;#9", &json), MINIMA_EINVAL);
    /* lists: levels and layers separated by ';' */
    CHECK_OK(minima_api_spectrum(net, "top=1, exact=1, levels=0.5;5;50, layers=#0;#1", &json));
    minima_api_free_string(json);
    CHECK_OK(minima_api_spectrum(net, "top=1,layers=#1", &json));
    cJSON *j = cJSON_Parse(json);
    CHECK(j && cJSON_GetObjectItem(j, "n")->valuedouble == 28);     /* 6*4 + 4 */
    cJSON_Delete(j);
    minima_api_free_string(json);
    CHECK_OK(minima_api_spectrum(net, NULL, &json));
    minima_api_free_string(json);
    CHECK_OK(minima_api_spectrum(net, "", &json));
    minima_api_free_string(json);

    CHECK_STATUS(minima_api_sharpness(net, "path_norm,nope", NULL, 0, &json), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "nope") != NULL);
    CHECK_STATUS(minima_api_sharpness(net, "path_norm", "nope:x=1", 0, &json), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_sharpness(net, "path_norm", "path_norm", 0, &json), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_audit(net, "path_norm", NULL, "decades=31", &json), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "'decades'") && strstr(minima_last_error(), "[0, 30]") &&
          strstr(minima_last_error(), "'31'"));
    CHECK_STATUS(minima_api_audit(net, "path_norm", NULL, "spread=-1", &json), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_audit(net, "path_norm", NULL, "canonical=yes", &json), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_audit(net, "path_norm", NULL, "strictly=1", &json), MINIMA_EINVAL);
}

static void test_json_keys(void)
{
    static const char *const spectrum_keys[] = {"activation", "activation_source", "layer_order_source",
        "n_params", "n", "model_n_params", "loss", "grad_norm", "top", "bottom", "converged", "trace",
        "density", "exact", "n_hvp", "seconds", NULL};
    char *json = NULL;
    CHECK_OK(minima_api_spectrum(net, "top=2,bottom=1,trace=1,density=1,slq_steps=10,exact=1", &json));
    cJSON *j = parse_with(json, spectrum_keys);
    if (j) {
        cJSON *top = cJSON_GetObjectItem(j, "top");
        CHECK(cJSON_GetArraySize(top) == 2);
        cJSON *exact = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "exact"), "eigenvalues");
        CHECK(cJSON_GetArraySize(exact) == 46);
        /* Lanczos' largest agrees with the dense spectrum's */
        double l1 = cJSON_GetObjectItem(cJSON_GetArrayItem(top, 0), "eigenvalue")->valuedouble;
        double e1 = cJSON_GetArrayItem(exact, 0)->valuedouble;
        CHECK_REL(l1, e1, 1e-7);
        CHECK(!strcmp(cJSON_GetObjectItem(j, "activation")->valuestring, "relu"));
    }
    cJSON_Delete(j);
    minima_api_free_string(json);

    static const char *const sharp_keys[] = {"model", "data", "activation", "n_examples", "n_params", "loss",
        "seed", "measures", "seconds", NULL};
    CHECK_OK(minima_api_sharpness(net, "path_norm,fisher_rao", "path_norm:p=1", 5, &json));
    j = parse_with(json, sharp_keys);
    if (j) {
        cJSON *ms = cJSON_GetObjectItem(j, "measures");
        CHECK(cJSON_GetArraySize(ms) == 2);
        cJSON *m0 = cJSON_GetArrayItem(ms, 0);
        CHECK(!strcmp(cJSON_GetObjectItem(m0, "name")->valuestring, "path_norm"));
        CHECK(cJSON_GetObjectItem(m0, "value") && cJSON_GetObjectItem(m0, "params"));
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "model")));
        CHECK(cJSON_GetObjectItem(j, "seed")->valuedouble == 5);
    }
    cJSON_Delete(j);
    minima_api_free_string(json);

    static const char *const audit_keys[] = {"model", "data", "activation", "n_examples", "n_params", "loss",
        "orbit", "points", "measures", "n_not_equivalent", "all_agree", "disagreements", "not_measured",
        "strict", "seconds", NULL};
    CHECK_OK(minima_api_audit(net, "path_norm", NULL, "decades=1,neuron_points=1,strict=1", &json));
    j = parse_with(json, audit_keys);
    if (j) {
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "points")) == 4);   /* s = -1, 0, 1 and one draw */
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "strict")));
    }
    cJSON_Delete(j);
    minima_api_free_string(json);
}

static void compare_spectrum(const char *args, const char *request)
{
    char *cli = run_cli(args), *api = NULL;
    minima_status st = minima_api_spectrum(net, request, &api);
    CHECK_MSG(st == MINIMA_OK, "%s: %s", request, minima_last_error());
    same_text(request, cli, api);
    free(cli);
    minima_api_free_string(api);
}

static void test_same_as_cli(void)
{
    if (!getenv("MINIMA_BIN")) {
        fprintf(stderr, "test_report: MINIMA_BIN not set, the comparison with the CLI is skipped\n");
        return;
    }
    compare_spectrum("spectrum --top 3 --trace", "top=3,trace=1");
    compare_spectrum("spectrum --top 2 --bottom 2 --exact --density --slq-steps 20 --layers '#1'",
                     "top=2,bottom=2,exact=1,density=1,slq_steps=20,layers=#1");
    compare_spectrum("spectrum --top 1 --trace --trace-method hutchinson --trace-rtol 0.1 --seed 9 --ggn",
                     "top=1,trace=1,trace_method=hutchinson,trace_rtol=0.1,seed=9,ggn=1");
    compare_spectrum("spectrum --top 2 --float32 --tol 1e-5", "top=2,float32=1,tol=1e-5");
    compare_spectrum("spectrum --top 2 --max-products 3", "top=2,max_products=3");   /* not converged */

    char *cli = run_cli("sharpness --measure path_norm,fisher_rao,hessian_max --set path_norm:p=1 --seed 4");
    char *api = NULL;
    CHECK_OK(minima_api_sharpness(net, "path_norm,fisher_rao,hessian_max", "path_norm:p=1", 4, &api));
    same_text("sharpness", cli, api);
    free(cli);
    minima_api_free_string(api);

    cli = run_cli("audit --measure path_norm,hessian_max --decades 1 --neuron-draws 1 --seed 2 "
                  "--set hessian_max:tol=1e-6");
    api = NULL;
    CHECK_OK(minima_api_audit(net, "path_norm,hessian_max", "hessian_max:tol=1e-6",
                              "decades=1,neuron_draws=1,seed=2", &api));
    same_text("audit", cli, api);
    free(cli);
    minima_api_free_string(api);
}

/* Every allocation of a call failing in turn: MINIMA_ENOMEM (or success
 * once the call needs fewer), never a crash or a half-written result. */
static void test_out_of_memory(void)
{
    const char *requests[] = {"top=2,bottom=1,trace=1,density=1,slq_steps=5,exact=1,levels=1;2", NULL};
    for (int which = 0; which < 4; which++) {
        int done = 0;
        for (long n = 0; n < 2000 && !done; n++) {
            char *json = NULL;
            minima_alloc_fail_after(n);
            minima_status st;
            if (which == 0) st = minima_api_spectrum(net, requests[0], &json);
            else if (which == 1) st = minima_api_sharpness(net, "path_norm,fisher_rao", "path_norm:p=1", 0, &json);
            else if (which == 2) st = minima_api_audit(net, "path_norm", "path_norm:p=1", "decades=1,neuron_draws=1",
                                                       &json);
            else st = minima_api_spectrum(net, "top=1,layers=#0;#1", &json);
            minima_alloc_fail_after(-1);
            CHECK_MSG(!memcmp(minima_net_point(net), model->theta, model->n_params * sizeof(double)),
                      "case %d, %ld allocations: the net's anchor moved (%s)", which, n, minima_strerror(st));
            if (memcmp(minima_net_point(net), model->theta, model->n_params * sizeof(double)))
                minima_net_set_point(net, model->theta);
            CHECK_MSG(st == MINIMA_OK || st == MINIMA_ENOMEM, "case %d, %ld allocations: %s", which, n,
                      minima_strerror(st));
            CHECK((st == MINIMA_OK) == (json != NULL));
            done = st == MINIMA_OK;
            minima_api_free_string(json);
        }
        CHECK_MSG(done, "case %d never succeeded", which);
    }
}

int main(void)
{
    if (!setup()) {
        fprintf(stderr, "test_report: setup failed: %s\n", minima_last_error());
        return 1;
    }
    RUN(test_request_parser);
    RUN(test_json_keys);
    RUN(test_out_of_memory);
    RUN(test_same_as_cli);
    teardown();
    return harness_report();
}
