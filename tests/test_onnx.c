/* test_onnx.c — models exported by torch.onnx.export (PyTorch 1.13) read
 * onto minima's graph: outputs, loss and accuracy against PyTorch's float64
 * ones (tests/fixtures/onnx_expected.json, make_onnx_fixtures.py), the
 * BatchNorm folded by PyTorch and by minima giving the same function,
 * names, the exact Hessian spectrum of mlp.onnx against PyTorch's
 * (onnx_hessian.json, make_onnx_hessian.py), the refusals of
 * tests/fixtures/onnx_bad.json, and a battery of
 * damaged files (every truncation, every byte flipped, huge lengths,
 * deep nesting) that must fail cleanly. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/data.h"
#include "minima/eigen.h"
#include "minima/linop.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/onnx.h"
#include "minima/reference.h"
#include "minima/safetensors.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 512, "%s/%s", harness_tmpdir(), name);
    return p;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

static cJSON *expected(void)
{
    char *text = slurp(harness_fixture("onnx_expected.json"), NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

/* The fixture's examples as a data set (labels y, classes = outputs). */
static minima_dataset *fixture_data(const cJSON *e, int k)
{
    const cJSON *xs = cJSON_GetObjectItemCaseSensitive(e, "x");
    const cJSON *ys = cJSON_GetObjectItemCaseSensitive(e, "y");
    int n = cJSON_GetArraySize(ys), total = cJSON_GetArraySize(xs);
    minima_dataset *d = NULL;
    if (n < 1 || total % n || minima_dataset_create(&d, (size_t)n, total / n, k, 0) != MINIMA_OK)
        return NULL;
    int i = 0;
    for (const cJSON *v = xs->child; v; v = v->next) d->x[i++] = v->valuedouble;
    i = 0;
    for (const cJSON *v = ys->child; v; v = v->next) d->labels[i++] = v->valueint;
    return d;
}

/* Loads one fixture and compares outputs (engine and the independent
 * reference pass), loss and accuracy with PyTorch's. Returns the model. */
static minima_model *check_fixture(const cJSON *all, const char *name)
{
    harness_current = name;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(all, name);
    CHECK(e != NULL);
    if (!e) return NULL;
    const char *file = cJSON_GetObjectItemCaseSensitive(e, "file")->valuestring;
    minima_model *m = NULL;
    CHECK_OK(minima_model_load(harness_fixture(file), NULL, &m));
    if (!m) return NULL;
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(e, "outputs");
    int k = minima_model_n_outputs(m), no = cJSON_GetArraySize(outs);
    minima_dataset *d = fixture_data(e, k);
    CHECK(d != NULL && (size_t)d->d == minima_model_n_inputs(m) && no == (int)d->n * k);
    if (!d || no != (int)d->n * k) { minima_dataset_free(d); return m; }
    double *want = malloc((size_t)no * sizeof *want), *got = malloc((size_t)no * sizeof *got);
    int i = 0;
    for (const cJSON *v = outs->child; v; v = v->next) want[i++] = v->valuedouble;
    minima_net *net = NULL;
    CHECK_OK(minima_net_create(&net, m, d, NULL));
    if (net) {
        CHECK_OK(minima_net_outputs(net, NULL, got));
        double r = harness_vec_reldiff(got, want, (size_t)no, 1e-300);
        CHECK_MSG(r <= 1e-10, "%s: engine outputs differ from PyTorch's by %.3g relative", name, r);
        printf("%-12s outputs vs PyTorch float64: max relative difference %.2e\n", name, r);
        double loss, acc;
        CHECK_OK(minima_net_loss(net, NULL, &loss, &acc));
        CHECK_REL(loss, cJSON_GetObjectItemCaseSensitive(e, "loss_ce")->valuedouble, 1e-10);
        CHECK_ABS(acc, cJSON_GetObjectItemCaseSensitive(e, "accuracy")->valuedouble, 1e-12);
        minima_net_free(net);
    }
    CHECK_OK(minima_reference_forward(m, m->theta, d->x, d->n, got));
    double r = harness_vec_reldiff(got, want, (size_t)no, 1e-300);
    CHECK_MSG(r <= 1e-10, "%s: reference outputs differ from PyTorch's by %.3g relative", name, r);
    free(want);
    free(got);
    minima_dataset_free(d);
    return m;
}

static const char *node_name(const minima_model *m, int i)
{
    return m->nodes[i].name ? m->nodes[i].name : "";
}

static void fixtures_match_pytorch(void)
{
    cJSON *all = expected();
    CHECK(all != NULL);
    if (!all) return;
    static const char *const names[] = {"lenet", "bn_fold", "bn_preserve", "residual", "mlp",
                                        "strided_f64", "avgpad", "matmul", "zeropad", "gemm_attrs", "nested"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        minima_model *m = check_fixture(all, names[i]);
        if (!m) continue;
        if (!strcmp(names[i], "lenet")) {
            /* the PyTorch module paths, and the graph */
            char arch[256];
            minima_arch_format(m, arch, sizeof arch);
            CHECK_MSG(!strcmp(arch, "1x12x12:conv4k3p1,relu,maxpool2,conv6k3,relu,maxpool2,flatten,10,"
                                    "relu,5"), "lenet arch %s", arch);
            CHECK(!strcmp(node_name(m, 1), "0") && !strcmp(node_name(m, 4), "3") &&
                  !strcmp(node_name(m, 8), "7") && !strcmp(node_name(m, 10), "10"));
            CHECK(m->n_params == 40 + 222 + 250 + 55);
        }
        if (!strcmp(names[i], "bn_fold") || !strcmp(names[i], "bn_preserve")) {
            /* PyTorch folded the BatchNorm2d itself in bn_fold (its conv weight
             * renamed "onnx::Conv_*": the name comes from the node's scope);
             * minima folded the others */
            CHECK(!strcmp(node_name(m, 1), "0") && !strcmp(node_name(m, 4), "4"));
            CHECK(m->nodes[4].folded_batchnorm);
            CHECK(m->nodes[1].folded_batchnorm == !strcmp(names[i], "bn_preserve"));
            CHECK(minima_model_get_meta(m, "onnx_folded") != NULL);
        }
        if (!strcmp(names[i], "avgpad")) {
            /* Constant + Pad + AveragePool: one avgpool2d with padding 1 */
            CHECK(m->nodes[3].kind == MINIMA_NODE_AVGPOOL2D && m->nodes[3].padding[0] == 1 &&
                  m->nodes[3].padding[1] == 1);
        }
        if (!strcmp(names[i], "nested")) {
            /* the weights were renamed by the exporter's fold: names from the scopes */
            CHECK_MSG(!strcmp(node_name(m, 1), "features.0") && !strcmp(node_name(m, 3), "features.3.0") &&
                      !strcmp(node_name(m, 5), "fc"), "nested: names %s, %s, %s", node_name(m, 1),
                      node_name(m, 3), node_name(m, 5));
        }
        if (!strcmp(names[i], "zeropad")) {
            /* ZeroPad2d(1) + Conv2d(padding 0), opset 9: one conv2d with padding 1 */
            CHECK(m->nodes[1].kind == MINIMA_NODE_CONV2D && m->nodes[1].padding[0] == 1 &&
                  m->nodes[1].padding[1] == 1 && m->nodes[3].kind == MINIMA_NODE_MAXPOOL2D &&
                  m->nodes[3].padding[0] == 1);
        }
        if (!strcmp(names[i], "matmul")) {
            CHECK(m->is_mlp && m->has_bias && !strcmp(m->layer_names[0], "w"));
        }
        if (!strcmp(names[i], "mlp")) CHECK(m->nodes[2].kind == MINIMA_NODE_LEAKY_RELU &&
                                            m->nodes[2].slope == 0.1);
        minima_model_free(m);
    }
    cJSON_Delete(all);
}

/* Both BatchNorm exports are the same function with the same parameters. */
static void batchnorm_exports_agree(void)
{
    minima_model *a = NULL, *b = NULL;
    CHECK_OK(minima_model_load(harness_fixture("onnx/bn_fold.onnx"), NULL, &a));
    CHECK_OK(minima_model_load(harness_fixture("onnx/bn_preserve.onnx"), NULL, &b));
    if (a && b) {
        CHECK(a->n_params == b->n_params);
        if (a->n_params == b->n_params) {
            double r = harness_vec_reldiff(a->theta, b->theta, a->n_params, 1e-300);
            CHECK_MSG(r <= 1e-13, "folded by PyTorch and by minima: parameters differ by %.3g", r);
        }
    }
    minima_model_free(a);
    minima_model_free(b);
}

/* The spectrum of the exact Hessian the way `minima spectrum --exact`
 * takes it (minima_linop_hessian, minima_linop_to_dense,
 * minima_spectrum_dense): values (P), ascending; returns the trace. */
static double exact_spectrum(const minima_model *m, const minima_dataset *d, double *values)
{
    size_t P = m->n_params;
    double trace = NAN;
    minima_net *net = NULL;
    minima_linop *op = NULL;
    double *h = malloc(P * P * sizeof *h);
    CHECK(h != NULL);
    CHECK_OK(minima_net_create(&net, m, d, NULL));
    if (net) CHECK_OK(minima_linop_hessian(&op, net));
    if (op && h) {
        CHECK_OK(minima_linop_to_dense(op, h));
        CHECK_OK(minima_spectrum_dense(P, h, values, NULL));
        trace = 0;
        for (size_t i = 0; i < P; i++) trace += h[i * P + i];
    }
    minima_linop_free(op);
    minima_net_free(net);
    free(h);
    return trace;
}

static double max_abs_diff(const double *a, const double *b, size_t n)
{
    double r = 0;
    for (size_t i = 0; i < n; i++) r = fmax(r, fabs(a[i] - b[i]));
    return r;
}

/* `spectrum --exact` on the smallest ONNX fixture with a piecewise-linear
 * and a smooth activation (mlp.onnx: leaky_relu(0.1), tanh; P = 155) against
 * PyTorch's float64 Hessian (torch.autograd.functional.hessian, eigvalsh):
 * every eigenvalue and the trace within 1e-9 of the largest |lambda|. The
 * check can fail: the spectrum is not ~0, and one weight moved by 1e-6
 * moves it by more than the tolerance. */
static void hessian_matches_pytorch(void)
{
    char *text = slurp(harness_fixture("onnx_hessian.json"), NULL);
    cJSON *hj = text ? cJSON_Parse(text) : NULL, *all = expected();
    free(text);
    CHECK(hj != NULL && all != NULL);
    if (!hj || !all) { cJSON_Delete(hj); cJSON_Delete(all); return; }
    const char *name = cJSON_GetObjectItemCaseSensitive(hj, "fixture")->valuestring;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(all, name);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(hj, "eigenvalues");
    minima_model *m = NULL;
    CHECK(e != NULL && ev != NULL);
    if (e) CHECK_OK(minima_model_load(harness_fixture(cJSON_GetObjectItemCaseSensitive(e, "file")->valuestring),
                                      NULL, &m));
    size_t P = m ? m->n_params : 0;
    CHECK(m != NULL && ev && (size_t)cJSON_GetArraySize(ev) == P &&
          P == (size_t)cJSON_GetObjectItemCaseSensitive(hj, "n_params")->valueint);
    minima_dataset *d = m ? fixture_data(e, minima_model_n_outputs(m)) : NULL;
    double *want = malloc((P + 1) * sizeof *want), *got = malloc((P + 1) * sizeof *got);
    double *moved = malloc((P + 1) * sizeof *moved);
    if (d && want && got && moved && (size_t)cJSON_GetArraySize(ev) == P) {
        size_t i = 0;
        double scale = 0;
        for (const cJSON *v = ev->child; v; v = v->next) {
            want[i] = v->valuedouble;
            scale = fmax(scale, fabs(want[i++]));
        }
        double trace_want = cJSON_GetObjectItemCaseSensitive(hj, "trace")->valuedouble;
        double trace = exact_spectrum(m, d, got);
        double r = max_abs_diff(got, want, P);
        CHECK_MSG(scale > 0.1, "PyTorch's spectrum is ~0 (max |lambda| %.3g): the check would be empty", scale);
        CHECK_MSG(r <= 1e-9 * scale, "%s: exact Hessian eigenvalues differ from PyTorch's by %.3g (max |lambda| "
                  "%.3g)", name, r, scale);
        CHECK_MSG(fabs(trace - trace_want) <= 1e-9 * scale, "%s: trace %.17g, PyTorch %.17g", name, trace,
                  trace_want);
        printf("%-12s exact Hessian (P = %zu) vs PyTorch float64: max |dlambda| %.2e (%.2e of max |lambda| "
               "%.4g), |dtrace| %.2e\n", name, P, r, r / scale, scale, fabs(trace - trace_want));
        /* negative control: the first layer's first weight moved by 1e-6 */
        m->theta[0] += 1e-6;
        exact_spectrum(m, d, moved);
        m->theta[0] -= 1e-6;
        double c = max_abs_diff(moved, want, P);
        CHECK_MSG(c > 1e-9 * scale, "%s: a weight moved by 1e-6 changes the spectrum by only %.3g", name, c);
        printf("%-12s one weight moved by 1e-6: max |dlambda| %.2e (tolerance %.2e)\n", name, c, 1e-9 * scale);
    }
    free(want);
    free(got);
    free(moved);
    minima_dataset_free(d);
    minima_model_free(m);
    cJSON_Delete(hj);
    cJSON_Delete(all);
}

static void refusals(void)
{
    char *text = slurp(harness_fixture("onnx_bad.json"), NULL);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(j != NULL);
    int n = 0;
    for (const cJSON *c = j ? j->child : NULL; c; c = c->next, n++) {
        char file[128];
        snprintf(file, sizeof file, "onnx/bad_%s.onnx", c->string);
        harness_current = c->string;
        minima_status want = !strcmp(c->valuestring, "format") ? MINIMA_EFORMAT : MINIMA_EUNSUPPORTED;
        minima_model *m = (minima_model *)1;
        CHECK_STATUS(minima_model_load(harness_fixture(file), NULL, &m), want);
        CHECK(m == NULL);
        CHECK_MSG(strstr(minima_last_error(), "bad_") != NULL, "%s: the message names no file: %s",
                  c->string, minima_last_error());
    }
    CHECK(n >= 15);
    cJSON_Delete(j);
    /* the message names the node and its op, and what is supported */
    minima_model *m = NULL;
    CHECK_STATUS(minima_model_load(harness_fixture("onnx/bad_op.onnx"), NULL, &m), MINIMA_EUNSUPPORTED);
    CHECK(strstr(minima_last_error(), "Sigmoid") && strstr(minima_last_error(), "node 0") &&
          strstr(minima_last_error(), "Gemm"));
    /* one initializer read by two nodes: two independent copies */
    CHECK_OK(minima_model_load(harness_fixture("onnx/tied.onnx"), NULL, &m));
    if (m) {
        CHECK(m->n_params == 2 * (16 + 4));
        CHECK(memcmp(m->theta, m->theta + 20, 20 * sizeof *m->theta) == 0);
        minima_model_free(m);
        m = NULL;
    }
    /* Dropout with training_mode false (a BOOL initializer): removed */
    CHECK_OK(minima_model_load(harness_fixture("onnx/dropout.onnx"), NULL, &m));
    if (m) {
        CHECK(m->n_nodes == 3 && m->n_params == 16 + 8 + 2);
        minima_model_free(m);
        m = NULL;
    }
    /* --arch with an ONNX file */
    minima_load_options o = minima_load_default_options();
    o.arch = "6:4,relu,2";
    CHECK_STATUS(minima_model_load(harness_fixture("onnx/matmul.onnx"), &o, &m), MINIMA_EINVAL);
    /* not ONNX at all, an empty file, a missing file */
    const char *p = tmp_path("not.onnx");
    write_bytes(p, "hello, world\n", 13);
    CHECK_STATUS(minima_model_load(p, NULL, &m), MINIMA_EFORMAT);
    write_bytes(p, "", 0);
    CHECK_STATUS(minima_model_load(p, NULL, &m), MINIMA_EFORMAT);
    CHECK_STATUS(minima_model_load(tmp_path("absent.onnx"), NULL, &m), MINIMA_EIO);
    /* a safetensors file named .onnx is read as ONNX and refused */
    minima_model *s = NULL;
    CHECK_OK(minima_arch_parse("3:2,relu,2", 1, MINIMA_ACT_RELU, 0, &s));
    if (s) {
        CHECK_OK(minima_model_save(s, tmp_path("s.safetensors"), MINIMA_DTYPE_F64));
        size_t len;
        char *b = slurp(tmp_path("s.safetensors"), &len);
        write_bytes(p, b, len);
        free(b);
        minima_status st = minima_model_load(p, NULL, &m);
        CHECK(st == MINIMA_EFORMAT || st == MINIMA_EUNSUPPORTED);
        minima_model_free(s);
    }
}

/* A model that loads must be consistent: offsets tile theta. */
static void check_consistent(const minima_model *m)
{
    size_t p = 0;
    for (int i = 1; i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        if (!nd->n_weight) continue;
        CHECK(nd->weight_offset == p);
        p += nd->n_weight + nd->n_bias;
    }
    CHECK(p == m->n_params);
}

static void damaged_files(void)
{
    size_t len;
    char *good = slurp(harness_fixture("onnx/matmul.onnx"), &len);
    CHECK(good != NULL && len > 100);
    if (!good) return;
    const char *p = tmp_path("damaged.onnx");
    /* every truncation fails */
    int loaded = 0;
    for (size_t n = 0; n < len; n++) {
        write_bytes(p, good, n);
        minima_model *m = (minima_model *)1;
        minima_status st = minima_model_load(p, NULL, &m);
        if (st == MINIMA_OK) {
            loaded++;
            minima_model_free(m);
        } else {
            CHECK(m == NULL);
        }
    }
    CHECK_MSG(loaded == 0, "%d truncations of matmul.onnx loaded", loaded);
    write_bytes(p, good, len);
    minima_model *m = NULL;
    CHECK_OK(minima_model_load(p, NULL, &m));
    minima_model_free(m);
    /* every byte flipped: an error or a consistent model, never a crash */
    for (size_t i = 0; i < len; i++) {
        good[i] ^= 0xff;
        write_bytes(p, good, len);
        good[i] ^= 0xff;
        m = NULL;
        minima_status st = minima_model_load(p, NULL, &m);
        if (st == MINIMA_OK) {
            check_consistent(m);
            minima_model_free(m);
        } else {
            CHECK(m == NULL);
        }
    }
    free(good);
    /* a length far beyond the file: field 7 (graph), length 2^62 */
    const unsigned char huge[] = {0x08, 0x07, 0x3a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40};
    write_bytes(p, huge, sizeof huge);
    CHECK_STATUS(minima_model_load(p, NULL, &m), MINIMA_EFORMAT);
    /* a varint that never ends */
    unsigned char endless[64];
    memset(endless, 0xff, sizeof endless);
    write_bytes(p, endless, sizeof endless);
    CHECK_STATUS(minima_model_load(p, NULL, &m), MINIMA_EFORMAT);
    /* TypeProto nested 5000 deep (sequence_type of sequence_type ...) inside
     * graph.input[0].type: refused by depth, not by a stack overflow */
    enum { DEPTH = 5000 };
    size_t cap = 16 * DEPTH + 64, used = 0;
    unsigned char *buf = malloc(cap), *tmp = malloc(cap);
    /* innermost: an empty TypeProto; wrap: Sequence{elem_type(1): T},
     * TypeProto{sequence_type(4): Sequence} */
    for (int k = 0; k < 2 * DEPTH + 2; k++) {
        unsigned char tag = k < 2 * DEPTH ? (k % 2 == 0 ? 0x0a : 0x22) : (k == 2 * DEPTH ? 0x12 : 0x5a);
        /* k even: into Sequence.elem_type (field 1); odd: TypeProto.sequence_type (field 4);
         * then ValueInfoProto.type (field 2), GraphProto.input (field 11) */
        size_t h = 0;
        tmp[h++] = tag;
        size_t l = used;
        do {
            tmp[h++] = (unsigned char)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
            l >>= 7;
        } while (l);
        memmove(buf + h, buf, used);
        memcpy(buf, tmp, h);
        used += h;
    }
    /* ModelProto.graph (field 7) */
    size_t h = 0;
    tmp[h++] = 0x3a;
    size_t l = used;
    do {
        tmp[h++] = (unsigned char)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
        l >>= 7;
    } while (l);
    memmove(buf + h, buf, used);
    memcpy(buf, tmp, h);
    used += h;
    write_bytes(p, buf, used);
    CHECK_STATUS(minima_model_load(p, NULL, &m), MINIMA_EFORMAT);
    CHECK(strstr(minima_last_error(), "nested") != NULL);
    free(buf);
    free(tmp);
}

/* Saved as ONNX and read back: the same graph, the same parameters bit for
 * bit (F64), names and folded flags kept; F32 rounds each value. */
static void round_trip(const minima_model *m, const char *what)
{
    const char *p = tmp_path("round.onnx");
    minima_model *r = NULL;
    CHECK_OK(minima_model_save(m, p, MINIMA_DTYPE_F64));
    CHECK_OK(minima_model_load(p, NULL, &r));
    if (!r) return;
    char a[512], b[512];
    minima_arch_format(m, a, sizeof a);
    minima_arch_format(r, b, sizeof b);
    CHECK_MSG(!strcmp(a, b), "%s: arch %s came back as %s", what, a, b);
    CHECK(r->n_params == m->n_params && r->loss == m->loss);
    if (r->n_params == m->n_params)
        CHECK_MSG(memcmp(r->theta, m->theta, m->n_params * sizeof *m->theta) == 0,
                  "%s: parameters changed through ONNX", what);
    for (int i = 0; i < m->n_nodes && i < r->n_nodes; i++) {
        CHECK(r->nodes[i].folded_batchnorm == m->nodes[i].folded_batchnorm);
        if (m->nodes[i].n_weight && m->nodes[i].name[0])
            CHECK_MSG(!strcmp(r->nodes[i].name, m->nodes[i].name), "%s: node %d '%s' came back as '%s'",
                      what, i, m->nodes[i].name, r->nodes[i].name);
    }
    minima_model_free(r);
    r = NULL;
    CHECK_OK(minima_model_save(m, p, MINIMA_DTYPE_F32));
    CHECK_OK(minima_model_load(p, NULL, &r));
    if (r && r->n_params == m->n_params) {
        int same = 1;
        for (size_t k = 0; k < m->n_params; k++) same &= r->theta[k] == (double)(float)m->theta[k];
        CHECK_MSG(same, "%s: F32 is not each value rounded to float", what);
    }
    minima_model_free(r);
}

static void writing(void)
{
    static const char *const names[] = {"lenet", "bn_fold", "bn_preserve", "residual", "mlp",
                                        "strided_f64", "avgpad", "matmul", "zeropad", "gemm_attrs", "nested"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char file[64];
        snprintf(file, sizeof file, "onnx/%s.onnx", names[i]);
        minima_model *m = NULL;
        CHECK_OK(minima_model_load(harness_fixture(file), NULL, &m));
        if (!m) continue;
        /* new parameters (as a rescaling or training would give): written and read exactly */
        for (size_t k = 0; k < m->n_params; k++) m->theta[k] *= 1.0 + 0.37 * sin((double)k);
        round_trip(m, names[i]);
        minima_model_free(m);
    }
    /* a graph minima built, every kind */
    minima_model *g = NULL;
    CHECK_OK(minima_arch_parse("3x7x7:conv4k3p1g1,lrelu0.2,res(conv4k3p1d1,relu,conv4k1),maxpool2s1,"
                               "avgpool3s2p1,conv6k2g2nb,tanh,gap,identity,5,relu,3",
                               1, MINIMA_ACT_RELU, 0, &g));
    if (g) {
        minima_model_init(g, 7);
        g->loss = MINIMA_LOSS_MSE;
        CHECK_OK(minima_model_set_meta(g, "note", "kept"));
        round_trip(g, "built graph");
        minima_model *r = NULL;
        CHECK_OK(minima_model_load(tmp_path("round.onnx"), NULL, &r));
        if (r) {
            CHECK(r->loss == MINIMA_LOSS_MSE);
            CHECK(minima_model_get_meta(r, "note") && !strcmp(minima_model_get_meta(r, "note"), "kept"));
            /* the same function on some inputs */
            size_t d = minima_model_n_inputs(g), k = (size_t)minima_model_n_outputs(g);
            double x[3 * 147], y1[3 * 3], y2[3 * 3];
            for (size_t q = 0; q < 3 * d; q++) x[q] = cos(0.7 * (double)q);
            CHECK_OK(minima_reference_forward(g, NULL, x, 3, y1));
            CHECK_OK(minima_reference_forward(r, NULL, x, 3, y2));
            CHECK(harness_vec_reldiff(y1, y2, 3 * k, 1e-300) <= 1e-6);   /* F32 last written */
        }
        minima_model_free(r);
        minima_model_free(g);
    }
    /* an MLP (the paper's setting) */
    CHECK_OK(minima_arch_parse("5-7-3", 1, MINIMA_ACT_RELU, 0, &g));
    if (g) {
        minima_model_init(g, 3);
        round_trip(g, "mlp 5-7-3");
        minima_model_free(g);
    }
}

int main(void)
{
    if (!minima_onnx_available()) {
        /* a build without protobuf-c refuses, naming the packages */
        minima_model *m = NULL;
        CHECK_STATUS(minima_model_load(harness_fixture("onnx/lenet.onnx"), NULL, &m), MINIMA_EUNSUPPORTED);
        CHECK(strstr(minima_last_error(), "libprotobuf-c-dev") != NULL);
        printf("test_onnx: built without ONNX support; only the refusal checked\n");
        return harness_report();
    }
    RUN(fixtures_match_pytorch);
    RUN(batchnorm_exports_agree);
    RUN(hessian_matches_pytorch);
    RUN(refusals);
    RUN(damaged_files);
    RUN(writing);
    return harness_report();
}
