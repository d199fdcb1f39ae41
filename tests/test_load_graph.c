/* test_load_graph.c — graph models in safetensors files: saved in the
 * general form and read back by name; PyTorch state dicts that carry no
 * graph filled from an architecture in the natural order of their module
 * names, shapes checked with the tensor named; BatchNorm folded at load
 * (against a reference computed here, and against PyTorch's outputs of
 * tests/fixtures/bn_*.safetensors, made by make_bn_fixtures.py).
 *
 * The tests through the architecture grammar (minima_arch_parse), the
 * convolution kind and the engine on graphs first check that those are
 * built in: a build without them fails (have_arch, have_conv,
 * engine_runs_graphs). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/layer.h"
#include "harness.h"
#include "io/graph_load_impl.h"
#include "io/model_tensors_impl.h"
#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/safetensors.h"

/* ---- helpers ------------------------------------------------------------ */

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 512, "%s/%s", harness_tmpdir(), name);
    return p;
}

/* One tensor of a hand-written file: F64 values, or an I64 scalar when
 * ndim is 0 and `count` is set. */
typedef struct {
    const char *name;
    int ndim;
    int dims[4];
    const double *values;      /* product of dims values */
    int count;                 /* nonzero: an I64 scalar (num_batches_tracked) */
} tensor_spec;

/* Writes a safetensors file of the tensors (in the order given) with
 * __metadata__ `meta` (a JSON object text, or NULL). Returns the path. */
static const char *write_file(const char *file, const char *meta, const tensor_spec *t, int n)
{
    static char header[16384];
    static unsigned char data[1 << 16];
    size_t used = 0, off = 0;
    used += (size_t)snprintf(header + used, sizeof header - used, "{");
    if (meta) used += (size_t)snprintf(header + used, sizeof header - used, "\"__metadata__\":%s", meta);
    for (int k = 0; k < n; k++) {
        size_t numel = 1;
        for (int d = 0; d < t[k].ndim; d++) numel *= (size_t)t[k].dims[d];
        size_t len = numel * 8;
        used += (size_t)snprintf(header + used, sizeof header - used, "%s\"%s\":{\"dtype\":\"%s\","
                                 "\"shape\":[", (k || meta) ? "," : "", t[k].name,
                                 t[k].count ? "I64" : "F64");
        for (int d = 0; d < t[k].ndim; d++)
            used += (size_t)snprintf(header + used, sizeof header - used, "%s%d", d ? "," : "",
                                     t[k].dims[d]);
        used += (size_t)snprintf(header + used, sizeof header - used, "],\"data_offsets\":[%zu,%zu]}",
                                 off, off + len);
        if (t[k].count) {
            int64_t c = t[k].count;
            memcpy(data + off, &c, 8);
        } else {
            memcpy(data + off, t[k].values, len);
        }
        off += len;
    }
    used += (size_t)snprintf(header + used, sizeof header - used, "}");
    size_t hp = (used + 7) / 8 * 8;
    const char *path = tmp_path(file);
    FILE *f = fopen(path, "wb");
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((hp >> (8 * i)) & 0xff);
    if (!f || fwrite(len8, 1, 8, f) != 8 || fwrite(header, 1, used, f) != used) { perror(path); exit(1); }
    for (size_t i = used; i < hp; i++) fputc(' ', f);
    if (fwrite(data, 1, off, f) != off) { perror(path); exit(1); }
    fclose(f);
    return path;
}

/* The header of a safetensors file as JSON (caller deletes). */
static cJSON *read_header_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char len8[8];
    if (!f || fread(len8, 1, 8, f) != 8) { if (f) fclose(f); return NULL; }
    size_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | len8[i];
    char *text = calloc(n + 1, 1);
    if (!text || fread(text, 1, n, f) != n) { free(text); fclose(f); return NULL; }
    fclose(f);
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

/* "[a, b, ...]" of a header entry's shape. */
static const char *json_shape(const cJSON *root, const char *name)
{
    static char buf[128];
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, name);
    const cJSON *s = e ? cJSON_GetObjectItemCaseSensitive(e, "shape") : NULL;
    if (!s) return "(absent)";
    size_t used = 0;
    used += (size_t)snprintf(buf + used, sizeof buf - used, "[");
    for (const cJSON *d = s->child; d; d = d->next)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%d", d == s->child ? "" : ", ",
                                 d->valueint);
    snprintf(buf + used, sizeof buf - used, "]");
    return buf;
}

static const char *json_meta(const cJSON *root, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    const cJSON *v = m ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The architecture grammar and the conv2d kind are built in; a build
 * without them fails here (the tests below then skip what they cannot run,
 * saying so, rather than crash). */
static int have_arch(void)
{
    minima_model *m = NULL;
    minima_status st = minima_arch_parse("3:2", 1, MINIMA_ACT_RELU, 0, &m);
    CHECK_MSG(st == MINIMA_OK, "the architecture grammar must be built in: %s",
              minima_last_error());
    minima_model_free(m);
    minima_clear_error();
    return st == MINIMA_OK;
}

static int have_conv(void)
{
    CHECK_MSG(layer_kind_of(MINIMA_NODE_CONV2D) != NULL, "the conv2d kind must be built in");
    return layer_kind_of(MINIMA_NODE_CONV2D) != NULL;
}

#define EXPECT_ERR(expr, want, ...) do { \
    minima_status s2_ = (expr); \
    CHECK_MSG(s2_ == (want), "%s: got %s (%s), expected %s", #expr, minima_strerror(s2_), \
              minima_last_error(), minima_strerror(want)); \
    const char *subs_[] = {__VA_ARGS__}; \
    for (size_t i_ = 0; i_ < sizeof subs_ / sizeof subs_[0]; i_++) \
        CHECK_MSG(strstr(minima_last_error(), subs_[i_]) != NULL, "message \"%s\" lacks \"%s\"", \
                  minima_last_error(), subs_[i_]); \
} while (0)

/* A flat graph that is not an MLP: x (6) -> linear 'a' (6) -> relu -> add x
 * -> linear (3, unnamed, no bias). */
static minima_model *residual_graph(void)
{
    minima_node n[5];
    n[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    n[0].shape = (minima_shape){1, 6, 1, 1};
    n[1] = minima_node_make(MINIMA_NODE_LINEAR, 0);
    n[1].out = 6;
    n[1].name = (char *)"a";
    n[2] = minima_node_make(MINIMA_NODE_RELU, 1);
    n[3] = minima_node_make(MINIMA_NODE_ADD, 2);
    n[3].inputs[1] = 0;
    n[4] = minima_node_make(MINIMA_NODE_LINEAR, 3);
    n[4].out = 3;
    n[4].has_bias = 0;
    minima_model *m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 5, n));
    return m;
}

/* Whether the engine runs graphs that are not MLPs, probed once in a child
 * process on the residual graph so that a crash fails this check by name
 * instead of killing the test. */
static int engine_runs_graphs(void)
{
    static int known = -1;
    if (known >= 0) return known;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        minima_model *m = residual_graph();
        minima_dataset *d = NULL;
        minima_net *net = NULL;
        int ok = m && minima_dataset_create(&d, 2, 6, 3, 0) == MINIMA_OK &&
                 minima_net_create(&net, m, d, NULL) == MINIMA_OK;
        double out[6];
        ok = ok && minima_net_outputs(net, NULL, out) == MINIMA_OK;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    known = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0;
    CHECK_MSG(known, "the engine must run a residual graph (probed in a child process)");
    return known;
}

/* The outputs of model m on n examples x (n, d): 0 on success, -1 when the
 * engine cannot run the model yet (said as a skip). */
static int outputs_of(const minima_model *m, const double *x, size_t n, double *out)
{
    if (!m->is_mlp && !engine_runs_graphs()) {
        fprintf(stderr, "skip: the engine does not run graphs that are not MLPs yet\n");
        return -1;
    }
    minima_dataset *d = NULL;
    int d0 = (int)minima_model_n_inputs(m);
    CHECK_OK(minima_dataset_create(&d, n, d0, minima_model_n_outputs(m), 0));
    if (!d) return -1;
    memcpy(d->x, x, n * (size_t)d0 * sizeof *x);
    minima_net *net = NULL;
    minima_status st = minima_net_create(&net, m, d, NULL);
    int rc = -1;
    if (st == MINIMA_OK) {
        CHECK_OK(minima_net_outputs(net, NULL, out));
        rc = 0;
    } else {
        fprintf(stderr, "skip: the engine does not run this graph yet (%s)\n", minima_last_error());
        minima_clear_error();
    }
    minima_net_free(net);
    minima_dataset_free(d);
    return rc;
}

/* ---- saving a graph ------------------------------------------------------ */

static void test_save_graph(void)
{
    minima_model *m = residual_graph();
    if (!m) return;
    CHECK(!m->is_mlp);
    for (size_t i = 0; i < m->n_params; i++) m->theta[i] = 0.25 * (double)i - 3.0;
    m->loss = MINIMA_LOSS_MSE;
    CHECK_OK(minima_model_set_meta(m, "note", "kept"));
    const char *p = tmp_path("residual.safetensors");
    CHECK_OK(minima_model_save(m, p, MINIMA_DTYPE_F64));
    cJSON *h = read_header_json(p);
    CHECK(h != NULL);
    /* tensors per node with parameters, PyTorch's shapes; the unnamed node
     * saves under its index */
    CHECK(!strcmp(json_shape(h, "a.weight"), "[6, 6]"));
    CHECK(!strcmp(json_shape(h, "a.bias"), "[6]"));
    CHECK(!strcmp(json_shape(h, "4.weight"), "[3, 6]"));
    CHECK(!cJSON_GetObjectItemCaseSensitive(h, "4.bias"));
    CHECK(cJSON_GetArraySize(h) == 4);                 /* three tensors and __metadata__ */
    const char *layers = json_meta(h, "layers"), *loss = json_meta(h, "loss");
    CHECK(layers && !strcmp(layers, "a,4"));
    CHECK(loss && !strcmp(loss, "mse"));
    CHECK(json_meta(h, "arch") != NULL);
    CHECK(json_meta(h, "activation") == NULL);         /* the graph's activations are in arch */
    const char *note = json_meta(h, "note");
    CHECK(note && !strcmp(note, "kept"));
    cJSON_Delete(h);
    /* read back by name into the same graph */
    minima_model *r = NULL;
    CHECK_OK(minima_model_load_graph(p, NULL, m, 0, &r));
    if (r) {
        CHECK(r->n_params == m->n_params);
        CHECK(harness_vec_reldiff(r->theta, m->theta, m->n_params, 1e-300) == 0);
        CHECK(!strcmp(r->nodes[1].name, "a") && !strcmp(r->nodes[4].name, "4"));
        CHECK(r->loss == MINIMA_LOSS_MSE);
        CHECK(minima_model_get_meta(r, "note") && !strcmp(minima_model_get_meta(r, "note"), "kept"));
        CHECK(r->order_source == MINIMA_FROM_FILE);
    }
    minima_model_free(r);
    /* F32: rounded to nearest */
    const char *p32 = tmp_path("residual32.safetensors");
    CHECK_OK(minima_model_save(m, p32, MINIMA_DTYPE_F32));
    CHECK_OK(minima_model_load_graph(p32, NULL, m, 0, &r));
    if (r) CHECK(harness_vec_reldiff(r->theta, m->theta, m->n_params, 1e-300) <= 1e-7);
    minima_model_free(r);
    /* and through minima_model_load once the grammar reads the recorded arch */
    if (have_arch()) {
        CHECK_OK(minima_model_load(p, NULL, &r));
        if (r) {
            char a[512], b[512];
            minima_arch_format(m, a, sizeof a);
            minima_arch_format(r, b, sizeof b);
            CHECK_MSG(!strcmp(a, b), "arch %s read back as %s", a, b);
            CHECK(r->n_params == m->n_params &&
                  harness_vec_reldiff(r->theta, m->theta, m->n_params, 1e-300) == 0);
            CHECK(!strcmp(r->nodes[1].name, "a") && !strcmp(r->nodes[4].name, "4"));
            CHECK(r->activation_source == MINIMA_FROM_FILE && r->order_source == MINIMA_FROM_FILE);
        }
        minima_model_free(r);
    } else {
        fprintf(stderr, "skip: minima_model_load of a graph file (no architecture grammar yet)\n");
    }
    /* a file whose tensors do not match the graph: named */
    tensor_spec t[] = {{"a.weight", 2, {6, 5}, m->theta, 0}};
    const char *bad = write_file("bad_graph.safetensors", "{\"layers\":\"a,4\"}", t, 1);
    EXPECT_ERR(minima_model_load_graph(bad, NULL, m, 0, &r), MINIMA_ESHAPE,
               "tensor 'a.weight' has shape [6, 5]; the architecture expects [6, 6] for node 1 "
               "(linear 'a')");
    minima_model_free(m);
}

static void test_save_names(void)
{
    minima_model *m = residual_graph();
    if (!m) return;
    /* two nodes with parameters under one name */
    minima_node n[5];
    memcpy(n, m->nodes, sizeof n);
    n[4].name = (char *)"a";
    minima_model *dup = NULL;
    CHECK_OK(minima_model_create_graph(&dup, 5, n));
    if (dup)
        EXPECT_ERR(minima_model_save(dup, tmp_path("dup.safetensors"), MINIMA_DTYPE_F64),
                   MINIMA_EINVAL, "node 1 (linear 'a') and node 4 (linear 'a')", "distinct names");
    minima_model_free(dup);
    /* a generated name that collides with a given one */
    n[4].name = (char *)"";
    n[1].name = (char *)"4";
    CHECK_OK(minima_model_create_graph(&dup, 5, n));
    if (dup)
        EXPECT_ERR(minima_model_save(dup, tmp_path("dup2.safetensors"), MINIMA_DTYPE_F64),
                   MINIMA_EINVAL, "'4.weight'");
    minima_model_free(dup);
    n[1].name = (char *)"a,b";
    CHECK_OK(minima_model_create_graph(&dup, 5, n));
    if (dup)
        EXPECT_ERR(minima_model_save(dup, tmp_path("comma.safetensors"), MINIMA_DTYPE_F64),
                   MINIMA_EINVAL, "comma");
    minima_model_free(dup);
    /* an MLP keeps its own form */
    int w[] = {3, 4, 2};
    minima_model *mlp = NULL;
    CHECK_OK(minima_model_create(&mlp, 2, w, 1, MINIMA_ACT_RELU));
    const char *p = tmp_path("mlp.safetensors");
    CHECK_OK(minima_model_save(mlp, p, MINIMA_DTYPE_F64));
    cJSON *h = read_header_json(p);
    const char *arch = h ? json_meta(h, "arch") : NULL;
    CHECK(arch && !strcmp(arch, "3-4-2"));
    CHECK(h && json_meta(h, "layers") && !strcmp(json_meta(h, "layers"), "0,2"));
    cJSON_Delete(h);
    minima_model_free(mlp);
    minima_model_free(m);
}

/* ---- a state dict with an architecture ------------------------------------ */

/* 6 -> linear 5 -> relu -> linear 4 -> relu -> linear 3, every node named by
 * its index (as the grammar names them). */
static minima_model *chain_graph(int bn_after_first, int bias_last)
{
    minima_node n[6];
    static char names[6][8];
    n[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    n[0].shape = (minima_shape){1, 6, 1, 1};
    int outs[] = {0, 5, 0, 4, 0, 3};
    for (int i = 1; i < 6; i++) {
        n[i] = minima_node_make(i % 2 ? MINIMA_NODE_LINEAR : MINIMA_NODE_RELU, i - 1);
        n[i].out = outs[i];
        snprintf(names[i], sizeof names[i], "%d", i - 1);
        n[i].name = names[i];
    }
    n[1].folded_batchnorm = bn_after_first;
    n[5].has_bias = bias_last;
    minima_model *m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 6, n));
    return m;
}

static double vals[4096];

static void test_state_dict_order(void)
{
    for (int i = 0; i < 4096; i++) vals[i] = 0.01 * (double)(i % 97) - 0.3;
    minima_model *g = chain_graph(0, 1);
    if (!g) return;
    /* names whose string order is not their natural order (features.10 after
     * features.2), tensors in the file in string order, bias before weight */
    tensor_spec t[] = {
        {"head.bias", 1, {3}, vals + 200, 0},
        {"head.weight", 2, {3, 4}, vals + 210, 0},
        {"features.10.bias", 1, {4}, vals + 100, 0},
        {"features.10.weight", 2, {4, 5}, vals + 110, 0},
        {"features.2.bias", 1, {5}, vals + 0, 0},
        {"features.2.weight", 2, {5, 6}, vals + 10, 0},
    };
    const char *p = write_file("order.safetensors", NULL, t, 6);
    minima_model *m = NULL;
    CHECK_OK(minima_model_load_graph(p, NULL, g, 1, &m));
    if (m) {
        const minima_node *nd = m->nodes;
        CHECK(!strcmp(nd[1].name, "features.2") && !strcmp(nd[3].name, "features.10") &&
              !strcmp(nd[5].name, "head"));
        CHECK(!strcmp(nd[2].name, "1"));                 /* nodes without parameters keep theirs */
        CHECK(m->theta[nd[1].weight_offset] == vals[10] && m->theta[nd[1].bias_offset] == vals[0]);
        CHECK(m->theta[nd[3].weight_offset + 19] == vals[129]);
        CHECK(m->theta[nd[5].bias_offset + 2] == vals[202]);
        CHECK(m->is_mlp && m->order_source == MINIMA_FROM_OPTION &&
              m->activation_source == MINIMA_FROM_OPTION);
    }
    minima_model_free(m);
    /* torchvision's names: "classifier" sorts before "features.N" but runs
     * after them; the next module of another family is taken when the
     * shapes say so */
    tensor_spec tv[6];
    memcpy(tv, t, sizeof tv);
    tv[0].name = "classifier.bias";
    tv[1].name = "classifier.weight";
    p = write_file("torchvision.safetensors", NULL, tv, 6);
    CHECK_OK(minima_model_load_graph(p, NULL, g, 1, &m));
    if (m) {
        CHECK(!strcmp(m->nodes[1].name, "features.2") && !strcmp(m->nodes[5].name, "classifier"));
        CHECK(m->theta[m->nodes[5].bias_offset + 2] == vals[202]);
    }
    minima_model_free(m);
    /* the tensors decide a node's bias: a state dict without one loads, the
     * node has none */
    const char *nb = write_file("nobias.safetensors", NULL, (tensor_spec[]){
        t[1], t[2], t[3], t[4], t[5]}, 5);
    CHECK_OK(minima_model_load_graph(nb, NULL, g, 1, &m));
    if (m) CHECK(m->nodes[5].has_bias == 0 && m->nodes[5].n_bias == 0);
    minima_model_free(m);
    /* a shape the architecture does not expect: the tensor, both shapes, the node */
    tensor_spec w[6];
    memcpy(w, t, sizeof w);
    w[3].dims[1] = 6;
    p = write_file("shape.safetensors", NULL, w, 6);
    EXPECT_ERR(minima_model_load_graph(p, NULL, g, 1, &m), MINIMA_ESHAPE,
               "tensor 'features.10.weight' has shape [4, 6]; the architecture expects [4, 5] for "
               "node 3 (linear '2')");
    /* too few: what is missing */
    p = write_file("few.safetensors", NULL, t + 2, 4);
    EXPECT_ERR(minima_model_load_graph(p, NULL, g, 1, &m), MINIMA_ESHAPE,
               "node 5 (linear '4') expects a weight [3, 4]", "no tensor is left");
    /* too many: the first extra one */
    tensor_spec x[7];
    memcpy(x, t, sizeof t);
    x[6] = (tensor_spec){"zhead.weight", 2, {2, 3}, vals, 0};
    p = write_file("many.safetensors", NULL, x, 7);
    EXPECT_ERR(minima_model_load_graph(p, NULL, g, 1, &m), MINIMA_ESHAPE,
               "tensor 'zhead.weight' [2, 3] is left over");
    /* a stray tensor inside a module */
    x[6] = (tensor_spec){"features.2.scale", 1, {5}, vals, 0};
    p = write_file("stray.safetensors", NULL, x, 7);
    EXPECT_ERR(minima_model_load_graph(p, NULL, g, 1, &m), MINIMA_EFORMAT, "'features.2.scale'");
    minima_load_options o = minima_load_default_options();
    o.ignore_unknown = 1;
    CHECK_OK(minima_model_load_graph(p, &o, g, 1, &m));
    minima_model_free(m);
    /* an integer weight is refused; only num_batches_tracked may be one */
    x[6] = (tensor_spec){"features.2.weight", 0, {0}, NULL, 3};
    tensor_spec y[6];
    memcpy(y, t, sizeof y);
    y[5] = x[6];
    p = write_file("intweight.safetensors", NULL, y, 6);
    EXPECT_ERR(minima_model_load_graph(p, NULL, g, 1, &m), MINIMA_EUNSUPPORTED,
               "'features.2.weight' has dtype I64");
    /* BatchNorm statistics where the architecture has no bn */
    double ones[5] = {1, 1, 1, 1, 1};
    tensor_spec z[] = {t[4], t[5], {"features.3.running_mean", 1, {5}, ones, 0},
                       {"features.3.running_var", 1, {5}, ones, 0}, t[2], t[3], t[0], t[1]};
    p = write_file("extra_bn.safetensors", NULL, z, 8);
    EXPECT_ERR(minima_model_load_graph(p, NULL, g, 1, &m), MINIMA_ESHAPE,
               "'features.3.running_mean'", "is a bn missing after node 1 (linear '0')");
    minima_model_free(g);
}

/* ---- BatchNorm ---------------------------------------------------------- */

static void test_bn_fold(void)
{
    for (int i = 0; i < 4096; i++) vals[i] = sin(0.37 * (double)i + 0.1);
    double gamma[5] = {0.5, 1.5, -0.7, 2.0, 1.0}, beta[5] = {0.1, -0.2, 0.3, 0.0, 1.0};
    double mean[5] = {0.2, -0.4, 0.0, 1.0, -1.0}, var[5] = {1.0, 0.25, 4.0, 0.5, 2.0};
    minima_model *g = chain_graph(1, 1);
    if (!g) return;
    for (int with_bias = 0; with_bias < 2; with_bias++)
        for (int affine = 0; affine < 2; affine++)
            for (int custom_eps = 0; custom_eps < 2; custom_eps++) {
                tensor_spec t[12];
                int n = 0;
                t[n++] = (tensor_spec){"0.weight", 2, {5, 6}, vals, 0};
                if (with_bias) t[n++] = (tensor_spec){"0.bias", 1, {5}, vals + 30, 0};
                if (affine) {
                    t[n++] = (tensor_spec){"1.weight", 1, {5}, gamma, 0};
                    t[n++] = (tensor_spec){"1.bias", 1, {5}, beta, 0};
                }
                t[n++] = (tensor_spec){"1.running_mean", 1, {5}, mean, 0};
                t[n++] = (tensor_spec){"1.running_var", 1, {5}, var, 0};
                t[n++] = (tensor_spec){"1.num_batches_tracked", 0, {0}, NULL, 12};
                t[n++] = (tensor_spec){"3.weight", 2, {4, 5}, vals + 40, 0};
                t[n++] = (tensor_spec){"3.bias", 1, {4}, vals + 60, 0};
                t[n++] = (tensor_spec){"5.weight", 2, {3, 4}, vals + 70, 0};
                t[n++] = (tensor_spec){"5.bias", 1, {3}, vals + 90, 0};
                double eps = custom_eps ? 0.125 : 1e-5;
                const char *p = write_file("bn.safetensors", custom_eps ? "{\"bn_eps\":\"0.125\"}" : NULL,
                                           t, n);
                minima_model *m = NULL;
                CHECK_OK(minima_model_load_graph(p, NULL, g, 1, &m));
                if (!m) continue;
                const minima_node *nd = &m->nodes[1];
                CHECK(nd->folded_batchnorm && nd->has_bias && nd->n_bias == 5);
                /* the reference: W' = W s, b' = (b - mean) s + beta, s = gamma / sqrt(var + eps) */
                double maxdiff = 0;
                for (int c = 0; c < 5; c++) {
                    double ga = affine ? gamma[c] : 1, be = affine ? beta[c] : 0;
                    double s = ga / sqrt(var[c] + eps), b = with_bias ? vals[30 + c] : 0;
                    for (int k = 0; k < 6; k++)
                        maxdiff = fmax(maxdiff, fabs(m->theta[nd->weight_offset + 6 * (size_t)c + (size_t)k] -
                                                     vals[6 * c + k] * s));
                    maxdiff = fmax(maxdiff, fabs(m->theta[nd->bias_offset + (size_t)c] -
                                                 ((b - mean[c]) * s + be)));
                }
                CHECK_MSG(maxdiff <= 1e-15, "bias %d affine %d eps %g: folded parameters differ by %g",
                          with_bias, affine, eps, maxdiff);
                /* and the function: the unfolded network evaluated here */
                double x[2 * 6], out[2 * 3], ref[2 * 3];
                for (int i = 0; i < 12; i++) x[i] = cos(1.3 * i);
                for (int e = 0; e < 2; e++) {
                    double h1[5], h2[4];
                    for (int c = 0; c < 5; c++) {
                        double z = with_bias ? vals[30 + c] : 0;
                        for (int k = 0; k < 6; k++) z += vals[6 * c + k] * x[6 * e + k];
                        z = (affine ? gamma[c] : 1) * (z - mean[c]) / sqrt(var[c] + eps) +
                            (affine ? beta[c] : 0);
                        h1[c] = z > 0 ? z : 0;
                    }
                    for (int c = 0; c < 4; c++) {
                        double z = vals[60 + c];
                        for (int k = 0; k < 5; k++) z += vals[40 + 5 * c + k] * h1[k];
                        h2[c] = z > 0 ? z : 0;
                    }
                    for (int c = 0; c < 3; c++) {
                        double z = vals[90 + c];
                        for (int k = 0; k < 4; k++) z += vals[70 + 4 * c + k] * h2[k];
                        ref[3 * e + c] = z;
                    }
                }
                if (outputs_of(m, x, 2, out) == 0)
                    CHECK_MSG(harness_vec_reldiff(out, ref, 6, 1e-300) <= 1e-13,
                              "outputs differ from the unfolded network by %g",
                              harness_vec_reldiff(out, ref, 6, 1e-300));
                minima_model_free(m);
            }
    /* a bn without its statistics, and a bn with no tensors left */
    tensor_spec t[] = {{"0.weight", 2, {5, 6}, vals, 0}, {"1.weight", 1, {5}, gamma, 0},
                       {"1.bias", 1, {5}, beta, 0}, {"1.running_mean", 1, {5}, mean, 0},
                       {"3.weight", 2, {4, 5}, vals, 0}, {"5.weight", 2, {3, 4}, vals, 0}};
    minima_model *m = NULL;
    const char *p = write_file("bn_novar.safetensors", NULL, t, 6);
    EXPECT_ERR(minima_model_load_graph(p, NULL, g, 1, &m), MINIMA_ESHAPE,
               "module '1' after it has no running_var");
    tensor_spec u[] = {{"0.weight", 2, {5, 6}, vals, 0}, {"3.weight", 2, {4, 5}, vals, 0},
                       {"5.weight", 2, {3, 4}, vals, 0}};
    p = write_file("bn_none.safetensors", NULL, u, 3);
    EXPECT_ERR(minima_model_load_graph(p, NULL, g, 1, &m), MINIMA_ESHAPE,
               "BatchNorm (bn) after node 1 (linear '0')", "'3.weight'");
    /* a negative variance */
    double badvar[5] = {1, 1, -1, 1, 1};
    tensor_spec v[] = {{"0.weight", 2, {5, 6}, vals, 0}, {"1.running_mean", 1, {5}, mean, 0},
                       {"1.running_var", 1, {5}, badvar, 0}, {"3.weight", 2, {4, 5}, vals, 0},
                       {"5.weight", 2, {3, 4}, vals, 0}};
    p = write_file("bn_negvar.safetensors", NULL, v, 5);
    EXPECT_ERR(minima_model_load_graph(p, NULL, g, 1, &m), MINIMA_EFORMAT,
               "'1.running_var' entry [2] is -1");
    p = write_file("bn_eps_bad.safetensors", "{\"bn_eps\":\"small\"}", v, 5);
    EXPECT_ERR(minima_model_load_graph(p, NULL, g, 1, &m), MINIMA_EFORMAT, "\"bn_eps\"");
    minima_model_free(g);
}

/* PyTorch's outputs of the fixtures (make_bn_fixtures.py) against minima's. */
static void check_fixture(const char *which, const minima_model *g)
{
    FILE *f = fopen(harness_fixture("bn_expected.json"), "rb");
    CHECK(f != NULL);
    if (!f) return;
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, which);
    const cJSON *xs = cJSON_GetObjectItemCaseSensitive(e, "x");
    const cJSON *ys = cJSON_GetObjectItemCaseSensitive(e, "outputs");
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(e, "arch");
    CHECK(cJSON_IsArray(xs) && cJSON_IsArray(ys) && cJSON_IsString(arch));
    if (!cJSON_IsArray(xs) || !cJSON_IsArray(ys) || !cJSON_IsString(arch)) { cJSON_Delete(j); return; }
    double x[4 * 64], want[4 * 16], got[4 * 16];
    int d = cJSON_GetArraySize(xs->child), k = cJSON_GetArraySize(ys->child), r = 0;
    for (const cJSON *row = xs->child; row; row = row->next, r++)
        for (int c = 0; c < d; c++) x[r * d + c] = cJSON_GetArrayItem(row, c)->valuedouble;
    r = 0;
    for (const cJSON *row = ys->child; row; row = row->next, r++)
        for (int c = 0; c < k; c++) want[r * k + c] = cJSON_GetArrayItem(row, c)->valuedouble;
    char file[64];
    snprintf(file, sizeof file, "bn_%s.safetensors", which);
    /* the CNN once more, evaluated here from the folded parameters (conv 3x3,
     * padding 1, 1 -> 2 channels on 4x4, relu, flatten, linear 32 -> 3), so
     * the fold is checked against PyTorch whatever the engine runs */
    if (g && !strcmp(which, "cnn")) {
        minima_model *m = NULL;
        CHECK_OK(minima_model_load_graph(harness_fixture(file), NULL, g, 1, &m));
        if (m && m->n_nodes == 5 && m->nodes[1].n_bias == 2) {
            const double *w = m->theta + m->nodes[1].weight_offset, *b = m->theta + m->nodes[1].bias_offset;
            const double *lw = m->theta + m->nodes[4].weight_offset, *lb = m->theta + m->nodes[4].bias_offset;
            for (int ex = 0; ex < 4; ex++) {
                double h[32];
                for (int c = 0; c < 2; c++)
                    for (int i = 0; i < 4; i++)
                        for (int jj = 0; jj < 4; jj++) {
                            double z = b[c];
                            for (int u = 0; u < 3; u++)
                                for (int v = 0; v < 3; v++) {
                                    int yi = i + u - 1, xj = jj + v - 1;
                                    if (yi >= 0 && yi < 4 && xj >= 0 && xj < 4)
                                        z += w[9 * c + 3 * u + v] * x[16 * ex + 4 * yi + xj];
                                }
                            h[16 * c + 4 * i + jj] = z > 0 ? z : 0;
                        }
                for (int o = 0; o < 3; o++) {
                    double z = lb[o];
                    for (int q = 0; q < 32; q++) z += lw[32 * o + q] * h[q];
                    got[3 * ex + o] = z;
                }
            }
            CHECK_MSG(harness_vec_reldiff(got, want, 12, 1e-300) <= 1e-12,
                      "cnn (evaluated here): outputs differ from PyTorch's by %g",
                      harness_vec_reldiff(got, want, 12, 1e-300));
        }
        minima_model_free(m);
    }
    const char *path = harness_fixture(file);
    minima_model *m = NULL;
    if (g) {
        CHECK_OK(minima_model_load_graph(path, NULL, g, 1, &m));
        if (m && outputs_of(m, x, 4, got) == 0)
            CHECK_MSG(harness_vec_reldiff(got, want, (size_t)(4 * k), 1e-300) <= 1e-12,
                      "%s (graph given): outputs differ from PyTorch's by %g", which,
                      harness_vec_reldiff(got, want, (size_t)(4 * k), 1e-300));
        minima_model_free(m);
        m = NULL;
    }
    if (have_arch()) {
        minima_load_options o = minima_load_default_options();
        o.arch = arch->valuestring;
        CHECK_OK(minima_model_load(path, &o, &m));
        if (m && outputs_of(m, x, 4, got) == 0)
            CHECK_MSG(harness_vec_reldiff(got, want, (size_t)(4 * k), 1e-300) <= 1e-12,
                      "%s (--arch %s): outputs differ from PyTorch's by %g", which,
                      arch->valuestring, harness_vec_reldiff(got, want, (size_t)(4 * k), 1e-300));
        if (m) {
            CHECK(m->nodes[1].folded_batchnorm);
            /* saved and read back: the folded model, no BatchNorm left to fold */
            const char *p = tmp_path("bn_saved.safetensors");
            minima_model *back = NULL;
            CHECK_OK(minima_model_save(m, p, MINIMA_DTYPE_F64));
            CHECK_OK(minima_model_load(p, NULL, &back));
            if (back) {
                CHECK(back->n_params == m->n_params &&
                      harness_vec_reldiff(back->theta, m->theta, m->n_params, 1e-300) == 0);
                CHECK(back->nodes[1].folded_batchnorm);
            }
            minima_model_free(back);
        }
        minima_model_free(m);
    } else {
        fprintf(stderr, "skip: %s with its architecture string (no architecture grammar yet)\n", which);
    }
    cJSON_Delete(j);
}

static void test_bn_fixtures(void)
{
    /* Sequential(Linear(4, 5), BatchNorm1d(5), ReLU(), Linear(5, 3)) */
    minima_node n[4];
    n[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    n[0].shape = (minima_shape){1, 4, 1, 1};
    n[1] = minima_node_make(MINIMA_NODE_LINEAR, 0);
    n[1].out = 5;
    n[1].folded_batchnorm = 1;
    n[1].name = (char *)"0";
    n[2] = minima_node_make(MINIMA_NODE_RELU, 1);
    n[2].name = (char *)"2";
    n[3] = minima_node_make(MINIMA_NODE_LINEAR, 2);
    n[3].out = 3;
    n[3].name = (char *)"3";
    minima_model *g = NULL;
    CHECK_OK(minima_model_create_graph(&g, 4, n));
    check_fixture("mlp", g);
    minima_model_free(g);
    /* Sequential(Conv2d(1, 2, 3, padding=1, bias=False), BatchNorm2d(2), ReLU(),
     * Flatten(), Linear(32, 3)) */
    if (!have_conv()) {
        fprintf(stderr, "skip: bn_cnn (no conv2d kind yet)\n");
        return;
    }
    minima_node c[5];
    c[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    c[0].shape = (minima_shape){3, 1, 4, 4};
    c[1] = minima_node_make(MINIMA_NODE_CONV2D, 0);
    c[1].out = 2;
    c[1].kernel[0] = c[1].kernel[1] = 3;
    c[1].padding[0] = c[1].padding[1] = 1;
    c[1].folded_batchnorm = 1;
    c[1].name = (char *)"0";
    c[2] = minima_node_make(MINIMA_NODE_RELU, 1);
    c[3] = minima_node_make(MINIMA_NODE_FLATTEN, 2);
    c[4] = minima_node_make(MINIMA_NODE_LINEAR, 3);
    c[4].out = 3;
    c[4].name = (char *)"4";
    CHECK_OK(minima_model_create_graph(&g, 5, c));
    check_fixture("cnn", g);
    minima_model_free(g);
}

/* ---- files with no graph and no architecture ---------------------------- */

static void test_no_arch(void)
{
    minima_model *m = NULL;
    EXPECT_ERR(minima_model_load(harness_fixture("bn_cnn.safetensors"), NULL, &m), MINIMA_EUNSUPPORTED,
               "tensor '0.weight' is a 4-D convolution weight; this file carries no graph: pass "
               "--arch SHAPE:LAYER,... (docs/model-files.md)");
    EXPECT_ERR(minima_model_load(harness_fixture("bn_mlp.safetensors"), NULL, &m), MINIMA_EUNSUPPORTED,
               "BatchNorm is not supported in a safetensors MLP; fold it", "--arch SHAPE:LAYER,...",
               ",bn,");
    CHECK(m == NULL);
}

/* ---- tensors in memory (the API's state dicts) -------------------------------- */

static void test_named_tensors(void)
{
    double w[6] = {1, 2, 3, 4, 5, 6}, b[2] = {0.5, -0.5}, mean[2] = {1, -1}, var[2] = {3, 0};
    double gamma[2] = {2, 1}, beta[2] = {0.25, 0}, w2[2] = {1, -1}, b2[1] = {0.125};
    int64_t s23[] = {2, 3}, s2[] = {2}, s12[] = {1, 2}, s1[] = {1}, s4d[] = {2, 3, 1, 1};
    minima_named_tensor t[] = {
        {"0.weight", 2, s23, w}, {"0.bias", 1, s2, b}, {"1.weight", 1, s2, gamma},
        {"1.bias", 1, s2, beta}, {"1.running_mean", 1, s2, mean}, {"1.running_var", 1, s2, var},
        {"3.weight", 2, s12, w2}, {"3.bias", 1, s1, b2}};
    minima_model *m = NULL;
    /* no architecture: a 4-D weight names the load option */
    minima_named_tensor c[] = {{"0.weight", 4, s4d, w}};
    EXPECT_ERR(minima_model_from_named_tensors(c, 1, NULL, "state dict", &m), MINIMA_EUNSUPPORTED,
               "'state dict': tensor '0.weight' is a 4-D convolution weight", "load option arch");
    if (!have_arch()) {
        fprintf(stderr, "skip: tensors in memory with an architecture (no architecture grammar yet)\n");
        return;
    }
    minima_load_options o = minima_load_default_options();
    o.arch = "3:2,bn,relu,1";
    CHECK_OK(minima_model_from_named_tensors(t, 8, &o, "state dict", &m));
    if (m) {
        const minima_node *nd = &m->nodes[1];
        double s0 = 2 / sqrt(3 + 1e-5), s1v = 1 / sqrt(0 + 1e-5);
        CHECK(nd->folded_batchnorm);
        CHECK_REL(m->theta[nd->weight_offset + 2], 3 * s0, 1e-15);
        CHECK_REL(m->theta[nd->weight_offset + 5], 6 * s1v, 1e-15);
        CHECK_REL(m->theta[nd->bias_offset], (0.5 - 1) * s0 + 0.25, 1e-15);
        CHECK_REL(m->theta[nd->bias_offset + 1], (-0.5 + 1) * s1v, 1e-15);
    }
    minima_model_free(m);
}

/* ---- convolutions, once the kind is there ---------------------------------- */

static void test_conv_round_trip(void)
{
    if (!have_conv()) {
        fprintf(stderr, "skip: conv2d round trip (no conv2d kind yet)\n");
        return;
    }
    /* 2x5x5 -> conv 4, 3x3, groups 2, padding 1 -> relu -> conv 3, 2x2, stride 2,
     * no bias -> flatten -> linear 2 */
    minima_node n[6];
    n[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    n[0].shape = (minima_shape){3, 2, 5, 5};
    n[1] = minima_node_make(MINIMA_NODE_CONV2D, 0);
    n[1].out = 4;
    n[1].kernel[0] = n[1].kernel[1] = 3;
    n[1].padding[0] = n[1].padding[1] = 1;
    n[1].groups = 2;
    n[1].name = (char *)"features.0";
    n[2] = minima_node_make(MINIMA_NODE_RELU, 1);
    n[3] = minima_node_make(MINIMA_NODE_CONV2D, 2);
    n[3].out = 3;
    n[3].kernel[0] = n[3].kernel[1] = 2;
    n[3].stride[0] = n[3].stride[1] = 2;
    n[3].has_bias = 0;
    n[3].name = (char *)"features.2";
    n[4] = minima_node_make(MINIMA_NODE_FLATTEN, 3);
    n[5] = minima_node_make(MINIMA_NODE_LINEAR, 4);
    n[5].out = 2;
    n[5].name = (char *)"head";
    minima_model *m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 6, n));
    if (!m) return;
    for (size_t i = 0; i < m->n_params; i++) m->theta[i] = cos(0.3 * (double)i);
    const char *p = tmp_path("conv.safetensors");
    CHECK_OK(minima_model_save(m, p, MINIMA_DTYPE_F64));
    cJSON *h = read_header_json(p);
    CHECK(h && !strcmp(json_shape(h, "features.0.weight"), "[4, 1, 3, 3]"));
    CHECK(h && !strcmp(json_shape(h, "features.0.bias"), "[4]"));
    CHECK(h && !strcmp(json_shape(h, "features.2.weight"), "[3, 4, 2, 2]"));
    CHECK(h && !cJSON_GetObjectItemCaseSensitive(h, "features.2.bias"));
    CHECK(h && !strcmp(json_shape(h, "head.weight"), "[2, 12]"));
    cJSON_Delete(h);
    minima_model *r = NULL;
    CHECK_OK(minima_model_load_graph(p, NULL, m, 0, &r));
    if (r) CHECK(harness_vec_reldiff(r->theta, m->theta, m->n_params, 1e-300) == 0);
    minima_model_free(r);
    /* as a state dict: the same tensors fill the graph in order */
    CHECK_OK(minima_model_load_graph(p, NULL, m, 1, &r));
    if (r) CHECK(harness_vec_reldiff(r->theta, m->theta, m->n_params, 1e-300) == 0);
    minima_model_free(r);
    if (have_arch()) {
        CHECK_OK(minima_model_load(p, NULL, &r));
        if (r) CHECK(r->n_params == m->n_params &&
                     harness_vec_reldiff(r->theta, m->theta, m->n_params, 1e-300) == 0);
        minima_model_free(r);
    }
    minima_model_free(m);
}

/* Two branches added: a graph the architecture string cannot record is
 * refused at save, and no file is left. */
static void test_save_beyond_grammar(void)
{
    minima_node spec[5];
    spec[0] = minima_node_make(MINIMA_NODE_INPUT, -1);
    spec[0].shape = (minima_shape){1, 4, 1, 1};
    spec[1] = minima_node_make(MINIMA_NODE_LINEAR, 0);
    spec[1].out = 3;
    spec[2] = minima_node_make(MINIMA_NODE_LINEAR, 0);
    spec[2].out = 3;
    spec[3] = minima_node_make(MINIMA_NODE_ADD, 1);
    spec[3].inputs[1] = 2;
    spec[4] = minima_node_make(MINIMA_NODE_LINEAR, 3);
    spec[4].out = 2;
    minima_model *m = NULL;
    CHECK_OK(minima_model_create_graph(&m, 5, spec));
    if (!m) return;
    const char *p = tmp_path("branches.safetensors");
    CHECK_STATUS(minima_model_save(m, p, MINIMA_DTYPE_F64), MINIMA_EUNSUPPORTED);
    CHECK(strstr(minima_last_error(), "x + body(x)") != NULL);
    FILE *f = fopen(p, "rb");
    CHECK(f == NULL);
    if (f) fclose(f);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_save_graph);
    RUN(test_save_names);
    RUN(test_state_dict_order);
    RUN(test_bn_fold);
    RUN(test_bn_fixtures);
    RUN(test_no_arch);
    RUN(test_named_tensors);
    RUN(test_conv_round_trip);
    RUN(test_save_beyond_grammar);
    return harness_report();
}
