/* test_safetensors.c — models in and out of safetensors files: round trips,
 * the PyTorch fixtures, metadata, natural sort, a battery of corrupt files,
 * and saves that fail without touching what was there. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/model.h"
#include "minima/safetensors.h"

/* ---- helpers ------------------------------------------------------------ */

static char *path_in_tmp(const char *name)
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

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(1); }
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* A safetensors file from a header text and raw data (little-endian host). */
static size_t build_file(unsigned char *out, size_t cap, const char *header, const void *data,
                         size_t dlen)
{
    size_t h = strlen(header), hp = (h + 7) / 8 * 8;
    if (8 + hp + dlen > cap) { fprintf(stderr, "build_file: buffer too small\n"); exit(1); }
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(((uint64_t)hp >> (8 * i)) & 0xff);
    memcpy(out + 8, header, h);
    memset(out + 8 + h, ' ', hp - h);
    if (dlen) memcpy(out + 8 + hp, data, dlen);
    return 8 + hp + dlen;
}

/* Loads `bytes` written to tmp/name and expects `want`, with a message that
 * names the file and contains `substr`. */
static void expect_load_fail(int line, const char *name, const void *bytes, size_t len,
                             minima_status want, const char *substr)
{
    const char *path = path_in_tmp(name);
    write_bytes(path, bytes, len);
    minima_model *m = (minima_model *)1;
    minima_clear_error();
    minima_status st = minima_model_load(path, NULL, &m);
    const char *msg = minima_last_error();
    harness_checks++;
    if (st != want)
        harness_fail(__FILE__, line, "%s: status %s (%s), expected %s", name, minima_strerror(st),
                     msg, minima_strerror(want));
    harness_checks++;
    if (m != NULL) harness_fail(__FILE__, line, "%s: *out not NULL after failure", name);
    harness_checks++;
    if (!strstr(msg, path) || (substr && !strstr(msg, substr)))
        harness_fail(__FILE__, line, "%s: message '%s' does not name the file and '%s'", name, msg,
                     substr ? substr : "");
    if (st == MINIMA_OK) minima_model_free(m);
}
#define EXPECT_FAIL(name, bytes, len, want, substr) \
    expect_load_fail(__LINE__, name, bytes, len, want, substr)

static void expect_header_fail(int line, const char *name, const char *header, const void *data,
                               size_t dlen, minima_status want, const char *substr)
{
    static unsigned char buf[1 << 16];
    size_t n = build_file(buf, sizeof buf, header, data, dlen);
    expect_load_fail(line, name, buf, n, want, substr);
}
#define EXPECT_HEADER_FAIL(name, header, data, dlen, want, substr) \
    expect_header_fail(__LINE__, name, header, data, dlen, want, substr)

static minima_status load_header(const char *name, const char *header, const void *data, size_t dlen,
                                 const minima_load_options *opts, minima_model **m)
{
    static unsigned char buf[1 << 16];
    size_t n = build_file(buf, sizeof buf, header, data, dlen);
    const char *path = path_in_tmp(name);
    write_bytes(path, buf, n);
    return minima_model_load(path, opts, m);
}

static int count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

static minima_model *make_model(int n_layers, const int *widths, int bias, uint64_t seed)
{
    minima_model *m = NULL;
    CHECK_OK(minima_model_create(&m, n_layers, widths, bias, MINIMA_ACT_RELU));
    if (m) minima_model_init(m, seed);
    return m;
}

/* ---- tests -------------------------------------------------------------- */

static void test_natural_sort(void)
{
    CHECK(minima_natural_compare("2", "10") < 0);
    CHECK(minima_natural_compare("10", "2") > 0);
    CHECK(minima_natural_compare("fc2", "fc10") < 0);
    CHECK(minima_natural_compare("layers.0", "layers.1") < 0);
    CHECK(minima_natural_compare("layers.9.lin", "layers.10.lin") < 0);
    CHECK(minima_natural_compare("a", "b") < 0);
    CHECK(minima_natural_compare("fc", "fc1") < 0);
    CHECK(minima_natural_compare("x", "x") == 0);
    CHECK(minima_natural_compare("01", "1") != 0);
    CHECK(minima_natural_compare("007", "8") < 0);
    CHECK(minima_natural_compare("net.4", "net.04") == -minima_natural_compare("net.04", "net.4"));
    CHECK(minima_natural_compare("99999999999999999999", "100000000000000000000") < 0);
}

static void test_roundtrip_f64(void)
{
    int w[] = {4, 7, 5, 2};
    minima_model *m = make_model(3, w, 1, 42), *r = NULL;
    if (!m) return;
    minima_model_set_activation(m, MINIMA_ACT_LEAKY_RELU, 0.2);
    m->loss = MINIMA_LOSS_MSE;
    m->theta[3] = -0.0;
    m->theta[5] = 1e-310;                              /* subnormal */
    CHECK_OK(minima_model_set_meta(m, "trained_by", "someone \"quoted\"\n"));
    CHECK_OK(minima_model_set_meta(m, "epochs", "12"));
    CHECK_OK(minima_model_set_meta(m, "arch", "stale"));   /* recomputed on save */
    const char *path = path_in_tmp("rt64.safetensors");
    CHECK_OK(minima_model_save(m, path, MINIMA_DTYPE_F64));
    CHECK_OK(minima_model_load(path, NULL, &r));
    if (!r) { minima_model_free(m); return; }
    CHECK(r->n_layers == 3 && r->has_bias == 1 && r->n_params == m->n_params);
    for (int k = 0; k <= 3; k++) CHECK(r->widths[k] == w[k]);
    for (int k = 0; k < 3; k++) CHECK(!strcmp(r->layer_names[k], m->layer_names[k]));
    CHECK(memcmp(r->theta, m->theta, m->n_params * sizeof *m->theta) == 0);
    CHECK(r->activation == MINIMA_ACT_LEAKY_RELU);
    CHECK(r->leaky_slope == 0.2);
    CHECK(r->loss == MINIMA_LOSS_MSE);
    const char *v = minima_model_get_meta(r, "trained_by");
    CHECK(v && !strcmp(v, "someone \"quoted\"\n"));
    v = minima_model_get_meta(r, "epochs");
    CHECK(v && !strcmp(v, "12"));
    CHECK(minima_model_get_meta(r, "format") == NULL);
    CHECK(minima_model_get_meta(r, "activation") == NULL);
    /* the header is padded to a multiple of 8 bytes and records the arch */
    size_t len;
    unsigned char *b = read_bytes(path, &len);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = (h << 8) | b[i];
    CHECK(h % 8 == 0);
    CHECK(8 + h + m->n_params * 8 == len);
    char *hdr = malloc(h + 1);
    memcpy(hdr, b + 8, h);
    hdr[h] = '\0';
    CHECK(strstr(hdr, "\"arch\":\"4-7-5-2\"") != NULL);
    CHECK(strstr(hdr, "\"format\":\"pt\"") != NULL);
    CHECK(strstr(hdr, "\"2.weight\"") != NULL && strstr(hdr, "\"4.bias\"") != NULL);
    free(hdr);
    free(b);
    /* saved again: the same bytes */
    const char *path2 = path_in_tmp("rt64b.safetensors");
    CHECK_OK(minima_model_save(r, path2, MINIMA_DTYPE_F64));
    size_t len2;
    unsigned char *b1 = read_bytes(path, &len), *b2 = read_bytes(path2, &len2);
    CHECK(len == len2 && memcmp(b1, b2, len) == 0);
    free(b1);
    free(b2);
    minima_model_free(r);
    minima_model_free(m);

    /* without biases, and a single layer with the empty name (nn.Linear) */
    int w2[] = {3, 2};
    m = make_model(1, w2, 0, 7);
    minima_free(m->layer_names[0]);
    m->layer_names[0] = minima_strdup("");
    path = path_in_tmp("single.safetensors");
    CHECK_OK(minima_model_save(m, path, MINIMA_DTYPE_F64));
    r = NULL;
    CHECK_OK(minima_model_load(path, NULL, &r));
    if (r) {
        CHECK(r->n_layers == 1 && !r->has_bias && r->widths[0] == 3 && r->widths[1] == 2);
        CHECK(!strcmp(r->layer_names[0], ""));
        CHECK(memcmp(r->theta, m->theta, m->n_params * sizeof *m->theta) == 0);
        minima_model_free(r);
    }
    minima_model_free(m);
}

static void test_roundtrip_f32(void)
{
    int w[] = {6, 5, 3};
    minima_model *m = make_model(2, w, 1, 3), *r = NULL;
    m->theta[0] = 1.0 + 1e-12;
    m->theta[1] = 3.4e38;
    m->theta[2] = 1e-45;                      /* rounds to the float subnormal 2^-149 */
    const char *path = path_in_tmp("rt32.safetensors");
    CHECK_OK(minima_model_save(m, path, MINIMA_DTYPE_F32));
    CHECK_OK(minima_model_load(path, NULL, &r));
    if (!r) { minima_model_free(m); return; }
    int bad = 0;
    for (size_t i = 0; i < m->n_params; i++) bad += r->theta[i] != (double)(float)m->theta[i];
    CHECK(bad == 0);
    CHECK(r->theta[0] == 1.0);
    size_t len;
    unsigned char *b = read_bytes(path, &len);
    CHECK(strstr((char *)b + 8, "\"F32\"") != NULL);
    free(b);
    minima_model_free(r);
    /* a finite value beyond float range cannot be saved as F32 */
    m->theta[4] = 1e300;
    CHECK_STATUS(minima_model_save(m, path_in_tmp("range.safetensors"), MINIMA_DTYPE_F32), MINIMA_ERANGE);
    CHECK(access(path_in_tmp("range.safetensors"), F_OK) != 0);
    CHECK_STATUS(minima_model_save(m, path_in_tmp("x.safetensors"), MINIMA_DTYPE_F16), MINIMA_EUNSUPPORTED);
    minima_model_free(m);
}

static cJSON *load_expected(void)
{
    size_t len;
    unsigned char *b = read_bytes(harness_fixture("torch_mlp_expected.json"), &len);
    CHECK(b != NULL);
    if (!b) return NULL;
    b[len] = '\0';
    cJSON *j = cJSON_Parse((char *)b);
    free(b);
    CHECK(j != NULL);
    return j;
}

static void check_fixture(const char *file, const char *params_key, cJSON *exp)
{
    minima_model *m = NULL;
    CHECK_OK(minima_model_load(harness_fixture(file), NULL, &m));
    if (!m) return;
    CHECK(m->n_layers == 3 && m->has_bias);
    CHECK(m->widths[0] == 5 && m->widths[1] == 8 && m->widths[2] == 6 && m->widths[3] == 3);
    CHECK(!strcmp(m->layer_names[0], "0") && !strcmp(m->layer_names[1], "2") &&
          !strcmp(m->layer_names[2], "4"));
    CHECK(m->activation == MINIMA_ACT_RELU && m->loss == MINIMA_LOSS_CE);
    CHECK(m->n_meta == 0);
    const cJSON *np = cJSON_GetObjectItem(exp, "n_params");
    CHECK(np && (size_t)np->valuedouble == m->n_params);
    const cJSON *p = cJSON_GetObjectItem(exp, params_key);
    CHECK(cJSON_GetArraySize(p) == (int)m->n_params);
    size_t i = 0;
    int bad = 0;
    for (const cJSON *v = p ? p->child : NULL; v && i < m->n_params; v = v->next, i++)
        bad += v->valuedouble != m->theta[i];
    CHECK_MSG(bad == 0, "%s: %d parameters differ from PyTorch's %s", file, bad, params_key);
    minima_model_free(m);
}

static void test_torch_fixtures(void)
{
    cJSON *exp = load_expected();
    if (!exp) return;
    check_fixture("torch_mlp_f64.safetensors", "params_f64", exp);
    check_fixture("torch_mlp_f32.safetensors", "params_f32", exp);
    cJSON_Delete(exp);
}

static void test_metadata_from_file(void)
{
    double d[2] = {1.5, -2.5};
    minima_model *m = NULL;
    CHECK_OK(load_header("meta.st", "{\"__metadata__\":{\"activation\":\"tanh\",\"loss\":\"mse\","
                         "\"dataset\":\"fashion-mnist\",\"format\":\"pt\"},"
                         "\"w.weight\":{\"dtype\":\"F64\",\"shape\":[1,2],\"data_offsets\":[0,16]}}",
                         d, 16, NULL, &m));
    if (!m) return;
    CHECK(m->activation == MINIMA_ACT_TANH && m->loss == MINIMA_LOSS_MSE);
    CHECK(m->n_meta == 1 && !strcmp(minima_model_get_meta(m, "dataset"), "fashion-mnist"));
    CHECK(!strcmp(m->layer_names[0], "w") && m->theta[0] == 1.5 && m->theta[1] == -2.5);
    minima_model_free(m);
    CHECK_STATUS(load_header("meta2.st", "{\"__metadata__\":{\"activation\":\"gelu\"},"
                             "\"w.weight\":{\"dtype\":\"F64\",\"shape\":[1,2],\"data_offsets\":[0,16]}}",
                             d, 16, NULL, &m), MINIMA_EFORMAT);
    CHECK(strstr(minima_last_error(), "gelu") != NULL);
    CHECK_STATUS(load_header("meta3.st", "{\"__metadata__\":{\"activation\":\"leaky_relu\","
                             "\"leaky_slope\":\"1.5\"},"
                             "\"w.weight\":{\"dtype\":\"F64\",\"shape\":[1,2],\"data_offsets\":[0,16]}}",
                             d, 16, NULL, &m), MINIMA_EFORMAT);
    CHECK(strstr(minima_last_error(), "leaky_slope") != NULL);
}

static void test_natural_order_in_file(void)
{
    /* fc1 [4,3], fc2 [5,4], fc10 [2,5]: chains only in natural order */
    double d[12 + 20 + 10];
    for (int i = 0; i < 42; i++) d[i] = i;
    minima_model *m = NULL;
    CHECK_OK(load_header("natural.st", "{"
        "\"fc10.weight\":{\"dtype\":\"F64\",\"shape\":[2,5],\"data_offsets\":[256,336]},"
        "\"fc2.weight\":{\"dtype\":\"F64\",\"shape\":[5,4],\"data_offsets\":[96,256]},"
        "\"fc1.weight\":{\"dtype\":\"F64\",\"shape\":[4,3],\"data_offsets\":[0,96]}}",
        d, sizeof d, NULL, &m));
    if (!m) return;
    CHECK(m->n_layers == 3 && !m->has_bias);
    CHECK(!strcmp(m->layer_names[0], "fc1") && !strcmp(m->layer_names[1], "fc2") &&
          !strcmp(m->layer_names[2], "fc10"));
    CHECK(m->widths[0] == 3 && m->widths[1] == 4 && m->widths[2] == 5 && m->widths[3] == 2);
    CHECK(m->theta[0] == 0 && m->theta[12] == 12 && m->theta[41] == 41);
    minima_model_free(m);
}

static void test_half_types_and_gaps(void)
{
    /* F16: 1, -2, 65504, 2^-24 (subnormal); BF16: 1, -3.140625; an 8-byte gap */
    unsigned char d[8 + 8 + 4];
    uint16_t h[4] = {0x3c00, 0xc000, 0x7bff, 0x0001}, bf[2] = {0x3f80, 0xc049};
    memcpy(d, h, 8);
    memset(d + 8, 0xee, 8);
    memcpy(d + 16, bf, 4);
    minima_model *m = NULL;
    CHECK_OK(load_header("half.st", "{"
        "\"a.weight\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
        "\"b.weight\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[16,20]}}",
        d, sizeof d, NULL, &m));
    if (!m) return;
    CHECK(m->theta[0] == 1.0 && m->theta[1] == -2.0 && m->theta[2] == 65504.0 &&
          m->theta[3] == ldexp(1.0, -24));
    CHECK(m->theta[4] == 1.0 && m->theta[5] == -3.140625);
    minima_model_free(m);
}

static void test_truncations(void)
{
    size_t len;
    unsigned char *b = read_bytes(harness_fixture("torch_mlp_f64.safetensors"), &len);
    CHECK(b != NULL);
    if (!b) return;
    int bad = 0;
    /* every prefix of a valid file: inside the length, the header, the data */
    for (size_t cut = 0; cut < len; cut++) {
        const char *path = path_in_tmp("cut.st");
        write_bytes(path, b, cut);
        minima_model *m = NULL;
        minima_status st = minima_model_load(path, NULL, &m);
        if (st != MINIMA_EFORMAT || m || !strstr(minima_last_error(), path)) {
            if (bad++ < 5)
                fprintf(stderr, "cut at %zu: %s: %s\n", cut, minima_strerror(st), minima_last_error());
        }
        minima_model_free(m);
    }
    CHECK_MSG(bad == 0, "%d truncated files were not rejected with a format error", bad);
    EXPECT_FAIL("cut4.st", b, 4, MINIMA_EFORMAT, "8-byte header length");
    EXPECT_FAIL("cut20.st", b, 20, MINIMA_EFORMAT, "only 12 bytes follow");
    EXPECT_FAIL("cutdata.st", b, len - 3, MINIMA_EFORMAT, "past the end of the data section");
    /* header length larger than the file, and absurdly large */
    unsigned char *c = malloc(len);
    memcpy(c, b, len);
    c[0] = (unsigned char)(len & 0xff);
    c[1] = (unsigned char)(len >> 8);
    EXPECT_FAIL("hlen.st", c, len, MINIMA_EFORMAT, "header length");
    memset(c, 0xff, 8);
    EXPECT_FAIL("hlen2.st", c, len, MINIMA_EFORMAT, "header length");
    /* a flipped byte inside the data is not detectable; inside the JSON it is */
    memcpy(c, b, len);
    c[8] = '[';
    EXPECT_FAIL("bracket.st", c, len, MINIMA_EFORMAT, "must be a JSON object");
    free(c);
    free(b);
    EXPECT_FAIL("empty.st", "", 0, MINIMA_EFORMAT, "0 bytes");
}

static void test_bad_headers(void)
{
    double d[64];
    for (int i = 0; i < 64; i++) d[i] = 0.25 * i;
    const size_t D = sizeof d;
    EXPECT_HEADER_FAIL("malformed.st", "{\"a.weight\":{\"dtype\":\"F64\",", d, D, MINIMA_EFORMAT, "ends before");
    EXPECT_HEADER_FAIL("malformed2.st", "{\"a.weight\":{\"dtype\" \"F64\"}}", d, D, MINIMA_EFORMAT,
                       "malformed near file offset 29");
    EXPECT_HEADER_FAIL("trailing.st", "{} x", d, D, MINIMA_EFORMAT, "after the JSON header");
    EXPECT_HEADER_FAIL("notensor.st", "{}", d, D, MINIMA_EFORMAT, "no tensors");
    EXPECT_HEADER_FAIL("onlymeta.st", "{\"__metadata__\":{\"a\":\"b\"}}", d, D, MINIMA_EFORMAT, "no tensors");
    EXPECT_HEADER_FAIL("utf8.st", "{\"a\xff.weight\":{}}", d, D, MINIMA_EFORMAT, "UTF-8");
    EXPECT_HEADER_FAIL("dtype.st",
        "{\"a.weight\":{\"dtype\":\"F128\",\"shape\":[2,2],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_EFORMAT, "unknown dtype \"F128\"");
    EXPECT_HEADER_FAIL("dtype_i64.st",
        "{\"a.weight\":{\"dtype\":\"I64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_EUNSUPPORTED, "I64");
    EXPECT_HEADER_FAIL("dtype_num.st",
        "{\"a.weight\":{\"dtype\":64,\"shape\":[2,2],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_EFORMAT, "\"dtype\" must be a string");
    EXPECT_HEADER_FAIL("pastend.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[512,544]}}",
        d, D, MINIMA_EFORMAT, "past the end");
    EXPECT_HEADER_FAIL("backwards.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[0,2],\"data_offsets\":[32,0]}}",
        d, D, MINIMA_EFORMAT, "end before begin");
    EXPECT_HEADER_FAIL("size.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,24]}}",
        d, D, MINIMA_EFORMAT, "needs 32 bytes");
    EXPECT_HEADER_FAIL("size32.st",
        "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_EFORMAT, "needs 16 bytes");
    EXPECT_HEADER_FAIL("overlap.st", "{"
        "\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"b.weight\":{\"dtype\":\"F64\",\"shape\":[1,2],\"data_offsets\":[24,40]}}",
        d, D, MINIMA_EFORMAT, "overlap");
    EXPECT_HEADER_FAIL("same.st", "{"
        "\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"b.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_EFORMAT, "overlap");
    EXPECT_HEADER_FAIL("offsets.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0]}}",
        d, D, MINIMA_EFORMAT, "data_offsets");
    EXPECT_HEADER_FAIL("negoff.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[-8,24]}}",
        d, D, MINIMA_EFORMAT, "data_offsets");
    EXPECT_HEADER_FAIL("negshape.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[-2,2],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_EFORMAT, "shape entry 0");
    EXPECT_HEADER_FAIL("fracshape.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,1.5],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_EFORMAT, "shape entry 1");
    EXPECT_HEADER_FAIL("overflow.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_EFORMAT, "overflow");
    EXPECT_HEADER_FAIL("overflow2.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967295],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_EFORMAT, "overflow");
    EXPECT_HEADER_FAIL("dup.st", "{"
        "\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[32,64]}}",
        d, D, MINIMA_EFORMAT, "appears twice");
    EXPECT_HEADER_FAIL("metanum.st", "{\"__metadata__\":{\"epochs\":12},"
        "\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_EFORMAT, "epochs");
    EXPECT_HEADER_FAIL("chain.st", "{"
        "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[3,2],\"data_offsets\":[0,48]},"
        "\"2.weight\":{\"dtype\":\"F64\",\"shape\":[2,4],\"data_offsets\":[48,112]}}",
        d, D, MINIMA_ESHAPE, "do not chain in any order of the layers; in name order, '0.weight' is [3, 2] (out = 3) but the next layer's "
        "'2.weight' is [2, 4] (in = 4)");
    EXPECT_HEADER_FAIL("nobiasweight.st", "{"
        "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"0.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[32,48]},"
        "\"1.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[48,64]}}",
        d, D, MINIMA_EFORMAT, "'1.bias' is a bias without a weight");
    EXPECT_HEADER_FAIL("somebias.st", "{"
        "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"0.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[32,48]},"
        "\"1.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[48,80]}}",
        d, D, MINIMA_EFORMAT, "every layer or on none");
    EXPECT_HEADER_FAIL("biasshape.st", "{"
        "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"0.bias\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[32,56]}}",
        d, D, MINIMA_ESHAPE, "expected [2]");
    EXPECT_HEADER_FAIL("weight1d.st",
        "{\"ln.weight\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[0,32]}}",
        d, D, MINIMA_ESHAPE, "must be 2-D");
    EXPECT_HEADER_FAIL("zerowidth.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[0,4],\"data_offsets\":[0,0]}}",
        d, D, MINIMA_ESHAPE, "between 1");
    EXPECT_HEADER_FAIL("unknown.st", "{"
        "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"emb.scale\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[32,48]}}",
        d, D, MINIMA_EFORMAT, "'emb.scale' [2] is not the weight or bias");
    /* ... which ignore_unknown skips */
    minima_load_options o = minima_load_default_options();
    o.ignore_unknown = 1;
    minima_model *m = NULL;
    CHECK_OK(load_header("unknown_ok.st", "{"
        "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"emb.scale\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[32,48]}}",
        d, D, &o, &m));
    CHECK(m && m->n_layers == 1 && m->theta[3] == 0.75);
    minima_model_free(m);
    /* ... also when their dtype is not a floating-point one */
    m = NULL;
    CHECK_OK(load_header("unknown_i64.st", "{"
        "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"step\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[32,40]}}",
        d, D, &o, &m));
    CHECK(m && m->n_layers == 1);
    minima_model_free(m);
    EXPECT_HEADER_FAIL("bias_i32.st", "{"
        "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"0.bias\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[32,40]}}",
        d, D, MINIMA_EUNSUPPORTED, "'0.bias' has dtype I32");
    /* unknown keys in an entry are ignored (as the reference implementation does) */
    m = NULL;
    CHECK_OK(load_header("extrakey.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32],\"x\":1}}",
        d, D, NULL, &m));
    minima_model_free(m);
    /* a small header limit */
    o = minima_load_default_options();
    o.max_header_bytes = 16;
    m = NULL;
    CHECK_STATUS(load_header("limit.st",
        "{\"a.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]}}",
        d, D, &o, &m), MINIMA_EFORMAT);
    CHECK(strstr(minima_last_error(), "limit") != NULL);
}

static void test_layer_names(void)
{
    double d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_HEADER_FAIL("twonames.st", "{"
        "\"weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\".weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[32,64]}}",
        d, sizeof d, MINIMA_EFORMAT, "both the weight of a layer");
    /* long names, and names that are prefixes of each other */
    char name[3000], hdr[16000];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(hdr, sizeof hdr, "{"
             "\"%s.weight\":{\"dtype\":\"F64\",\"shape\":[2,1],\"data_offsets\":[0,16]},"
             "\"%s.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[16,32]},"
             "\"%s1.weight\":{\"dtype\":\"F64\",\"shape\":[1,2],\"data_offsets\":[32,48]},"
             "\"%s1.bias\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[48,56]}}",
             name, name, name, name);
    minima_model *m = NULL;
    /* [2,1] and [1,2] chain both ways round: the data's width settles it */
    minima_load_options lo = minima_load_default_options();
    lo.expected_inputs = 1;
    CHECK_OK(load_header("long.st", hdr, d, 56, &lo, &m));
    if (!m) return;
    CHECK(m->n_layers == 2 && m->has_bias && m->widths[0] == 1 && m->widths[2] == 1);
    CHECK(strlen(m->layer_names[0]) == sizeof name - 1 && strlen(m->layer_names[1]) == sizeof name);
    CHECK(m->theta[2] == 3 && m->theta[3] == 4 && m->theta[6] == 7);
    minima_model_free(m);
}

/* Random damage to a valid file, mostly to the numbers of its header: every
 * load either succeeds or fails with a message naming the file, and never
 * crashes (the sanitizer build checks memory). */
static void test_mutations(void)
{
    size_t len;
    unsigned char *b = read_bytes(harness_fixture("torch_mlp_f64.safetensors"), &len);
    CHECK(b != NULL);
    if (!b) return;
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--) h = (h << 8) | b[i];
    unsigned char *c = malloc(len);
    uint64_t state = 12345;
    int bad = 0, loaded = 0;
    const char *path = path_in_tmp("mutant.st");
    for (int it = 0; it < 3000; it++) {
        memcpy(c, b, len);
        size_t n = len;
        int edits = 1 + (int)(state % 3);
        for (int e = 0; e < edits; e++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            uint64_t r = state >> 17;
            size_t pos = 8 + (size_t)(r % h);
            if (r % 4 == 0) {                       /* any byte of the header */
                c[pos] = (unsigned char)(r >> 20);
            } else {                                /* a digit: shapes and offsets */
                while (pos < 8 + h && !(c[pos] >= '0' && c[pos] <= '9')) pos++;
                if (pos < 8 + h) c[pos] = (unsigned char)('0' + (r >> 24) % 10);
            }
            if (r % 97 == 0) n = (size_t)(r >> 8) % len;          /* and truncation */
        }
        write_bytes(path, c, n);
        minima_model *m = NULL;
        minima_status st = minima_model_load(path, NULL, &m);
        if (st == MINIMA_OK) {
            loaded++;
            if (!m) bad++;
        } else if (m || !strstr(minima_last_error(), path)) {
            if (bad++ < 5) fprintf(stderr, "mutant %d: %s: %s\n", it, minima_strerror(st), minima_last_error());
        }
        minima_model_free(m);
    }
    CHECK_MSG(bad == 0, "%d damaged files gave no proper error", bad);
    CHECK(loaded < 3000);
    free(c);
    free(b);
}

static void test_nonfinite(void)
{
    double d[6] = {1, 2, 3, 4, 5, 6};
    d[3] = NAN;
    const char *hdr = "{"
        "\"0.weight\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[0,32]},"
        "\"0.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[32,48]}}";
    EXPECT_HEADER_FAIL("nan.st", hdr, d, sizeof d, MINIMA_ENONFINITE, "'0.weight' entry [1, 1]");
    d[3] = 4;
    d[5] = -INFINITY;
    EXPECT_HEADER_FAIL("inf.st", hdr, d, sizeof d, MINIMA_ENONFINITE, "'0.bias' entry [1]");
    minima_load_options o = minima_load_default_options();
    o.allow_nonfinite = 1;
    minima_model *m = NULL;
    CHECK_OK(load_header("inf_ok.st", hdr, d, sizeof d, &o, &m));
    CHECK(m && isinf(m->theta[5]));
    minima_model_free(m);
}

static void test_io_errors(void)
{
    minima_model *m = NULL;
    CHECK_STATUS(minima_model_load(path_in_tmp("does-not-exist.st"), NULL, &m), MINIMA_EIO);
    CHECK(strstr(minima_last_error(), "does-not-exist.st") != NULL);
    CHECK_STATUS(minima_model_load(harness_tmpdir(), NULL, &m), MINIMA_EIO);
    CHECK(strstr(minima_last_error(), "not a regular file") != NULL);
    CHECK_STATUS(minima_model_load(NULL, NULL, &m), MINIMA_EINVAL);
}

/* A failed save leaves an existing file untouched and no temporary behind. */
static void test_failed_save_keeps_file(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/savedir", harness_tmpdir());
    mkdir(dir, 0755);
    char path[800];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int w[] = {3, 4, 2};
    minima_model *a = make_model(2, w, 1, 1), *b = make_model(2, w, 1, 2);
    CHECK_OK(minima_model_save(a, path, MINIMA_DTYPE_F64));
    size_t len0, len;
    unsigned char *orig = read_bytes(path, &len0);
    /* every allocation of the save fails in turn */
    int n_fail = 0;
    for (long n = 0; n < 1000; n++) {
        minima_alloc_fail_after(n);
        minima_status st = minima_model_save(b, path, MINIMA_DTYPE_F64);
        minima_alloc_fail_after(-1);
        if (st == MINIMA_OK) break;
        n_fail++;
        CHECK_STATUS(st, MINIMA_ENOMEM);
        unsigned char *now = read_bytes(path, &len);
        CHECK(now && len == len0 && memcmp(now, orig, len) == 0);
        free(now);
        CHECK(count_dir_entries(dir) == 1);
    }
    CHECK(n_fail >= 2);
    /* the last attempt succeeded: the file is now b */
    minima_model *r = NULL;
    CHECK_OK(minima_model_load(path, NULL, &r));
    CHECK(r && memcmp(r->theta, b->theta, b->n_params * sizeof *b->theta) == 0);
    minima_model_free(r);
    CHECK(count_dir_entries(dir) == 1);
    /* a directory that does not exist */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/no/such/dir/model.safetensors", harness_tmpdir());
    CHECK_STATUS(minima_model_save(a, bad, MINIMA_DTYPE_F64), MINIMA_EIO);
    CHECK(strstr(minima_last_error(), bad) != NULL);
    /* a comma in a name would break the recorded order "a,b,c" */
    minima_free(b->layer_names[0]);
    b->layer_names[0] = minima_strdup("a,b");
    CHECK_STATUS(minima_model_save(b, path, MINIMA_DTYPE_F64), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "comma") != NULL);
    minima_free(b->layer_names[0]);
    b->layer_names[0] = minima_strdup("0");
    CHECK_OK(minima_model_set_meta(b, "bad", "caf\xe9"));        /* Latin-1, not UTF-8 */
    CHECK_STATUS(minima_model_save(b, path, MINIMA_DTYPE_F64), MINIMA_EINVAL);
    CHECK(strstr(minima_last_error(), "UTF-8") != NULL);
    CHECK_OK(minima_model_set_meta(b, "bad", "caf\xc3\xa9"));    /* UTF-8 */
    CHECK_OK(minima_model_save(b, path_in_tmp("utf8ok.st"), MINIMA_DTYPE_F64));
    unsigned char *now = read_bytes(path, &len);
    minima_model_free(a);
    a = NULL;
    CHECK_OK(minima_model_load(path, NULL, &a));
    CHECK(a && memcmp(a->theta, b->theta, b->n_params * sizeof *b->theta) == 0);
    free(now);
    free(orig);
    minima_model_free(a);
    minima_model_free(b);
    /* a directory without write permission (skipped as root, who may write anywhere) */
    if (geteuid() != 0) {
        char ro[700];
        snprintf(ro, sizeof ro, "%s/readonly", harness_tmpdir());
        mkdir(ro, 0555);
        snprintf(path, sizeof path, "%s/m.safetensors", ro);
        minima_model *c = make_model(2, w, 1, 3);
        CHECK_STATUS(minima_model_save(c, path, MINIMA_DTYPE_F64), MINIMA_EIO);
        minima_model_free(c);
    }
}

/* Every allocation of a load fails in turn: ENOMEM each time, no leak (ASan). */
static void test_load_alloc_failures(void)
{
    int n_fail = 0;
    for (long n = 0; n < 1000; n++) {
        minima_model *m = NULL;
        minima_alloc_fail_after(n);
        minima_status st = minima_model_load(harness_fixture("torch_mlp_f64.safetensors"), NULL, &m);
        minima_alloc_fail_after(-1);
        if (st == MINIMA_OK) { minima_model_free(m); break; }
        n_fail++;
        CHECK_STATUS(st, MINIMA_ENOMEM);
        CHECK(m == NULL);
    }
    CHECK(n_fail >= 5);
}

int main(void)
{
    RUN(test_natural_sort);
    RUN(test_roundtrip_f64);
    RUN(test_roundtrip_f32);
    RUN(test_torch_fixtures);
    RUN(test_metadata_from_file);
    RUN(test_natural_order_in_file);
    RUN(test_half_types_and_gaps);
    RUN(test_truncations);
    RUN(test_bad_headers);
    RUN(test_layer_names);
    RUN(test_mutations);
    RUN(test_nonfinite);
    RUN(test_io_errors);
    RUN(test_failed_save_keeps_file);
    RUN(test_load_alloc_failures);
    return harness_report();
}
