/* test_api.c — the plain-types C API (minima/api.h): models, data and
 * problems against the structured API and the command line. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/api.h"
#include "minima/safetensors.h"

#define MLP "torch_mlp_f64.safetensors"

static minima_model *load(const char *fixture, const char *activation)
{
    minima_model *m = NULL;
    CHECK_OK(minima_api_model_load(harness_fixture(fixture), activation, NULL, NULL, &m));
    return m;
}

static minima_dataset *mlp_data(void)
{
    char x[1024];
    snprintf(x, sizeof x, "%s", harness_fixture("torch_mlp_x.npy"));
    minima_dataset *d = NULL;
    CHECK_OK(minima_api_data_load(x, harness_fixture("torch_mlp_y.npy"), 0, &d));
    return d;
}

static double loss_of(const minima_model *m, const minima_dataset *d)
{
    minima_net *net = NULL;
    double loss = NAN;
    CHECK_OK(minima_api_problem(m, d, NULL, 0, &net));
    if (net) CHECK_OK(minima_net_loss(net, NULL, &loss, NULL));
    minima_net_free(net);
    return loss;
}

static int contains(const char *needle)
{
    return strstr(minima_last_error(), needle) != NULL;
}

static void test_version(void)
{
    int a, b, c;
    char rest;
    CHECK(sscanf(minima_api_version(), "%d.%d.%d%c", &a, &b, &c, &rest) == 3);
}

static void test_model_load(void)
{
    minima_model *m = load(MLP, NULL), *f = NULL;
    CHECK_OK(minima_model_load(harness_fixture(MLP), NULL, &f));
    CHECK(m && f && m->n_params == f->n_params &&
          !memcmp(m->theta, f->theta, m->n_params * sizeof(double)));
    minima_model_free(m);
    minima_model_free(f);
    m = load("load_tanh.safetensors", "tanh");
    CHECK(m && m->activation == MINIMA_ACT_TANH && m->activation_source == MINIMA_FROM_OPTION);
    minima_model_free(m);
    m = load("load_tanh.safetensors", "leaky_relu:0.25");
    CHECK(m && m->activation == MINIMA_ACT_LEAKY_RELU && m->leaky_slope == 0.25);
    minima_model_free(m);
    m = (minima_model *)1;
    CHECK_STATUS(minima_api_model_load(harness_fixture(MLP), "sigmoid", NULL, NULL, &m), MINIMA_EINVAL);
    CHECK(m == NULL && contains("sigmoid"));
    CHECK_STATUS(minima_api_model_load(harness_fixture(MLP), "relu:0.5", NULL, NULL, &m), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_model_load(harness_fixture(MLP), "leaky_relu:2", NULL, NULL, &m), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_model_load(harness_fixture(MLP), NULL, "0,2", NULL, &m), MINIMA_EINVAL);
    CHECK(contains("leaves out layer '4'"));
    CHECK_STATUS(minima_api_model_load("/nonexistent/m.safetensors", NULL, NULL, NULL, &m), MINIMA_EIO);
    CHECK_STATUS(minima_api_model_load(NULL, NULL, NULL, NULL, &m), MINIMA_EINVAL);
}

/* The tensors of a model as a state dict, in the given tensor order. */
typedef struct {
    int n;
    const char *names[32];
    char buf[32][64];
    int ndims[32];
    int64_t shapes[64];
    const double *values[32];
} state_dict;

static void state_dict_of(const minima_model *m, state_dict *sd, int biases_first)
{
    memset(sd, 0, sizeof *sd);
    int at = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < m->n_layers; k++) {
            int bias = biases_first ? pass == 0 : pass == 1;
            if (bias && !m->has_bias) continue;
            int i = sd->n++;
            snprintf(sd->buf[i], sizeof sd->buf[i], "%s.%s", m->layer_names[k], bias ? "bias" : "weight");
            sd->names[i] = sd->buf[i];
            sd->ndims[i] = bias ? 1 : 2;
            sd->shapes[at++] = m->widths[k + 1];
            if (!bias) sd->shapes[at++] = m->widths[k];
            sd->values[i] = bias ? minima_model_bias(m, k) : minima_model_weight(m, k);
        }
}

static minima_status from_sd(const state_dict *sd, const char *order, minima_model **out)
{
    return minima_api_model_from_tensors(sd->n, sd->names, sd->ndims, sd->shapes, sd->values, order, NULL,
                                         NULL, NULL, out);
}

static void test_from_tensors_matches_file(void)
{
    static const char *const files[] = {MLP, "load_names.safetensors", "load_twins.safetensors",
                                        "load_ioh.safetensors"};
    minima_dataset *data = mlp_data();
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        minima_model *file = NULL, *m = NULL;
        minima_load_options lo = minima_load_default_options();
        minima_status fs = minima_model_load(harness_fixture(files[f]), &lo, &file);
        if (fs != MINIMA_OK) {
            /* ambiguous in the file, ambiguous as tensors: the same refusal */
            const char *msg = strchr(minima_last_error(), ':');
            char file_msg[1024];
            snprintf(file_msg, sizeof file_msg, "%s", msg ? msg : "");
            *strstr(file_msg, "minima will not guess") = '\0';
            lo.order = "input,block_a,block_b,head";
            CHECK_OK(minima_model_load(harness_fixture(files[f]), &lo, &file));
            if (!file) continue;
            state_dict sd;
            state_dict_of(file, &sd, 1);
            CHECK_STATUS(from_sd(&sd, NULL, &m), fs);
            CHECK_MSG(strstr(minima_last_error(), file_msg) != NULL, "tensors: %s\nfile: %s",
                      minima_last_error(), file_msg);
            CHECK_OK(from_sd(&sd, lo.order, &m));
            CHECK(m && !memcmp(m->theta, file->theta, m->n_params * sizeof(double)));
            minima_model_free(m);
            m = NULL;
            minima_model_free(file);
            continue;
        }
        for (int biases_first = 0; biases_first < 2; biases_first++) {
            state_dict sd;
            state_dict_of(file, &sd, biases_first);
            /* the file's own order record is not passed: numbering and shapes decide */
            minima_status s = from_sd(&sd, NULL, &m);
            if (file->order_source == MINIMA_FROM_FILE && s != MINIMA_OK) {
                char order[512] = "";
                for (int k = 0; k < file->n_layers; k++) {
                    strcat(order, k ? "," : "");
                    strcat(order, file->layer_names[k]);
                }
                CHECK_OK(from_sd(&sd, order, &m));
            } else {
                CHECK_MSG(s == MINIMA_OK, "%s: %s", files[f], minima_last_error());
            }
            if (!m) continue;
            CHECK(m->n_layers == file->n_layers && m->n_params == file->n_params);
            CHECK(!memcmp(m->theta, file->theta, m->n_params * sizeof(double)));
            for (int k = 0; k < m->n_layers; k++) CHECK(!strcmp(m->layer_names[k], file->layer_names[k]));
            CHECK(m->activation == MINIMA_ACT_RELU && m->activation_source == MINIMA_FROM_ASSUMED);
            CHECK(m->loss == MINIMA_LOSS_CE);
            if (f == 0) {
                CHECK(m->order_source == file->order_source);
                CHECK_REL(loss_of(m, data), loss_of(file, data), 0);
            }
            minima_model_free(m);
            m = NULL;
        }
        minima_model_free(file);
    }
    minima_dataset_free(data);
}

static void test_from_tensors_options(void)
{
    minima_model *file = load(MLP, NULL), *m = NULL;
    state_dict sd;
    state_dict_of(file, &sd, 0);
    CHECK_OK(minima_api_model_from_tensors(sd.n, sd.names, sd.ndims, sd.shapes, sd.values, NULL, NULL,
                                           "leaky_relu:0.3", "mse", &m));
    CHECK(m && m->activation == MINIMA_ACT_LEAKY_RELU && m->leaky_slope == 0.3 &&
          m->activation_source == MINIMA_FROM_OPTION && m->loss == MINIMA_LOSS_MSE);
    minima_model_free(m);
    CHECK_OK(from_sd(&sd, "0,2,4", &m));
    CHECK(m && m->order_source == MINIMA_FROM_OPTION);
    minima_model_free(m);
    m = (minima_model *)1;
    CHECK_STATUS(from_sd(&sd, "0,4,2", &m), MINIMA_ESHAPE);
    CHECK(m == NULL && contains("shapes do not chain"));
    CHECK_STATUS(from_sd(&sd, "0,2,9", &m), MINIMA_EINVAL);
    CHECK(contains("'9'"));
    CHECK_STATUS(minima_api_model_from_tensors(sd.n, sd.names, sd.ndims, sd.shapes, sd.values, NULL, NULL,
                                               NULL, "hinge", &m), MINIMA_EINVAL);
    CHECK(contains("hinge"));
    CHECK_STATUS(minima_api_model_from_tensors(sd.n, sd.names, sd.ndims, sd.shapes, sd.values, NULL, NULL,
                                               "swish", NULL, &m), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_model_from_tensors(0, sd.names, sd.ndims, sd.shapes, sd.values, NULL, NULL,
                                               NULL, NULL, &m), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_model_from_tensors(sd.n, NULL, sd.ndims, sd.shapes, sd.values, NULL, NULL,
                                               NULL, NULL, &m), MINIMA_EINVAL);
    minima_model_free(file);
}

/* One tensor list, changed in one place, must fail with `want` and a
 * message containing `needle`. */
static void expect_refused(const char *const *names, const int *ndims, const int64_t *shapes,
                           int n, minima_status want, const char *needle)
{
    static double vals[4096];
    const double *values[16];
    for (int i = 0; i < n; i++) values[i] = vals;
    minima_model *m = (minima_model *)1;
    minima_status s = minima_api_model_from_tensors(n, names, ndims, shapes, values, NULL, NULL, NULL, NULL,
                                                    &m);
    CHECK_MSG(s == want && m == NULL && strstr(minima_last_error(), needle),
              "%s: got %s (%s), expected %s with '%s'", names[0], minima_strerror(s),
              minima_last_error(), minima_strerror(want), needle);
}

static void test_from_tensors_refused(void)
{
    {   /* a tensor that is no layer's */
        const char *n[] = {"0.weight", "0.scale"};
        int d[] = {2, 1};
        int64_t s[] = {3, 2, 3};
        expect_refused(n, d, s, 2, MINIMA_EFORMAT, "'0.scale'");
    }
    {   /* a bias without its weight */
        const char *n[] = {"0.weight", "1.bias"};
        int d[] = {2, 1};
        int64_t s[] = {3, 2, 3};
        expect_refused(n, d, s, 2, MINIMA_EFORMAT, "bias without a weight");
    }
    {   /* no weight at all */
        const char *n[] = {"x"};
        int d[] = {1};
        int64_t s[] = {3};
        expect_refused(n, d, s, 1, MINIMA_EFORMAT, "no tensor named");
    }
    {   /* a 1-D weight, a 3-D weight */
        const char *n[] = {"0.weight"};
        int d[] = {1};
        int64_t s[] = {3};
        expect_refused(n, d, s, 1, MINIMA_ESHAPE, "must be 2-D");
        int d3[] = {3};
        int64_t s3[] = {2, 2, 2};
        expect_refused(n, d3, s3, 1, MINIMA_ESHAPE, "[2, 2, 2]");
    }
    {   /* a bias of the wrong shape */
        const char *n[] = {"0.weight", "0.bias"};
        int d[] = {2, 1};
        int64_t s[] = {3, 2, 2};
        expect_refused(n, d, s, 2, MINIMA_ESHAPE, "expected [3]");
    }
    {   /* biases on some layers only */
        const char *n[] = {"0.weight", "0.bias", "2.weight"};
        int d[] = {2, 1, 2};
        int64_t s[] = {3, 2, 3, 4, 3};
        expect_refused(n, d, s, 3, MINIMA_EFORMAT, "biases on every layer or on none");
    }
    {   /* BatchNorm statistics, refused as in a file */
        const char *n[] = {"0.weight", "1.weight", "1.running_mean", "1.num_batches_tracked"};
        int d[] = {2, 1, 1, 0};
        int64_t s[] = {3, 2, 3, 3};
        expect_refused(n, d, s, 4, MINIMA_EUNSUPPORTED, "BatchNorm is not supported");
    }
    {   /* the same name twice */
        const char *n[] = {"0.weight", "0.weight"};
        int d[] = {2, 2};
        int64_t s[] = {3, 2, 3, 2};
        expect_refused(n, d, s, 2, MINIMA_EFORMAT, "appears twice");
    }
    {   /* shapes that chain in two orders: ambiguous, refused */
        const char *n[] = {"a.weight", "b.weight"};
        int d[] = {2, 2};
        int64_t s[] = {3, 3, 3, 3};
        expect_refused(n, d, s, 2, MINIMA_EINVAL, "the order \"a,b,c\"");
        expect_refused(n, d, s, 2, MINIMA_EINVAL, "2 orders");
        static double v[9];
        const double *vals[] = {v, v};
        minima_model *m = NULL;
        CHECK_OK(minima_api_model_from_tensors(2, n, d, s, vals, "b,a", NULL, NULL, NULL, &m));
        CHECK(m && !strcmp(m->layer_names[0], "b") && m->order_source == MINIMA_FROM_OPTION);
        minima_model_free(m);
    }
    {   /* shapes that chain in no order */
        const char *n[] = {"0.weight", "1.weight"};
        int d[] = {2, 2};
        int64_t s[] = {3, 2, 4, 5};
        expect_refused(n, d, s, 2, MINIMA_ESHAPE, "shapes do not chain");
    }
    {   /* bad dimensions */
        const char *n[] = {"0.weight"};
        int d[] = {-1};
        int64_t s[] = {3};
        expect_refused(n, d, s, 1, MINIMA_EINVAL, "dimensions");
        int d2[] = {2};
        int64_t s2[] = {-3, 2};
        expect_refused(n, d2, s2, 1, MINIMA_EINVAL, "-3");
        int64_t s0[] = {0, 2};
        expect_refused(n, d2, s0, 1, MINIMA_ESHAPE, "widths between 1");
    }
    {   /* a NULL name */
        const char *n[] = {"0.weight", NULL};
        int d[] = {2, 1};
        int64_t s[] = {3, 2, 3};
        expect_refused(n, d, s, 2, MINIMA_EINVAL, "no name");
    }
    {   /* NaN and Inf values */
        const char *n[] = {"0.weight", "0.bias"};
        int d[] = {2, 1};
        int64_t s[] = {3, 2, 3};
        double w[6] = {1, 2, 3, 4, 5, 6}, b[3] = {0, 0, 0};
        const double *v[] = {w, b};
        minima_model *m = NULL;
        CHECK_OK(minima_api_model_from_tensors(2, n, d, s, v, NULL, NULL, NULL, NULL, &m));
        CHECK(m && m->theta[5] == 6 && m->n_params == 9);
        minima_model_free(m);
        w[4] = NAN;
        CHECK_STATUS(minima_api_model_from_tensors(2, n, d, s, v, NULL, NULL, NULL, NULL, &m), MINIMA_ENONFINITE);
        CHECK(contains("'0.weight' entry [2, 0]"));
        w[4] = 5;
        b[1] = INFINITY;
        CHECK_STATUS(minima_api_model_from_tensors(2, n, d, s, v, NULL, NULL, NULL, NULL, &m), MINIMA_ENONFINITE);
        CHECK(contains("'0.bias' entry [1]"));
    }
}

static void test_model_create_save(void)
{
    minima_model *m = NULL, *ref = NULL, *back = NULL;
    CHECK_OK(minima_api_model_create("3-5-2", 1, NULL, 7, &m));
    int w[] = {3, 5, 2};
    CHECK_OK(minima_model_create(&ref, 2, w, 1, MINIMA_ACT_RELU));
    minima_model_init(ref, 7);
    CHECK(m && ref && minima_api_model_n_params(m) == 32 &&
          !memcmp(m->theta, ref->theta, 32 * sizeof(double)));
    minima_model_free(ref);
    char path[1024];
    snprintf(path, sizeof path, "%s/api_create.safetensors", harness_tmpdir());
    CHECK_OK(minima_api_model_save(m, path, NULL));
    CHECK_OK(minima_api_model_load(path, NULL, NULL, NULL, &back));
    CHECK(back && !memcmp(back->theta, m->theta, 32 * sizeof(double)));
    minima_model_free(back);
    CHECK_OK(minima_api_model_save(m, path, "F32"));
    CHECK_OK(minima_api_model_load(path, NULL, NULL, NULL, &back));
    CHECK(back && back->theta[3] == (double)(float)m->theta[3]);
    minima_model_free(back);
    CHECK_STATUS(minima_api_model_save(m, path, "I8"), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_model_save(m, path, "F16"), MINIMA_EUNSUPPORTED);
    CHECK_STATUS(minima_api_model_save(NULL, path, NULL), MINIMA_EINVAL);
    minima_model_free(m);
    CHECK_OK(minima_api_model_create("4-3", 0, "leaky_relu:0.2", 1, &m));
    CHECK(m && !m->has_bias && m->activation == MINIMA_ACT_LEAKY_RELU && m->leaky_slope == 0.2 &&
          minima_api_model_n_params(m) == 12);
    minima_model_free(m);
    m = (minima_model *)1;
    CHECK_STATUS(minima_api_model_create("4-x-3", 1, NULL, 1, &m), MINIMA_EINVAL);
    CHECK(m == NULL);
    CHECK_STATUS(minima_api_model_create("4-3", 1, "gelu", 1, &m), MINIMA_EINVAL);
}

static void test_params(void)
{
    minima_model *m = load(MLP, NULL);
    size_t p = minima_api_model_n_params(m);
    CHECK(p == m->n_params && minima_api_model_n_params(NULL) == 0);
    double *t = calloc(p, sizeof *t), *u = calloc(p, sizeof *u);
    CHECK_OK(minima_api_model_get_params(m, t));
    CHECK(!memcmp(t, m->theta, p * sizeof *t));
    for (size_t i = 0; i < p; i++) u[i] = (double)i;
    CHECK_OK(minima_api_model_set_params(m, u));
    CHECK(m->theta[p - 1] == (double)(p - 1));
    u[3] = NAN;
    CHECK_STATUS(minima_api_model_set_params(m, u), MINIMA_ENONFINITE);
    CHECK(m->theta[3] == 3 && contains("parameter 3"));
    CHECK_STATUS(minima_api_model_get_params(m, NULL), MINIMA_EINVAL);
    free(t);
    free(u);
    minima_model_free(m);
}

/* The output of a command as parsed JSON (NULL if it failed). */
static cJSON *run_json(const char *args)
{
    const char *bin = getenv("MINIMA_BIN");
    if (!bin) return NULL;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>/dev/null", bin, args);
    FILE *f = popen(cmd, "r");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    int rc = pclose(f);
    return rc == 0 ? cJSON_Parse(buf) : NULL;
}

static void test_info(void)
{
    static const char *const cases[][2] = {{MLP, NULL}, {"load_names.safetensors", "leaky_relu:0.2"}};
    for (int c = 0; c < 2; c++) {
        minima_model *m = load(cases[c][0], cases[c][1]);
        char *json = NULL;
        CHECK_OK(minima_api_model_info(m, &json));
        cJSON *mine = json ? cJSON_Parse(json) : NULL;
        CHECK(mine != NULL);
        CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(mine, "model")));
        char args[2048];
        snprintf(args, sizeof args, "info --json '%s'%s%s", harness_fixture(cases[c][0]),
                 cases[c][1] ? " --activation " : "", cases[c][1] ? cases[c][1] : "");
        cJSON *cli = run_json(args);
        CHECK_MSG(cli != NULL, "minima %s failed", args);
        if (mine && cli) {
            cJSON_DeleteItemFromObjectCaseSensitive(mine, "model");
            cJSON_DeleteItemFromObjectCaseSensitive(cli, "model");
            CHECK_MSG(cJSON_Compare(mine, cli, 1), "info JSON differs from the command's:\n%s", json);
        }
        cJSON_Delete(mine);
        cJSON_Delete(cli);
        minima_free(json);
        minima_model_free(m);
    }
    char *json = (char *)1;
    CHECK_STATUS(minima_api_model_info(NULL, &json), MINIMA_EINVAL);
    CHECK(json == NULL);
}

/* Rescale with the API and with `minima rescale`; compare parameters and
 * outputs. */
static void rescale_vs_cli(const char *request, const char *cli_args)
{
    minima_model *m = load(MLP, NULL), *r = NULL, *c = NULL;
    minima_dataset *data = mlp_data();
    CHECK_OK(minima_api_model_rescale(m, request, &r));
    char out[1024], args[4096];
    snprintf(out, sizeof out, "%s/api_rescaled.safetensors", harness_tmpdir());
    snprintf(args, sizeof args, "rescale --json --model '%s' --out '%s' %s", harness_fixture(MLP), out,
             cli_args);
    cJSON *j = run_json(args);
    CHECK_MSG(j != NULL, "minima %s failed", args);
    cJSON_Delete(j);
    if (j) CHECK_OK(minima_api_model_load(out, NULL, NULL, NULL, &c));
    if (r && c) {
        CHECK(r->n_params == c->n_params);
        CHECK_MSG(harness_vec_reldiff(r->theta, c->theta, r->n_params, 1e-300) <= 1e-15,
                  "%s: theta differs from the command's", request);
        CHECK(harness_vec_reldiff(r->theta, m->theta, r->n_params, 1e-300) > 1e-3);
    }
    if (r && data) {
        minima_net *a = NULL, *b = NULL;
        size_t no = data->n * (size_t)m->widths[m->n_layers];
        double *oa = calloc(no, sizeof *oa), *ob = calloc(no, sizeof *ob);
        CHECK_OK(minima_api_problem(m, data, NULL, 0, &a));
        CHECK_OK(minima_api_problem(r, data, NULL, 0, &b));
        if (a && b) {
            CHECK_OK(minima_net_outputs(a, NULL, oa));
            CHECK_OK(minima_net_outputs(b, NULL, ob));
            CHECK_MSG(harness_vec_reldiff(ob, oa, no, 1e-300) <= 1e-12, "%s: outputs differ by %.3g",
                      request, harness_vec_reldiff(ob, oa, no, 1e-300));
        }
        free(oa);
        free(ob);
        minima_net_free(a);
        minima_net_free(b);
    }
    minima_dataset_free(data);
    minima_model_free(c);
    minima_model_free(r);
    minima_model_free(m);
}

static void test_rescale(void)
{
    rescale_vs_cli("alpha=10;0.5;0.2", "--alpha 10,0.5,0.2");
    rescale_vs_cli("alpha=4;0.1,derive_last=1", "--alpha 4,0.1 --derive-last");
    rescale_vs_cli("neurons=3:0.5", "--neurons 3:0.5");
    rescale_vs_cli("neurons=5:0.3,alpha=2;2;0.25", "--neurons 5:0.3 --alpha 2,2,0.25");
    rescale_vs_cli("canonical=1", "--canonical");
    rescale_vs_cli("canonical=1,group=layer", "--canonical --group layer");
}

static void test_rescale_refused(void)
{
    minima_model *m = load(MLP, NULL), *r = (minima_model *)1;
    static const struct { const char *req; const char *needle; } bad[] = {
        {"alphas=2;0.5;1", "unknown key 'alphas'; the keys are alpha, neurons, canonical"},
        {"alpha", "'alpha' is not key=value"},
        {"alpha=2;0.5;1,,force=1", "empty entry"},
        {"canonical=2", "canonical must be 0 or 1, found '2'"},
        {"canonical=1,force=yes", "force must be 0 or 1, found 'yes'"},
        {"alpha=2;0.5;1,alpha=1;1;1", "given twice"},
        {"alpha=2;x;1", "alpha must be numbers in (0, 1e100]"},
        {"alpha=2;-1;1", "found '-1;1'"},
        {"alpha=1;1;1;1", "more than 3 factors"},
        {"alpha=2;2;2", "product"},
        {"neurons=3", "SEED:SPREAD"},
        {"neurons=3:-1", "SPREAD must be a number >= 0, found '-1'"},
        {"", "one of alpha, neurons or canonical=1 is required"},
        {NULL, "one of alpha, neurons or canonical=1 is required"},
        {"canonical=1,alpha=1;1;1", "cannot be combined"},
        {"derive_last=1,neurons=1:1", "derive_last needs alpha"},
        {"canonical=1,group=unit", "group must be neuron or layer, found 'unit'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        minima_status s = minima_api_model_rescale(m, bad[i].req, &r);
        CHECK_MSG(s == MINIMA_EINVAL && r == NULL && contains(bad[i].needle),
                  "request '%s': %s (%s); expected EINVAL with '%s'", bad[i].req ? bad[i].req : "NULL",
                  minima_strerror(s), minima_last_error(), bad[i].needle);
    }
    minima_model_free(m);
    /* a deep network: a long alpha list */
    char arch[256] = "3", req[1024] = "alpha=";
    for (int k = 0; k < 40; k++) {
        strcat(arch, "-3");
        strcat(req, k ? (k % 2 ? ";0.500000000000" : ";2.000000000000") : "2.000000000000");
    }
    CHECK_OK(minima_api_model_create(arch, 1, NULL, 3, &m));
    CHECK_OK(minima_api_model_rescale(m, req, &r));
    CHECK(r && r->theta[0] == 2 * m->theta[0]);
    minima_model_free(r);
    CHECK_STATUS(minima_api_model_rescale(m, "alpha=", &r), MINIMA_EINVAL);
    CHECK(contains("alpha must be numbers"));
    minima_model_free(m);
    m = load("load_tanh.safetensors", "tanh");
    CHECK_STATUS(minima_api_model_rescale(m, "alpha=2;0.5", &r), MINIMA_EINVAL);
    CHECK(r == NULL && contains("tanh") && contains("force=1"));
    CHECK_OK(minima_api_model_rescale(m, "alpha=2;0.5,force=1", &r));
    CHECK(r && r->theta[0] == 2 * m->theta[0]);
    minima_model_free(r);
    minima_model_free(m);
}

static void test_data(void)
{
    double x[] = {0, 1, 2, 3, 4, 5};
    int64_t y[] = {0, 2, 1};
    minima_dataset *d = NULL;
    CHECK_OK(minima_api_data_from_arrays(3, 2, x, y, 0, NULL, 0, &d));
    CHECK(d && minima_api_data_n(d) == 3 && minima_api_data_d(d) == 2 && d->n_classes == 3 &&
          d->labels[1] == 2 && d->x[5] == 5 && !d->targets);
    minima_dataset_free(d);
    CHECK_OK(minima_api_data_from_arrays(3, 2, x, y, 10, NULL, 0, &d));
    CHECK(d && d->n_classes == 10);
    minima_dataset_free(d);
    double t[] = {1, 2, 3};
    CHECK_OK(minima_api_data_from_arrays(3, 2, x, NULL, 0, t, 1, &d));
    CHECK(d && d->d_target == 1 && d->targets[2] == 3 && !d->labels);
    minima_dataset_free(d);
    CHECK(minima_api_data_n(NULL) == 0 && minima_api_data_d(NULL) == 0);
    d = (minima_dataset *)1;
    CHECK_STATUS(minima_api_data_from_arrays(3, 2, x, y, 2, NULL, 0, &d), MINIMA_ERANGE);
    CHECK(d == NULL && contains("labels[1] is 2; expected a class in 0..1"));
    y[2] = -1;
    CHECK_STATUS(minima_api_data_from_arrays(3, 2, x, y, 0, NULL, 0, &d), MINIMA_ERANGE);
    CHECK(contains("labels[2] is -1"));
    y[2] = (int64_t)1 << 40;
    CHECK_STATUS(minima_api_data_from_arrays(3, 2, x, y, 0, NULL, 0, &d), MINIMA_ERANGE);
    y[2] = 1;
    CHECK_STATUS(minima_api_data_from_arrays(3, 2, x, y, -1, NULL, 0, &d), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_data_from_arrays(3, 2, x, y, 0, t, 1, &d), MINIMA_EINVAL);
    CHECK(contains("both"));
    CHECK_STATUS(minima_api_data_from_arrays(3, 2, x, NULL, 0, NULL, 0, &d), MINIMA_EINVAL);
    CHECK(contains("neither"));
    CHECK_STATUS(minima_api_data_from_arrays(3, 2, x, NULL, 0, t, 0, &d), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_data_from_arrays(0, 2, x, y, 0, NULL, 0, &d), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_data_from_arrays(3, 0, x, y, 0, NULL, 0, &d), MINIMA_EINVAL);
    CHECK_STATUS(minima_api_data_from_arrays(3, 2, NULL, y, 0, NULL, 0, &d), MINIMA_EINVAL);
    x[3] = NAN;
    CHECK_STATUS(minima_api_data_from_arrays(3, 2, x, y, 0, NULL, 0, &d), MINIMA_ENONFINITE);
    CHECK(contains("x[1, 1] is nan"));
    x[3] = 3;
    t[1] = INFINITY;
    CHECK_STATUS(minima_api_data_from_arrays(3, 2, x, NULL, 0, t, 1, &d), MINIMA_ENONFINITE);
    CHECK(contains("targets[1, 0]"));
    CHECK_STATUS(minima_api_data_load("/nonexistent/x.npy", NULL, 0, &d), MINIMA_EIO);
    CHECK(d == NULL);
    CHECK_STATUS(minima_api_data_load(NULL, NULL, 0, &d), MINIMA_EINVAL);
    CHECK_OK(minima_api_data_load("synthetic:blobs:50", NULL, 20, &d));
    CHECK(d && minima_api_data_n(d) == 20);
    minima_dataset_free(d);
}

static void test_problem(void)
{
    minima_model *m = load(MLP, NULL);
    minima_dataset *file = mlp_data(), *arr = NULL;
    int64_t *y = calloc(file->n, sizeof *y);
    for (size_t i = 0; i < file->n; i++) y[i] = file->labels[i];
    CHECK_OK(minima_api_data_from_arrays(file->n, file->d, file->x, y, file->n_classes, NULL, 0, &arr));
    double l0 = loss_of(m, file);
    CHECK_REL(loss_of(m, arr), l0, 0);
    minima_net *direct = NULL, *net = NULL;
    double ld = NAN, lb = NAN, lm = NAN;
    CHECK_OK(minima_net_create(&direct, m, file, NULL));
    if (direct) CHECK_OK(minima_net_loss(direct, NULL, &ld, NULL));
    CHECK_REL(l0, ld, 0);
    CHECK_OK(minima_api_problem(m, arr, "ce", 7, &net));
    if (net) CHECK_OK(minima_net_loss(net, NULL, &lb, NULL));
    CHECK_REL(lb, l0, 1e-13);
    minima_net_free(net);
    net = NULL;
    CHECK_OK(minima_api_problem(m, arr, "mse", 0, &net));
    if (net) CHECK_OK(minima_net_loss(net, NULL, &lm, NULL));
    CHECK(isfinite(lm) && lm != l0);
    minima_net_free(net);
    net = (minima_net *)1;
    CHECK_STATUS(minima_api_problem(m, arr, "l1", 0, &net), MINIMA_EINVAL);
    CHECK(net == NULL && contains("l1"));
    CHECK_STATUS(minima_api_problem(NULL, arr, NULL, 0, &net), MINIMA_EINVAL);
    minima_dataset *narrow = NULL;
    CHECK_OK(minima_api_data_load("synthetic:blobs:30", NULL, 0, &narrow));
    CHECK(minima_api_problem(m, narrow, NULL, 0, &net) != MINIMA_OK && net == NULL);
    minima_dataset_free(narrow);
    minima_net_free(direct);
    free(y);
    minima_dataset_free(arr);
    minima_dataset_free(file);
    minima_model_free(m);
}

/* Every allocation of the calls may fail: the status is MINIMA_ENOMEM (or
 * the failure of a step that reported it), nothing is returned, and a
 * later allocation budget succeeds. */
static void test_out_of_memory(void)
{
    minima_model *m = load(MLP, NULL);
    state_dict sd;
    state_dict_of(m, &sd, 0);
    double x[] = {0, 1, 2, 3};
    int64_t y[] = {0, 1};
    for (int which = 0; which < 4; which++) {
        int done = 0;
        for (long n = 0; n < 2000 && !done; n++) {
            minima_model *r = NULL;
            minima_dataset *d = NULL;
            char *json = NULL;
            minima_alloc_fail_after(n);
            minima_status s = which == 0 ? from_sd(&sd, NULL, &r)
                            : which == 1 ? minima_api_model_rescale(m, "neurons=1:0.5", &r)
                            : which == 2 ? minima_api_model_info(m, &json)
                                         : minima_api_data_from_arrays(2, 2, x, y, 0, NULL, 0, &d);
            minima_alloc_fail_after(-1);
            CHECK_MSG(s == MINIMA_OK || s == MINIMA_ENOMEM, "call %d after %ld allocations: %s (%s)",
                      which, n, minima_strerror(s), minima_last_error());
            CHECK(s == MINIMA_OK || (!r && !d && !json));
            done = s == MINIMA_OK;
            minima_model_free(r);
            minima_dataset_free(d);
            minima_free(json);
        }
        CHECK_MSG(done, "call %d never succeeded", which);
    }
    minima_model_free(m);
}

/* ---- graph models (a CNN) ------------------------------------------------ */

#define CNN_ARCH "1x4x4:conv2k3p1,bn,relu,flatten,3"   /* bn_cnn.safetensors (make_bn_fixtures.py) */

/* The fixture's inputs (4 x 16) and PyTorch's outputs on them (4 x 3). */
static int bn_expected(double *x, double *y)
{
    FILE *f = fopen(harness_fixture("bn_expected.json"), "rb");
    CHECK(f != NULL);
    if (!f) return -1;
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "cnn");
    const cJSON *xs = cJSON_GetObjectItemCaseSensitive(e, "x"), *ys = cJSON_GetObjectItemCaseSensitive(e, "outputs");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(e, "arch");
    int ok = cJSON_IsArray(xs) && cJSON_GetArraySize(xs) == 4 && cJSON_IsArray(ys) &&
             cJSON_IsString(arch) && !strcmp(arch->valuestring, CNN_ARCH);
    CHECK_MSG(ok, "bn_expected.json: expected the cnn entry with arch %s", CNN_ARCH);
    for (int r = 0; ok && r < 4; r++) {
        for (int c = 0; c < 16; c++) x[16 * r + c] = cJSON_GetArrayItem(cJSON_GetArrayItem(xs, r), c)->valuedouble;
        for (int c = 0; c < 3; c++) y[3 * r + c] = cJSON_GetArrayItem(cJSON_GetArrayItem(ys, r), c)->valuedouble;
    }
    cJSON_Delete(j);
    return ok ? 0 : -1;
}

static void test_graph_load(void)
{
    char path[1024];   /* (harness_fixture's buffer is reused) */
    snprintf(path, sizeof path, "%s", harness_fixture("bn_cnn.safetensors"));
    minima_model *m = (minima_model *)1, *ref = NULL;
    /* a PyTorch CNN's state dict carries no graph: refused without an arch */
    CHECK_STATUS(minima_api_model_load(path, NULL, NULL, NULL, &m), MINIMA_EUNSUPPORTED);
    CHECK(m == NULL && contains("arch"));
    CHECK_STATUS(minima_api_model_load(path, NULL, "0,4", CNN_ARCH, &m), MINIMA_EINVAL);
    CHECK(m == NULL && contains("found both"));
    CHECK_STATUS(minima_api_model_load(path, NULL, NULL, "1x4x4:conv3k3p1,bn,relu,flatten,3", &m),
                 MINIMA_ESHAPE);
    CHECK(m == NULL && contains("'0.weight'"));
    CHECK_STATUS(minima_api_model_load(path, NULL, NULL, "1x4x4:conv2k3p1,bn,relux,flatten,3", &m),
                 MINIMA_EINVAL);
    CHECK(contains("relux"));
    CHECK_OK(minima_api_model_load(path, NULL, NULL, CNN_ARCH, &m));
    minima_load_options lo = minima_load_default_options();
    lo.arch = CNN_ARCH;
    CHECK_OK(minima_model_load(path, &lo, &ref));
    if (m && ref) {
        CHECK(!m->is_mlp && m->nodes[1].folded_batchnorm);
        CHECK(m->n_params == ref->n_params && !memcmp(m->theta, ref->theta, m->n_params * sizeof(double)));
        /* PyTorch's outputs, through a problem made by the API */
        double x[64], want[12], got[12];
        int64_t labels[4] = {0, 1, 2, 0};
        minima_dataset *d = NULL;
        minima_net *net = NULL;
        if (bn_expected(x, want) == 0) {
            CHECK_OK(minima_api_data_from_arrays(4, 16, x, labels, 3, NULL, 0, &d));
            if (d) CHECK_OK(minima_api_problem(m, d, NULL, 0, &net));
            if (net) {
                CHECK_OK(minima_net_outputs(net, NULL, got));
                CHECK_MSG(harness_vec_reldiff(got, want, 12, 1e-300) <= 1e-12,
                          "outputs differ from PyTorch's by %g", harness_vec_reldiff(got, want, 12, 1e-300));
            }
        }
        minima_net_free(net);
        minima_dataset_free(d);
        /* info: the command's JSON for the same file and arch */
        char *json = NULL, args[2048];
        CHECK_OK(minima_api_model_info(m, &json));
        cJSON *mine = json ? cJSON_Parse(json) : NULL;
        snprintf(args, sizeof args, "info --json '%s' --arch %s", path, CNN_ARCH);
        cJSON *cli = run_json(args);
        CHECK_MSG(mine && cli, "minima %s failed", args);
        if (mine && cli) {
            CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(mine, "is_mlp")));
            cJSON_DeleteItemFromObjectCaseSensitive(mine, "model");
            cJSON_DeleteItemFromObjectCaseSensitive(cli, "model");
            CHECK_MSG(cJSON_Compare(mine, cli, 1), "info JSON differs from the command's:\n%s", json);
        }
        cJSON_Delete(mine);
        cJSON_Delete(cli);
        minima_free(json);
        /* saved, it records its graph and loads back without an arch */
        char p[1024];
        snprintf(p, sizeof p, "%s/api_cnn.safetensors", harness_tmpdir());
        minima_model *back = NULL;
        CHECK_OK(minima_api_model_save(m, p, NULL));
        CHECK_OK(minima_api_model_load(p, NULL, NULL, NULL, &back));
        CHECK(back && back->n_params == m->n_params &&
              !memcmp(back->theta, m->theta, m->n_params * sizeof(double)));
        minima_model_free(back);
        remove(p);
    }
    minima_model_free(ref);
    minima_model_free(m);
}

/* A CNN's parameters as the tensors of its PyTorch state dict: conv '0'
 * [2, 1, 3, 3] and [2], optionally BatchNorm '1' (weight, bias,
 * running_mean, running_var [2], num_batches_tracked []), linear `lin`
 * [3, 32] and [3]. */
typedef struct {
    int n;
    const char *names[9];
    int ndims[9];
    int64_t shapes[16];
    const double *values[9];
} cnn_tensors;

static void cnn_tensors_of(const minima_model *m, const double *bn, cnn_tensors *t)
{
    static const double count = 7;
    memset(t, 0, sizeof *t);
    const minima_node *conv = &m->nodes[1], *lin = &m->nodes[m->n_nodes - 1];
    int at = 0;
    /* ADD(name, values, 0, dims...): the leading 0 is a placeholder, so a
     * 0-D tensor (num_batches_tracked) has a dimension list too */
#define ADD(NAME, VALUES, ...)                                                                     \
    do {                                                                                           \
        const int64_t dims_[] = {__VA_ARGS__};                                                     \
        t->names[t->n] = NAME;                                                                     \
        t->values[t->n] = VALUES;                                                                  \
        t->ndims[t->n] = (int)(sizeof dims_ / sizeof dims_[0]) - 1;                                \
        for (int q_ = 1; q_ <= t->ndims[t->n]; q_++) t->shapes[at++] = dims_[q_];                  \
        t->n++;                                                                                    \
    } while (0)
    ADD("0.weight", m->theta + conv->weight_offset, 0, 2, 1, 3, 3);
    ADD("0.bias", m->theta + conv->bias_offset, 0, 2);
    if (bn) {
        ADD("1.weight", bn, 0, 2);
        ADD("1.bias", bn + 2, 0, 2);
        ADD("1.running_mean", bn + 4, 0, 2);
        ADD("1.running_var", bn + 6, 0, 2);
        ADD("1.num_batches_tracked", &count, 0);
    }
    ADD(bn ? "4.weight" : "3.weight", m->theta + lin->weight_offset, 0, 3, 32);
    ADD(bn ? "4.bias" : "3.bias", m->theta + lin->bias_offset, 0, 3);
#undef ADD
}

static void test_graph_from_tensors(void)
{
    minima_model *c = NULL, *m = NULL;
    CHECK_OK(minima_api_model_create("1x4x4:conv2k3p1,relu,flatten,3", 1, NULL, 5, &c));
    if (!c) return;
    CHECK(!c->is_mlp && c->n_nodes == 5 && c->n_params == 2 * 9 + 2 + 3 * 32 + 3);
    cnn_tensors t;
    cnn_tensors_of(c, NULL, &t);
    CHECK_OK(minima_api_model_from_tensors(t.n, t.names, t.ndims, t.shapes, t.values, NULL,
                                           "1x4x4:conv2k3p1,relu,flatten,3", NULL, NULL, &m));
    CHECK(m && m->n_params == c->n_params && !memcmp(m->theta, c->theta, c->n_params * sizeof(double)));
    CHECK(m && m->activation_source == MINIMA_FROM_OPTION && !strcmp(m->nodes[4].name, "3"));
    minima_model_free(m);
    m = NULL;
    /* the same with a BatchNorm after the convolution: folded as PyTorch's
     * evaluation mode computes it */
    const double bn[8] = {1.5, 0.5, 0.25, -0.5, 0.1, -0.2, 0.8, 2.0};   /* gamma, beta, mean, var */
    cnn_tensors_of(c, bn, &t);
    CHECK_OK(minima_api_model_from_tensors(t.n, t.names, t.ndims, t.shapes, t.values, NULL, CNN_ARCH, NULL,
                                           "mse", &m));
    if (m) {
        CHECK(m->nodes[1].folded_batchnorm && m->loss == MINIMA_LOSS_MSE);
        double worst = 0;
        for (int ch = 0; ch < 2; ch++) {
            double s = bn[ch] / sqrt(bn[6 + ch] + 1e-5);
            for (int k = 0; k < 9; k++) {
                double w = c->theta[c->nodes[1].weight_offset + 9 * (size_t)ch + (size_t)k] * s;
                worst = fmax(worst, fabs(m->theta[m->nodes[1].weight_offset + 9 * (size_t)ch + (size_t)k] - w));
            }
            double b = (c->theta[c->nodes[1].bias_offset + (size_t)ch] - bn[4 + ch]) * s + bn[2 + ch];
            worst = fmax(worst, fabs(m->theta[m->nodes[1].bias_offset + (size_t)ch] - b));
        }
        CHECK_MSG(worst <= 1e-15, "folded parameters differ from W s, (b - mean) s + beta by %g", worst);
    }
    minima_model_free(m);
    m = (minima_model *)1;
    /* a shape the architecture does not expect names the tensor */
    cnn_tensors_of(c, NULL, &t);
    t.shapes[6] = 16;                  /* 3.weight [3, 16]; the architecture expects [3, 32] */
    CHECK_STATUS(minima_api_model_from_tensors(t.n, t.names, t.ndims, t.shapes, t.values, NULL,
                                               "1x4x4:conv2k3p1,relu,flatten,3", NULL, NULL, &m),
                 MINIMA_ESHAPE);
    CHECK(m == NULL && contains("'3.weight'") && contains("[3, 32]"));
    cnn_tensors_of(c, NULL, &t);
    /* a 4-D weight without an arch: the message says to give one */
    CHECK_STATUS(minima_api_model_from_tensors(t.n, t.names, t.ndims, t.shapes, t.values, NULL, NULL, NULL,
                                               NULL, &m), MINIMA_EUNSUPPORTED);
    CHECK(contains("arch"));
    CHECK_STATUS(minima_api_model_from_tensors(t.n, t.names, t.ndims, t.shapes, t.values, "0,3",
                                               "1x4x4:conv2k3p1,relu,flatten,3", NULL, NULL, &m),
                 MINIMA_EINVAL);
    CHECK(contains("found both"));
    /* too few tensors: the node left without parameters is named */
    CHECK_STATUS(minima_api_model_from_tensors(2, t.names, t.ndims, t.shapes, t.values, NULL,
                                               "1x4x4:conv2k3p1,relu,flatten,3", NULL, NULL, &m),
                 MINIMA_ESHAPE);
    CHECK(m == NULL && contains("linear"));
    minima_model_free(c);
}

/* What describes or transforms a model works on a graph, or refuses it. */
static void test_graph_refusals(void)
{
    minima_model *c = NULL, *r = (minima_model *)1;
    CHECK_OK(minima_api_model_create("1x6x6:conv3k3p1,relu,maxpool2,flatten,4", 1, NULL, 2, &c));
    if (!c) return;
    /* rescaling goes through the graph's group: one stage (the conv's 3
     * channels), so alpha = (a1, a2) multiplies the conv by a1 and the
     * linear weights by a2, the output bias by 1 */
    CHECK_OK(minima_api_model_rescale(c, "alpha=2;0.5", &r));
    if (r && r != (minima_model *)1) {
        const minima_node *cv = &c->nodes[1], *ln = &c->nodes[c->n_nodes - 1];
        CHECK(cv->kind == MINIMA_NODE_CONV2D && ln->kind == MINIMA_NODE_LINEAR);
        CHECK(r->theta[cv->weight_offset] == 2 * c->theta[cv->weight_offset]);
        CHECK(r->theta[cv->bias_offset] == 2 * c->theta[cv->bias_offset]);
        CHECK(r->theta[ln->weight_offset] == 0.5 * c->theta[ln->weight_offset]);
        CHECK(r->theta[ln->bias_offset] == c->theta[ln->bias_offset]);
        minima_model_free(r);
    }
    r = (minima_model *)1;
    CHECK_STATUS(minima_api_model_rescale(c, "alpha=2;0.5;1", &r), MINIMA_EINVAL);
    CHECK(r == NULL && contains("1 stage of hidden channels"));
    CHECK_OK(minima_api_model_rescale(c, "canonical=1", &r));
    minima_model_free(r);
    CHECK_OK(minima_api_model_rescale(c, "canonical=1,group=layer", &r));
    minima_model_free(r);
    CHECK_OK(minima_api_model_rescale(c, "neurons=1:0.5", &r));
    minima_model_free(r);
    double x[5 * 36];
    int64_t y[5];
    for (int i = 0; i < 5 * 36; i++) x[i] = sin(0.37 * i);
    for (int i = 0; i < 5; i++) y[i] = i % 4;
    minima_dataset *d = NULL;
    minima_net *net = NULL;
    CHECK_OK(minima_api_data_from_arrays(5, 36, x, y, 4, NULL, 0, &d));
    if (d) CHECK_OK(minima_api_problem(c, d, NULL, 0, &net));
    if (net) {
        char *json = (char *)1;
        /* the audit runs on the CNN's group (stage-wise maps, per-channel draws) */
        CHECK_OK(minima_api_audit(net, "hessian_max", NULL, "decades=1", &json));
        CHECK(json && strstr(json, "\"group\": \"graph\""));
        minima_free(json);
        json = NULL;
        /* sharpness: every measure is measured on a CNN, those written for
         * dense layers included */
        CHECK_OK(minima_api_sharpness(net, "hessian_max,normalized_sharpness,average_sharpness", NULL, 1, &json));
        cJSON *j = json ? cJSON_Parse(json) : NULL;
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "measures");
        CHECK(cJSON_GetArraySize(ms) == 3);
        for (const cJSON *e = ms ? ms->child : NULL; e; e = e->next) {
            const char *name = cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring;
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "value");
            CHECK_MSG(cJSON_IsNumber(v) && isfinite(v->valuedouble), "%s: no value on a CNN", name);
        }
        cJSON_Delete(j);
        minima_free(json);
        json = NULL;
        CHECK_OK(minima_api_spectrum(net, "top=1,layers=0", &json));
        CHECK(json && strstr(json, "\"n_params\": 30"));
        minima_free(json);
    }
    minima_net_free(net);
    minima_dataset_free(d);
    minima_model_free(c);
}

int main(void)
{
    RUN(test_version);
    RUN(test_model_load);
    RUN(test_from_tensors_matches_file);
    RUN(test_from_tensors_options);
    RUN(test_from_tensors_refused);
    RUN(test_model_create_save);
    RUN(test_params);
    RUN(test_info);
    RUN(test_rescale);
    RUN(test_rescale_refused);
    RUN(test_data);
    RUN(test_problem);
    RUN(test_graph_load);
    RUN(test_graph_from_tensors);
    RUN(test_graph_refusals);
    RUN(test_out_of_memory);
    return harness_report();
}
