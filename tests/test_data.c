/* test_data.c — data sets, IDX, .npy, CSV, synthetic generators and the
 * Fashion-MNIST locator: round trips, every npy dtype and version, and a
 * battery of bad files that must each give the right status and a message
 * naming the file and the problem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "harness.h"
#include "minima/alloc.h"
#include "minima/data.h"
#include "minima/idx.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/npy.h"
#include "minima/synthetic.h"

/* ---- helpers ---------------------------------------------------------- */

static const char *tmp_path(const char *name)
{
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", harness_tmpdir(), name);
    return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    if (n && fwrite(data, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile f = gzopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    if (n) gzwrite(f, data, (unsigned)n);
    gzclose(f);
}

/* The file's bytes (malloc'd) and length. */
static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) { *n = 0; return NULL; }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = read_all(a, &na), *y = read_all(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static int has(const char *sub) { return strstr(minima_last_error(), sub) != NULL; }

/* expr fails with `want`, and the message holds each of up to three
 * substrings (NULL: unchecked). */
#define EXPECT_ERR(expr, want, s1, s2, s3) do { minima_clear_error(); \
    CHECK_STATUS(expr, want); \
    const char *e1_ = (s1), *e2_ = (s2), *e3_ = (s3); \
    CHECK_MSG((!e1_ || has(e1_)) && (!e2_ || has(e2_)) && (!e3_ || has(e3_)), \
              "message '%s' lacks '%s' / '%s' / '%s'", minima_last_error(), \
              e1_ ? e1_ : "", e2_ ? e2_ : "", e3_ ? e3_ : ""); } while (0)

static minima_status load(const char *src, const char *labels, size_t subset,
                          minima_dataset **out)
{
    minima_data_options o = minima_data_default_options();
    o.labels_path = labels;
    o.subset = subset;
    return minima_data_load(src, &o, out);
}

/* ---- data sets in memory ---------------------------------------------- */

static void test_dataset(void)
{
    minima_dataset *d = NULL, *s = NULL;
    CHECK_OK(minima_dataset_create(&d, 5, 3, 4, 2));
    CHECK(d->n == 5 && d->d == 3 && d->labels && d->targets && d->n_classes == 4);
    for (int i = 0; i < 15; i++) d->x[i] = i;
    for (int i = 0; i < 5; i++) d->labels[i] = i % 4, d->targets[2 * i] = -i;
    CHECK_OK(minima_dataset_validate(d));
    CHECK_OK(minima_dataset_slice(d, 1, 3, &s));
    CHECK(s->n == 3 && s->x[0] == 3 && s->labels[2] == 3 && s->targets[4] == -3);
    minima_dataset_free(s);
    CHECK_OK(minima_dataset_slice(d, 5, 0, &s));
    CHECK(s->n == 0);
    minima_dataset_free(s);
    EXPECT_ERR(minima_dataset_slice(d, 4, 2, &s), MINIMA_EINVAL, "outside", NULL, NULL);
    EXPECT_ERR(minima_dataset_slice(d, (size_t)-1, 2, &s), MINIMA_EINVAL, "outside", NULL, NULL);
    d->name = minima_strdup("mem");
    d->x[7] = NAN;
    EXPECT_ERR(minima_dataset_validate(d), MINIMA_ENONFINITE, "'mem'", "example 2, column 1",
               "NaN");
    d->x[7] = INFINITY;
    EXPECT_ERR(minima_dataset_validate(d), MINIMA_ENONFINITE, "example 2, column 1", "Inf", NULL);
    d->x[7] = 0;
    d->labels[3] = 4;
    EXPECT_ERR(minima_dataset_validate(d), MINIMA_ERANGE, "example 3", "is 4", "0 to 3");
    d->labels[3] = -1;
    EXPECT_ERR(minima_dataset_validate(d), MINIMA_ERANGE, "example 3", NULL, NULL);
    d->labels[3] = 0;
    d->targets[9] = NAN;
    EXPECT_ERR(minima_dataset_validate(d), MINIMA_ENONFINITE, "target", "example 4, column 1",
               NULL);
    minima_dataset_free(d);
    EXPECT_ERR(minima_dataset_create(&d, 5, 0, 0, 0), MINIMA_EINVAL, "d >= 1", NULL, NULL);
    minima_dataset_free(NULL);
}

/* ---- IDX ---------------------------------------------------------------- */

static void test_idx_roundtrip(void)
{
    static const int types[] = {MINIMA_IDX_U8, MINIMA_IDX_I8, MINIMA_IDX_I16, MINIMA_IDX_I32,
                                MINIMA_IDX_F32, MINIMA_IDX_F64};
    const size_t dims[3] = {3, 2, 2};
    double v[12];
    for (int t = 0; t < 6; t++) {
        int type = types[t];
        for (int i = 0; i < 12; i++) {
            switch (type) {
            case MINIMA_IDX_U8: v[i] = i * 21; break;
            case MINIMA_IDX_I8: v[i] = i * 21 - 127; break;
            case MINIMA_IDX_I16: v[i] = i * 5000 - 30000; break;
            case MINIMA_IDX_I32: v[i] = i * 300000000.0 - 2000000000.0; break;
            case MINIMA_IDX_F32: v[i] = i * 0.375 - 2; break;
            default: v[i] = i * 0.1 - 1e300 * (i == 3); break;
            }
        }
        for (int gz = 0; gz < 2; gz++) {
            const char *a = tmp_path(gz ? "rt.idx.gz" : "rt.idx");
            const char *b = tmp_path(gz ? "rt2.idx.gz" : "rt2.idx");
            CHECK_OK(minima_idx_write(a, type, 3, dims, v, gz));
            minima_idx_array r;
            CHECK_OK(minima_idx_read(a, 0, &r));
            CHECK((int)r.type == type && r.ndims == 3 && r.dims[0] == 3 && r.dims[2] == 2);
            CHECK(r.n_items == 3 && r.item_size == 4 && r.data);
            CHECK_MSG(r.data && memcmp(r.data, v, sizeof v) == 0, "type %d gz %d: values differ",
                      type, gz);
            CHECK_OK(minima_idx_write(b, type, 3, dims, r.data, gz));
            CHECK_MSG(same_file(a, b), "type %d gz %d: rewritten file differs", type, gz);
            minima_idx_array_free(&r);
            CHECK_OK(minima_idx_read(a, 2, &r));
            CHECK(r.n_items == 2 && r.dims[0] == 3 && memcmp(r.data, v, 8 * sizeof *v) == 0);
            minima_idx_array_free(&r);
            if (!gz) {
                size_t n;
                unsigned char *bytes = read_all(a, &n);
                CHECK(n == 16 + 12 * minima_idx_type_size(type));
                CHECK(bytes[0] == 0 && bytes[1] == 0 && bytes[2] == type && bytes[3] == 3);
                CHECK(bytes[7] == 3 && bytes[11] == 2 && bytes[15] == 2);
                free(bytes);
            } else {
                size_t n;
                unsigned char *bytes = read_all(a, &n);
                CHECK(n > 2 && bytes[0] == 0x1f && bytes[1] == 0x8b);
                free(bytes);
            }
        }
    }
    /* values the type cannot hold */
    double bad[12] = {0};
    bad[5] = 256;
    EXPECT_ERR(minima_idx_write(tmp_path("bad.idx"), MINIMA_IDX_U8, 3, dims, bad, 0),
               MINIMA_EINVAL, "index 5", "ubyte", NULL);
    bad[5] = 0.5;
    EXPECT_ERR(minima_idx_write(tmp_path("bad.idx"), MINIMA_IDX_I32, 3, dims, bad, 0),
               MINIMA_EINVAL, "index 5", NULL, NULL);
    FILE *f = fopen(tmp_path("bad.idx"), "rb");
    CHECK(f == NULL);   /* a failed write leaves nothing behind */
    if (f) fclose(f);
}

/* A valid raw IDX file of 5 images of 2x3 ubyte (46 bytes). */
static size_t idx_images(unsigned char *b, int n, int type, int ndims)
{
    unsigned char h[16] = {0, 0, (unsigned char)type, (unsigned char)ndims,
                           0, 0, 0, (unsigned char)n, 0, 0, 0, 2, 0, 0, 0, 3};
    size_t hl = 4 + 4 * (size_t)ndims;
    memcpy(b, h, hl);
    size_t m = (size_t)n * (ndims == 3 ? 6 : 1) * minima_idx_type_size(type);
    for (size_t i = 0; i < m; i++) b[hl + i] = (unsigned char)(i * 7 % 256);
    return hl + m;
}

static void test_idx_bad(void)
{
    unsigned char good[64], b[256];
    size_t n = idx_images(good, 5, MINIMA_IDX_U8, 3);
    CHECK(n == 46);
    minima_idx_array r;
    const char *p = tmp_path("bad-images-idx3-ubyte");
    const char *pg = tmp_path("bad-images-idx3-ubyte.gz");
    /* truncated at every length, raw and gzip-compressed */
    for (size_t len = 0; len < n; len++) {
        const char *section = len < 4 ? "header" : len < 16 ? "dimensions" : "data";
        write_bytes(p, good, len);
        EXPECT_ERR(minima_idx_read(p, 0, &r), MINIMA_EFORMAT, p, "truncated", section);
        CHECK(r.data == NULL);
        write_gz(pg, good, len);
        EXPECT_ERR(minima_idx_read(pg, 0, &r), MINIMA_EFORMAT, pg, "truncated", section);
        if (len >= 16) {
            char want[64];
            snprintf(want, sizeof want, "declares 46 bytes in all, the file holds %zu", len);
            CHECK_MSG(has(want), "'%s' lacks '%s'", minima_last_error(), want);
        }
    }
    /* a gzip stream cut short */
    write_gz(pg, good, n);
    size_t gn;
    unsigned char *gzb = read_all(pg, &gn);
    for (size_t len = 0; len < gn; len += 3) {
        write_bytes(pg, gzb, len);
        minima_status s = minima_idx_read(pg, 0, &r);
        CHECK_MSG(s == MINIMA_EFORMAT && has(pg), "cut gzip at %zu: %s", len, minima_last_error());
    }
    /* a corrupt gzip stream (bytes flipped in the deflate data or the CRC) */
    for (size_t at = 10; at < gn; at++) {
        memcpy(b, gzb, gn);
        b[at] ^= 0x55;
        write_bytes(pg, b, gn);
        minima_status s = minima_idx_read(pg, 0, &r);
        CHECK_MSG(s != MINIMA_OK ? has(pg) : 1, "flip at %zu: %s", at, minima_last_error());
        if (s == MINIMA_OK) minima_idx_array_free(&r);
    }
    free(gzb);
    /* trailing bytes */
    memcpy(b, good, n);
    b[n] = 1;
    write_bytes(p, b, n + 1);
    EXPECT_ERR(minima_idx_read(p, 0, &r), MINIMA_EFORMAT, p, "1 trailing bytes", "holds 47");
    write_gz(pg, b, n + 1);
    EXPECT_ERR(minima_idx_read(pg, 0, &r), MINIMA_EFORMAT, pg, "1 trailing bytes", NULL);
    /* wrong magic */
    memcpy(b, good, n);
    b[0] = 0x01;
    write_bytes(p, b, n);
    EXPECT_ERR(minima_idx_read(p, 0, &r), MINIMA_EFORMAT, p, "magic", "found 01 00");
    /* wrong type code */
    memcpy(b, good, n);
    b[2] = 0x07;
    write_bytes(p, b, n);
    EXPECT_ERR(minima_idx_read(p, 0, &r), MINIMA_EFORMAT, p, "type code 0x07", "offset 2");
    /* bad number of dimensions */
    b[2] = 0x08;
    b[3] = 0;
    write_bytes(p, b, n);
    EXPECT_ERR(minima_idx_read(p, 0, &r), MINIMA_EFORMAT, p, "dimensions at offset 3 is 0", NULL);
    b[3] = 9;
    write_bytes(p, b, n);
    EXPECT_ERR(minima_idx_read(p, 0, &r), MINIMA_EFORMAT, p, "is 9", "1 to 8");
    /* a zero dimension */
    memcpy(b, good, n);
    b[11] = 0;
    write_bytes(p, b, n);
    EXPECT_ERR(minima_idx_read(p, 0, &r), MINIMA_EFORMAT, p, "dimension 1 (offset 8) is 0", NULL);
    /* a header that lies: more images than the file holds, absurd sizes */
    memcpy(b, good, n);
    b[6] = 0x03;   /* 5 -> 773 images */
    b[7] = 0x05;
    write_bytes(p, b, n);
    EXPECT_ERR(minima_idx_read(p, 0, &r), MINIMA_EFORMAT, p, "declares 4654 bytes", "holds 46");
    write_gz(pg, b, n);
    EXPECT_ERR(minima_idx_read(pg, 0, &r), MINIMA_EFORMAT, pg, "declares 4654 bytes", "holds 46");
    memset(b + 4, 0xFF, 12);
    write_bytes(p, b, n);
    EXPECT_ERR(minima_idx_read(p, 0, &r), MINIMA_EFORMAT, p, "corrupt header", NULL);
    write_gz(pg, b, n);
    EXPECT_ERR(minima_idx_read(pg, 0, &r), MINIMA_EFORMAT, pg, "corrupt header", NULL);
    /* a header declaring 2^31 bytes of data in a small gzip file: an error,
     * not a 16 GiB allocation */
    memcpy(b, good, n);
    b[4] = 0x01;   /* 16777221 images of 6 bytes: ~100 MB */
    write_gz(pg, b, n);
    EXPECT_ERR(minima_idx_read(pg, 0, &r), MINIMA_EFORMAT, pg, "truncated", "holds 46");
    /* every header byte replaced by a few values, raw and gzipped: an error
     * naming the file or a valid read, never a crash or a huge allocation */
    for (size_t at = 0; at < 16; at++) {
        static const unsigned char vals[] = {0, 1, 2, 3, 8, 0x0E, 0x7F, 0x80, 0xFF};
        for (size_t k = 0; k < sizeof vals; k++) {
            memcpy(b, good, n);
            b[at] = vals[k];
            for (int gz = 0; gz < 2; gz++) {
                const char *q = gz ? pg : p;
                if (gz) write_gz(q, b, n);
                else write_bytes(q, b, n);
                minima_clear_error();
                minima_status s = minima_idx_read(q, 0, &r);
                CHECK_MSG(s == MINIMA_OK || ((s == MINIMA_EFORMAT || (s == MINIMA_ERANGE && has("data-size limit"))) && has(q)), "byte %zu = %d: %s",
                          at, vals[k], minima_last_error());
                if (s == MINIMA_OK) {
                    CHECK(r.data && r.n_items * r.item_size * minima_idx_type_size(r.type) == 30);
                    minima_idx_array_free(&r);
                }
            }
        }
    }
    /* missing file, directory */
    EXPECT_ERR(minima_idx_read(tmp_path("nope.idx"), 0, &r), MINIMA_EIO, "nope.idx", "cannot open",
               NULL);
    minima_status s = minima_idx_read(harness_tmpdir(), 0, &r);
    CHECK_MSG(s == MINIMA_EIO || s == MINIMA_EFORMAT, "directory: %s", minima_last_error());
    /* an .npy file given as IDX */
    write_bytes(p, "\x93NUMPY\x01\x00", 8);
    EXPECT_ERR(minima_idx_read(p, 0, &r), MINIMA_EFORMAT, "magic", "NumPy", NULL);
}

static void test_idx_dataset(void)
{
    unsigned char img[64], lab[64];
    size_t ni = idx_images(img, 5, MINIMA_IDX_U8, 3);
    unsigned char lh[8] = {0, 0, 8, 1, 0, 0, 0, 5};
    memcpy(lab, lh, 8);
    const unsigned char labels[5] = {3, 0, 6, 1, 2};
    memcpy(lab + 8, labels, 5);
    const char *ip = tmp_path("img.idx"), *lp = tmp_path("lab.idx.gz");
    write_bytes(ip, img, ni);
    write_gz(lp, lab, 13);
    minima_dataset *d = NULL;
    CHECK_OK(load(ip, lp, 0, &d));
    if (d) {
        CHECK(d->n == 5 && d->d == 6 && d->n_classes == 7 && d->d_target == 0);
        CHECK(d->x[8] == img[16 + 8] / 255.0 && d->labels[2] == 6 && !strcmp(d->name, ip));
        minima_dataset_free(d);
    }
    CHECK_OK(load(ip, lp, 2, &d));
    if (d) {
        CHECK(d->n == 2 && d->n_classes == 7 && d->labels[1] == 0);   /* classes from the whole file */
        minima_dataset_free(d);
    }
    CHECK_OK(load(ip, lp, 99, &d));
    if (d) CHECK(d->n == 5);
    minima_dataset_free(d);
    /* labels required, counts must agree */
    EXPECT_ERR(load(ip, NULL, 0, &d), MINIMA_EINVAL, ip, "labels file", NULL);
    CHECK(d == NULL);
    lab[7] = 4;
    write_bytes(lp, lab, 12);
    EXPECT_ERR(load(ip, lp, 0, &d), MINIMA_ESHAPE, lp, "holds 4 labels", "holds 5 examples");
    /* labels out of range: negative (signed type), absurd, or 2-D */
    unsigned char l16[8 + 10] = {0, 0, MINIMA_IDX_I16, 1, 0, 0, 0, 5, 0, 1, 0, 2, 0xFF, 0xFF, 0, 1, 0, 0};
    write_bytes(lp, l16, sizeof l16);
    EXPECT_ERR(load(ip, lp, 0, &d), MINIMA_ERANGE, lp, "entry 2 is -1", "expected an integer class in 0..65535");
    size_t l5[1] = {5};
    CHECK_OK(minima_idx_write(lp, MINIMA_IDX_I32, 1, l5, (double[]){1, 2, 70000, 0, 0}, 1));
    EXPECT_ERR(load(ip, lp, 0, &d), MINIMA_ERANGE, lp, "entry 2 is 70000", "0..65535");
    unsigned char l2[8 + 4 + 10] = {0, 0, 8, 2, 0, 0, 0, 5, 0, 0, 0, 2};
    write_bytes(lp, l2, sizeof l2);
    EXPECT_ERR(load(ip, lp, 0, &d), MINIMA_ESHAPE, lp, "one class label per example", "shape (5, 2)");
    /* a labels file of any other name is read as IDX */
    const char *bp = tmp_path("labels.bin");
    write_bytes(bp, lab, 13);
    lab[7] = 5;
    write_bytes(bp, lab, 13);
    CHECK_OK(load(ip, bp, 0, &d));
    if (d) CHECK(d->n == 5 && d->labels[0] == 3);
    minima_dataset_free(d);
    write_bytes(bp, "3\n0\n6\n1\n2\n", 10);
    EXPECT_ERR(load(ip, bp, 0, &d), MINIMA_EFORMAT, bp, "magic", NULL);
    /* float labels in IDX: regression targets */
    double t[5] = {0.5, -1, 2, 3, 4};
    size_t tdim[1] = {5};
    CHECK_OK(minima_idx_write(lp, MINIMA_IDX_F64, 1, tdim, t, 1));
    CHECK_OK(load(ip, lp, 0, &d));
    if (d) CHECK(d->n_classes == 0 && d->d_target == 1 && d->targets[1] == -1 && !d->labels);
    minima_dataset_free(d);
    /* NaN in float images names the file, example and column */
    double x[5 * 6];
    for (int i = 0; i < 30; i++) x[i] = i;
    x[2 * 6 + 1] = NAN;
    size_t xd[3] = {5, 2, 3};
    CHECK_OK(minima_idx_write(ip, MINIMA_IDX_F32, 3, xd, x, 0));
    CHECK_OK(minima_idx_write(lp, MINIMA_IDX_U8, 1, tdim, (double[]){1, 2, 3, 4, 0}, 0));
    EXPECT_ERR(load(ip, lp, 0, &d), MINIMA_ENONFINITE, ip, "example 2, column 1", "NaN");
    CHECK_OK(load(ip, lp, 2, &d));   /* the NaN is past the subset */
    if (d) CHECK(d->n == 2 && d->x[1] == 1);   /* float pixels are not scaled */
    minima_dataset_free(d);
}

/* ---- .npy ------------------------------------------------------------- */

/* A .npy file with the given version, header dict text and data bytes;
 * the header is padded to a multiple of 64 and ends with '\n'. */
static void write_npy_raw(const char *path, int version, const char *dict, const void *data,
                          size_t n)
{
    size_t pre = version == 1 ? 10 : 12, dl = strlen(dict);
    size_t total = pre + dl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = dl + pad + 1;
    unsigned char *b = malloc(pre + hlen + n);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)version;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) b[8 + i] = (unsigned char)(hlen >> (8 * i));
    memcpy(b + pre, dict, dl);
    memset(b + pre + dl, ' ', pad);
    b[pre + hlen - 1] = '\n';
    if (n) memcpy(b + pre + hlen, data, n);
    write_bytes(path, b, pre + hlen + n);
    free(b);
}

static uint16_t to_half(double v)   /* exact for the small test values used */
{
    if (v == 0) return 0;
    uint16_t sign = v < 0 ? 0x8000 : 0;
    v = fabs(v);
    int e;
    double m = frexp(v, &e);   /* v = m 2^e, m in [0.5, 1) */
    return (uint16_t)(sign | (uint16_t)((e + 14) << 10) | (uint16_t)((m * 2 - 1) * 1024));
}

static void encode(char kind, int size, int big, double v, unsigned char *out)
{
    uint64_t u = 0;
    if (kind == 'f' && size == 2) u = to_half(v);
    else if (kind == 'f' && size == 4) {
        float f = (float)v;
        uint32_t w;
        memcpy(&w, &f, 4);
        u = w;
    } else if (kind == 'f') memcpy(&u, &v, 8);
    else u = (uint64_t)(int64_t)v;
    for (int b = 0; b < size; b++)
        out[big ? size - 1 - b : b] = (unsigned char)(u >> (8 * b));
}

static void test_npy_dtypes(void)
{
    static const char *types[] = {"f2", "f4", "f8", "i1", "i2", "i4", "i8",
                                  "u1", "u2", "u4", "u8", "b1"};
    const char *path = tmp_path("dt.npy");
    for (int t = 0; t < 12; t++) {
        char kind = types[t][0];
        int size = types[t][1] - '0';
        double v[6];
        for (int i = 0; i < 6; i++) {
            if (kind == 'f') v[i] = i * 0.75 - 1.5;
            else if (kind == 'b') v[i] = i % 2;
            else if (kind == 'u') v[i] = size == 1 ? i * 50 : size == 8 ? i * 1e15 : i * 1000;
            else v[i] = size == 1 ? i * 50 - 127 : size == 8 ? i * 1e15 - 3e15 : i * 1000 - 2500;
        }
        for (int big = 0; big < 2; big++) {
            if (size == 1 && big) continue;
            unsigned char data[48];
            for (int i = 0; i < 6; i++) encode(kind, size, big, v[i], data + i * size);
            for (int version = 1; version <= 3; version++) {
                char dict[128];
                snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, "
                         "'shape': (3, 2), }", size == 1 ? '|' : big ? '>' : '<', types[t]);
                write_npy_raw(path, version, dict, data, 6 * (size_t)size);
                minima_npy_array a;
                CHECK_OK(minima_npy_read(path, 0, &a));
                CHECK_MSG(a.data && a.ndim == 2 && a.shape[0] == 3 && a.shape[1] == 2 &&
                          a.n_rows == 3 && a.row_size == 2 && a.kind == kind &&
                          a.itemsize == size && a.version == version &&
                          memcmp(a.data, v, sizeof v) == 0,
                          "dtype %s big %d version %d read wrong", types[t], big, version);
                minima_npy_array_free(&a);
            }
        }
    }
    /* '=' is native, a missing byte order too */
    double v3[3] = {1, 2, 3};
    write_npy_raw(path, 1, "{'descr': '=f8', 'fortran_order': False, 'shape': (3,), }", v3, 24);
    minima_npy_array a;
    CHECK_OK(minima_npy_read(path, 0, &a));
    CHECK(a.data && a.data[2] == 3 && a.ndim == 1);
    minima_npy_array_free(&a);
}

static void test_npy_header_variants(void)
{
    static const char *dicts[] = {
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
        "{'descr':'<f8','fortran_order':False,'shape':(2,3)}",
        "{\"shape\": (2, 3), \"descr\": \"<f8\", \"fortran_order\": False}",
        "{ 'fortran_order' : False ,\n 'shape' : ( 2 , 3 , ) ,\t'descr' : '<f8' , }",
        "{'descr': '<f8', 'fortran_order': True, 'shape': (1, 6), }",   /* F order of (1,6) = C */
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 3L), }",
    };
    const char *path = tmp_path("hv.npy");
    double v[6] = {1, 2, 3, 4, 5, 6};
    for (int k = 0; k < 6; k++) {
        write_npy_raw(path, 1 + k % 3, dicts[k], v, sizeof v);
        minima_npy_array a;
        CHECK_OK(minima_npy_read(path, 0, &a));
        CHECK_MSG(a.data && a.ndim == 2 && a.shape[0] * a.shape[1] == 6 &&
                  memcmp(a.data, v, sizeof v) == 0, "header %d", k);
        minima_npy_array_free(&a);
    }
    /* shapes: scalar, 1-D, zero rows, 4-D */
    write_npy_raw(path, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", v, 8);
    minima_npy_array a;
    CHECK_OK(minima_npy_read(path, 0, &a));
    CHECK(a.ndim == 0 && a.n_rows == 1 && a.data[0] == 1);
    minima_npy_array_free(&a);
    write_npy_raw(path, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 4), }", v, 0);
    CHECK_OK(minima_npy_read(path, 0, &a));
    CHECK(a.ndim == 2 && a.n_rows == 0 && a.row_size == 4);
    minima_npy_array_free(&a);
    write_npy_raw(path, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 1, 2, 1), }",
                  v, 48);
    CHECK_OK(minima_npy_read(path, 2, &a));
    CHECK(a.ndim == 4 && a.n_rows == 2 && a.row_size == 2 && a.data[3] == 4);
    minima_npy_array_free(&a);
}

static void test_npy_roundtrip(void)
{
    const char *a = tmp_path("rt.npy"), *b = tmp_path("rt2.npy");
    double v[6] = {1.5, -0.0, 1e-310, 3.141592653589793, -2e300, 7};
    size_t shape[2] = {2, 3};
    CHECK_OK(minima_npy_write(a, 2, shape, v));
    size_t n;
    unsigned char *bytes = read_all(a, &n);
    /* exactly what numpy.save writes for np.zeros((2, 3)) */
    const char *want = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran_order': False, "
                       "'shape': (2, 3), }";
    CHECK(n == 128 + 48 && memcmp(bytes, want, strlen(want)) == 0 && bytes[127] == '\n' &&
          bytes[126] == ' ');
    free(bytes);
    minima_npy_array r;
    CHECK_OK(minima_npy_read(a, 0, &r));
    CHECK(r.data && memcmp(r.data, v, sizeof v) == 0 && !strcmp(r.descr, "<f8"));
    CHECK_OK(minima_npy_write(b, r.ndim, r.shape, r.data));
    CHECK(same_file(a, b));
    minima_npy_array_free(&r);
    int64_t iv[4] = {0, -5, 9007199254740992LL, 3};
    size_t s1[1] = {4};
    CHECK_OK(minima_npy_write_int64(a, 1, s1, iv));
    bytes = read_all(a, &n);
    CHECK(n == 128 + 32 && strstr((char *)bytes + 10, "'shape': (4,), }") &&
          strstr((char *)bytes + 10, "'<i8'"));
    free(bytes);
    CHECK_OK(minima_npy_read(a, 0, &r));
    CHECK(r.data && r.ndim == 1 && r.data[1] == -5 && r.data[2] == 9007199254740992.0);
    minima_npy_array_free(&r);
    CHECK_OK(minima_npy_write(a, 0, NULL, v));   /* a scalar: shape () */
    CHECK_OK(minima_npy_read(a, 0, &r));
    CHECK(r.ndim == 0 && r.data[0] == 1.5);
    minima_npy_array_free(&r);
}

static void test_npy_bad(void)
{
    const char *p = tmp_path("bad.npy");
    double v[6] = {1, 2, 3, 4, 5, 6};
    write_npy_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", v,
                  sizeof v);
    size_t n;
    unsigned char *good = read_all(p, &n);
    CHECK(n == 128 + 48);
    minima_npy_array a;
    /* truncated at every length */
    for (size_t len = 0; len < n; len++) {
        const char *section = len < 8 ? "magic" : len < 10 ? "header length" : len < 128 ?
                              "in the header" : "data";
        write_bytes(p, good, len);
        EXPECT_ERR(minima_npy_read(p, 0, &a), MINIMA_EFORMAT, p, "truncated", section);
        CHECK(a.data == NULL);
    }
    /* trailing bytes */
    unsigned char b[512];
    memcpy(b, good, n);
    b[n] = 0;
    write_bytes(p, b, n + 1);
    EXPECT_ERR(minima_npy_read(p, 0, &a), MINIMA_EFORMAT, p, "1 trailing bytes", "holds 177");
    /* wrong magic, unknown version, absurd header length */
    memcpy(b, good, n);
    b[1] = 'X';
    write_bytes(p, b, n);
    EXPECT_ERR(minima_npy_read(p, 0, &a), MINIMA_EFORMAT, p, "wrong magic", "found 93 58");
    write_bytes(p, "PK\x03\x04zzzzzzzz", 12);
    EXPECT_ERR(minima_npy_read(p, 0, &a), MINIMA_EFORMAT, p, "magic", ".npz");
    memcpy(b, good, n);
    b[6] = 4;
    write_bytes(p, b, n);
    EXPECT_ERR(minima_npy_read(p, 0, &a), MINIMA_EUNSUPPORTED, p, "version 4.0", NULL);
    b[6] = 2;
    b[10] = 0xFF;
    b[11] = 0x7F;
    write_bytes(p, b, n);
    EXPECT_ERR(minima_npy_read(p, 0, &a), MINIMA_EFORMAT, p, "header length", "at most");
    /* headers that are wrong */
    struct { const char *dict; minima_status want; const char *msg; } cases[] = {
        {"{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", MINIMA_EUNSUPPORTED,
         "fortran_order is True"},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }", MINIMA_EUNSUPPORTED,
         "object array"},
        {"{'descr': '<c16', 'fortran_order': False, 'shape': (2, 3), }", MINIMA_EUNSUPPORTED,
         "complex"},
        {"{'descr': '<U8', 'fortran_order': False, 'shape': (2, 3), }", MINIMA_EUNSUPPORTED,
         "strings"},
        {"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2, 3), }",
         MINIMA_EUNSUPPORTED, "structured"},
        {"{'descr': '<f3', 'fortran_order': False, 'shape': (2, 3), }", MINIMA_EFORMAT,
         "unknown dtype '<f3'"},
        {"{'descr': '|f8', 'fortran_order': False, 'shape': (2, 3), }", MINIMA_EFORMAT,
         "byte order '|'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", MINIMA_EFORMAT,
         "unexpected key 'x'"},
        {"{'descr': '<f8', 'descr': '<f8', 'shape': (2, 3), }", MINIMA_EFORMAT, "twice"},
        {"{'descr': '<f8', 'shape': (2, 3), }", MINIMA_EFORMAT, "lacks the key 'fortran_order'"},
        {"{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2, 3), }", MINIMA_EFORMAT,
         "True or False"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': [2, 3], }", MINIMA_EFORMAT,
         "a tuple"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3), }", MINIMA_EFORMAT,
         "non-negative integer"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2 3), }", MINIMA_EFORMAT,
         "',' or ')'"},
        {"{'descr': '<f8, 'fortran_order': False, 'shape': (2, 3), }", MINIMA_EFORMAT,
         "expected"},
        {"{'descr': '<f8' 'fortran_order': False, 'shape': (2, 3), }", MINIMA_EFORMAT,
         "',' or '}'"},
        {"['descr', '<f8']", MINIMA_EFORMAT, "'{'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), } junk", MINIMA_EFORMAT,
         "only spaces"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3)", MINIMA_EFORMAT,
         "end of the header"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 4), }", MINIMA_EFORMAT,
         "declares 192 bytes"},    /* the shape lies: 8 values declared, 6 present */
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", MINIMA_EFORMAT,
         "16 trailing bytes"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999), }",
         MINIMA_EFORMAT, "corrupt header"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (999999999999999999999, 1), }",
         MINIMA_EFORMAT, "below 2^38"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1), }",
         MINIMA_EUNSUPPORTED, "more than 16 dimensions"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_npy_raw(p, 1, cases[k].dict, v, sizeof v);
        minima_clear_error();
        minima_status s = minima_npy_read(p, 0, &a);
        CHECK_MSG(s == cases[k].want && has(p) && has(cases[k].msg),
                  "case %zu (%s): got %s: %s", k, cases[k].dict, minima_strerror(s),
                  minima_last_error());
        if (s == MINIMA_OK) minima_npy_array_free(&a);
    }
    /* every byte of the preamble and header replaced by a few values:
     * an error naming the file or a valid read, never a crash */
    for (size_t at = 0; at < 128; at++) {
        static const unsigned char vals[] = {0, ' ', '\'', '(', ')', ',', '9', '}', 0xFF};
        for (size_t k = 0; k < sizeof vals; k++) {
            memcpy(b, good, n);
            b[at] = vals[k];
            write_bytes(p, b, n);
            minima_clear_error();
            minima_status s = minima_npy_read(p, 0, &a);
            CHECK_MSG(s == MINIMA_OK || has(p), "byte %zu = %d: %s", at, vals[k],
                      minima_last_error());
            if (s == MINIMA_OK) {
                CHECK(a.data != NULL);
                minima_npy_array_free(&a);
            }
        }
    }
    /* a 64-bit integer float64 cannot hold */
    unsigned char big[16] = {0};
    big[15] = 0x10;   /* 2^60 */
    write_npy_raw(p, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", big, 16);
    EXPECT_ERR(minima_npy_read(p, 0, &a), MINIMA_EUNSUPPORTED, p, "value 1", "is 1152921504606846976, beyond 2^53");
    EXPECT_ERR(minima_npy_read(tmp_path("missing.npy"), 0, &a), MINIMA_EIO, "missing.npy",
               "cannot open", NULL);
    free(good);
}

static void test_npy_dataset(void)
{
    const char *xp = tmp_path("x.npy"), *yp = tmp_path("y.npy");
    unsigned char px[5 * 2 * 3];
    for (int i = 0; i < 30; i++) px[i] = (unsigned char)(i * 8);
    write_npy_raw(xp, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (5, 2, 3), }", px, 30);
    int64_t y[5] = {0, 2, 1, 2, 0};
    size_t s5[1] = {5};
    CHECK_OK(minima_npy_write_int64(yp, 1, s5, y));
    minima_dataset *d = NULL;
    CHECK_OK(load(xp, yp, 0, &d));
    if (d) {
        CHECK(d->n == 5 && d->d == 6 && d->n_classes == 3 && d->labels[3] == 2);
        CHECK(d->x[7] == 56 / 255.0);
        minima_dataset_free(d);
    }
    CHECK_OK(load(xp, yp, 3, &d));
    if (d) CHECK(d->n == 3 && d->n_classes == 3);
    minima_dataset_free(d);
    CHECK_OK(load(xp, NULL, 0, &d));   /* labels are optional for .npy */
    if (d) CHECK(d->n == 5 && d->n_classes == 0 && !d->labels && !d->targets);
    minima_dataset_free(d);
    /* integer features other than uint8 are used as they are */
    int64_t xi[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1000};
    size_t s52[2] = {5, 2};
    CHECK_OK(minima_npy_write_int64(xp, 2, s52, xi));
    CHECK_OK(load(xp, yp, 0, &d));
    if (d) CHECK(d->d == 2 && d->x[9] == 1000);
    minima_dataset_free(d);
    /* float labels: regression targets (N,) and (N, k) */
    double t[10] = {0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK_OK(minima_npy_write(yp, 1, s5, t));
    CHECK_OK(load(xp, yp, 0, &d));
    if (d) CHECK(d->d_target == 1 && d->n_classes == 0 && d->targets[0] == 0.5);
    minima_dataset_free(d);
    CHECK_OK(minima_npy_write(yp, 2, s52, t));
    CHECK_OK(load(xp, yp, 2, &d));
    if (d) CHECK(d->n == 2 && d->d_target == 2 && d->targets[3] == 3);
    minima_dataset_free(d);
    t[4] = NAN;
    CHECK_OK(minima_npy_write(yp, 2, s52, t));
    EXPECT_ERR(load(xp, yp, 0, &d), MINIMA_ENONFINITE, "target", "example 2, column 0", NULL);
    /* labels: count mismatch, negative, scalar */
    size_t s4[1] = {4};
    CHECK_OK(minima_npy_write_int64(yp, 1, s4, y));
    EXPECT_ERR(load(xp, yp, 0, &d), MINIMA_ESHAPE, yp, "holds 4 labels", xp);
    y[3] = -2;
    CHECK_OK(minima_npy_write_int64(yp, 1, s5, y));
    EXPECT_ERR(load(xp, yp, 0, &d), MINIMA_ERANGE, yp, "entry 3 is -2", NULL);
    y[3] = 70000;
    CHECK_OK(minima_npy_write_int64(yp, 1, s5, y));
    EXPECT_ERR(load(xp, yp, 0, &d), MINIMA_ERANGE, yp, "entry 3 is 70000", NULL);
    CHECK_OK(minima_npy_write_int64(yp, 0, NULL, y));
    EXPECT_ERR(load(xp, yp, 0, &d), MINIMA_ESHAPE, yp, "shape () (a 0-d array", NULL);
    /* NaN and Inf in features */
    double x[10] = {0, 1, 2, 3, 4, 5, 6, INFINITY, 8, 9};
    CHECK_OK(minima_npy_write(xp, 2, s52, x));
    EXPECT_ERR(load(xp, NULL, 0, &d), MINIMA_ENONFINITE, xp, "example 3, column 1", "Inf");
    /* features that are not examples */
    CHECK_OK(minima_npy_write(xp, 0, NULL, x));
    EXPECT_ERR(load(xp, NULL, 0, &d), MINIMA_ESHAPE, xp, "expected (N, d)", NULL);
    size_t s0[2] = {0, 3};
    CHECK_OK(minima_npy_write(xp, 2, s0, x));
    EXPECT_ERR(load(xp, NULL, 0, &d), MINIMA_EFORMAT, xp, "no examples", NULL);
}

/* ---- CSV --------------------------------------------------------------- */

static void test_csv(void)
{
    const char *p = tmp_path("d.csv");
    minima_dataset *d = NULL;
    const char *good = "label,a,b\r\n# a comment\n1, 0.5, -2\n\n0,\"1e-3\",4\n2,3,4\n";
    write_bytes(p, good, strlen(good));
    CHECK_OK(load(p, NULL, 0, &d));
    if (d) {
        CHECK(d->n == 3 && d->d == 2 && d->n_classes == 3 && d->labels[0] == 1);
        CHECK(d->x[0] == 0.5 && d->x[1] == -2 && d->x[2] == 1e-3 && !strcmp(d->name, p));
        minima_dataset_free(d);
    }
    CHECK_OK(load(p, NULL, 2, &d));
    if (d) CHECK(d->n == 2 && d->n_classes == 3);
    minima_dataset_free(d);
    const char *reg = "0.5,1,2\n-1,3,4\n2,5,6";
    write_bytes(p, reg, strlen(reg));
    CHECK_OK(load(p, NULL, 0, &d));
    if (d) CHECK(d->n == 3 && d->n_classes == 0 && d->d_target == 1 && d->targets[1] == -1);
    minima_dataset_free(d);
    struct { const char *text; minima_status want; const char *m1, *m2; } cases[] = {
        {"1,2,3\n0,1,2\n1,2\n", MINIMA_EFORMAT, "line 3: 2 columns", "expected 3, as on line 1"},
        {"a,b,c\n1,2,3\n0,1,2,3\n", MINIMA_EFORMAT, "line 3: 4 columns", "expected 3, as on line 2"},
        {"a,b\n1,2,3\n", MINIMA_EFORMAT, "header on line 1 has 2 columns", "line 2 has 3"},
        {"1,2,3\n0,,2\n", MINIMA_EFORMAT, "line 2, column 2", "empty field"},
        {"1,2,3\n0,1,nan\n", MINIMA_ENONFINITE, "line 2, column 3", "'nan' is not a finite"},
        {"1,2,3\n0,1,-inf\n", MINIMA_ENONFINITE, "line 2, column 3", "-inf"},
        {"1,2,3\n0,1,abc\n", MINIMA_EFORMAT, "line 2, column 3", "found 'abc'"},
        {"1,2,3\n-1,1,2\n", MINIMA_ERANGE, "line 2, column 1 is -1", "0..65535"},
        {"1,2,3\n70000,1,2\n", MINIMA_ERANGE, "line 2", "is 70000"},
        {"label,a,b\n", MINIMA_EFORMAT, "no data rows", "only a header"},
        {"", MINIMA_EFORMAT, "no data rows", NULL},
        {"1\n2\n", MINIMA_EFORMAT, "line 1: 1 column", NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_bytes(p, cases[k].text, strlen(cases[k].text));
        minima_clear_error();
        minima_status s = load(p, NULL, 0, &d);
        CHECK_MSG(s == cases[k].want && has(p) && has(cases[k].m1) && (!cases[k].m2 || has(cases[k].m2)),
                  "CSV case %zu: got %s: %s", k, minima_strerror(s), minima_last_error());
        if (s == MINIMA_OK) minima_dataset_free(d);
    }
    EXPECT_ERR(load(p, "y.npy", 0, &d), MINIMA_EINVAL, "first column", NULL, NULL);
    EXPECT_ERR(load(tmp_path("nope.csv"), NULL, 0, &d), MINIMA_EIO, "nope.csv", NULL, NULL);
}

/* ---- shapes in messages, the data-size limit, bounded memory ----------- */

static void test_npy_shapes(void)
{
    char b[64];
    size_t s[3] = {60, 0, 7};
    CHECK(!strcmp(minima_npy_format_shape(0, s, b, sizeof b), "()"));
    CHECK(!strcmp(minima_npy_format_shape(1, s, b, sizeof b), "(60,)"));
    CHECK(!strcmp(minima_npy_format_shape(2, s, b, sizeof b), "(60, 0)"));
    CHECK(!strcmp(minima_npy_format_shape(3, s, b, sizeof b), "(60, 0, 7)"));
    CHECK(!strcmp(minima_npy_format_shape(3, s, b, 8), "(60,..."));
    /* features of a 0-d array, a zero-sized dimension, no rows: each named
     * with the shape as Python prints it */
    const char *xp = tmp_path("shape.npy");
    minima_dataset *d = NULL;
    double x[4] = {1, 2, 3, 4};
    CHECK_OK(minima_npy_write(xp, 0, NULL, x));
    EXPECT_ERR(load(xp, NULL, 0, &d), MINIMA_ESHAPE, xp, "shape ()", "0-d array");
    size_t s600[2] = {60, 0};
    CHECK_OK(minima_npy_write(xp, 2, s600, x));
    EXPECT_ERR(load(xp, NULL, 0, &d), MINIMA_ESHAPE, xp, "shape (60, 0)", "dimension 1 is 0");
    size_t s603[3] = {2, 2, 0};
    CHECK_OK(minima_npy_write(xp, 3, s603, x));
    EXPECT_ERR(load(xp, NULL, 0, &d), MINIMA_ESHAPE, xp, "shape (2, 2, 0)", "dimension 2 is 0");
    size_t s03[2] = {0, 3};
    CHECK_OK(minima_npy_write(xp, 2, s03, x));
    EXPECT_ERR(load(xp, NULL, 0, &d), MINIMA_EFORMAT, xp, "shape (0, 3)", "no examples");
    size_t s0[1] = {0};
    CHECK_OK(minima_npy_write(xp, 1, s0, x));
    EXPECT_ERR(load(xp, NULL, 0, &d), MINIMA_EFORMAT, xp, "shape (0,)", "no examples");
    /* a labels file with the wrong count names its shape */
    size_t s4[1] = {4}, s22[2] = {2, 2};
    CHECK_OK(minima_npy_write(xp, 2, s22, x));
    const char *yp = tmp_path("shape-y.npy");
    CHECK_OK(minima_npy_write(yp, 1, s4, x));
    EXPECT_ERR(load(xp, yp, 0, &d), MINIMA_ESHAPE, yp, "(shape (4,)) holds 4 labels", "2 examples");
    /* a truncated file names its shape */
    unsigned char px[8] = {0};
    write_npy_raw(xp, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", px, 8);
    EXPECT_ERR(load(xp, NULL, 0, &d), MINIMA_EFORMAT, xp, "shape (3, 2)", "truncated");
}

static minima_status load_limited(const char *src, const char *labels, size_t subset,
                                  uint64_t max_bytes, minima_dataset **out)
{
    minima_data_options o = minima_data_default_options();
    o.labels_path = labels;
    o.subset = subset;
    o.max_bytes = max_bytes;
    return minima_data_load(src, &o, out);
}

static void test_data_limit(void)
{
    struct { const char *text; uint64_t want; } sizes[] = {
        {"1", 1}, {"1000000", 1000000}, {"1K", 1024}, {"4g", (uint64_t)4 << 30},
        {"512M", (uint64_t)512 << 20}, {"2GiB", (uint64_t)2 << 30}, {"3GB", (uint64_t)3 << 30},
        {"1T", (uint64_t)1 << 40}, {"100b", 100},
    };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint64_t v = 0;
        CHECK_OK(minima_data_parse_size(sizes[k].text, &v));
        CHECK_MSG(v == sizes[k].want, "'%s' gave %llu", sizes[k].text, (unsigned long long)v);
    }
    const char *bad[] = {"", "G", "4Q", "-1", "1.5G", "4 G", "0", "99999999999999999999",
                         "17179869184T"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        uint64_t v = 7;
        minima_clear_error();
        CHECK_STATUS(minima_data_parse_size(bad[k], &v), MINIMA_EINVAL);
        CHECK_MSG(has(bad[k]) && v == 7, "'%s': %s", bad[k], minima_last_error());
    }
    CHECK(minima_data_default_options().max_bytes == ((uint64_t)16 << 30));
    minima_dataset *d = NULL;
    /* 5 examples of 6 values: 240 bytes as float64 */
    double x[30];
    for (int i = 0; i < 30; i++) x[i] = i % 7;
    size_t dims[3] = {5, 2, 3}, l5[1] = {5};
    const char *ip = tmp_path("lim-idx3-ubyte.gz"), *lp = tmp_path("lim-labels.idx");
    const char *np_ = tmp_path("lim.npy"), *cp = tmp_path("lim.csv");
    CHECK_OK(minima_idx_write(ip, MINIMA_IDX_U8, 3, dims, x, 1));
    CHECK_OK(minima_idx_write(lp, MINIMA_IDX_U8, 1, l5, x, 0));
    CHECK_OK(minima_npy_write(np_, 3, dims, x));
    write_bytes(cp, "1,2,3\n0,4,5\n1,6,7\n", 18);
    CHECK_OK(load_limited(ip, lp, 0, 240, &d));
    minima_dataset_free(d);
    EXPECT_ERR(load_limited(ip, lp, 0, 239, &d), MINIMA_ERANGE, ip, "needs 240 bytes",
               "data-size limit of 239 bytes");
    CHECK(has("--max-data-bytes") && has("--subset") && has("5 x 2 x 3"));
    CHECK_OK(load_limited(ip, lp, 4, 200, &d));   /* --subset 4 keeps 192 bytes */
    if (d) CHECK(d->n == 4);
    minima_dataset_free(d);
    CHECK_OK(load_limited(np_, NULL, 0, 240, &d));
    minima_dataset_free(d);
    EXPECT_ERR(load_limited(np_, NULL, 0, 100, &d), MINIMA_ERANGE, np_, "shape (5, 2, 3)",
               "data-size limit of 100 bytes");
    /* a labels file counts too: 40 bytes, within a limit of 240 but not 39 */
    EXPECT_ERR(load_limited(np_, lp, 4, 39, &d), MINIMA_ERANGE, NULL, "data-size limit", NULL);
    CHECK_OK(load_limited(cp, NULL, 0, 1000, &d));
    minima_dataset_free(d);
    EXPECT_ERR(load_limited(cp, NULL, 0, 10, &d), MINIMA_ERANGE, cp, "its text",
               "data-size limit of 10 bytes");
    /* 10 rows of 2 features: 160 bytes of features, 60 of text */
    const char *cp10 = tmp_path("lim10.csv");
    write_bytes(cp10, "1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n", 60);
    CHECK_OK(load_limited(cp10, NULL, 0, 160, &d));
    minima_dataset_free(d);
    EXPECT_ERR(load_limited(cp10, NULL, 0, 100, &d), MINIMA_ERANGE, cp10, "features up to line 7",
               "data-size limit of 100 bytes");
    CHECK_OK(load_limited(cp10, NULL, 6, 100, &d));   /* --subset 6 keeps 96 bytes */
    minima_dataset_free(d);
    /* a long text is read no further than one byte past the limit */
    {
        size_t big = 200000;
        char *t = malloc(big);
        for (size_t i = 0; i < big; i += 4) memcpy(t + i, "1,2\n", 4);
        const char *bp = tmp_path("long.csv");
        write_bytes(bp, t, big);
        free(t);
        EXPECT_ERR(load_limited(bp, NULL, 0, 70000, &d), MINIMA_ERANGE, bp,
                   "its text (70001 bytes read so far)", "data-size limit of 70000 bytes");
        CHECK_OK(load_limited(bp, NULL, 0, 400000, &d));   /* 50000 features: 400000 bytes */
        if (d) CHECK(d->n == 50000);
        minima_dataset_free(d);
    }
    /* the fields of a line: 16 bytes each (3 fields: 48 bytes, more than 40) */
    EXPECT_ERR(load_limited(cp, NULL, 0, 40, &d), MINIMA_ERANGE, cp, "line 1, with 3 fields",
               "data-size limit of 40 bytes");
    /* a limit that is no whole unit is given in bytes alone */
    EXPECT_ERR(load_limited(np_, NULL, 0, 128, &d), MINIMA_ERANGE, np_, "limit of 128 bytes:", NULL);
    EXPECT_ERR(load_limited(ip, lp, 0, 0, &d), MINIMA_OK, NULL, NULL, NULL);   /* 0: the default */
    minima_dataset_free(d);
    /* synthetic sources: N x (d + d_target) x 8 bytes, checked before generating */
    EXPECT_ERR(minima_data_load("synthetic:blobs:100000000:d=100000", NULL, &d), MINIMA_ERANGE,
               "synthetic:blobs:100000000:d=100000", "100000000 examples of 100000 values",
               "data-size limit of 17179869184 bytes");
    EXPECT_ERR(load_limited("synthetic:teacher:100", NULL, 0, 10000, &d), MINIMA_ERANGE,
               "100 examples of 13 values", "needs 10400 bytes", NULL);
    CHECK_OK(load_limited("synthetic:teacher:100", NULL, 0, 10400, &d));
    minima_dataset_free(d);
    /* a gzipped IDX header declaring 2^36 bytes (4096 x 4096 x 4096 ubyte)
     * on a few bytes: refused by the default limit at once, before reading */
    unsigned char h[16 + 64] = {0, 0, 8, 3, 0, 0, 16, 0, 0, 0, 16, 0, 0, 0, 16, 0};
    write_gz(ip, h, sizeof h);
    EXPECT_ERR(load(ip, lp, 0, &d), MINIMA_ERANGE, ip, "4096 x 4096 x 4096",
               "data-size limit of 17179869184 bytes (16G)");
    /* the same declaration within a raised limit: a truncation error that
     * gives both counts, not an allocation of what the header declares */
    minima_idx_array a;
    EXPECT_ERR(minima_idx_read_limited(ip, 0, (uint64_t)1 << 40, &a), MINIMA_EFORMAT, ip,
               "declares 68719476752 bytes in all", "holds 80 once uncompressed");
}

/* Runs `fn` in a child process whose address space may grow by at most
 * `extra` bytes; returns the child's minima_status, or -1 if it crashed.
 * Under AddressSanitizer (which reserves terabytes) it runs in-process. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
static int in_bounded_child(minima_status (*fn)(void), size_t extra)
{
#ifdef UNDER_ASAN
    (void)extra;
    return -2;   /* not run: see the caller */
#else
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        if (f && fscanf(f, "%ld", &pages) != 1) pages = 0;
        if (f) fclose(f);
        struct rlimit r;
        r.rlim_cur = r.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + extra;
        if (pages > 0) setrlimit(RLIMIT_AS, &r);
        _exit((int)fn());
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
#endif
}

/* One CSV row of 400 001 columns (800 KB of text): its features take
 * 3.2 MB, which must be all that is reserved for them. */
static minima_status wide_csv_load(void)
{
    minima_dataset *d = NULL;
    minima_status s = load(tmp_path("wide.csv"), NULL, 0, &d);
    int ok = s == MINIMA_OK && d->n == 1 && d->d == 400000 && d->x[399999] == 1;
    minima_dataset_free(d);
    return s ? s : ok ? MINIMA_OK : MINIMA_EFAILED;
}

/* A gzipped IDX file whose header declares 2^27 images of 1 byte (1 GiB
 * as float64, within the default limit) but holds 4 MiB of them. */
static minima_status lying_gzip_load(void)
{
    minima_idx_array a;
    minima_status s = minima_idx_read(tmp_path("lying-idx1-ubyte.gz"), 0, &a);
    minima_idx_array_free(&a);
    return s;
}

static void test_bounded_memory(void)
{
    size_t cols = 400001;
    char *t = malloc(2 * cols + 2);
    for (size_t j = 0; j < cols; j++) t[2 * j] = '1', t[2 * j + 1] = ',';
    t[2 * cols - 1] = '\n';
    write_bytes(tmp_path("wide.csv"), t, 2 * cols);
    free(t);
    size_t n = (size_t)4 << 20;
    unsigned char *g = calloc(8 + n, 1);
    g[2] = 8, g[3] = 1, g[4] = 8;   /* 2^27 items */
    write_gz(tmp_path("lying-idx1-ubyte.gz"), g, 8 + n);
    free(g);
    int rc = in_bounded_child(wide_csv_load, (size_t)96 << 20);
    if (rc == -2) {   /* under ASan: check the results, not the memory */
        CHECK_OK(wide_csv_load());
        EXPECT_ERR(lying_gzip_load(), MINIMA_EFORMAT, "lying", "holds 4194312 once", NULL);
        return;
    }
    CHECK_MSG(rc == MINIMA_OK, "a 1-row CSV of 400001 columns in 96 MB more memory: status %d",
              rc);
    rc = in_bounded_child(lying_gzip_load, (size_t)160 << 20);
    CHECK_MSG(rc == MINIMA_EFORMAT, "a gzip IDX declaring 2^27 bytes, holding 4 MiB, in 160 MB "
              "more memory: status %d (expected the truncation error)", rc);
    EXPECT_ERR(lying_gzip_load(), MINIMA_EFORMAT, "lying", "holds 4194312 once", NULL);
}

/* ---- labels: classes or regression targets ----------------------------- */

static minima_status load_for(const char *src, const char *labels, minima_labels_use use,
                              int n_outputs, minima_dataset **out)
{
    minima_data_options o = minima_data_default_options();
    o.labels_path = labels;
    o.labels_use = use;
    o.n_outputs = n_outputs;
    return minima_data_load(src, &o, out);
}

static void test_labels(void)
{
    const char *xp = tmp_path("lx.npy"), *yp = tmp_path("ly.npy"), *fp = tmp_path("lf32.npy");
    double x[40];
    for (int i = 0; i < 40; i++) x[i] = i;
    size_t s20[2] = {20, 2}, n20[1] = {20};
    CHECK_OK(minima_npy_write(xp, 2, s20, x));
    minima_dataset *d = NULL;
    /* float labels holding integers (float64, and float32 as np.save
     * writes them) are classes, whatever the mode asks for them */
    double y[20];
    for (int i = 0; i < 20; i++) y[i] = i % 10;
    CHECK_OK(minima_npy_write(yp, 1, n20, y));
    unsigned char f32[20 * 4];
    for (int i = 0; i < 20; i++) {
        float v = (float)(i % 10);
        memcpy(f32 + 4 * i, &v, 4);
    }
    write_npy_raw(fp, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (20,), }", f32, 80);
    for (int use = MINIMA_LABELS_AUTO; use <= MINIMA_LABELS_CLASSES; use++) {
        for (int k = 0; k < 2; k++) {
            CHECK_OK(load_for(xp, k ? fp : yp, (minima_labels_use)use, 0, &d));
            if (d) CHECK(d->n_classes == 10 && d->labels && d->labels[13] == 3 && !d->targets);
            minima_dataset_free(d);
        }
    }
    CHECK_OK(load_for(xp, fp, MINIMA_LABELS_CLASSES, 10, &d));
    if (d) CHECK(d->n_classes == 10 && d->labels[19] == 9);
    minima_dataset_free(d);
    /* a fraction: targets by default, an error naming file, entry and value
     * for cross-entropy */
    y[17] = 2.5;
    CHECK_OK(minima_npy_write(yp, 1, n20, y));
    CHECK_OK(load_for(xp, yp, MINIMA_LABELS_AUTO, 0, &d));
    if (d) CHECK(d->d_target == 1 && !d->labels && d->targets[17] == 2.5);
    minima_dataset_free(d);
    EXPECT_ERR(load_for(xp, yp, MINIMA_LABELS_CLASSES, 10, &d), MINIMA_ERANGE,
               "labels file '", "ly.npy': entry 17 is 2.5: expected an integer class in 0..9 "
               "for cross-entropy (or use --loss mse for regression targets)", NULL);
    CHECK(!has("lx.npy"));   /* the labels file, not the features */
    /* a class beyond the network's outputs, or negative */
    y[17] = 7;
    CHECK_OK(minima_npy_write(yp, 1, n20, y));
    EXPECT_ERR(load_for(xp, yp, MINIMA_LABELS_CLASSES, 5, &d), MINIMA_ERANGE, yp,
               "entry 5 is 5: expected an integer class in 0..4 for cross-entropy", NULL);
    y[3] = -1;
    CHECK_OK(minima_npy_write(yp, 1, n20, y));
    EXPECT_ERR(load_for(xp, yp, MINIMA_LABELS_CLASSES, 0, &d), MINIMA_ERANGE, yp,
               "entry 3 is -1: expected an integer class in 0..65535", NULL);
    /* targets of shape (N, 2) cannot be classes */
    CHECK_OK(minima_npy_write(yp, 2, s20, x));
    EXPECT_ERR(load_for(xp, yp, MINIMA_LABELS_CLASSES, 0, &d), MINIMA_ESHAPE, yp,
               "shape (20, 2): expected one class label per example", "cross-entropy");
    CHECK_OK(load_for(xp, yp, MINIMA_LABELS_TARGETS, 2, &d));
    if (d) CHECK(d->d_target == 2 && d->targets[39] == 39);
    minima_dataset_free(d);
    /* integer regression targets with MSE: one output takes the values as
     * targets (int64 and float alike, negative and large ones too) */
    int64_t yi[20];
    for (int i = 0; i < 20; i++) yi[i] = 100 * i - 500;
    CHECK_OK(minima_npy_write_int64(yp, 1, n20, yi));
    CHECK_OK(load_for(xp, yp, MINIMA_LABELS_TARGETS, 1, &d));
    if (d) CHECK(d->d_target == 1 && !d->labels && d->targets[0] == -500 && d->targets[19] == 1400);
    minima_dataset_free(d);
    CHECK_OK(load_for(xp, fp, MINIMA_LABELS_TARGETS, 1, &d));
    if (d) CHECK(d->d_target == 1 && !d->labels && d->targets[13] == 3);
    minima_dataset_free(d);
    /* ... and several outputs take one integer per example as a class, for
     * one-hot targets; one beyond the outputs is an error naming it */
    CHECK_OK(load_for(xp, fp, MINIMA_LABELS_TARGETS, 10, &d));
    if (d) CHECK(d->n_classes == 10 && d->labels[13] == 3 && !d->targets);
    minima_dataset_free(d);
    EXPECT_ERR(load_for(xp, fp, MINIMA_LABELS_TARGETS, 4, &d), MINIMA_ERANGE, fp,
               "entry 4 is 4: expected an integer class in 0..3 for one-hot MSE targets of a "
               "network with 4 outputs", NULL);
    /* CSV label columns follow the same rule, and name the line */
    const char *cp = tmp_path("labels.csv");
    const char *c1 = "y,a\n1.0,5\n0.0,6\n2.0,7\n";
    write_bytes(cp, c1, strlen(c1));
    CHECK_OK(load_for(cp, NULL, MINIMA_LABELS_AUTO, 0, &d));
    if (d) CHECK(d->n_classes == 3 && d->labels[2] == 2);
    minima_dataset_free(d);
    CHECK_OK(load_for(cp, NULL, MINIMA_LABELS_TARGETS, 1, &d));
    if (d) CHECK(d->d_target == 1 && d->targets[2] == 2 && !d->labels);
    minima_dataset_free(d);
    const char *c2 = "y,a\n1,5\n0,6\n\n2.5,7\n";
    write_bytes(cp, c2, strlen(c2));
    EXPECT_ERR(load_for(cp, NULL, MINIMA_LABELS_CLASSES, 3, &d), MINIMA_ERANGE, cp,
               "line 5, column 1 is 2.5: expected an integer class in 0..2 for cross-entropy",
               NULL);
    const char *c3 = "7,5\n0,6\n";
    write_bytes(cp, c3, strlen(c3));
    EXPECT_ERR(load_for(cp, NULL, MINIMA_LABELS_CLASSES, 3, &d), MINIMA_ERANGE, cp,
               "line 1, column 1 is 7: expected an integer class in 0..2", NULL);
    CHECK_OK(load_for(cp, NULL, MINIMA_LABELS_TARGETS, 1, &d));
    if (d) CHECK(d->d_target == 1 && d->targets[0] == 7);
    minima_dataset_free(d);
}

/* ---- synthetic --------------------------------------------------------- */

/* The teacher's outputs computed here, independently of net.c. */
static void forward(const minima_model *m, const double *x, double *z)
{
    double a[64], b[64];
    memcpy(a, x, (size_t)m->widths[0] * sizeof *a);
    for (int k = 0; k < m->n_layers; k++) {
        const double *w = minima_model_weight(m, k), *bias = minima_model_bias(m, k);
        for (int i = 0; i < m->widths[k + 1]; i++) {
            double s = bias ? bias[i] : 0;
            for (int j = 0; j < m->widths[k]; j++) s += w[i * m->widths[k] + j] * a[j];
            b[i] = k + 1 < m->n_layers ? fmax(s, 0) : s;
        }
        memcpy(a, b, (size_t)m->widths[k + 1] * sizeof *a);
    }
    memcpy(z, a, (size_t)m->widths[m->n_layers] * sizeof *z);
}

static void test_synthetic(void)
{
    minima_data_options o = minima_data_default_options();
    minima_dataset *d = NULL, *e = NULL;
    o.seed = 7;
    CHECK_OK(minima_data_load("synthetic:blobs", &o, &d));
    CHECK_OK(minima_data_load("synthetic:blobs", &o, &e));
    if (d && e) {
        CHECK(d->n == 1000 && d->d == 2 && d->n_classes == 4 && d->labels[5] == 1);
        CHECK(memcmp(d->x, e->x, 2000 * sizeof *d->x) == 0);
        double mean[2] = {0, 0};   /* class 0's centre is (3, 0) */
        for (size_t i = 0; i < d->n; i += 4) mean[0] += d->x[2 * i], mean[1] += d->x[2 * i + 1];
        CHECK_ABS(mean[0] / 250, 3, 0.3);
        CHECK_ABS(mean[1] / 250, 0, 0.3);
    }
    minima_dataset_free(e);
    o.seed = 8;
    CHECK_OK(minima_data_load("synthetic:blobs", &o, &e));
    if (d && e) CHECK(memcmp(d->x, e->x, 2000 * sizeof *d->x) != 0);
    minima_dataset_free(d);
    minima_dataset_free(e);
    CHECK_OK(minima_data_load("synthetic:blobs:50:classes=3,d=5:sep=10", &o, &d));
    if (d) CHECK(d->n == 50 && d->d == 5 && d->n_classes == 3 &&
                 !strcmp(d->name, "synthetic:blobs:50:classes=3,d=5:sep=10"));
    minima_dataset_free(d);

    /* teacher: targets are the outputs of the seeded network, labels their argmax */
    o.seed = 3;
    CHECK_OK(minima_data_load("synthetic:teacher:200", &o, &d));
    if (d) {
        CHECK(d->n == 200 && d->d == 10 && d->n_classes == 3 && d->d_target == 3);
        minima_model *m = NULL;
        const int widths[3] = {10, 16, 3};
        CHECK_OK(minima_model_create(&m, 2, widths, 1, MINIMA_ACT_RELU));
        minima_model_init(m, 3);
        double worst = 0;
        int argmax_ok = 1;
        for (size_t i = 0; i < d->n; i++) {
            double z[3];
            forward(m, d->x + 10 * i, z);
            worst = fmax(worst, harness_vec_reldiff(d->targets + 3 * i, z, 3, 1e-300));
            int best = z[1] > z[0];
            if (z[2] > z[best]) best = 2;
            argmax_ok &= d->labels[i] == best;
        }
        CHECK_MSG(worst < 1e-12, "teacher targets differ from the forward pass by %g", worst);
        CHECK(argmax_ok);
        minima_model_free(m);
    }
    /* the teacher's parameters are an exact minimum: zero MSE loss */
    minima_model *tm = NULL;
    CHECK_OK(minima_synthetic_teacher_model("teacher:200", 3, &tm));
    if (d && tm) {
        minima_net *net = NULL;
        CHECK_OK(minima_net_create(&net, tm, d, NULL));
        double loss = -1, acc = -1;
        if (net) CHECK_OK(minima_net_loss(net, NULL, &loss, &acc));
        CHECK(loss == 0 && acc == 1);
        minima_net_free(net);
    }
    minima_model_free(tm);
    CHECK_OK(minima_synthetic_teacher_model("teacher:arch=3-5-5-2:noise=0.1", 1, &tm));
    if (tm) CHECK(tm->n_layers == 3 && tm->widths[1] == 5 && tm->has_bias && tm->loss == MINIMA_LOSS_MSE);
    minima_model_free(tm);
    EXPECT_ERR(minima_synthetic_teacher_model("blobs:10", 1, &tm), MINIMA_EINVAL, "no teacher",
               NULL, NULL);
    CHECK_OK(minima_data_load("synthetic:teacher:200:noise=0.1", &o, &e));
    if (d && e) {
        int flipped = 0;
        for (size_t i = 0; i < d->n; i++) flipped += d->labels[i] != e->labels[i];
        CHECK(flipped == 20);
        CHECK(memcmp(d->targets, e->targets, 600 * sizeof(double)) == 0);
    }
    minima_dataset_free(e);
    CHECK_OK(minima_data_load("synthetic:teacher:200:target_noise=0.5", &o, &e));
    if (d && e) {
        double ss = 0;
        for (size_t i = 0; i < 600; i++) ss += (e->targets[i] - d->targets[i]) * (e->targets[i] - d->targets[i]);
        CHECK_ABS(sqrt(ss / 600), 0.5, 0.05);
        CHECK(memcmp(d->labels, e->labels, 200 * sizeof *d->labels) == 0);
    }
    minima_dataset_free(e);
    minima_dataset_free(d);
    CHECK_OK(minima_data_load("synthetic:teacher:arch=4-8-8-2:30", &o, &d));
    if (d) CHECK(d->n == 30 && d->d == 4 && d->d_target == 2 && d->n_classes == 2);
    minima_dataset_free(d);
    o.subset = 10;
    CHECK_OK(minima_data_load("synthetic:xor:100:noise=0.2", &o, &d));
    if (d) CHECK(d->n == 10 && d->d == 2 && d->n_classes == 2);
    minima_dataset_free(d);
    o.subset = 0;
    CHECK_OK(minima_data_load("synthetic:xor", &o, &d));
    if (d) {
        int ok = 1;
        for (size_t i = 0; i < d->n; i++)
            ok &= d->labels[i] == ((d->x[2 * i] > 0) != (d->x[2 * i + 1] > 0));
        CHECK(ok);
    }
    minima_dataset_free(d);
    CHECK_OK(minima_data_load("synthetic:spiral:300:classes=5:turns=2", &o, &d));
    if (d) CHECK(d->n == 300 && d->n_classes == 5 && d->labels[7] == 2);
    minima_dataset_free(d);
    /* bad sources */
    struct { const char *src; const char *msg; } bad[] = {
        {"synthetic:", "generator name"},
        {"synthetic:moons", "unknown generator 'moons'"},
        {"synthetic:blobs:0", "field '0'"},
        {"synthetic:blobs:12:13", "field '13'"},
        {"synthetic:blobs:-5", "field '-5'"},
        {"synthetic:blobs:size=3", "unknown parameter 'size'"},
        {"synthetic:blobs:classes=1", "classes=1"},
        {"synthetic:blobs:classes=2.5", "an integer"},
        {"synthetic:blobs:sep=abc", "expected a number"},
        {"synthetic:teacher:noise=1.5", "noise=1.5"},
        {"synthetic:teacher:arch=10", "arch"},
        {"synthetic:xor:std=1", "unknown parameter 'std'"},
        {"synthetic:blobs:999999999999", "field"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        minima_clear_error();
        minima_status s = minima_data_load(bad[k].src, &o, &d);
        CHECK_MSG(s == MINIMA_EINVAL && has(bad[k].msg), "%s: got %s: %s", bad[k].src,
                  minima_strerror(s), minima_last_error());
        if (s == MINIMA_OK) minima_dataset_free(d);
    }
    o.labels_path = "y.npy";
    EXPECT_ERR(minima_data_load("synthetic:blobs", &o, &d), MINIMA_EINVAL, "own labels", NULL, NULL);
}

/* ---- Fashion-MNIST and the dispatch ---------------------------------------- */

static void test_fashion_mnist(void)
{
    char *im = NULL, *lb = NULL;
    unsetenv("MINIMA_DATA_DIR");
    minima_status s = minima_fashion_mnist_locate("train", &im, &lb);
    if (s != MINIMA_OK) {
        CHECK(s == MINIMA_EIO && has("dataset-fashion-mnist"));
        printf("test_fashion_mnist: package dataset-fashion-mnist not installed, skipped\n");
    } else {
        minima_idx_array a;   /* the whole file is checked, one image converted */
        CHECK_OK(minima_idx_read(im, 1, &a));
        CHECK(a.ndims == 3 && a.dims[0] == 60000 && a.dims[1] == 28 && a.dims[2] == 28 &&
              a.type == MINIMA_IDX_U8);
        minima_idx_array_free(&a);
        minima_free(im);
        minima_free(lb);
        CHECK_OK(minima_fashion_mnist_locate("test", &im, &lb));
        CHECK_OK(minima_idx_read(im, 1, &a));
        CHECK(a.dims[0] == 10000);
        minima_idx_array_free(&a);
        minima_dataset *d = NULL;
        const char *sources[2] = {"fashion-mnist", "fashion-mnist:test"};
        for (int k = 0; k < 2; k++) {
            CHECK_OK(load(sources[k], NULL, 500, &d));
            if (!d) continue;
            CHECK(d->n == 500 && d->d == 784 && d->n_classes == 10 && d->labels);
            double lo = 1, hi = 0;
            int seen = 0;
            for (size_t i = 0; i < d->n * 784; i++) lo = fmin(lo, d->x[i]), hi = fmax(hi, d->x[i]);
            for (size_t i = 0; i < d->n; i++) seen |= 1 << d->labels[i];
            CHECK(lo == 0 && hi == 1 && seen == 1023);
            CHECK(!strcmp(d->name, k ? "fashion-mnist:test" : "fashion-mnist:train"));
            minima_dataset_free(d);
        }
    }
    minima_free(im);
    minima_free(lb);

    /* $MINIMA_DATA_DIR overrides; raw and gzip files are both found */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/fmnist", harness_tmpdir());
    char sub[700];
    snprintf(sub, sizeof sub, "%s/fashion-mnist", dir);
    CHECK(mkdir(dir, 0700) == 0 && mkdir(sub, 0700) == 0);
    setenv("MINIMA_DATA_DIR", dir, 1);
    minima_dataset *d = NULL;
    EXPECT_ERR(load("fashion-mnist:test", NULL, 0, &d), MINIMA_EIO, "MINIMA_DATA_DIR", dir,
               "t10k-images-idx3-ubyte");
    double x[4 * 4] = {0, 255, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    size_t xd[3] = {4, 2, 2}, ld[1] = {4};
    char path[700];
    snprintf(path, sizeof path, "%s/fashion-mnist/t10k-images-idx3-ubyte", dir);
    CHECK_OK(minima_idx_write(path, MINIMA_IDX_U8, 3, xd, x, 0));
    EXPECT_ERR(load("fashion-mnist:test", NULL, 0, &d), MINIMA_EIO, "but not",
               "t10k-labels-idx1-ubyte", NULL);
    snprintf(path, sizeof path, "%s/fashion-mnist/t10k-labels-idx1-ubyte.gz", dir);
    CHECK_OK(minima_idx_write(path, MINIMA_IDX_U8, 1, ld, (double[]){9, 0, 3, 1}, 1));
    CHECK_OK(load("fashion-mnist:test", NULL, 0, &d));
    if (d) CHECK(d->n == 4 && d->d == 4 && d->n_classes == 10 && d->x[1] == 1 && d->labels[0] == 9);
    minima_dataset_free(d);
    CHECK_OK(minima_idx_write(path, MINIMA_IDX_U8, 1, ld, (double[]){9, 0, 12, 1}, 1));
    EXPECT_ERR(load("fashion-mnist:test", NULL, 0, &d), MINIMA_ERANGE, path, "entry 2 is 12",
               "0..9");
    unsetenv("MINIMA_DATA_DIR");
    EXPECT_ERR(load("fashion-mnist:valid", NULL, 0, &d), MINIMA_EINVAL, "unknown split 'valid'",
               NULL, NULL);
    EXPECT_ERR(load("fashion-mnist", "l.idx", 0, &d), MINIMA_EINVAL, "own labels", NULL, NULL);
    EXPECT_ERR(minima_fashion_mnist_locate("dev", &im, &lb), MINIMA_EINVAL, "'dev'", NULL, NULL);
}

static void test_dispatch(void)
{
    minima_dataset *d = NULL;
    EXPECT_ERR(load("data.txt", NULL, 0, &d), MINIMA_EINVAL, "unknown data source 'data.txt'",
               ".npy", NULL);
    CHECK(d == NULL);
    EXPECT_ERR(load(tmp_path("none.npy"), NULL, 0, &d), MINIMA_EIO, "none.npy", NULL, NULL);
    EXPECT_ERR(load(tmp_path("none-ubyte.gz"), "l.idx", 0, &d), MINIMA_EIO, "none-ubyte.gz",
               NULL, NULL);
    EXPECT_ERR(minima_data_load(NULL, NULL, &d), MINIMA_EINVAL, NULL, NULL, NULL);
}

/* Every allocation failure gives MINIMA_ENOMEM (never a crash; the
 * sanitizer build checks that nothing leaks). */
static void test_alloc_failures(void)
{
    const char *xp = tmp_path("af.npy"), *yp = tmp_path("af-labels.idx.gz");
    const char *ip = tmp_path("af.idx"), *cp = tmp_path("af.csv");
    double x[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    size_t s[2] = {4, 3}, l[1] = {4};
    CHECK_OK(minima_npy_write(xp, 2, s, x));
    CHECK_OK(minima_idx_write(ip, MINIMA_IDX_U8, 2, s, x, 0));
    CHECK_OK(minima_idx_write(yp, MINIMA_IDX_U8, 1, l, x, 1));
    write_bytes(cp, "h,a\n1,2\n0,3\n", 12);
    struct { const char *src, *labels; } cases[] = {
        {xp, yp}, {ip, yp}, {cp, NULL}, {"synthetic:blobs:20", NULL},
        {"synthetic:teacher:20", NULL}, {"synthetic:teacher:20:noise=0.5", NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int succeeded = 0;
        for (long n = 0; n < 200 && !succeeded; n++) {
            minima_dataset *d = NULL;
            minima_alloc_fail_after(n);
            minima_status st = load(cases[k].src, cases[k].labels, 0, &d);
            minima_alloc_fail_after(-1);
            CHECK_MSG(st == MINIMA_OK || st == MINIMA_ENOMEM, "%s, failing allocation %ld: %s: %s",
                      cases[k].src, n, minima_strerror(st), minima_last_error());
            CHECK(st == MINIMA_OK ? d != NULL : d == NULL);
            succeeded = st == MINIMA_OK;
            minima_dataset_free(d);
        }
        CHECK_MSG(succeeded, "%s never loaded", cases[k].src);
    }
}

int main(void)
{
    RUN(test_dataset);
    RUN(test_idx_roundtrip);
    RUN(test_idx_bad);
    RUN(test_idx_dataset);
    RUN(test_npy_dtypes);
    RUN(test_npy_header_variants);
    RUN(test_npy_roundtrip);
    RUN(test_npy_bad);
    RUN(test_npy_dataset);
    RUN(test_csv);
    RUN(test_npy_shapes);
    RUN(test_data_limit);
    RUN(test_bounded_memory);
    RUN(test_labels);
    RUN(test_synthetic);
    RUN(test_fashion_mnist);
    RUN(test_dispatch);
    RUN(test_alloc_failures);
    return harness_report();
}
