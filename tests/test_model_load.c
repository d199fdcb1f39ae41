/* test_model_load.c — how a safetensors file becomes a model: the order of
 * the layers (recorded, given, numbered, or settled by the shapes; refused
 * when several orders chain), where the activation came from, and files
 * that are not an MLP of Linear layers (BatchNorm, torch.save). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/safetensors.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct { const char *name; int out, in; } layer_spec;

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 512, "%s/%s", harness_tmpdir(), name);
    return p;
}

static void write_bytes(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, len, f) != len) { perror(path); exit(1); }
    fclose(f);
}

/* Writes tmp/file: F64 weights (no biases) for the layers, entry j of the
 * whole data section holding the value j, and __metadata__ `meta` (a JSON
 * object text, or NULL for none). Returns the path. */
static const char *write_model(const char *file, const char *meta, const layer_spec *l, int n)
{
    static char header[8192];
    static unsigned char bytes[1 << 16];
    size_t used = 0, off = 0;
    used += (size_t)snprintf(header + used, sizeof header - used, "{");
    if (meta) used += (size_t)snprintf(header + used, sizeof header - used, "\"__metadata__\":%s,", meta);
    for (int k = 0; k < n; k++) {
        size_t len = (size_t)l[k].out * (size_t)l[k].in * 8;
        used += (size_t)snprintf(header + used, sizeof header - used,
                                 "%s\"%s.weight\":{\"dtype\":\"F64\",\"shape\":[%d,%d],"
                                 "\"data_offsets\":[%zu,%zu]}", k ? "," : "", l[k].name, l[k].out,
                                 l[k].in, off, off + len);
        off += len;
    }
    used += (size_t)snprintf(header + used, sizeof header - used, "}");
    size_t hp = (used + 7) / 8 * 8;
    if (8 + hp + off > sizeof bytes) { fprintf(stderr, "write_model: too big\n"); exit(1); }
    for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)((hp >> (8 * i)) & 0xff);
    memcpy(bytes + 8, header, used);
    memset(bytes + 8 + used, ' ', hp - used);
    for (size_t j = 0; j < off / 8; j++) {
        double v = (double)j;
        memcpy(bytes + 8 + hp + 8 * j, &v, 8);
    }
    const char *path = tmp_path(file);
    write_bytes(path, bytes, 8 + hp + off);
    return path;
}

/* The model's layer names joined by commas. */
static const char *names_of(const minima_model *m)
{
    static char buf[512];
    buf[0] = '\0';
    for (int k = 0; m && k < m->n_layers; k++) {
        if (k) strcat(buf, ",");
        strcat(buf, m->layer_names[k]);
    }
    return buf;
}

/* Loads and expects success with the given order and order source. */
static void expect_order(int line, const char *path, const minima_load_options *o, const char *want,
                         minima_provenance src)
{
    minima_model *m = NULL;
    minima_status st = minima_model_load(path, o, &m);
    harness_checks++;
    if (st != MINIMA_OK) {
        harness_fail(__FILE__, line, "%s: %s", path, minima_last_error());
        return;
    }
    harness_checks++;
    if (strcmp(names_of(m), want) || m->order_source != src)
        harness_fail(__FILE__, line, "%s: order %s (%s), expected %s (%s)", path, names_of(m),
                     minima_provenance_name(m->order_source), want, minima_provenance_name(src));
    minima_model_free(m);
}
#define EXPECT_ORDER(path, o, want, src) expect_order(__LINE__, path, o, want, src)

/* Loads and expects failure `want` with every substring in subs (NULL-ended). */
static void expect_fail(int line, const char *path, const minima_load_options *o, minima_status want,
                        const char *const *subs)
{
    minima_model *m = (minima_model *)1;
    minima_clear_error();
    minima_status st = minima_model_load(path, o, &m);
    const char *msg = minima_last_error();
    harness_checks++;
    if (st != want || m != NULL)
        harness_fail(__FILE__, line, "%s: status %s (%s), expected %s", path, minima_strerror(st), msg,
                     minima_strerror(want));
    for (int i = 0; subs[i]; i++) {
        harness_checks++;
        if (!strstr(msg, subs[i])) harness_fail(__FILE__, line, "message '%s' lacks '%s'", msg, subs[i]);
    }
    if (st == MINIMA_OK && m != (minima_model *)1) minima_model_free(m);
}
#define EXPECT_FAIL(path, o, want, ...) \
    do { const char *const subs_[] = {__VA_ARGS__, NULL}; expect_fail(__LINE__, path, o, want, subs_); } while (0)

/* ---- layer order -------------------------------------------------------- */

/* The review's models: names whose sort order is not the module order. */
static void test_order_by_shapes(void)
{
    const layer_spec mlp[] = {{"embed", 8, 4}, {"mlp_up", 16, 8}, {"mlp_down", 8, 16}, {"out", 3, 8}};
    const char *p = write_model("mlp.st", NULL, mlp, 4);
    EXPECT_ORDER(p, NULL, "embed,mlp_up,mlp_down,out", MINIMA_FROM_SHAPES);
    minima_model *m = NULL;
    CHECK_OK(minima_model_load(p, NULL, &m));
    if (m) {
        /* theta follows the run order: mlp_up's weight (file offset 32 doubles) comes second */
        CHECK(m->widths[0] == 4 && m->widths[1] == 8 && m->widths[2] == 16 && m->widths[3] == 8 &&
              m->widths[4] == 3);
        CHECK(minima_model_weight(m, 1)[0] == 32.0 && minima_model_weight(m, 2)[0] == 160.0);
        minima_model_free(m);
    }
    const layer_spec tv[] = {{"features.0", 8, 4}, {"features.3", 6, 8}, {"classifier", 3, 6}};
    EXPECT_ORDER(write_model("tv.st", NULL, tv, 3), NULL, "features.0,features.3,classifier",
                 MINIMA_FROM_SHAPES);
    const layer_spec ioh[] = {{"input", 8, 4}, {"hidden", 8, 8}, {"output", 3, 8}};
    EXPECT_ORDER(write_model("ioh.st", NULL, ioh, 3), NULL, "input,hidden,output", MINIMA_FROM_SHAPES);
    /* an nn.Sequential of square layers: the index alone decides */
    const layer_spec seq[] = {{"4", 4, 4}, {"10", 3, 4}, {"0", 4, 4}, {"2", 4, 4}};
    EXPECT_ORDER(write_model("seq.st", NULL, seq, 4), NULL, "0,2,4,10", MINIMA_FROM_INDEX);
    /* a numbered family keeps its order even where the shapes would allow another */
    const layer_spec fam[] = {{"fc2", 4, 4}, {"fc1", 4, 4}, {"head", 2, 4}};
    EXPECT_ORDER(write_model("fam.st", NULL, fam, 3), NULL, "fc1,fc2,head", MINIMA_FROM_SHAPES);
}

static void test_order_ambiguous(void)
{
    /* a and b are both [4, 4]: a,b,c and b,a,c both chain */
    const layer_spec amb[] = {{"a", 4, 4}, {"b", 4, 4}, {"c", 2, 4}};
    const char *p = write_model("amb.st", NULL, amb, 3);
    EXPECT_FAIL(p, NULL, MINIMA_EINVAL, "2 orders", "a,b,c", "b,a,c", "--order");
    /* the data's width does not help here, but the caller's order does */
    minima_load_options o = minima_load_default_options();
    o.expected_inputs = 4;
    EXPECT_FAIL(p, &o, MINIMA_EINVAL, "2 orders");
    o.order = "b,a,c";
    EXPECT_ORDER(p, &o, "b,a,c", MINIMA_FROM_OPTION);
    o.order = "b,a";
    EXPECT_FAIL(p, &o, MINIMA_EINVAL, "leaves out layer 'c'");
    o.order = "b,b,c";
    EXPECT_FAIL(p, &o, MINIMA_EINVAL, "names layer 'b' twice");
    o.order = "b,x,a,c";
    EXPECT_FAIL(p, &o, MINIMA_EINVAL, "names 'x', which is not a layer");
    o.order = "c,a,b";
    EXPECT_FAIL(p, &o, MINIMA_ESHAPE, "do not chain", "'c.weight'");
    /* many orders: at least six, five listed */
    const layer_spec many[] = {{"a", 4, 4}, {"b", 4, 4}, {"c", 4, 4}, {"d", 4, 4}};
    EXPECT_FAIL(write_model("many.st", NULL, many, 4), NULL, MINIMA_EINVAL, "at least 6 orders", "...");
    /* the data's width picks one of two orders */
    const layer_spec two[] = {{"p", 2, 1}, {"q", 1, 2}};
    const char *tp = write_model("two.st", NULL, two, 2);
    EXPECT_FAIL(tp, NULL, MINIMA_EINVAL, "p,q", "q,p");
    o = minima_load_default_options();
    o.expected_inputs = 2;
    EXPECT_ORDER(tp, &o, "q,p", MINIMA_FROM_SHAPES);
    /* no order takes the data's width: loads as the shapes allow, for the caller to report */
    const layer_spec one[] = {{"0", 3, 5}, {"2", 2, 3}};
    o.expected_inputs = 7;
    EXPECT_ORDER(write_model("one.st", NULL, one, 2), &o, "0,2", MINIMA_FROM_INDEX);
    /* nothing chains */
    const layer_spec none[] = {{"x", 3, 5}, {"y", 2, 4}};
    EXPECT_FAIL(write_model("none.st", NULL, none, 2), NULL, MINIMA_ESHAPE, "do not chain in any order",
                "'x.weight'", "'y.weight'");
    /* widths that cannot pair up: refused at once */
    layer_spec big[15];
    char names[15][8];
    for (int i = 0; i < 13; i++) {
        snprintf(names[i], sizeof names[i], "s%c", 'a' + i);
        big[i] = (layer_spec){names[i], 4, 4};
    }
    big[13] = (layer_spec){"odd", 3, 7};
    EXPECT_FAIL(write_model("odd.st", NULL, big, 14), NULL, MINIMA_ESHAPE, "do not chain in any order");
    /* widths that pair up, but the numbering forbids the only way through
     * (g1 needs g2's output, must come before it and cannot start: the
     * data have 4 features): a long search that ends with a message */
    big[13] = (layer_spec){"g1", 4, 5};
    big[14] = (layer_spec){"g2", 5, 4};
    o = minima_load_default_options();
    o.expected_inputs = 4;
    EXPECT_FAIL(write_model("big.st", NULL, big, 15), &o, MINIMA_EINVAL, "too long", "--order");
}

static void test_order_recorded(void)
{
    /* a file minima wrote: the recorded order wins over names and shapes */
    const layer_spec amb[] = {{"a", 4, 4}, {"b", 4, 4}, {"c", 2, 4}};
    const char *p = write_model("rec.st", "{\"layers\":\"b,a,c\"}", amb, 3);
    EXPECT_ORDER(p, NULL, "b,a,c", MINIMA_FROM_FILE);
    minima_load_options o = minima_load_default_options();
    o.order = "a,b,c";                                  /* ... and the caller's over the file's */
    EXPECT_ORDER(p, &o, "a,b,c", MINIMA_FROM_OPTION);
    EXPECT_FAIL(write_model("rec_bad.st", "{\"layers\":\"b,a\"}", amb, 3), NULL, MINIMA_EFORMAT,
                "__metadata__ \"layers\"", "leaves out layer 'c'");
    EXPECT_FAIL(write_model("rec_chain.st", "{\"layers\":\"c,a,b\"}", amb, 3), NULL, MINIMA_ESHAPE,
                "do not chain", "the file records");
    /* save -> load keeps an order that is not the name order, and drops no metadata */
    minima_model *m = NULL;
    o.order = "b,a,c";
    CHECK_OK(minima_model_load(p, &o, &m));
    if (!m) return;
    CHECK_OK(minima_model_set_meta(m, "epochs", "3"));
    const char *q = tmp_path("resaved.st");
    CHECK_OK(minima_model_save(m, q, MINIMA_DTYPE_F64));
    minima_model *r = NULL;
    CHECK_OK(minima_model_load(q, NULL, &r));
    if (r) {
        CHECK(!strcmp(names_of(r), "b,a,c") && r->order_source == MINIMA_FROM_FILE);
        CHECK(memcmp(r->theta, m->theta, m->n_params * sizeof *m->theta) == 0);
        CHECK(minima_model_get_meta(r, "layers") == NULL);       /* consumed, not kept */
        CHECK(minima_model_get_meta(r, "epochs") && !strcmp(minima_model_get_meta(r, "epochs"), "3"));
        minima_model_free(r);
    }
    minima_model_free(m);
}

/* ---- activation --------------------------------------------------------- */

static void test_activation_source(void)
{
    const layer_spec l[] = {{"0", 3, 2}, {"2", 2, 3}};
    minima_model *m = NULL;
    CHECK_OK(minima_model_load(write_model("noact.st", NULL, l, 2), NULL, &m));
    if (m) {
        CHECK(m->activation == MINIMA_ACT_RELU && m->activation_source == MINIMA_FROM_ASSUMED);
        /* saving does not turn the assumption into a recorded fact */
        const char *q = tmp_path("noact_saved.st");
        CHECK_OK(minima_model_save(m, q, MINIMA_DTYPE_F64));
        minima_model *r = NULL;
        CHECK_OK(minima_model_load(q, NULL, &r));
        CHECK(r && r->activation_source == MINIMA_FROM_ASSUMED);
        minima_model_free(r);
        minima_model_free(m);
    }
    m = NULL;
    const char *tanh_path = write_model("tanh.st", "{\"activation\":\"tanh\"}", l, 2);
    CHECK_OK(minima_model_load(tanh_path, NULL, &m));
    CHECK(m && m->activation == MINIMA_ACT_TANH && m->activation_source == MINIMA_FROM_FILE);
    minima_model_free(m);
    minima_load_options o = minima_load_default_options();
    o.activation_set = 1;
    o.activation = MINIMA_ACT_LEAKY_RELU;
    o.leaky_slope = 0.2;
    m = NULL;
    CHECK_OK(minima_model_load(tanh_path, &o, &m));
    CHECK(m && m->activation == MINIMA_ACT_LEAKY_RELU && m->leaky_slope == 0.2 &&
          m->activation_source == MINIMA_FROM_OPTION);
    if (m) {
        /* a given activation is a known one: it is written */
        const char *q = tmp_path("given_saved.st");
        CHECK_OK(minima_model_save(m, q, MINIMA_DTYPE_F64));
        minima_model *r = NULL;
        CHECK_OK(minima_model_load(q, NULL, &r));
        CHECK(r && r->activation == MINIMA_ACT_LEAKY_RELU && r->leaky_slope == 0.2 &&
              r->activation_source == MINIMA_FROM_FILE);
        minima_model_free(r);
        minima_model_free(m);
    }
    o.leaky_slope = 1.5;
    EXPECT_FAIL(tanh_path, &o, MINIMA_EINVAL, "slope");
    /* copies keep the provenance */
    m = NULL;
    CHECK_OK(minima_model_load(tanh_path, NULL, &m));
    minima_model *c = NULL;
    if (m) CHECK_OK(minima_model_copy(m, &c));
    CHECK(c && c->activation_source == MINIMA_FROM_FILE && c->order_source == MINIMA_FROM_INDEX);
    minima_model_free(c);
    minima_model_free(m);
    CHECK(!strcmp(minima_provenance_name(MINIMA_FROM_ASSUMED), "assumed"));
}

/* ---- not an MLP of Linear layers ----------------------------------------- */

static void test_not_an_mlp(void)
{
    /* BatchNorm: 1-D weight and bias plus running statistics */
    static const char bn_header[] = "{"
        "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"1.weight\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[32,48]},"
        "\"1.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[48,64]},"
        "\"1.running_mean\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[64,80]},"
        "\"1.running_var\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[80,96]},"
        "\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[96,104]}}";
    unsigned char bytes[1024];
    size_t h = strlen(bn_header), hp = (h + 7) / 8 * 8;
    for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)((hp >> (8 * i)) & 0xff);
    memcpy(bytes + 8, bn_header, h);
    memset(bytes + 8 + h, ' ', hp - h);
    memset(bytes + 8 + hp, 0, 104);
    const char *p = tmp_path("bn.st");
    write_bytes(p, bytes, 8 + hp + 104);
    EXPECT_FAIL(p, NULL, MINIMA_EUNSUPPORTED, "BatchNorm is not supported in a safetensors MLP",
                "fold it", "ONNX");
    minima_load_options o = minima_load_default_options();
    o.ignore_unknown = 1;                               /* skipping it would change the function */
    EXPECT_FAIL(p, &o, MINIMA_EUNSUPPORTED, "BatchNorm");
    /* torch.save: a zip archive, and a raw pickle (protocol 2) */
    static const unsigned char zip[] = "PK\x03\x04\x14\x00\x00\x00\x00\x00archive/data.pkl";
    p = tmp_path("model_zip.pt");
    write_bytes(p, zip, sizeof zip - 1);
    EXPECT_FAIL(p, NULL, MINIMA_EUNSUPPORTED, "this is a torch.save file", "save with safetensors");
    static const unsigned char pkl[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.";
    p = tmp_path("model_pickle.pt");
    write_bytes(p, pkl, sizeof pkl - 1);
    EXPECT_FAIL(p, NULL, MINIMA_EUNSUPPORTED, "torch.save", "pickle");
    p = tmp_path("tiny.pt");
    write_bytes(p, "\x80\x04", 2);
    EXPECT_FAIL(p, NULL, MINIMA_EUNSUPPORTED, "torch.save");
    /* a real safetensors file whose header length begins with the same bytes (0x280 = 640) */
    char header[641];
    int n = snprintf(header, sizeof header,
                     "{\"0.weight\":{\"dtype\":\"F64\",\"shape\":[1,1],\"data_offsets\":[0,8]}}");
    memset(header + n, ' ', 640 - (size_t)n);
    unsigned char file[8 + 640 + 8] = {0x80, 0x02, 0, 0, 0, 0, 0, 0};
    memcpy(file + 8, header, 640);
    double one = 1.0;
    memcpy(file + 648, &one, 8);
    p = tmp_path("len640.st");
    write_bytes(p, file, sizeof file);
    minima_model *m = NULL;
    CHECK_OK(minima_model_load(p, NULL, &m));
    CHECK(m && m->theta[0] == 1.0);
    minima_model_free(m);
}

int main(void)
{
    RUN(test_order_by_shapes);
    RUN(test_order_ambiguous);
    RUN(test_order_recorded);
    RUN(test_activation_source);
    RUN(test_not_an_mlp);
    return harness_report();
}
