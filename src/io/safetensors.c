/* safetensors.c — models in and out of safetensors files (safetensors.h). */
#include "minima/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/graph_load_impl.h"
#include "io/layer_order_impl.h"
#include "io/model_tensors_impl.h"
#include "minima/alloc.h"
#include "minima/dist.h"
#include "minima/onnx.h"
#include "minima/tempfile.h"

/* ---- dtypes ----------------------------------------------------------- */

/* Every dtype name the format defines; those with size 0 are not read. */
static const struct { const char *name; int size; int supported; } dtype_table[] = {
    {"F64", 8, 1}, {"F32", 4, 1}, {"F16", 2, 1}, {"BF16", 2, 1},
    {"I64", 8, 0}, {"I32", 4, 0}, {"I16", 2, 0}, {"I8", 1, 0},
    {"U64", 8, 0}, {"U32", 4, 0}, {"U16", 2, 0}, {"U8", 1, 0}, {"BOOL", 1, 0},
    {"F8_E4M3", 1, 0}, {"F8_E5M2", 1, 0},
};
enum { N_DTYPES = (int)(sizeof dtype_table / sizeof dtype_table[0]) };

const char *minima_dtype_name(minima_dtype d)
{
    switch (d) {
    case MINIMA_DTYPE_F64: return "F64";
    case MINIMA_DTYPE_F32: return "F32";
    case MINIMA_DTYPE_F16: return "F16";
    case MINIMA_DTYPE_BF16: return "BF16";
    }
    return "unknown";
}

minima_status minima_dtype_parse(const char *s, minima_dtype *d)
{
    static const struct { const char *name; minima_dtype d; } names[] = {
        {"F64", MINIMA_DTYPE_F64}, {"f64", MINIMA_DTYPE_F64}, {"float64", MINIMA_DTYPE_F64},
        {"double", MINIMA_DTYPE_F64}, {"F32", MINIMA_DTYPE_F32}, {"f32", MINIMA_DTYPE_F32},
        {"float32", MINIMA_DTYPE_F32}, {"float", MINIMA_DTYPE_F32},
        {"F16", MINIMA_DTYPE_F16}, {"f16", MINIMA_DTYPE_F16}, {"float16", MINIMA_DTYPE_F16},
        {"BF16", MINIMA_DTYPE_BF16}, {"bf16", MINIMA_DTYPE_BF16}, {"bfloat16", MINIMA_DTYPE_BF16},
    };
    if (!d) MINIMA_FAIL(MINIMA_EINVAL, "minima_dtype_parse: NULL argument");
    for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) { *d = names[i].d; return MINIMA_OK; }
    MINIMA_FAIL(MINIMA_EINVAL, "dtype '%s': expected F64 or F32 (also F16, BF16 for reading)",
                s ? s : "(null)");
}

/* Table index of a minima_dtype. */
static int dtype_index(minima_dtype d)
{
    return d == MINIMA_DTYPE_F64 ? 0 : d == MINIMA_DTYPE_F32 ? 1 : d == MINIMA_DTYPE_F16 ? 2 : 3;
}

/* ---- little-endian bytes <-> numbers (independent of the host) --------- */

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++, v >>= 8) p[i] = (unsigned char)(v & 0xff);
}

/* IEEE binary16 bits to double, exactly (subnormals, Inf and NaN included). */
static double half_to_double(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    double v;
    if (exp == 0) v = ldexp((double)frac, -24);
    else if (exp == 31) v = frac ? NAN : INFINITY;
    else v = ldexp((double)(frac | 0x400), exp - 25);
    return sign ? -v : v;
}

/* Element i of a buffer of the given table dtype, as a double. */
static double decode(const unsigned char *p, int dtype)
{
    switch (dtype) {
    case 0: { uint64_t u = get_le(p, 8); double d; memcpy(&d, &u, 8); return d; }
    case 1: { uint32_t u = (uint32_t)get_le(p, 4); float f; memcpy(&f, &u, 4); return f; }
    case 2: return half_to_double((uint16_t)get_le(p, 2));
    default: { uint32_t u = (uint32_t)get_le(p, 2) << 16; float f; memcpy(&f, &u, 4); return f; }
    }
}

/* ---- natural sort ------------------------------------------------------ */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int minima_natural_compare(const char *a, const char *b)
{
    const char *p = a, *q = b;
    while (*p && *q) {
        if (is_digit(*p) && is_digit(*q)) {
            while (*p == '0' && is_digit(p[1])) p++;      /* skip leading zeros */
            while (*q == '0' && is_digit(q[1])) q++;
            size_t np = 0, nq = 0;
            while (is_digit(p[np])) np++;
            while (is_digit(q[nq])) nq++;
            if (np != nq) return np < nq ? -1 : 1;          /* fewer digits: smaller */
            int c = memcmp(p, q, np);
            if (c) return c < 0 ? -1 : 1;
            p += np;
            q += nq;
            continue;
        }
        if (*p != *q) return (unsigned char)*p < (unsigned char)*q ? -1 : 1;
        p++;
        q++;
    }
    if (*p || *q) return *p ? 1 : -1;
    int c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

/* ---- loading ----------------------------------------------------------- */

minima_load_options minima_load_default_options(void)
{
    minima_load_options o;
    o.allow_nonfinite = 0;
    o.ignore_unknown = 0;
    o.max_header_bytes = 100u * 1000u * 1000u;
    o.activation_set = 0;
    o.activation = MINIMA_ACT_RELU;
    o.leaky_slope = 0.01;
    o.order = NULL;
    o.expected_inputs = 0;
    o.arch = NULL;
    return o;
}

enum { ROLE_OTHER, ROLE_WEIGHT, ROLE_BIAS };
#define MAX_EXACT 9007199254740992.0     /* 2^53: JSON integers beyond are not exact */
#define MAX_WIDTH 100000000ULL           /* model.h: widths between 1 and 1e8 */
#define MAX_LAYERS 1000

typedef struct {
    const char *name;          /* owned by the cJSON tree */
    int dtype;                 /* index in dtype_table */
    const cJSON *shape;
    int ndim;
    uint64_t dim[2];           /* the first two dimensions (for layers) */
    uint64_t numel;
    uint64_t begin, end;       /* relative to the data section */
    int role;
    size_t prefix_len;         /* length of the layer name for weights and biases */
    const int64_t *mem_shape;  /* (ndim) the shape of a tensor in memory (shape is NULL) */
    const double *values;      /* (numel) the values of a tensor in memory, or NULL */
} st_tensor;

typedef struct {
    char *name;                /* layer name (owned) */
    int weight, bias;          /* tensor indices; bias -1 if none */
} st_layer;

typedef struct {
    const char *path;
    const minima_load_options *opts;
    FILE *f;
    uint64_t file_size, header_len, data_size;
    char *header;              /* (header_len + 1) */
    cJSON *root;
    const cJSON *metadata;
    st_tensor *t;
    int n_t;
    const st_tensor **order;   /* (n_t) pointers into t, scratch for sorting */
    st_layer *layers;
    int n_layers;
    minima_provenance order_source;
    const char *order_how;     /* how the caller gives an order, for messages */
    const char *arch_how;      /* how the caller gives an architecture, for messages */
} loader;

static void loader_free(loader *L)
{
    if (L->f) fclose(L->f);
    for (int i = 0; L->layers && i < L->n_layers; i++) minima_free(L->layers[i].name);
    minima_free(L->layers);
    minima_free(L->order);
    minima_free(L->t);
    cJSON_Delete(L->root);
    minima_free(L->header);
}

/* The shape of tensor t as "[a, b, c]" in buf. */
static const char *shape_str(const st_tensor *t, char *buf, size_t size)
{
    size_t used = 0;
    int n = snprintf(buf, size, "[");
    used = n > 0 ? (size_t)n : 0;
    int i = 0;
    for (const cJSON *d = t->shape ? t->shape->child : NULL; d && used < size; d = d->next, i++) {
        n = snprintf(buf + used, size - used, "%s%.17g", i ? ", " : "", d->valuedouble);
        if (n < 0) break;
        used += (size_t)n;
    }
    for (i = 0; !t->shape && t->mem_shape && i < t->ndim && used < size; i++) {
        n = snprintf(buf + used, size - used, "%s%" PRId64, i ? ", " : "", t->mem_shape[i]);
        if (n < 0) break;
        used += (size_t)n;
    }
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

/* Strict UTF-8 (no NUL, no overlong forms, no surrogates). Returns the
 * offset of the first bad byte, or len if all is well. */
static size_t utf8_check(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c == 0) return i;
        if (c < 0x80) { i++; continue; }
        int n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || c == 0xc0 || c == 0xc1 || c > 0xf4 || i + (size_t)n >= len) return i;
        uint32_t cp = c & (0x3f >> n);
        for (int k = 1; k <= n; k++) {
            if ((s[i + (size_t)k] & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (s[i + (size_t)k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += (size_t)n + 1;
    }
    return len;
}

/* Reads and parses the 8-byte length and the JSON header. */
static minima_status read_header(loader *L)
{
    const char *path = L->path;
    L->f = fopen(path, "rb");
    if (!L->f) MINIMA_FAIL(MINIMA_EIO, "cannot open model file '%s': %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(L->f), &sb) != 0)
        MINIMA_FAIL(MINIMA_EIO, "cannot stat model file '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        MINIMA_FAIL(MINIMA_EIO, "model file '%s' is not a regular file", path);
    L->file_size = (uint64_t)sb.st_size;
    /* A torch.save file starts with a zip signature (PyTorch >= 1.6) or a
     * pickle PROTO opcode. Both prefixes are also possible header lengths,
     * so a file is taken for one only if byte 8 is not the '{' a
     * safetensors header starts with. */
    unsigned char magic[9] = {0};
    size_t got = fread(magic, 1, sizeof magic, L->f);
    int json_at_8 = got == 9 && magic[8] == '{';
    if (!json_at_8 && ((got >= 4 && !memcmp(magic, "PK\x03\x04", 4)) ||
                       (got >= 2 && magic[0] == 0x80 && magic[1] >= 2 && magic[1] <= 5)))
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s': this is a torch.save file (%s at offset 0), not "
                    "safetensors; save with safetensors: safetensors.torch.save_file("
                    "model.state_dict(), path)", path, magic[0] == 0x80 ? "a pickle" : "a zip archive");
    if (fseeko(L->f, 0, SEEK_SET) != 0)
        MINIMA_FAIL(MINIMA_EIO, "cannot read model file '%s': %s", path, strerror(errno));
    if (L->file_size < 8)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': the file is %" PRIu64 " bytes long; a safetensors file "
                    "starts with an 8-byte header length (is the file truncated?)", path, L->file_size);
    unsigned char len8[8];
    if (fread(len8, 1, 8, L->f) != 8)
        MINIMA_FAIL(MINIMA_EIO, "'%s': cannot read the header length at offset 0: %s", path,
                    ferror(L->f) ? strerror(errno) : "unexpected end of file");
    L->header_len = get_le(len8, 8);
    if (L->header_len > L->file_size - 8)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': the header length at offset 0 is %" PRIu64 " bytes but "
                    "only %" PRIu64 " bytes follow it (truncated file, or not a safetensors file)",
                    path, L->header_len, L->file_size - 8);
    if (L->header_len > L->opts->max_header_bytes)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': the header length at offset 0 is %" PRIu64 " bytes, more "
                    "than the limit of %zu bytes", path, L->header_len, L->opts->max_header_bytes);
    if (L->header_len < 2)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': the header length at offset 0 is %" PRIu64 "; expected "
                    "at least 2 bytes of JSON (\"{}\")", path, L->header_len);
    L->data_size = L->file_size - 8 - L->header_len;
    L->header = minima_alloc((size_t)L->header_len + 1, 1);
    if (!L->header)
        MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory for a header of %" PRIu64 " bytes", path,
                    L->header_len);
    if (fread(L->header, 1, (size_t)L->header_len, L->f) != (size_t)L->header_len)
        MINIMA_FAIL(MINIMA_EIO, "'%s': cannot read the %" PRIu64 "-byte header at offset 8: %s", path,
                    L->header_len, ferror(L->f) ? strerror(errno) : "unexpected end of file");
    L->header[L->header_len] = '\0';
    size_t bad = utf8_check((const unsigned char *)L->header, (size_t)L->header_len);
    if (bad < L->header_len)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': the header is not valid UTF-8 text: byte 0x%02x at file "
                    "offset %" PRIu64, path, (unsigned char)L->header[bad], 8 + (uint64_t)bad);
    if (L->header[0] != '{')
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': the header at offset 8 must be a JSON object starting "
                    "with '{', found '%c'", path, L->header[0]);
    const char *end = NULL;
    L->root = cJSON_ParseWithLengthOpts(L->header, (size_t)L->header_len, &end, 0);
    if (!L->root) {
        const char *at = end;             /* cJSON sets it to the error position */
        uint64_t off = at && at >= L->header && at <= L->header + L->header_len
                           ? (uint64_t)(at - L->header) : 0;
        const char *rest = L->header + off;
        while (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r') rest++;
        if (!*rest)
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': the JSON header (file offsets 8..%" PRIu64 ") ends "
                        "before its object is complete", path, 8 + L->header_len);
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': the JSON header is malformed near file offset %" PRIu64
                    " (found '%.20s')", path, 8 + off, L->header + off);
    }
    for (const char *p = end; p && p < L->header + L->header_len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': unexpected text after the JSON header at file offset "
                        "%" PRIu64 " (found '%.20s'); expected padding spaces", path,
                        8 + (uint64_t)(p - L->header), p);
    if (!cJSON_IsObject(L->root))
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': the header must be a JSON object", path);
    return MINIMA_OK;
}

/* A non-negative JSON integer (exact in a double). */
static int json_uint(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || d > MAX_EXACT || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

static const char *json_kind(const cJSON *v)
{
    if (!v) return "nothing";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "something else";
}

/* Whether t is a layer's weight or bias, by its name. */
static void set_role(st_tensor *t)
{
    const char *name = t->name;
    size_t n = strlen(name);
    if (n >= 7 && !strcmp(name + n - 7, ".weight")) { t->role = ROLE_WEIGHT; t->prefix_len = n - 7; }
    else if (!strcmp(name, "weight")) { t->role = ROLE_WEIGHT; t->prefix_len = 0; }
    else if (n >= 5 && !strcmp(name + n - 5, ".bias")) { t->role = ROLE_BIAS; t->prefix_len = n - 5; }
    else if (!strcmp(name, "bias")) { t->role = ROLE_BIAS; t->prefix_len = 0; }
    else t->role = ROLE_OTHER;
}

/* Validates one tensor entry of the header into t. */
static minima_status parse_entry(loader *L, const cJSON *e, st_tensor *t)
{
    const char *path = L->path, *name = e->string;
    memset(t, 0, sizeof *t);
    t->name = name;
    if (!cJSON_IsObject(e))
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': expected an object with dtype, shape and "
                    "data_offsets, found %s", path, name, json_kind(e));
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt))
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': \"dtype\" must be a string, found %s", path,
                    name, json_kind(dt));
    t->dtype = -1;
    for (int i = 0; i < N_DTYPES; i++)
        if (!strcmp(dt->valuestring, dtype_table[i].name)) t->dtype = i;
    if (t->dtype < 0)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': unknown dtype \"%.40s\"; expected F64, F32, "
                    "F16 or BF16", path, name, dt->valuestring);
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(sh))
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': \"shape\" must be an array of integers, "
                    "found %s", path, name, json_kind(sh));
    t->shape = sh;
    t->numel = 1;
    for (const cJSON *d = sh->child; d; d = d->next, t->ndim++) {
        uint64_t v;
        if (!json_uint(d, &v))
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': shape entry %d must be a non-negative "
                        "integer, found %s%s%.17g", path, name, t->ndim, json_kind(d),
                        cJSON_IsNumber(d) ? " " : "", cJSON_IsNumber(d) ? d->valuedouble : 0.0);
        if (t->ndim < 2) t->dim[t->ndim] = v;
        if (v && t->numel > UINT64_MAX / v)
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': the product of its shape overflows 64 "
                        "bits (the header lies about the tensor's size)", path, name);
        t->numel *= v;
    }
    uint64_t esize = (uint64_t)dtype_table[t->dtype].size;
    if (t->numel > UINT64_MAX / esize)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': its byte size (%" PRIu64 " elements of %"
                    PRIu64 " bytes) overflows 64 bits", path, name, t->numel, esize);
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 || !json_uint(off->child, &t->begin) ||
        !json_uint(off->child->next, &t->end))
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': \"data_offsets\" must be two non-negative "
                    "integers [begin, end], found %s", path, name, json_kind(off));
    for (const cJSON *k = e->child; k; k = k->next)
        if (strcmp(k->string, "dtype") && strcmp(k->string, "shape") && strcmp(k->string, "data_offsets"))
            minima_log(MINIMA_LOG_WARN, "'%s': tensor '%s': ignoring unknown key \"%.40s\" "
                       "(expected dtype, shape and data_offsets)", path, name, k->string);
    if (t->begin > t->end)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] "
                    "end before begin", path, name, t->begin, t->end);
    if (t->end > L->data_size)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] "
                    "reach past the end of the data section (%" PRIu64 " bytes, file offsets %"
                    PRIu64 "..%" PRIu64 "): truncated file or corrupt header", path, name, t->begin,
                    t->end, L->data_size, 8 + L->header_len, L->file_size);
    if (t->end - t->begin != t->numel * esize) {
        char sbuf[128];
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] "
                    "span %" PRIu64 " bytes; shape %s of %s needs %" PRIu64 " bytes", path, name,
                    t->begin, t->end, t->end - t->begin, shape_str(t, sbuf, sizeof sbuf),
                    dtype_table[t->dtype].name, t->numel * esize);
    }
    set_role(t);
    return MINIMA_OK;
}

static int cmp_by_name(const void *a, const void *b)
{
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

static int cmp_by_begin(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* No two tensors share a name (L->order: the tensors, sorted here). */
static minima_status check_unique_names(loader *L, const char *where)
{
    qsort(L->order, (size_t)L->n_t, sizeof *L->order, cmp_by_name);
    for (int i = 1; i < L->n_t; i++)
        if (!strcmp(L->order[i]->name, L->order[i - 1]->name))
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s' appears twice %s", L->path,
                        L->order[i]->name, where);
    return MINIMA_OK;
}

/* Validates every entry, then names (no duplicates) and byte ranges (no overlap). */
static minima_status parse_entries(loader *L)
{
    const char *path = L->path;
    int count = 0;
    for (const cJSON *e = L->root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if (L->metadata)
                MINIMA_FAIL(MINIMA_EFORMAT, "'%s': \"__metadata__\" appears twice in the header", path);
            if (!cJSON_IsObject(e))
                MINIMA_FAIL(MINIMA_EFORMAT, "'%s': \"__metadata__\" must be an object of strings, "
                            "found %s", path, json_kind(e));
            for (const cJSON *k = e->child; k; k = k->next)
                if (!cJSON_IsString(k))
                    MINIMA_FAIL(MINIMA_EFORMAT, "'%s': __metadata__ \"%.60s\" must be a string, "
                                "found %s", path, k->string, json_kind(k));
            L->metadata = e;
            continue;
        }
        if (count == INT_MAX)
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': too many tensors in the header", path);
        count++;
    }
    if (count == 0)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': the file holds no tensors; expected at least one "
                    "\"<layer>.weight\"", path);
    L->t = minima_alloc((size_t)count, sizeof *L->t);
    L->order = minima_alloc((size_t)count, sizeof *L->order);
    if (!L->t || !L->order) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory for %d tensors", path, count);
    for (const cJSON *e = L->root->child; e; e = e->next) {
        if (e == L->metadata) continue;
        MINIMA_TRY(parse_entry(L, e, &L->t[L->n_t]));
        L->order[L->n_t] = &L->t[L->n_t];
        L->n_t++;
    }
    MINIMA_TRY(check_unique_names(L, "in the header"));
    qsort(L->order, (size_t)L->n_t, sizeof *L->order, cmp_by_begin);
    uint64_t covered = 0;
    for (int i = 0; i < L->n_t; i++) {
        const st_tensor *t = L->order[i];
        if (t->begin == t->end) continue;             /* empty tensors overlap nothing */
        if (t->begin < covered) {
            const st_tensor *prev = NULL;
            for (int j = i - 1; j >= 0 && !prev; j--)
                if (L->order[j]->end > t->begin) prev = L->order[j];
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensors '%s' [%" PRIu64 ", %" PRIu64 "] and '%s' [%"
                        PRIu64 ", %" PRIu64 "] overlap in the data section; expected disjoint byte "
                        "ranges", path, prev ? prev->name : "?", prev ? prev->begin : 0,
                        prev ? prev->end : 0, t->name, t->begin, t->end);
        }
        if (t->begin > covered)
            minima_log(MINIMA_LOG_DEBUG, "'%s': %" PRIu64 " unused bytes before tensor '%s' in the "
                       "data section", path, t->begin - covered, t->name);
        covered = t->end;
    }
    if (covered < L->data_size)
        minima_log(MINIMA_LOG_DEBUG, "'%s': %" PRIu64 " unused bytes at the end of the data section",
                   path, L->data_size - covered);
    return MINIMA_OK;
}

static int cmp_layers_by_name(const void *a, const void *b)
{
    return strcmp(((const st_layer *)a)->name, ((const st_layer *)b)->name);
}

static int cmp_layers_natural(const void *a, const void *b)
{
    return minima_natural_compare(((const st_layer *)a)->name, ((const st_layer *)b)->name);
}

/* A layer's tensors must hold floating-point numbers. */
static minima_status check_dtype(const loader *L, const st_tensor *t)
{
    if (!dtype_table[t->dtype].supported)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s': tensor '%s' has dtype %s; minima reads only "
                    "floating-point parameters (F64, F32, F16, BF16)", L->path, t->name,
                    dtype_table[t->dtype].name);
    return MINIMA_OK;
}

/* The layer (L->layers sorted by strcmp of names) named by the first len
 * bytes of name, or NULL. */
static st_layer *find_layer(loader *L, const char *name, size_t len)
{
    int lo = 0, hi = L->n_layers - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const char *ln = L->layers[mid].name;
        int c = strncmp(ln, name, len);
        if (c == 0 && ln[len] != '\0') c = 1;        /* ln is longer: it sorts after */
        if (c == 0) return &L->layers[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

/* True if name is `stat` or ends in "." stat. */
static int has_suffix_part(const char *name, const char *stat)
{
    size_t n = strlen(name), k = strlen(stat);
    return n >= k && !strcmp(name + n - k, stat) && (n == k || name[n - k - 1] == '.');
}

/* BatchNorm layers leave running statistics in a state dict; their weight
 * and bias are 1-D and would otherwise be reported as malformed layers. */
static minima_status check_batchnorm(const loader *L)
{
    static const char *const stats[] = {"running_mean", "running_var", "num_batches_tracked"};
    for (int i = 0; i < L->n_t; i++)
        for (size_t s = 0; s < sizeof stats / sizeof stats[0]; s++)
            if (has_suffix_part(L->t[i].name, stats[s]))
                MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s': tensor '%s' holds BatchNorm statistics: "
                            "BatchNorm is not supported in a safetensors MLP; fold it into the "
                            "linear layer next to it, or export ONNX, or pass the architecture "
                            "with a bn after that layer (%s, e.g. 784:128,bn,relu,10; "
                            "docs/model-files.md) and minima folds it at load", L->path,
                            L->t[i].name, L->arch_how);
    return MINIMA_OK;
}

/* The layer with exactly this name, or -1 (L->layers sorted by strcmp). */
static int layer_index(loader *L, const char *name, size_t len)
{
    st_layer *l = find_layer(L, name, len);
    return l ? (int)(l - L->layers) : -1;
}

/* Parses a comma-separated list of every layer name once into perm. `what`
 * names where the list came from in messages. */
static minima_status parse_order(loader *L, const char *list, const char *what, minima_status bad,
                                 int *perm)
{
    const char *path = L->path, *p = list;
    char *seen = minima_calloc((size_t)L->n_layers, 1);
    if (!seen) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory", path);
    minima_status st = MINIMA_OK;
    int n = 0;
    for (;;) {
        size_t len = strcspn(p, ",");
        int k = layer_index(L, p, len);
        if (k < 0) {
            st = minima_error(bad, "'%s': %s \"%.200s\" names '%.*s', which is not a layer of the "
                              "file; expected each of its %d layer names once, comma-separated "
                              "(e.g. '%s')", path, what, list, (int)(len > 80 ? 80 : len), p,
                              L->n_layers, L->layers[0].name);
            break;
        }
        if (seen[k]) {
            st = minima_error(bad, "'%s': %s \"%.200s\" names layer '%s' twice; expected each "
                              "layer once", path, what, list, L->layers[k].name);
            break;
        }
        seen[k] = 1;
        perm[n++] = k;
        if (!p[len]) break;
        p += len + 1;
    }
    for (int k = 0; st == MINIMA_OK && k < L->n_layers; k++)
        if (!seen[k])
            st = minima_error(bad, "'%s': %s \"%.200s\" leaves out layer '%s'; expected each of "
                              "its %d layers once", path, what, list, L->layers[k].name, L->n_layers);
    minima_free(seen);
    return st;
}

/* "a,b,c" for the layers in perm order, appended to buf (truncated with "..."). */
static void append_order(char *buf, size_t size, const loader *L, const int *perm)
{
    size_t used = strlen(buf);
    for (int k = 0; k < L->n_layers && used + 1 < size; k++) {
        int n = snprintf(buf + used, size - used, "%s%s", k ? "," : "", L->layers[perm[k]].name);
        if (n < 0 || (size_t)n >= size - used) {
            if (size > 4) memcpy(buf + size - 4, "...", 4);
            return;
        }
        used += (size_t)n;
    }
}

/* Finds the order of the layers (see safetensors.h) and puts L->layers in it. */
static minima_status decide_order(loader *L)
{
    const char *path = L->path;
    int n = L->n_layers;
    enum { MAX_LISTED = 5 };
    const long budget = 20000000;     /* candidates looked at: well under a second */
    minima_layer_shape *shapes = minima_alloc((size_t)n, sizeof *shapes);
    int *orders = minima_alloc((size_t)(MAX_LISTED + 1) * (size_t)n, sizeof *orders);
    st_layer *sorted = minima_alloc((size_t)n, sizeof *sorted);
    minima_status st = MINIMA_OK;
    if (!shapes || !orders || !sorted) { st = minima_error(MINIMA_ENOMEM, "'%s': out of memory", path); goto done; }
    const cJSON *meta_order = L->metadata ? cJSON_GetObjectItemCaseSensitive(L->metadata, "layers") : NULL;
    if (L->opts->order) {
        st = parse_order(L, L->opts->order, "the layer order", MINIMA_EINVAL, orders);
        L->order_source = MINIMA_FROM_OPTION;
    } else if (meta_order) {
        st = parse_order(L, meta_order->valuestring, "__metadata__ \"layers\"", MINIMA_EFORMAT, orders);
        L->order_source = MINIMA_FROM_FILE;
    } else {
        for (int k = 0; k < n; k++) {
            const st_tensor *w = &L->t[L->layers[k].weight];
            shapes[k].name = L->layers[k].name;
            shapes[k].in = w->dim[1];
            shapes[k].out = w->dim[0];
        }
        minima_layer_order_result r;
        uint64_t first_in = L->opts->expected_inputs > 0 ? (uint64_t)L->opts->expected_inputs : 0;
        st = minima_layer_orders(shapes, n, first_in, MAX_LISTED + 1, budget, orders, &r);
        /* no order takes the data's width: order without it, so that the
         * caller can report the mismatch with the data */
        if (st == MINIMA_OK && first_in && r.n_found == 0 && !r.truncated)
            st = minima_layer_orders(shapes, n, 0, MAX_LISTED + 1, budget, orders, &r);
        if (st != MINIMA_OK) goto done;
        if (r.n_found == 1 && !r.truncated) {
            L->order_source = r.index_only ? MINIMA_FROM_INDEX : MINIMA_FROM_SHAPES;
        } else if (r.n_found > MAX_LISTED || (r.n_found >= 2 && !r.truncated)) {
            char list[640] = "";
            int shown = r.n_found < MAX_LISTED ? r.n_found : MAX_LISTED;
            for (int i = 0; i < shown; i++) {
                strncat(list, "\n    ", sizeof list - strlen(list) - 1);
                append_order(list, sizeof list, L, orders + (size_t)i * (size_t)n);
            }
            st = minima_error(MINIMA_EINVAL, "'%s': the file does not record the order of its %d "
                              "layers and the shapes chain in %s%d orders:%s%s\nminima will not "
                              "guess; pass the order (%s, the layer names in the order "
                              "they run)", path, n, r.n_found > MAX_LISTED || r.truncated ? "at least " : "",
                              r.n_found > MAX_LISTED ? MAX_LISTED + 1 : r.n_found, list,
                              r.n_found > MAX_LISTED || r.truncated ? "\n    ..." : "", L->order_how);
            goto done;
        } else if (r.truncated) {
            st = minima_error(MINIMA_EINVAL, "'%s': the file does not record the order of its %d "
                              "layers and searching the orders in which their shapes chain took too "
                              "long (%d found so far); pass the order (%s)", path, n,
                              r.n_found, L->order_how);
            goto done;
        } else {
            /* report the first break in name order */
            memcpy(sorted, L->layers, (size_t)n * sizeof *sorted);
            qsort(sorted, (size_t)n, sizeof *sorted, cmp_layers_natural);
            char s1[128], s2[128];
            for (int k = 1; k < n; k++) {
                const st_tensor *prev = &L->t[sorted[k - 1].weight], *cur = &L->t[sorted[k].weight];
                if (cur->dim[1] != prev->dim[0]) {
                    st = minima_error(MINIMA_ESHAPE, "'%s': shapes do not chain in any order of the "
                                      "layers; in name order, '%s' is %s (out = %" PRIu64 ") but the "
                                      "next layer's '%s' is %s (in = %" PRIu64 "); expected in = %"
                                      PRIu64, path, prev->name, shape_str(prev, s1, sizeof s1),
                                      prev->dim[0], cur->name, shape_str(cur, s2, sizeof s2),
                                      cur->dim[1], prev->dim[0]);
                    goto done;
                }
            }
            st = minima_error(MINIMA_ESHAPE, "'%s': shapes do not chain in any order that keeps "
                              "numbered layers (such as 'fc1', 'fc2') in the order of their numbers",
                              path);
            goto done;
        }
    }
    if (st != MINIMA_OK) goto done;
    for (int k = 0; k < n; k++) sorted[k] = L->layers[orders[k]];
    memcpy(L->layers, sorted, (size_t)n * sizeof *sorted);
done:
    minima_free(shapes);
    minima_free(orders);
    minima_free(sorted);
    return st;
}

/* Groups weights and biases into layers, puts them in order, and checks shapes. */
static minima_status discover_layers(loader *L)
{
    const char *path = L->path;
    char s1[128], s2[128];
    int n_weights = 0;
    for (int i = 0; i < L->n_t; i++) n_weights += L->t[i].role == ROLE_WEIGHT;
    if (n_weights == 0)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': no tensor named \"<layer>.weight\" among its %d tensors "
                    "(the first is '%s'); expected a PyTorch state dict of Linear layers", path,
                    L->n_t, L->t[0].name);
    if (n_weights > MAX_LAYERS)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s': %d layers; minima handles at most %d", path,
                    n_weights, MAX_LAYERS);
    for (int i = 0; i < L->n_t; i++)
        if (L->t[i].role == ROLE_WEIGHT && L->t[i].ndim == 4)
            MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s': tensor '%s' is a 4-D convolution weight; this "
                        "file carries no graph: pass %s (docs/model-files.md)", L->path,
                        L->t[i].name, L->arch_how);
    MINIMA_TRY(check_batchnorm(L));
    L->layers = minima_calloc((size_t)n_weights, sizeof *L->layers);
    if (!L->layers) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory", path);
    for (int i = 0; i < L->n_t; i++) {
        const st_tensor *t = &L->t[i];
        if (t->role != ROLE_WEIGHT) continue;
        MINIMA_TRY(check_dtype(L, t));
        if (t->ndim != 2)
            MINIMA_FAIL(MINIMA_ESHAPE, "'%s': tensor '%s' has shape %s; a linear layer's weight must "
                        "be 2-D [out, in]", path, t->name, shape_str(t, s1, sizeof s1));
        if (t->dim[0] < 1 || t->dim[0] > MAX_WIDTH || t->dim[1] < 1 || t->dim[1] > MAX_WIDTH)
            MINIMA_FAIL(MINIMA_ESHAPE, "'%s': tensor '%s' has shape %s; expected widths between 1 "
                        "and 1e8", path, t->name, shape_str(t, s1, sizeof s1));
        st_layer *l = &L->layers[L->n_layers];
        l->name = minima_alloc(t->prefix_len + 1, 1);
        if (!l->name) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory", path);
        memcpy(l->name, t->name, t->prefix_len);
        l->name[t->prefix_len] = '\0';
        l->weight = i;
        l->bias = -1;
        L->n_layers++;
    }
    qsort(L->layers, (size_t)L->n_layers, sizeof *L->layers, cmp_layers_by_name);
    for (int k = 1; k < L->n_layers; k++)
        if (!strcmp(L->layers[k].name, L->layers[k - 1].name))
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensors '%s' and '%s' are both the weight of a layer "
                        "named '%s'", path, L->t[L->layers[k - 1].weight].name,
                        L->t[L->layers[k].weight].name, L->layers[k].name);
    for (int i = 0; i < L->n_t; i++) {
        const st_tensor *t = &L->t[i];
        if (t->role == ROLE_WEIGHT) continue;
        st_layer *l = NULL;
        if (t->role == ROLE_BIAS) l = find_layer(L, t->name, t->prefix_len);
        if (!l) {
            if (L->opts->ignore_unknown) {
                minima_log(MINIMA_LOG_WARN, "'%s': ignoring tensor '%s' %s: not the weight or bias of "
                           "a linear layer", path, t->name, shape_str(t, s1, sizeof s1));
                continue;
            }
            if (t->role == ROLE_BIAS)
                MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s' is a bias without a weight: expected a "
                            "tensor '%.*s%sweight' beside it", path, t->name, (int)t->prefix_len,
                            t->name, t->prefix_len ? "." : "");
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%s' %s is not the weight or bias of a linear "
                        "layer; expected only \"<layer>.weight\" [out, in] and \"<layer>.bias\" [out] "
                        "(minima reads networks of Linear layers only; the load option ignore_unknown skips other tensors)",
                        path, t->name, shape_str(t, s1, sizeof s1));
        }
        const st_tensor *w = &L->t[l->weight];
        MINIMA_TRY(check_dtype(L, t));
        if (t->ndim != 1 || t->dim[0] != w->dim[0])
            MINIMA_FAIL(MINIMA_ESHAPE, "'%s': bias '%s' has shape %s; expected [%" PRIu64 "] to match "
                        "weight '%s' %s", path, t->name, shape_str(t, s1, sizeof s1), w->dim[0],
                        w->name, shape_str(w, s2, sizeof s2));
        l->bias = i;
    }
    MINIMA_TRY(decide_order(L));
    int with_bias = 0;
    for (int k = 0; k < L->n_layers; k++) with_bias += L->layers[k].bias >= 0;
    if (with_bias && with_bias < L->n_layers) {
        int a = 0, b = 0;
        while (L->layers[a].bias < 0) a++;
        while (L->layers[b].bias >= 0) b++;
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': layer '%s' has a bias but layer '%s' has none; minima "
                    "expects biases on every layer or on none (tensor '%s.bias' is missing)", path,
                    L->layers[a].name, L->layers[b].name, L->layers[b].name);
    }
    for (int k = 1; k < L->n_layers; k++) {
        const st_tensor *prev = &L->t[L->layers[k - 1].weight], *cur = &L->t[L->layers[k].weight];
        if (cur->dim[1] != prev->dim[0])
            MINIMA_FAIL(MINIMA_ESHAPE, "'%s': shapes do not chain: '%s' is %s (out = %" PRIu64 ") but "
                        "the next layer's '%s' is %s (in = %" PRIu64 "); expected in = %" PRIu64
                        " (in the order %s)", path, prev->name,
                        shape_str(prev, s1, sizeof s1), prev->dim[0], cur->name,
                        shape_str(cur, s2, sizeof s2), cur->dim[1], prev->dim[0],
                        L->order_source == MINIMA_FROM_OPTION ? "given to minima" : "the file records");
    }
    return MINIMA_OK;
}

/* Applies __metadata__ to the model. */
static minima_status apply_metadata(loader *L, minima_model *m)
{
    const char *path = L->path;
    m->order_source = L->order_source;
    m->activation_source = MINIMA_FROM_ASSUMED;
    if (L->opts->activation_set) {
        /* the caller's activation wins; the file's is not even parsed */
        m->activation = L->opts->activation;
        m->activation_source = MINIMA_FROM_OPTION;
        if (m->activation == MINIMA_ACT_LEAKY_RELU) {
            double a = L->opts->leaky_slope;
            if (!(a > 0 && a < 1))
                MINIMA_FAIL(MINIMA_EINVAL, "'%s': the leaky ReLU slope given is %.17g; expected a "
                            "number between 0 and 1", path, a);
            m->leaky_slope = a;
        }
    }
    if (!L->metadata) return MINIMA_OK;
    for (const cJSON *k = L->metadata->child; k; k = k->next) {
        const char *key = k->string, *val = k->valuestring;
        int overridden = L->opts->activation_set &&
                         (!strcmp(key, "activation") || !strcmp(key, "leaky_slope"));
        if (overridden && !strcmp(key, "activation")) {
            minima_activation fa;
            if (minima_activation_parse(val, &fa) != MINIMA_OK || fa != m->activation)
                minima_log(MINIMA_LOG_WARN, "'%s': __metadata__ \"activation\" is \"%.40s\"; using "
                           "%s as asked instead", path, val, minima_activation_name(m->activation));
        } else if (overridden || !strcmp(key, "layers")) {
            continue;                 /* used by decide_order, or replaced by the caller's */
        } else if (!strcmp(key, "activation")) {
            m->activation_source = MINIMA_FROM_FILE;
            if (minima_activation_parse(val, &m->activation) != MINIMA_OK)
                MINIMA_FAIL(MINIMA_EFORMAT, "'%s': __metadata__ \"activation\" is \"%.40s\"; expected "
                            "relu, leaky_relu or tanh", path, val);
        } else if (!strcmp(key, "loss")) {
            if (minima_loss_parse(val, &m->loss) != MINIMA_OK)
                MINIMA_FAIL(MINIMA_EFORMAT, "'%s': __metadata__ \"loss\" is \"%.40s\"; expected ce or "
                            "mse", path, val);
        } else if (!strcmp(key, "leaky_slope")) {
            char *end;
            errno = 0;
            double a = strtod(val, &end);
            if (end == val || *end || errno || !(a > 0 && a < 1))
                MINIMA_FAIL(MINIMA_EFORMAT, "'%s': __metadata__ \"leaky_slope\" is \"%.40s\"; expected "
                            "a number between 0 and 1", path, val);
            m->leaky_slope = a;
        } else if (!strcmp(key, "arch")) {
            char arch[64];
            minima_model_arch_string(m, arch, sizeof arch);
            if (strcmp(arch, val) && strlen(arch) < sizeof arch - 1)
                minima_log(MINIMA_LOG_WARN, "'%s': __metadata__ \"arch\" says \"%.60s\" but the "
                           "tensors give %s; using the tensors", path, val, arch);
        } else if (strcmp(key, "format") != 0) {
            MINIMA_TRY(minima_model_set_meta(m, key, val));
        }
    }
    return MINIMA_OK;
}

/* Reads one tensor's data into dst (numel doubles), checking finiteness.
 * cols > 0 names 2-D entries [i, j] in messages. */
static minima_status read_tensor(loader *L, const st_tensor *t, double *dst, uint64_t cols,
                                 unsigned char *buf, size_t buf_elems)
{
    const char *path = L->path;
    if (t->values) {
        for (uint64_t idx = 0; idx < t->numel; idx++) {
            double v = t->values[idx];
            if (!isfinite(v) && !L->opts->allow_nonfinite) {
                if (cols)
                    MINIMA_FAIL(MINIMA_ENONFINITE, "'%s': tensor '%s' entry [%" PRIu64 ", %" PRIu64
                                "] is %g; expected finite weights", path, t->name, idx / cols,
                                idx % cols, v);
                MINIMA_FAIL(MINIMA_ENONFINITE, "'%s': tensor '%s' entry [%" PRIu64 "] is %g; "
                            "expected finite weights", path, t->name, idx, v);
            }
            dst[idx] = v;
        }
        return MINIMA_OK;
    }
    int esize = dtype_table[t->dtype].size;
    uint64_t start = 8 + L->header_len + t->begin;
    if (start > (uint64_t)LLONG_MAX || fseeko(L->f, (off_t)start, SEEK_SET) != 0)
        MINIMA_FAIL(MINIMA_EIO, "'%s': cannot seek to tensor '%s' at file offset %" PRIu64 ": %s",
                    path, t->name, start, strerror(errno));
    for (uint64_t done = 0; done < t->numel;) {
        size_t n = (size_t)(t->numel - done < buf_elems ? t->numel - done : buf_elems);
        if (fread(buf, (size_t)esize, n, L->f) != n)
            MINIMA_FAIL(MINIMA_EIO, "'%s': cannot read tensor '%s' at file offset %" PRIu64 ": %s",
                        path, t->name, start + done * (uint64_t)esize,
                        ferror(L->f) ? strerror(errno) : "unexpected end of file (did it shrink?)");
        for (size_t i = 0; i < n; i++) {
            double v = decode(buf + i * (size_t)esize, t->dtype);
            uint64_t idx = done + i;
            if (!isfinite(v) && !L->opts->allow_nonfinite) {
                if (cols)
                    MINIMA_FAIL(MINIMA_ENONFINITE, "'%s': tensor '%s' entry [%" PRIu64 ", %" PRIu64
                                "] (file offset %" PRIu64 ") is %g; expected finite weights",
                                path, t->name, idx / cols, idx % cols,
                                start + idx * (uint64_t)esize, v);
                MINIMA_FAIL(MINIMA_ENONFINITE, "'%s': tensor '%s' entry [%" PRIu64 "] (file offset %"
                            PRIu64 ") is %g; expected finite weights", path, t->name, idx,
                            start + idx * (uint64_t)esize, v);
            }
            dst[idx] = v;
        }
        done += n;
    }
    return MINIMA_OK;
}

static minima_status build_model(loader *L, minima_model **out)
{
    const char *path = L->path;
    minima_model *m = NULL;
    unsigned char *buf = NULL;
    int *widths = NULL;
    const size_t buf_elems = 65536;
    minima_status st;
    widths = minima_alloc((size_t)L->n_layers + 1, sizeof *widths);
    buf = minima_alloc(buf_elems, 8);
    if (!widths || !buf) { st = minima_error(MINIMA_ENOMEM, "'%s': out of memory", path); goto fail; }
    widths[0] = (int)L->t[L->layers[0].weight].dim[1];
    for (int k = 0; k < L->n_layers; k++) widths[k + 1] = (int)L->t[L->layers[k].weight].dim[0];
    st = minima_model_create(&m, L->n_layers, widths, L->layers[0].bias >= 0, MINIMA_ACT_RELU);
    if (st != MINIMA_OK) goto fail;
    for (int k = 0; k < L->n_layers; k++)
        if ((st = minima_model_set_layer_name(m, k, L->layers[k].name)) != MINIMA_OK) goto fail;
    if ((st = apply_metadata(L, m)) != MINIMA_OK) goto fail;
    /* apply_metadata decided the activation; the graph's nodes follow it. */
    if ((st = minima_model_set_activation(m, m->activation, m->leaky_slope)) != MINIMA_OK) goto fail;
    for (int k = 0; k < L->n_layers; k++) {
        const st_tensor *w = &L->t[L->layers[k].weight];
        st = read_tensor(L, w, minima_model_weight(m, k), w->dim[1], buf, buf_elems);
        if (st != MINIMA_OK) goto fail;
        if (L->layers[k].bias >= 0) {
            st = read_tensor(L, &L->t[L->layers[k].bias], minima_model_bias(m, k), 0, buf, buf_elems);
            if (st != MINIMA_OK) goto fail;
        }
    }
    minima_free(widths);
    minima_free(buf);
    *out = m;
    return MINIMA_OK;
fail:
    minima_free(widths);
    minima_free(buf);
    minima_model_free(m);
    return st;
}

/* ---- graphs: a model from an architecture ------------------------------ */

/* Metadata keys minima writes itself (recomputed on save). */
static int is_reserved_meta(const char *key)
{
    return !strcmp(key, "format") || !strcmp(key, "activation") || !strcmp(key, "loss") ||
           !strcmp(key, "arch") || !strcmp(key, "leaky_slope") || !strcmp(key, "layers") ||
           !strcmp(key, "folded_batchnorm");
}

/* Marks the nodes named in __metadata__ "folded_batchnorm" (a comma list
 * of node names that minima writes when it saves a model whose BatchNorms
 * were folded at load), so that info still says so. */
static void mark_folded(minima_model *m, const char *list)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        for (int i = 1; i < m->n_nodes; i++)
            if (m->nodes[i].n_weight && strlen(m->nodes[i].name) == len &&
                !strncmp(m->nodes[i].name, p, len))
                m->nodes[i].folded_batchnorm = 1;
        p += len + (p[len] == ',');
    }
}

/* What the tensors of a graph model are, by the part of their name after
 * the last '.' (PyTorch's parameter and buffer names). */
enum { SUF_WEIGHT, SUF_BIAS, SUF_MEAN, SUF_VAR, SUF_COUNT, SUF_OTHER };

static int suffix_rank(const char *suffix)
{
    static const char *const names[] = {"weight", "bias", "running_mean", "running_var",
                                        "num_batches_tracked"};
    for (int i = 0; i < SUF_OTHER; i++)
        if (!strcmp(suffix, names[i])) return i;
    return SUF_OTHER;
}

/* One tensor of a state dict, split into its module ("features.0") and its
 * suffix ("weight"). */
typedef struct {
    const st_tensor *t;
    char *module;              /* owned; "" for a bare "weight" */
    int rank;                  /* SUF_* */
} gt_entry;

static int cmp_gt(const void *a, const void *b)
{
    const gt_entry *x = a, *y = b;
    int c = minima_natural_compare(x->module, y->module);
    if (c) return c;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return minima_natural_compare(x->t->name, y->t->name);
}

/* Dimension k of tensor t (k < t->ndim). */
static uint64_t tensor_dim(const st_tensor *t, int k)
{
    if (t->mem_shape) return (uint64_t)t->mem_shape[k];
    const cJSON *d = t->shape ? t->shape->child : NULL;
    for (int i = 0; d && i < k; i++) d = d->next;
    uint64_t v = 0;
    if (d) json_uint(d, &v);
    return v;
}

/* The PyTorch shape of node i's weight (linear [out, in], conv2d [out,
 * in/groups, kh, kw]); returns its rank. */
static int weight_shape(const minima_model *g, int i, uint64_t dims[4])
{
    const minima_node *nd = &g->nodes[i];
    minima_shape in = g->nodes[nd->inputs[0]].shape;
    dims[0] = (uint64_t)nd->out;
    if (nd->kind == MINIMA_NODE_CONV2D) {
        dims[1] = (uint64_t)(in.c / (nd->groups > 0 ? nd->groups : 1));
        dims[2] = (uint64_t)nd->kernel[0];
        dims[3] = (uint64_t)nd->kernel[1];
        return 4;
    }
    if (nd->kind == MINIMA_NODE_LINEAR) {
        dims[1] = (uint64_t)minima_shape_size(in);
        return 2;
    }
    dims[0] = (uint64_t)nd->n_weight;       /* a parametric kind without a PyTorch layout */
    return 1;
}

static const char *dims_str(const uint64_t *dims, int n, char *buf, size_t size)
{
    size_t used = 0;
    int w = snprintf(buf, size, "[");
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < n && used < size; i++) {
        w = snprintf(buf + used, size - used, "%s%" PRIu64, i ? ", " : "", dims[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

static int has_shape(const st_tensor *t, const uint64_t *dims, int n)
{
    if (t->ndim != n) return 0;
    for (int i = 0; i < n; i++)
        if (tensor_dim(t, i) != dims[i]) return 0;
    return 1;
}

/* Where node i's parameters come from. */
typedef struct {
    const st_tensor *weight, *bias;
    const st_tensor *gamma, *beta, *mean, *var;    /* the BatchNorm folded into it */
    const char *bn_module;
    const char *name;          /* the node's new name, or NULL to keep it */
} gnode_src;

typedef struct {
    loader *L;
    const minima_model *g;     /* the graph the architecture describes */
    gnode_src *src;            /* (g->n_nodes) */
    gt_entry *e;               /* (n_e) the state dict's tensors, in order */
    int n_e;
    char **names;              /* (n_names) names read from "layers", owned */
    int n_names;
} gfill;

static void gfill_free(gfill *F)
{
    for (int i = 0; F->e && i < F->n_e; i++) minima_free(F->e[i].module);
    minima_free(F->e);
    for (int i = 0; F->names && i < F->n_names; i++) minima_free(F->names[i]);
    minima_free(F->names);
    minima_free(F->src);
}

static minima_status check_float(const loader *L, const st_tensor *t, const char *what)
{
    if (!dtype_table[t->dtype].supported)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s': tensor '%s' has dtype %s; %s must be floating-point "
                    "(F64, F32, F16, BF16)", L->path, t->name, dtype_table[t->dtype].name, what);
    return MINIMA_OK;
}

/* Checks that t has the shape `dims` (what the architecture expects of `what`
 * of node i). */
static minima_status expect_shape(gfill *F, const st_tensor *t, const uint64_t *dims, int n,
                                  const char *what, int i)
{
    char s1[128], s2[128], label[200];
    MINIMA_TRY(check_float(F->L, t, what));
    if (has_shape(t, dims, n)) return MINIMA_OK;
    minima_model_node_label(F->g, i, label, sizeof label);
    MINIMA_FAIL(MINIMA_ESHAPE, "'%s': tensor '%s' has shape %s; the architecture expects %s for "
                "%s (%s)", F->L->path, t->name, shape_str(t, s1, sizeof s1),
                dims_str(dims, n, s2, sizeof s2), label, what);
}

/* A minima file: node i's tensors are "<name>.weight" and "<name>.bias". */
static const st_tensor *find_tensor(const loader *L, const char *module, const char *suffix)
{
    size_t ml = strlen(module);
    for (int k = 0; k < L->n_t; k++) {
        const char *n = L->t[k].name;
        if (ml ? (!strncmp(n, module, ml) && n[ml] == '.' && !strcmp(n + ml + 1, suffix))
               : !strcmp(n, suffix))
            return &L->t[k];
    }
    return NULL;
}

static int is_param_node(const minima_model *g, int i)
{
    return i > 0 && g->nodes[i].n_weight > 0;
}

/* The names of the parametric nodes from __metadata__ "layers" (a minima
 * file of a graph records them there, as it records an MLP's layers). */
static minima_status names_from_layers(gfill *F)
{
    const loader *L = F->L;
    const cJSON *v = L->metadata ? cJSON_GetObjectItemCaseSensitive(L->metadata, "layers") : NULL;
    if (!v) return MINIMA_OK;
    int n_param = 0;
    for (int i = 1; i < F->g->n_nodes; i++) n_param += is_param_node(F->g, i);
    const char *list = v->valuestring, *p = list;
    int count = 1;
    for (const char *c = list; *c; c++) count += *c == ',';
    if (count != n_param)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': __metadata__ \"layers\" names %d layers (\"%.200s\") but "
                    "the architecture has %d nodes with parameters", L->path, count, list, n_param);
    F->names = minima_calloc((size_t)count, sizeof *F->names);
    if (!F->names) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory", L->path);
    F->n_names = count;
    int k = 0;
    for (int i = 1; i < F->g->n_nodes; i++) {
        if (!is_param_node(F->g, i)) continue;
        size_t len = strcspn(p, ",");
        if (!len)
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': __metadata__ \"layers\" (\"%.200s\") has an empty "
                        "name at position %d", L->path, list, k + 1);
        if (!(F->names[k] = minima_alloc(len + 1, 1)))
            MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory", L->path);
        memcpy(F->names[k], p, len);
        F->names[k][len] = '\0';
        F->src[i].name = F->names[k];
        k++;
        p += len + (p[len] == ',');
    }
    return MINIMA_OK;
}

/* A file minima wrote: every parametric node's tensors by name. */
static minima_status match_by_name(gfill *F)
{
    loader *L = F->L;
    const minima_model *g = F->g;
    char *used = minima_calloc((size_t)L->n_t, 1);
    if (!used) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory", L->path);
    minima_status st = names_from_layers(F);
    for (int i = 1; st == MINIMA_OK && i < g->n_nodes; i++) {
        if (!is_param_node(g, i)) continue;
        const minima_node *nd = &g->nodes[i];
        const char *name = F->src[i].name ? F->src[i].name : nd->name;
        char label[200], s[128];
        uint64_t dims[4];
        int nd_w = weight_shape(g, i, dims);
        minima_model_node_label(g, i, label, sizeof label);
        const st_tensor *w = find_tensor(L, name, "weight");
        if (!w) {
            st = minima_error(MINIMA_EFORMAT, "'%s': no tensor '%s%sweight' for %s; the file's "
                              "architecture expects its weight %s there", L->path, name,
                              name[0] ? "." : "", label, dims_str(dims, nd_w, s, sizeof s));
            break;
        }
        if ((st = expect_shape(F, w, dims, nd_w, "the weight", i)) != MINIMA_OK) break;
        used[w - L->t] = 1;
        F->src[i].weight = w;
        const st_tensor *b = find_tensor(L, name, "bias");
        uint64_t bd[1] = {(uint64_t)nd->out};
        if (nd->has_bias && !b) {
            st = minima_error(MINIMA_EFORMAT, "'%s': no tensor '%s%sbias' for %s; the file's "
                              "architecture gives it a bias [%d]", L->path, name,
                              name[0] ? "." : "", label, nd->out);
            break;
        }
        if (!nd->has_bias && b) {
            st = minima_error(MINIMA_EFORMAT, "'%s': tensor '%s' is the bias of %s, which the file's "
                              "architecture gives no bias", L->path, b->name, label);
            break;
        }
        if (b) {
            if ((st = expect_shape(F, b, bd, 1, "the bias", i)) != MINIMA_OK) break;
            used[b - L->t] = 1;
            F->src[i].bias = b;
        }
    }
    for (int k = 0; st == MINIMA_OK && k < L->n_t; k++) {
        if (used[k]) continue;
        char s[128];
        if (L->opts->ignore_unknown) {
            minima_log(MINIMA_LOG_WARN, "'%s': ignoring tensor '%s' %s: not the weight or bias of a "
                       "node of the file's architecture", L->path, L->t[k].name,
                       shape_str(&L->t[k], s, sizeof s));
            continue;
        }
        st = minima_error(MINIMA_EFORMAT, "'%s': tensor '%s' %s is not the weight or bias of any "
                          "node of the file's architecture (the load option ignore_unknown skips "
                          "it)", L->path, L->t[k].name, shape_str(&L->t[k], s, sizeof s));
    }
    minima_free(used);
    return st;
}

/* The label of the last parametric node before node i, for hints. */
static void previous_param_label(const minima_model *g, int i, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int j = i - 1; j > 0; j--)
        if (is_param_node(g, j)) {
            minima_model_node_label(g, j, buf, size);
            return;
        }
}

/* The modules of a state dict (runs of F->e with one module name), in
 * natural order. A family is the modules whose names differ only in a
 * final integer ("features.0", "features.3"; "layer1.0.conv1",
 * "layer1.0.conv2"): they run in the order of that integer. */
typedef struct {
    int begin, end;            /* entries [begin, end) of F->e */
    size_t family_len;         /* the name without its final integer */
    int is_bn;                 /* holds running_mean or running_var */
    int taken;
} gmodule;

static int same_family(const gfill *F, const gmodule *a, const gmodule *b)
{
    const char *x = F->e[a->begin].module, *y = F->e[b->begin].module;
    return a->family_len == b->family_len && !strncmp(x, y, a->family_len);
}

/* Whether module k can be the next one of node i: a weight (and bias) of
 * the expected shape (bn = 0), or a BatchNorm of its channels (bn = 1). */
static int module_fits(const gfill *F, const gmodule *md, int i, int bn)
{
    const minima_node *nd = &F->g->nodes[i];
    uint64_t dims[4], cd[1] = {(uint64_t)nd->out};
    int nw = weight_shape(F->g, i, dims);
    if (md->is_bn != bn) return 0;
    for (int q = md->begin; q < md->end; q++) {
        const gt_entry *e = &F->e[q];
        if (!bn && ((q == md->begin && e->rank != SUF_WEIGHT) ||
                    (e->rank == SUF_WEIGHT && !has_shape(e->t, dims, nw)) ||
                    (e->rank == SUF_BIAS && !has_shape(e->t, cd, 1)) || e->rank > SUF_BIAS))
            return 0;
        if (bn && (e->rank == SUF_OTHER || (e->rank != SUF_COUNT && !has_shape(e->t, cd, 1))))
            return 0;
    }
    return 1;
}

/* The module that comes next for node i: among the first untaken module of
 * each family, the first (in natural order) that fits; if none fits, the
 * first untaken module (whose checks then say what is wrong); -1 if every
 * module is taken. */
static int next_module(const gfill *F, gmodule *mods, int n_mods, int i, int bn)
{
    int first = -1;
    for (int k = 0; k < n_mods; k++) {
        if (mods[k].taken) continue;
        if (first < 0) first = k;
        int head = 1;
        for (int j = 0; j < k && head; j++)
            if (!mods[j].taken && same_family(F, &mods[j], &mods[k])) head = 0;
        if (head && module_fits(F, &mods[k], i, bn)) return k;
    }
    return first;
}

/* A state dict: its tensors, module by module in the natural order of the
 * module names (each module's in PyTorch's order: weight, bias,
 * running_mean, running_var, num_batches_tracked), fill the nodes in node
 * order; where the next module in that order does not fit, the first of
 * another family that does is taken (so "features.N" and "classifier" run
 * in the order the shapes allow). */
static minima_status match_in_order(gfill *F)
{
    loader *L = F->L;
    const minima_model *g = F->g;
    const char *path = L->path;
    char s1[128], s2[128], label[200], prev[200];
    F->e = minima_calloc((size_t)L->n_t, sizeof *F->e);
    if (!F->e) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory", path);
    for (int k = 0; k < L->n_t; k++) {
        const st_tensor *t = &L->t[k];
        const char *dot = strrchr(t->name, '.');
        size_t ml = dot ? (size_t)(dot - t->name) : 0;
        int rank = suffix_rank(dot ? dot + 1 : t->name);
        if (rank == SUF_OTHER && L->opts->ignore_unknown) {
            minima_log(MINIMA_LOG_WARN, "'%s': ignoring tensor '%s' %s: not a weight, bias or "
                       "BatchNorm statistic", path, t->name, shape_str(t, s1, sizeof s1));
            continue;
        }
        gt_entry *e = &F->e[F->n_e];
        if (!(e->module = minima_alloc(ml + 1, 1))) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory", path);
        memcpy(e->module, t->name, ml);
        e->module[ml] = '\0';
        e->t = t;
        e->rank = rank;
        F->n_e++;
    }
    qsort(F->e, (size_t)F->n_e, sizeof *F->e, cmp_gt);
    gmodule *mods = minima_calloc((size_t)F->n_e + 1, sizeof *mods);
    if (!mods) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory", path);
    int n_mods = 0;
    for (int q = 0; q < F->n_e; q++) {
        if (q == 0 || strcmp(F->e[q].module, F->e[q - 1].module)) {
            gmodule *md = &mods[n_mods++];
            const char *name = F->e[q].module;
            md->begin = q;
            md->family_len = strlen(name) - minima_layer_index_digits(name);
        }
        mods[n_mods - 1].end = q + 1;
        if (F->e[q].rank == SUF_MEAN || F->e[q].rank == SUF_VAR) mods[n_mods - 1].is_bn = 1;
    }
    minima_status st = MINIMA_OK;
    int last = 0, used = 0;
    for (int i = 1; i < g->n_nodes; i++) {
        if (!is_param_node(g, i)) continue;
        const minima_node *nd = &g->nodes[i];
        uint64_t dims[4], cd[1] = {(uint64_t)nd->out};
        int nw = weight_shape(g, i, dims);
        minima_model_node_label(g, i, label, sizeof label);
        int k = next_module(F, mods, n_mods, i, 0);
        if (k < 0) {
            previous_param_label(g, i, prev, sizeof prev);
            st = minima_error(MINIMA_ESHAPE, "'%s': the architecture has more parameters than the "
                              "file: %s expects a weight %s, and no tensor is left (the file's %d "
                              "tensors fill the nodes up to %s)", path, label,
                              dims_str(dims, nw, s1, sizeof s1), F->n_e, prev[0] ? prev : "none");
            goto done;
        }
        mods[k].taken = 1;
        const gt_entry *we = &F->e[mods[k].begin];
        if (we->rank == SUF_WEIGHT && mods[k].is_bn) {
            previous_param_label(g, i, prev, sizeof prev);
            st = minima_error(MINIMA_ESHAPE, "'%s': module '%s' (running_mean, running_var) is a "
                              "BatchNorm, and its tensor '%s' %s comes where the architecture "
                              "expects the weight %s of %s: is a bn missing after %s?", path,
                              we->module, we->t->name, shape_str(we->t, s1, sizeof s1),
                              dims_str(dims, nw, s2, sizeof s2), label,
                              prev[0] ? prev : "an earlier node");
            goto done;
        }
        if (we->rank != SUF_WEIGHT) {
            previous_param_label(g, i, prev, sizeof prev);
            int stat = we->rank == SUF_MEAN || we->rank == SUF_VAR || we->rank == SUF_COUNT;
            st = minima_error(MINIMA_ESHAPE, "'%s': tensor '%s' %s comes where the architecture "
                              "expects the weight %s of %s%s%s%s", path, we->t->name,
                              shape_str(we->t, s1, sizeof s1), dims_str(dims, nw, s2, sizeof s2),
                              label, stat ? " (it is a BatchNorm's: is a bn missing after " : "",
                              stat ? (prev[0] ? prev : "an earlier node") : "", stat ? "?)" : "");
            goto done;
        }
        if ((st = expect_shape(F, we->t, dims, nw, "the weight", i)) != MINIMA_OK) goto done;
        F->src[i].weight = we->t;
        if (we->module[0]) F->src[i].name = we->module;
        int q = mods[k].begin + 1;
        if (q < mods[k].end && F->e[q].rank == SUF_BIAS) {
            if ((st = expect_shape(F, F->e[q].t, cd, 1, "the bias", i)) != MINIMA_OK) goto done;
            F->src[i].bias = F->e[q].t;
            q++;
        }
        if (q < mods[k].end) {
            st = minima_error(MINIMA_EFORMAT, "'%s': tensor '%s' %s is neither the weight nor the "
                              "bias of %s (module '%s'); expected only '%s' and '%s.bias'", path,
                              F->e[q].t->name, shape_str(F->e[q].t, s1, sizeof s1), label,
                              we->module, we->t->name, we->module);
            goto done;
        }
        used += mods[k].end - mods[k].begin;
        last = i;
        if (!nd->folded_batchnorm) continue;
        /* the BatchNorm module after it: [weight, bias,] running_mean, running_var[, count] */
        k = next_module(F, mods, n_mods, i, 1);
        if (k < 0) {
            st = minima_error(MINIMA_ESHAPE, "'%s': the architecture puts a BatchNorm (bn) after %s, "
                              "and no tensor is left after '%s' (expected running_mean and "
                              "running_var [%d], with the BatchNorm's weight and bias)", path,
                              label, F->src[i].bias ? F->src[i].bias->name : we->t->name, nd->out);
            goto done;
        }
        mods[k].taken = 1;
        const char *bm = F->e[mods[k].begin].module;
        const st_tensor *bt[SUF_OTHER] = {NULL};
        for (q = mods[k].begin; q < mods[k].end; q++) {
            if (F->e[q].rank == SUF_OTHER) {
                st = minima_error(MINIMA_EFORMAT, "'%s': tensor '%s' %s comes where the architecture "
                                  "puts the BatchNorm after %s; expected '%s%sweight', 'bias', "
                                  "'running_mean', 'running_var' (and 'num_batches_tracked')", path,
                                  F->e[q].t->name, shape_str(F->e[q].t, s1, sizeof s1), label, bm,
                                  bm[0] ? "." : "");
                goto done;
            }
            bt[F->e[q].rank] = F->e[q].t;
        }
        if (!bt[SUF_MEAN] || !bt[SUF_VAR]) {
            const st_tensor *t = F->e[mods[k].begin].t;
            st = minima_error(MINIMA_ESHAPE, "'%s': the architecture puts a BatchNorm (bn) after %s, "
                              "but module '%s' after it has no %s: found '%s' %s; expected "
                              "'%s%srunning_mean' and 'running_var' [%d] (is the bn in the wrong "
                              "place?)", path, label, bm, bt[SUF_MEAN] ? "running_var" : "running_mean",
                              t->name, shape_str(t, s1, sizeof s1), bm, bm[0] ? "." : "", nd->out);
            goto done;
        }
        if (!bt[SUF_WEIGHT] != !bt[SUF_BIAS]) {
            st = minima_error(MINIMA_EFORMAT, "'%s': BatchNorm '%s' after %s has a %s but no %s; "
                              "expected both (affine) or neither", path, bm, label,
                              bt[SUF_WEIGHT] ? "weight" : "bias", bt[SUF_WEIGHT] ? "bias" : "weight");
            goto done;
        }
        static const char *const what[] = {"the BatchNorm weight", "the BatchNorm bias",
                                           "the BatchNorm running_mean", "the BatchNorm running_var"};
        for (int r = SUF_WEIGHT; r <= SUF_VAR; r++)
            if (bt[r] && (st = expect_shape(F, bt[r], cd, 1, what[r], i)) != MINIMA_OK) goto done;
        F->src[i].gamma = bt[SUF_WEIGHT];
        F->src[i].beta = bt[SUF_BIAS];
        F->src[i].mean = bt[SUF_MEAN];
        F->src[i].var = bt[SUF_VAR];
        F->src[i].bn_module = bm;
        used += mods[k].end - mods[k].begin;
    }
    for (int k = 0; k < n_mods; k++) {
        if (mods[k].taken) continue;
        const gt_entry *e = &F->e[mods[k].begin];
        minima_model_node_label(g, last, label, sizeof label);
        int stat = mods[k].is_bn;
        st = minima_error(MINIMA_ESHAPE, "'%s': tensor '%s' %s is left over: the other tensors fill "
                          "every node of the architecture (the last, %s); expected %d tensors, the "
                          "file has %d%s", path, e->t->name, shape_str(e->t, s1, sizeof s1), label,
                          used, F->n_e, stat ? " (a BatchNorm's statistics: is a bn missing?)" : "");
        break;
    }
done:
    minima_free(mods);
    return st;
}

/* eps of the BatchNorms: __metadata__ "bn_eps", else PyTorch's 1e-5. */
static minima_status bn_eps(const loader *L, double *eps)
{
    *eps = 1e-5;
    const cJSON *v = L->metadata ? cJSON_GetObjectItemCaseSensitive(L->metadata, "bn_eps") : NULL;
    if (!v) return MINIMA_OK;
    char *end;
    errno = 0;
    double e = strtod(v->valuestring, &end);
    if (end == v->valuestring || *end || errno || !(e >= 0) || !isfinite(e))
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': __metadata__ \"bn_eps\" is \"%.40s\"; expected a "
                    "non-negative number (PyTorch's BatchNorm eps, default 1e-5)", L->path,
                    v->valuestring);
    *eps = e;
    return MINIMA_OK;
}

/* Reads node i's parameters into m and folds its BatchNorm:
 * s = gamma / sqrt(var + eps), W' = W s (per output channel),
 * b' = (b - mean) s + beta. */
static minima_status read_node(loader *L, minima_model *m, int i, const gnode_src *s, double eps,
                               unsigned char *buf, size_t buf_elems)
{
    const minima_node *nd = &m->nodes[i];
    double *w = m->theta + nd->weight_offset, *b = nd->n_bias ? m->theta + nd->bias_offset : NULL;
    uint64_t cols = s->weight->ndim == 2 ? tensor_dim(s->weight, 1) : 0;
    MINIMA_TRY(read_tensor(L, s->weight, w, cols, buf, buf_elems));
    if (s->bias) MINIMA_TRY(read_tensor(L, s->bias, b, 0, buf, buf_elems));
    else if (b) memset(b, 0, nd->n_bias * sizeof *b);
    if (!s->mean) return MINIMA_OK;
    size_t c = (size_t)nd->out, per = nd->n_weight / c;
    double *stats = minima_alloc(4 * c, sizeof *stats);
    if (!stats) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory", L->path);
    double *gamma = stats, *beta = stats + c, *mean = stats + 2 * c, *var = stats + 3 * c;
    minima_status st = MINIMA_OK;
    if (s->gamma) st = read_tensor(L, s->gamma, gamma, 0, buf, buf_elems);
    else for (size_t j = 0; j < c; j++) gamma[j] = 1.0;
    if (st == MINIMA_OK && s->beta) st = read_tensor(L, s->beta, beta, 0, buf, buf_elems);
    else if (!s->beta) memset(beta, 0, c * sizeof *beta);
    if (st == MINIMA_OK) st = read_tensor(L, s->mean, mean, 0, buf, buf_elems);
    if (st == MINIMA_OK) st = read_tensor(L, s->var, var, 0, buf, buf_elems);
    for (size_t j = 0; st == MINIMA_OK && j < c; j++) {
        if (!(var[j] + eps > 0)) {
            st = minima_error(MINIMA_EFORMAT, "'%s': tensor '%s' entry [%zu] is %g: with eps %g the "
                              "BatchNorm divides by sqrt(%g); expected running_var + eps > 0",
                              L->path, s->var->name, j, var[j], eps, var[j] + eps);
            break;
        }
        double scale = gamma[j] / sqrt(var[j] + eps);
        for (size_t k = 0; k < per; k++) w[j * per + k] *= scale;
        b[j] = (b[j] - mean[j]) * scale + beta[j];
    }
    minima_free(stats);
    if (st == MINIMA_OK) {
        char label[200];
        minima_model_node_label(m, i, label, sizeof label);
        minima_log(MINIMA_LOG_INFO, "'%s': folded BatchNorm '%s' into %s", L->path, s->bn_module,
                   label);
    }
    return st;
}

/* The activation an MLP-form architecture puts between its layers: the
 * caller's, else the file's __metadata__, else relu (assumed). */
static minima_status graph_activation(const loader *L, minima_activation *a, double *slope,
                                      minima_provenance *source)
{
    *a = MINIMA_ACT_RELU;
    *slope = 0.01;
    *source = MINIMA_FROM_ASSUMED;
    if (L->opts->activation_set) {
        *a = L->opts->activation;
        *slope = L->opts->leaky_slope;
        *source = MINIMA_FROM_OPTION;
        if (*a == MINIMA_ACT_LEAKY_RELU && !(*slope > 0 && *slope < 1))
            MINIMA_FAIL(MINIMA_EINVAL, "'%s': the leaky ReLU slope given is %.17g; expected a "
                        "number between 0 and 1", L->path, *slope);
        return MINIMA_OK;
    }
    const cJSON *v = L->metadata ? cJSON_GetObjectItemCaseSensitive(L->metadata, "activation") : NULL;
    if (!v) return MINIMA_OK;
    if (minima_activation_parse(v->valuestring, a) != MINIMA_OK)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': __metadata__ \"activation\" is \"%.40s\"; expected relu, "
                    "leaky_relu or tanh", L->path, v->valuestring);
    *source = MINIMA_FROM_FILE;
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(L->metadata, "leaky_slope");
    if (sv) {
        char *end;
        errno = 0;
        double x = strtod(sv->valuestring, &end);
        if (end == sv->valuestring || *end || errno || !(x > 0 && x < 1))
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': __metadata__ \"leaky_slope\" is \"%.40s\"; expected "
                        "a number between 0 and 1", L->path, sv->valuestring);
        *slope = x;
    }
    return MINIMA_OK;
}

/* The model of graph g whose parameters are the loader's tensors: by name
 * (a file minima wrote) or in order (a state dict). arch_source is where
 * the graph came from (FILE or OPTION); act_source where its activations
 * came from. */
static minima_status fill_graph(loader *L, const minima_model *g, int by_name,
                                minima_provenance arch_source, minima_provenance act_source,
                                minima_model **out)
{
    const char *path = L->path;
    gfill F;
    memset(&F, 0, sizeof F);
    F.L = L;
    F.g = g;
    minima_node *spec = NULL;
    minima_model *m = NULL;
    unsigned char *buf = NULL;
    const size_t buf_elems = 65536;
    double eps = 1e-5;
    minima_status st = MINIMA_OK;
    F.src = minima_calloc((size_t)g->n_nodes, sizeof *F.src);
    spec = minima_alloc((size_t)g->n_nodes, sizeof *spec);
    buf = minima_alloc(buf_elems, 8);
    if (!F.src || !spec || !buf) { st = minima_error(MINIMA_ENOMEM, "'%s': out of memory", path); goto done; }
    if ((st = by_name ? match_by_name(&F) : match_in_order(&F)) != MINIMA_OK) goto done;
    if ((st = bn_eps(L, &eps)) != MINIMA_OK) goto done;
    /* The tensors decide the names of the parametric nodes and whether a
     * node folding a BatchNorm had its own bias; every node with a
     * BatchNorm gets one (its shift). */
    for (int i = 0; i < g->n_nodes; i++) {
        spec[i] = g->nodes[i];
        if (F.src[i].name) spec[i].name = (char *)F.src[i].name;
        if (!by_name && is_param_node(g, i))
            spec[i].has_bias = F.src[i].bias || F.src[i].mean ? 1 : 0;
    }
    if ((st = minima_model_create_graph(&m, g->n_nodes, spec)) != MINIMA_OK) goto done;
    for (int i = 1; i < m->n_nodes; i++) {
        if (!F.src[i].weight) continue;
        if (m->nodes[i].n_weight != F.src[i].weight->numel) {
            st = minima_error(MINIMA_EINVAL, "'%s': internal error: node %d has %zu weights and "
                              "tensor '%s' %" PRIu64, path, i, m->nodes[i].n_weight,
                              F.src[i].weight->name, F.src[i].weight->numel);
            goto done;
        }
        if ((st = read_node(L, m, i, &F.src[i], eps, buf, buf_elems)) != MINIMA_OK) goto done;
    }
    m->order_source = arch_source;
    m->activation_source = act_source;
    if (L->opts->activation_set) {
        if ((st = minima_model_set_activation(m, L->opts->activation, L->opts->leaky_slope)) != MINIMA_OK)
            goto done;
        m->activation_source = MINIMA_FROM_OPTION;
    }
    for (const cJSON *k = L->metadata ? L->metadata->child : NULL; k; k = k->next) {
        const char *key = k->string, *val = k->valuestring;
        if (!strcmp(key, "loss")) {
            if (minima_loss_parse(val, &m->loss) != MINIMA_OK) {
                st = minima_error(MINIMA_EFORMAT, "'%s': __metadata__ \"loss\" is \"%.40s\"; expected "
                                  "ce or mse", path, val);
                goto done;
            }
        } else if (!strcmp(key, "folded_batchnorm")) {
            mark_folded(m, val);
        } else if (!is_reserved_meta(key)) {
            if ((st = minima_model_set_meta(m, key, val)) != MINIMA_OK) goto done;
        }
    }
    *out = m;
    m = NULL;
done:
    minima_model_free(m);
    minima_free(spec);
    minima_free(buf);
    gfill_free(&F);
    return st;
}

/* The graph of an architecture string, its errors naming the file. The
 * activations of a general architecture ("SHAPE:LAYER,...") are written
 * out in it, so they come from where it came from (arch_source); those of
 * the MLP form from graph_activation. */
static minima_status parse_graph(const loader *L, const char *arch, minima_provenance arch_source,
                                 minima_model **g, minima_provenance *act_source)
{
    minima_activation a;
    double slope;
    MINIMA_TRY(graph_activation(L, &a, &slope, act_source));
    minima_status st = minima_arch_parse(arch, 1, a, slope, g);
    if (st != MINIMA_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", minima_last_error());
        MINIMA_FAIL(st, "'%s': %s", L->path, msg);
    }
    if (strchr(arch, ':') && *act_source != MINIMA_FROM_OPTION) *act_source = arch_source;
    return MINIMA_OK;
}

/* The __metadata__ "arch" of a file that records a graph (the general form
 * contains ':'), or NULL. */
static const char *recorded_graph(const loader *L)
{
    const cJSON *v = L->metadata ? cJSON_GetObjectItemCaseSensitive(L->metadata, "arch") : NULL;
    return v && strchr(v->valuestring, ':') ? v->valuestring : NULL;
}

/* A graph model: the file's recorded architecture (tensors by name) or the
 * caller's (tensors in order). */
static minima_status load_graph(loader *L, minima_model **out)
{
    const char *recorded = recorded_graph(L), *given = L->opts->arch;
    minima_model *g = NULL, *g2 = NULL;
    minima_provenance act_source, unused;
    minima_status st;
    if (recorded) {
        st = parse_graph(L, recorded, MINIMA_FROM_FILE, &g, &act_source);
        if (st == MINIMA_OK && given && (st = parse_graph(L, given, MINIMA_FROM_OPTION, &g2,
                                                           &unused)) == MINIMA_OK) {
            char a[2048], b[2048];
            minima_arch_format(g, a, sizeof a);
            minima_arch_format(g2, b, sizeof b);
            if (strcmp(a, b))
                st = minima_error(MINIMA_EINVAL, "'%s': the file records the architecture \"%.600s\" "
                                  "and the one given is \"%.600s\"; give none (the file's is used) "
                                  "or the same", L->path, a, b);
        }
        if (st == MINIMA_OK) st = fill_graph(L, g, 1, MINIMA_FROM_FILE, act_source, out);
    } else {
        st = parse_graph(L, given, MINIMA_FROM_OPTION, &g, &act_source);
        if (st == MINIMA_OK) st = fill_graph(L, g, 0, MINIMA_FROM_OPTION, act_source, out);
    }
    minima_model_free(g);
    minima_model_free(g2);
    return st;
}

minima_status minima_model_load_graph(const char *path, const minima_load_options *opts,
                                      const minima_model *graph, int state_dict, minima_model **out)
{
    if (!path || !graph || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_load_graph: NULL argument");
    *out = NULL;
    minima_load_options defaults = minima_load_default_options();
    loader L;
    memset(&L, 0, sizeof L);
    L.path = path;
    L.opts = opts ? opts : &defaults;
    minima_status st = read_header(&L);
    if (st == MINIMA_OK) st = parse_entries(&L);
    if (st == MINIMA_OK)
        st = fill_graph(&L, graph, !state_dict, state_dict ? MINIMA_FROM_OPTION : MINIMA_FROM_FILE,
                        state_dict ? MINIMA_FROM_OPTION : MINIMA_FROM_FILE, out);
    loader_free(&L);
    return st;
}

static minima_status model_load_here(const char *path, const minima_load_options *opts,
                                     minima_model **out)
{
    if (!path || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_load: NULL argument");
    *out = NULL;
    if (minima_path_is_onnx(path)) return minima_model_load_onnx(path, opts, out);   /* onnx.h */
    minima_load_options defaults = minima_load_default_options();
    loader L;
    memset(&L, 0, sizeof L);
    L.path = path;
    L.opts = opts ? opts : &defaults;
    L.order_how = "--order a,b,c";
    L.arch_how = "--arch SHAPE:LAYER,...";
    minima_status st = read_header(&L);
    if (st == MINIMA_OK) st = parse_entries(&L);
    if (st == MINIMA_OK && (L.opts->arch || recorded_graph(&L))) {
        st = load_graph(&L, out);
    } else {
        if (st == MINIMA_OK) st = discover_layers(&L);
        if (st == MINIMA_OK) st = build_model(&L, out);
    }
    loader_free(&L);
    return st;
}

/* Every rank of a distributed run reads the file; all succeed or all fail
 * with the first failing rank's message (minima/dist.h). */
minima_status minima_model_load(const char *path, const minima_load_options *opts, minima_model **out)
{
    minima_status st = minima_dist_agree(model_load_here(path, opts, out));
    if (st != MINIMA_OK && out && *out) {
        minima_model_free(*out);
        *out = NULL;
    }
    return st;
}

/* Named tensors in memory become the loader's tensors: the same checks of
 * names, shapes and layers as the tensors of a file (model_tensors_impl.h). */
static minima_status tensors_from_memory(loader *L, const minima_named_tensor *tensors, int n)
{
    const char *what = L->path;
    L->t = minima_calloc((size_t)n, sizeof *L->t);
    L->order = minima_alloc((size_t)n, sizeof *L->order);
    if (!L->t || !L->order) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory for %d tensors", what, n);
    for (int i = 0; i < n; i++) {
        const minima_named_tensor *src = &tensors[i];
        st_tensor *t = &L->t[i];
        if (!src->name)
            MINIMA_FAIL(MINIMA_EINVAL, "'%s': tensor %d has no name; expected \"<layer>.weight\" or "
                        "\"<layer>.bias\"", what, i);
        if (src->ndim < 0 || src->ndim > 8 || (src->ndim > 0 && !src->shape))
            MINIMA_FAIL(MINIMA_EINVAL, "'%s': tensor '%s' has %d dimensions; expected 1 (a bias) or 2 "
                        "(a weight [out, in])", what, src->name, src->ndim);
        t->name = src->name;
        t->dtype = dtype_index(MINIMA_DTYPE_F64);
        t->ndim = src->ndim;
        t->mem_shape = src->shape;
        t->numel = 1;
        for (int d = 0; d < src->ndim; d++) {
            if (src->shape[d] < 0)
                MINIMA_FAIL(MINIMA_EINVAL, "'%s': tensor '%s' dimension %d is %" PRId64 "; expected a "
                            "size >= 0", what, src->name, d, src->shape[d]);
            uint64_t v = (uint64_t)src->shape[d];
            if (d < 2) t->dim[d] = v;
            if (v && t->numel > UINT64_MAX / 8 / v)
                MINIMA_FAIL(MINIMA_EINVAL, "'%s': tensor '%s': the product of its shape overflows",
                            what, src->name);
            t->numel *= v;
        }
        if (!src->values && t->numel > 0)
            MINIMA_FAIL(MINIMA_EINVAL, "'%s': tensor '%s' has no values (NULL)", what, src->name);
        t->values = src->values;
        set_role(t);
        L->order[i] = t;
        L->n_t++;
    }
    return check_unique_names(L, "among the tensors");
}

minima_status minima_model_from_named_tensors(const minima_named_tensor *tensors, int n,
                                              const minima_load_options *opts, const char *what,
                                              minima_model **out)
{
    if (!out) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_from_named_tensors: NULL argument");
    *out = NULL;
    if (!what) what = "tensors";
    if (n < 1 || !tensors)
        MINIMA_FAIL(MINIMA_EINVAL, "'%s': no tensors given; expected at least one \"<layer>.weight\"",
                    what);
    minima_load_options defaults = minima_load_default_options();
    loader L;
    memset(&L, 0, sizeof L);
    L.path = what;
    L.opts = opts ? opts : &defaults;
    L.order_how = "the order \"a,b,c\"";
    L.arch_how = "the architecture (load option arch, \"SHAPE:LAYER,...\")";
    minima_status st = tensors_from_memory(&L, tensors, n);
    if (st == MINIMA_OK && L.opts->arch) {
        st = load_graph(&L, out);
    } else {
        if (st == MINIMA_OK) st = discover_layers(&L);
        if (st == MINIMA_OK) st = build_model(&L, out);
    }
    loader_free(&L);
    return st;
}

/* ---- saving ------------------------------------------------------------ */

static minima_status add_tensor_entry(cJSON *root, const char *name, const char *dtype,
                                      const uint64_t *dims, int ndim, uint64_t begin, uint64_t end)
{
    char shape[128], offs[64];
    size_t used = 0;
    for (int k = 0; k < ndim && used < sizeof shape; k++) {
        int w = snprintf(shape + used, sizeof shape - used, "%s%" PRIu64, k ? "," : "[", dims[k]);
        if (w > 0) used += (size_t)w;
    }
    snprintf(shape + used, sizeof shape - used, "%s]", ndim ? "" : "[");
    snprintf(offs, sizeof offs, "[%" PRIu64 ",%" PRIu64 "]", begin, end);
    cJSON *e = cJSON_AddObjectToObject(root, name);
    if (!e || !cJSON_AddStringToObject(e, "dtype", dtype) || !cJSON_AddRawToObject(e, "shape", shape) ||
        !cJSON_AddRawToObject(e, "data_offsets", offs))
        MINIMA_FAIL(MINIMA_ENOMEM, "out of memory building the safetensors header");
    return MINIMA_OK;
}

/* The JSON header text (cJSON-allocated) for the model in the given dtype. */
static minima_status build_header(const minima_model *m, int esize, const char *dtype, char **text)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = root ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
    char *arch = NULL, *tname = NULL, *names = NULL;
    minima_status st = MINIMA_OK;
    size_t arch_size = 12 * ((size_t)m->n_layers + 1) + 1, names_size = 1;
    for (int k = 0; k < m->n_layers; k++) names_size += strlen(m->layer_names[k]) + 1;
    arch = minima_alloc(arch_size, 1);
    names = minima_alloc(names_size, 1);
    if (!meta || !arch || !names) goto nomem;
    minima_model_arch_string(m, arch, arch_size);
    names[0] = '\0';
    for (int k = 0; k < m->n_layers; k++) {
        if (k) strcat(names, ",");
        strcat(names, m->layer_names[k]);
    }
    char slope[32];
    snprintf(slope, sizeof slope, "%.17g", m->leaky_slope);
    /* an assumed activation is not written: the new file must not claim it */
    int known = m->activation_source != MINIMA_FROM_ASSUMED;
    if (!cJSON_AddStringToObject(meta, "format", "pt") ||
        (known && !cJSON_AddStringToObject(meta, "activation", minima_activation_name(m->activation))) ||
        !cJSON_AddStringToObject(meta, "loss", minima_loss_name(m->loss)) ||
        !cJSON_AddStringToObject(meta, "arch", arch) ||
        !cJSON_AddStringToObject(meta, "layers", names) ||
        (known && m->activation == MINIMA_ACT_LEAKY_RELU &&
         !cJSON_AddStringToObject(meta, "leaky_slope", slope)))
        goto nomem;
    for (int i = 0; i < m->n_meta; i++)
        if (!is_reserved_meta(m->meta[i].key) &&
            !cJSON_AddStringToObject(meta, m->meta[i].key, m->meta[i].value))
            goto nomem;
    uint64_t off = 0;
    for (int k = 0; k < m->n_layers; k++) {
        const char *ln = m->layer_names[k];
        uint64_t rows = (uint64_t)m->widths[k + 1], cols = (uint64_t)m->widths[k];
        size_t len = strlen(ln) + 8;
        tname = minima_alloc(len, 1);
        if (!tname) goto nomem;
        snprintf(tname, len, "%s%sweight", ln, ln[0] ? "." : "");
        uint64_t dims[2] = {rows, cols};
        if ((st = add_tensor_entry(root, tname, dtype, dims, 2, off,
                                   off + rows * cols * (uint64_t)esize)) != MINIMA_OK)
            goto fail;
        off += rows * cols * (uint64_t)esize;
        if (m->has_bias) {
            snprintf(tname, len, "%s%sbias", ln, ln[0] ? "." : "");
            if ((st = add_tensor_entry(root, tname, dtype, dims, 1, off,
                                       off + rows * (uint64_t)esize)) != MINIMA_OK)
                goto fail;
            off += rows * (uint64_t)esize;
        }
        minima_free(tname);
        tname = NULL;
    }
    *text = cJSON_PrintUnformatted(root);
    if (!*text) goto nomem;
    cJSON_Delete(root);
    minima_free(arch);
    minima_free(names);
    return MINIMA_OK;
nomem:
    st = minima_error(MINIMA_ENOMEM, "out of memory building the safetensors header");
fail:
    minima_free(tname);
    minima_free(arch);
    minima_free(names);
    cJSON_Delete(root);
    return st;
}

/* Checks what the MLP file format and the loader need of the model. */
static minima_status check_savable(const minima_model *m, const char *path)
{
    if (m->n_layers < 1 || !m->widths || !m->layer_names || !m->theta)
        MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': the model is incomplete", path);
    for (int k = 0; k < m->n_layers; k++) {
        const char *n = m->layer_names[k];
        if (!n || (!n[0] && m->n_layers > 1))
            MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': layer %d has no name (only a one-layer "
                        "model may use the empty name)", path, k);
        if (!strcmp(n, "__metadata__"))
            MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': layer %d is named \"__metadata__\"", path, k);
        if (strchr(n, ','))
            MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': the name of layer %d, '%.80s', contains a "
                        "comma, which the recorded layer order (\"layers\": \"a,b,c\") cannot hold",
                        path, k, n);
        for (int j = 0; j < k; j++)
            if (!strcmp(m->layer_names[j], n))
                MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': layers %d and %d are both named '%.80s'",
                            path, j, k, n);
        if (utf8_check((const unsigned char *)n, strlen(n)) < strlen(n))
            MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': the name of layer %d is not valid UTF-8", path, k);
    }
    for (int i = 0; i < m->n_meta; i++) {
        const char *k = m->meta[i].key, *v = m->meta[i].value;
        if (utf8_check((const unsigned char *)k, strlen(k)) < strlen(k) ||
            utf8_check((const unsigned char *)v, strlen(v)) < strlen(v))
            MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': metadata entry %d (key '%.40s') is not "
                        "valid UTF-8", path, i, k);
    }
    return MINIMA_OK;
}

/* Writes n values as dtype (table index 0 or 1) through buf. */
static minima_status write_values(FILE *f, const double *x, size_t n, int dtype, unsigned char *buf,
                                  size_t buf_elems, const char *owner, const char *what,
                                  const char *path)
{
    int esize = dtype_table[dtype].size;
    for (size_t done = 0; done < n;) {
        size_t c = n - done < buf_elems ? n - done : buf_elems;
        for (size_t i = 0; i < c; i++) {
            double v = x[done + i];
            if (dtype == 0) {
                uint64_t u;
                memcpy(&u, &v, 8);
                put_le(buf + 8 * i, u, 8);
            } else {
                float fv = (float)v;
                if (isfinite(v) && !isfinite(fv))
                    MINIMA_FAIL(MINIMA_ERANGE, "cannot save '%s' as F32: %s %s entry %zu is "
                                "%.17g, outside float32 range (save as F64)", path, owner, what,
                                done + i, v);
                uint32_t u;
                memcpy(&u, &fv, 4);
                put_le(buf + 4 * i, u, 4);
            }
        }
        if (fwrite(buf, (size_t)esize, c, f) != c)
            MINIMA_FAIL(MINIMA_EIO, "cannot write '%s': %s", path, strerror(errno));
        done += c;
    }
    return MINIMA_OK;
}

/* A model is saved in the MLP form ("784-128-10", "layers", "activation")
 * when it is a multilayer perceptron with no BatchNorm folded into it;
 * every other model in the general form. */
static int saved_as_mlp(const minima_model *m)
{
    if (!m->is_mlp) return 0;
    for (int i = 1; i < m->n_nodes; i++)
        if (m->nodes[i].folded_batchnorm) return 0;
    return 1;
}

/* The name node i's tensors are saved under: its name, or its index when
 * it has none. */
static const char *saved_name(const minima_model *m, int i, char *buf, size_t size)
{
    const char *n = m->nodes[i].name;
    if (n && n[0]) return n;
    snprintf(buf, size, "%d", i);
    return buf;
}

static minima_status check_savable_graph(const minima_model *m, const char *path)
{
    if (m->n_nodes < 2 || !m->nodes || !m->theta)
        MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': the model is incomplete", path);
    char b1[32], b2[32], label[200];
    for (int i = 1; i < m->n_nodes; i++) {
        if (!is_param_node(m, i)) continue;
        const char *n = saved_name(m, i, b1, sizeof b1);
        minima_model_node_label(m, i, label, sizeof label);
        uint64_t dims[4], prod = 1;
        int nd = weight_shape(m, i, dims);
        for (int k = 0; k < nd; k++) prod *= dims[k];
        if (prod != m->nodes[i].n_weight)
            MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': %s has %zu weights, which is not its "
                        "PyTorch shape's %" PRIu64, path, label, m->nodes[i].n_weight, prod);
        if (!strcmp(n, "__metadata__"))
            MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': %s is named \"__metadata__\"", path, label);
        if (strchr(n, ','))
            MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': the name of %s contains a comma, which "
                        "the recorded names (\"layers\": \"a,b,c\") cannot hold", path, label);
        if (utf8_check((const unsigned char *)n, strlen(n)) < strlen(n))
            MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': the name of node %d is not valid UTF-8",
                        path, i);
        for (int j = 1; j < i; j++)
            if (is_param_node(m, j) && !strcmp(saved_name(m, j, b2, sizeof b2), n)) {
                char other[200];
                minima_model_node_label(m, j, other, sizeof other);
                MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': %s and %s would both save tensors "
                            "named '%.80s.weight'; nodes with parameters need distinct names",
                            path, other, label, n);
            }
    }
    for (int i = 0; i < m->n_meta; i++) {
        const char *k = m->meta[i].key, *v = m->meta[i].value;
        if (utf8_check((const unsigned char *)k, strlen(k)) < strlen(k) ||
            utf8_check((const unsigned char *)v, strlen(v)) < strlen(v))
            MINIMA_FAIL(MINIMA_EINVAL, "cannot save '%s': metadata entry %d (key '%.40s') is not "
                        "valid UTF-8", path, i, k);
    }
    return MINIMA_OK;
}

/* The JSON header of a model saved in the general form: "<name>.weight" in
 * PyTorch's shape and "<name>.bias" for every node with parameters, in
 * node order; __metadata__ format, loss, arch (general form), layers (the
 * names of the nodes with parameters, in order) and the model's own keys. */
static minima_status build_header_graph(const minima_model *m, int esize, const char *dtype,
                                        char **text)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = root ? cJSON_AddObjectToObject(root, "__metadata__") : NULL;
    size_t arch_size = 64 * (size_t)m->n_nodes + 256, names_size = 1;
    char buf[32];
    for (int i = 1; i < m->n_nodes; i++)
        if (is_param_node(m, i)) names_size += strlen(saved_name(m, i, buf, sizeof buf)) + 1;
    char *arch = minima_alloc(arch_size, 1), *names = minima_alloc(names_size, 1), *tname = NULL;
    minima_status st = MINIMA_OK;
    if (!meta || !arch || !names) goto nomem;
    minima_arch_format(m, arch, arch_size);
    if (strchr(arch, '@')) {
        /* A graph the grammar cannot describe would be written and never
         * read back: refuse now rather than at the next load. */
        st = minima_error(MINIMA_EUNSUPPORTED, "cannot save this model in safetensors: its graph "
                          "(%.200s) is not a chain of layers and x + body(x) blocks, which is "
                          "all the architecture string that records it can describe", arch);
        goto fail;
    }
    names[0] = '\0';
    for (int i = 1; i < m->n_nodes; i++) {
        if (!is_param_node(m, i)) continue;
        if (names[0]) strcat(names, ",");
        strcat(names, saved_name(m, i, buf, sizeof buf));
    }
    if (!cJSON_AddStringToObject(meta, "format", "pt") ||
        !cJSON_AddStringToObject(meta, "loss", minima_loss_name(m->loss)) ||
        !cJSON_AddStringToObject(meta, "arch", arch) ||
        !cJSON_AddStringToObject(meta, "layers", names))
        goto nomem;
    /* The nodes a BatchNorm was folded into, by name (their weights are the
     * folded ones; the flag is for info). */
    names[0] = '\0';
    for (int i = 1; i < m->n_nodes; i++) {
        if (!is_param_node(m, i) || !m->nodes[i].folded_batchnorm) continue;
        if (names[0]) strcat(names, ",");
        strcat(names, saved_name(m, i, buf, sizeof buf));
    }
    if (names[0] && !cJSON_AddStringToObject(meta, "folded_batchnorm", names)) goto nomem;
    for (int i = 0; i < m->n_meta; i++)
        if (!is_reserved_meta(m->meta[i].key) &&
            !cJSON_AddStringToObject(meta, m->meta[i].key, m->meta[i].value))
            goto nomem;
    uint64_t off = 0;
    for (int i = 1; i < m->n_nodes; i++) {
        if (!is_param_node(m, i)) continue;
        const minima_node *nd = &m->nodes[i];
        const char *n = saved_name(m, i, buf, sizeof buf);
        size_t len = strlen(n) + 8;
        uint64_t dims[4];
        int ndim = weight_shape(m, i, dims);
        if (!(tname = minima_alloc(len, 1))) goto nomem;
        snprintf(tname, len, "%s.weight", n);
        uint64_t bytes = (uint64_t)nd->n_weight * (uint64_t)esize;
        if ((st = add_tensor_entry(root, tname, dtype, dims, ndim, off, off + bytes)) != MINIMA_OK)
            goto fail;
        off += bytes;
        if (nd->n_bias) {
            uint64_t bd[1] = {(uint64_t)nd->n_bias};
            bytes = (uint64_t)nd->n_bias * (uint64_t)esize;
            snprintf(tname, len, "%s.bias", n);
            if ((st = add_tensor_entry(root, tname, dtype, bd, 1, off, off + bytes)) != MINIMA_OK)
                goto fail;
            off += bytes;
        }
        minima_free(tname);
        tname = NULL;
    }
    *text = cJSON_PrintUnformatted(root);
    if (!*text) goto nomem;
    cJSON_Delete(root);
    minima_free(arch);
    minima_free(names);
    return MINIMA_OK;
nomem:
    st = minima_error(MINIMA_ENOMEM, "out of memory building the safetensors header");
fail:
    minima_free(tname);
    minima_free(arch);
    minima_free(names);
    cJSON_Delete(root);
    return st;
}

minima_status minima_model_save(const minima_model *m, const char *path, minima_dtype dtype)
{
    if (!m || !path) MINIMA_FAIL(MINIMA_EINVAL, "minima_model_save: NULL argument");
    if (minima_path_is_onnx(path)) return minima_model_save_onnx(m, path, dtype);   /* onnx.h */
    if (dtype != MINIMA_DTYPE_F64 && dtype != MINIMA_DTYPE_F32)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "cannot save '%s' as %s: minima writes F64 or F32", path,
                    minima_dtype_name(dtype));
    int as_mlp = saved_as_mlp(m);
    MINIMA_TRY(as_mlp ? check_savable(m, path) : check_savable_graph(m, path));
    int di = dtype_index(dtype), esize = dtype_table[di].size;
    char *text = NULL, *tmp = NULL;
    unsigned char *buf = NULL;
    FILE *f = NULL;
    int fd = -1, tmp_created = 0, slot = -1;
    const size_t buf_elems = 65536;
    minima_status st = as_mlp ? build_header(m, esize, dtype_table[di].name, &text)
                              : build_header_graph(m, esize, dtype_table[di].name, &text);
    if (st != MINIMA_OK) goto fail;
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    size_t plen = strlen(path);
    tmp = minima_alloc(plen + 16, 1);
    buf = minima_alloc(buf_elems, 8);
    if (!tmp || !buf) { st = minima_error(MINIMA_ENOMEM, "cannot save '%s': out of memory", path); goto fail; }
    snprintf(tmp, plen + 16, "%s.tmp-XXXXXX", path);
    slot = minima_tempfile_register(tmp);     /* removed by a second Ctrl-C's handler */
    fd = mkstemp(tmp);
    if (fd < 0) {
        st = minima_error(MINIMA_EIO, "cannot save '%s': cannot create a temporary file beside it: %s",
                          path, strerror(errno));
        goto fail;
    }
    tmp_created = 1;
    struct stat sb;
    fchmod(fd, stat(path, &sb) == 0 ? (sb.st_mode & 07777) : 0644);
    f = fdopen(fd, "wb");
    if (!f) { st = minima_error(MINIMA_EIO, "cannot save '%s': %s", path, strerror(errno)); goto fail; }
    fd = -1;
    unsigned char len8[8];
    put_le(len8, (uint64_t)padded, 8);
    if (fwrite(len8, 1, 8, f) != 8 || fwrite(text, 1, len, f) != len) {
        st = minima_error(MINIMA_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        goto fail;
    }
    for (size_t i = len; i < padded; i++)
        if (fputc(' ', f) == EOF) {
            st = minima_error(MINIMA_EIO, "cannot write '%s': %s", tmp, strerror(errno));
            goto fail;
        }
    for (int k = 0; as_mlp && k < m->n_layers; k++) {
        char owner[300];
        snprintf(owner, sizeof owner, "layer '%.200s'", m->layer_names[k]);
        st = write_values(f, minima_model_weight(m, k), minima_model_layer_weights(m, k), di, buf,
                          buf_elems, owner, "weight", path);
        if (st == MINIMA_OK && m->has_bias)
            st = write_values(f, minima_model_bias(m, k), (size_t)m->widths[k + 1], di, buf,
                              buf_elems, owner, "bias", path);
        if (st != MINIMA_OK) goto fail;
    }
    for (int i = 1; !as_mlp && i < m->n_nodes; i++) {
        const minima_node *nd = &m->nodes[i];
        if (!is_param_node(m, i)) continue;
        char owner[300];
        minima_model_node_label(m, i, owner, sizeof owner);
        st = write_values(f, m->theta + nd->weight_offset, nd->n_weight, di, buf, buf_elems, owner,
                          "weight", path);
        if (st == MINIMA_OK && nd->n_bias)
            st = write_values(f, m->theta + nd->bias_offset, nd->n_bias, di, buf, buf_elems, owner,
                              "bias", path);
        if (st != MINIMA_OK) goto fail;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        st = minima_error(MINIMA_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        goto fail;
    }
    int rc = fclose(f);
    f = NULL;
    if (rc != 0) { st = minima_error(MINIMA_EIO, "cannot write '%s': %s", tmp, strerror(errno)); goto fail; }
    if (minima_tempfile_commit(tmp, path) != 0) {
        st = minima_error(MINIMA_EIO, "cannot save '%s': renaming the temporary file '%s' failed: %s",
                          path, tmp, strerror(errno));
        goto fail;
    }
    tmp_created = 0;
    minima_tempfile_unregister(slot);
    /* Make the rename itself durable; failure here loses nothing already written. */
    char *slash = strrchr(tmp, '/');
    if (slash) *slash = '\0';
    int dfd = open(slash ? (slash == tmp ? "/" : tmp) : ".", O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { fsync(dfd); close(dfd); }
    cJSON_free(text);
    minima_free(tmp);
    minima_free(buf);
    return MINIMA_OK;
fail:
    if (f) fclose(f);
    if (fd >= 0) close(fd);
    if (tmp_created) unlink(tmp);
    minima_tempfile_unregister(slot);
    if (text) cJSON_free(text);
    minima_free(tmp);
    minima_free(buf);
    return st;
}
