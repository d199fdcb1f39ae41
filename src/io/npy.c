/* npy.c — the NumPy .npy reader and writer (see minima/npy.h). */
#include "minima/npy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/data_impl.h"
#include "minima/alloc.h"
#include "minima/tempfile.h"

#define CHUNK ((size_t)1 << 20)

void minima_npy_array_free(minima_npy_array *a)
{
    if (!a) return;
    minima_free(a->data);
    memset(a, 0, sizeof *a);
}

/* ---- the header dict ---------------------------------------------------- */

typedef struct {
    const char *path;
    const char *s;    /* the header text (HEADER_LEN bytes, NUL-terminated copy) */
    size_t n, i;
    size_t base;      /* file offset of s[0] */
} hparser;

static void skip_ws(hparser *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

/* The text at the parser's position, quoted and cut short, for messages. */
static const char *found(const hparser *p, char *buf, size_t size)
{
    if (p->i >= p->n) return "the end of the header";
    size_t k = 0;
    buf[k++] = '\'';
    for (size_t j = p->i; j < p->n && k + 5 < size && j < p->i + 24; j++)
        buf[k++] = (p->s[j] >= 32 && p->s[j] < 127) ? p->s[j] : '?';
    buf[k++] = '\'';
    buf[k] = '\0';
    return buf;
}

static minima_status expected(const hparser *p, const char *what)
{
    char buf[40];
    MINIMA_FAIL(MINIMA_EFORMAT, "npy file '%s': header at offset %zu: expected %s, found %s",
                p->path, p->base + p->i, what, found(p, buf, sizeof buf));
}

static minima_status parse_string(hparser *p, char *out, size_t size, const char *what)
{
    if (p->i >= p->n || (p->s[p->i] != '\'' && p->s[p->i] != '"')) return expected(p, what);
    char q = p->s[p->i];
    size_t start = p->i + 1, j = start;
    while (j < p->n && p->s[j] != q) j++;
    if (j >= p->n) return expected(p, "a closing quote");
    if (j - start >= size) return expected(p, what);
    memcpy(out, p->s + start, j - start);
    out[j - start] = '\0';
    p->i = j + 1;
    return MINIMA_OK;
}

static minima_status parse_shape(hparser *p, minima_npy_array *a)
{
    if (p->i >= p->n || p->s[p->i] != '(') return expected(p, "a tuple such as (60000, 784)");
    p->i++;
    a->ndim = 0;
    for (;;) {
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ')') break;
        if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
            return expected(p, "a non-negative integer in the shape");
        if (a->ndim == MINIMA_NPY_MAX_DIMS) {
            MINIMA_FAIL(MINIMA_EUNSUPPORTED, "npy file '%s': the shape has more than %d "
                        "dimensions", p->path, MINIMA_NPY_MAX_DIMS);
        }
        uint64_t v = 0;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
            v = v * 10 + (uint64_t)(p->s[p->i] - '0');
            if (v > MINIMA_NPY_MAX_BYTES) return expected(p, "a dimension below 2^38");
            p->i++;
        }
        if (p->i < p->n && p->s[p->i] == 'L') p->i++;   /* Python 2's long */
        a->shape[a->ndim++] = (size_t)v;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == ')') break;   /* "(3)" is accepted as (3,) */
        return expected(p, "',' or ')' in the shape");
    }
    p->i++;
    return MINIMA_OK;
}

static minima_status parse_descr(const char *path, const char *d, minima_npy_array *out)
{
    char order = '=';
    const char *t = d;
    if (*t == '<' || *t == '>' || *t == '|' || *t == '=') order = *t++;
    char kind = *t ? *t++ : '\0';
    int size = 0;
    int digits = 0;
    while (*t >= '0' && *t <= '9' && digits < 3) size = size * 10 + (*t++ - '0'), digits++;
    if (kind == 'O')
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "npy file '%s': dtype '%s' is an object array (Python "
                    "objects, saved with pickle): expected a numeric dtype; convert with "
                    "np.asarray(x, dtype=np.float64) before np.save", path, d);
    if (kind == 'c' || kind == 'U' || kind == 'S' || kind == 'a' || kind == 'V' || kind == 'M' ||
        kind == 'm')
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "npy file '%s': dtype '%s' (%s) is not supported: "
                    "expected a real numeric dtype such as '<f8', '<f4', '|u1', '<i8' or '|b1'",
                    path, d, kind == 'c' ? "complex" : kind == 'M' || kind == 'm' ? "date/time" :
                    kind == 'V' ? "raw bytes" : "strings");
    int ok = *t == '\0' &&
             ((kind == 'f' && (size == 2 || size == 4 || size == 8)) ||
              ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
              (kind == 'b' && size == 1));
    if (!ok)
        MINIMA_FAIL(MINIMA_EFORMAT, "npy file '%s': unknown dtype '%s': expected a byte order "
                    "'<', '>', '|' or '=' then f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, u8 or b1",
                    path, d);
    if (order == '|' && size != 1)
        MINIMA_FAIL(MINIMA_EFORMAT, "npy file '%s': dtype '%s': byte order '|' (not applicable) "
                    "for a %d-byte type: expected '<' or '>'", path, d, size);
    out->kind = kind;
    out->itemsize = size;
    out->big_endian = order == '>';   /* '=' is this machine's order: little-endian hosts only */
    return MINIMA_OK;
}

static minima_status parse_header(const char *path, const char *s, size_t n, size_t base,
                                  minima_npy_array *a)
{
    hparser p = {path, s, n, 0, base};
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    char key[32], descr[sizeof a->descr];
    skip_ws(&p);
    if (p.i >= n || s[p.i] != '{') return expected(&p, "'{' opening the header dict");
    p.i++;
    for (;;) {
        skip_ws(&p);
        if (p.i < n && s[p.i] == '}') break;
        size_t key_at = p.i;
        MINIMA_TRY(parse_string(&p, key, sizeof key, "a quoted key: 'descr', 'fortran_order' "
                                "or 'shape'"));
        skip_ws(&p);
        if (p.i >= n || s[p.i] != ':') return expected(&p, "':' after the key");
        p.i++;
        skip_ws(&p);
        int *seen;
        if (strcmp(key, "descr") == 0) {
            seen = &have_descr;
            if (p.i < n && s[p.i] == '[')
                MINIMA_FAIL(MINIMA_EUNSUPPORTED, "npy file '%s': header at offset %zu: a "
                            "structured dtype (a list of fields) is not supported: expected one "
                            "numeric dtype such as '<f8'", path, base + p.i);
            MINIMA_TRY(parse_string(&p, descr, sizeof descr, "a quoted dtype such as '<f8'"));
        } else if (strcmp(key, "fortran_order") == 0) {
            seen = &have_fortran;
            if (p.i + 4 <= n && strncmp(s + p.i, "True", 4) == 0) fortran = 1, p.i += 4;
            else if (p.i + 5 <= n && strncmp(s + p.i, "False", 5) == 0) fortran = 0, p.i += 5;
            else return expected(&p, "True or False for 'fortran_order'");
        } else if (strcmp(key, "shape") == 0) {
            seen = &have_shape;
            MINIMA_TRY(parse_shape(&p, a));
        } else {
            MINIMA_FAIL(MINIMA_EFORMAT, "npy file '%s': header at offset %zu: unexpected key "
                        "'%s': expected 'descr', 'fortran_order' or 'shape'", path, base + key_at,
                        key);
        }
        if (*seen)
            MINIMA_FAIL(MINIMA_EFORMAT, "npy file '%s': header at offset %zu: key '%s' appears "
                        "twice", path, base + key_at, key);
        *seen = 1;
        skip_ws(&p);
        if (p.i < n && s[p.i] == ',') {
            p.i++;
            continue;
        }
        if (p.i < n && s[p.i] == '}') break;
        return expected(&p, "',' or '}' after a value");
    }
    p.i++;
    skip_ws(&p);
    while (p.i < n && s[p.i] == '\0') p.i++;   /* tolerate NUL padding */
    if (p.i < n) return expected(&p, "only spaces after the header dict");
    if (!have_descr || !have_fortran || !have_shape)
        MINIMA_FAIL(MINIMA_EFORMAT, "npy file '%s': the header lacks the key '%s'", path,
                    !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    snprintf(a->descr, sizeof a->descr, "%s", descr);
    MINIMA_TRY(parse_descr(path, descr, a));
    if (fortran && a->ndim > 1) {
        size_t big = 0;
        for (int k = 0; k < a->ndim; k++) big += a->shape[k] > 1;
        if (big > 1)
            MINIMA_FAIL(MINIMA_EUNSUPPORTED, "npy file '%s': fortran_order is True: expected C "
                        "order (row-major); save np.ascontiguousarray(x) instead", path);
    }
    return MINIMA_OK;
}

/* ---- data conversion ------------------------------------------------- */

static double half_to_double(unsigned h)
{
    int e = (h >> 10) & 31;
    unsigned m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* count values of the array's dtype at src to float64; 0, or 1 + the index
 * of a 64-bit integer that float64 cannot hold exactly (its text in bad). */
static size_t convert(const minima_npy_array *a, const unsigned char *src, size_t count, double *dst,
                      char *bad, size_t bad_size)
{
    int size = a->itemsize, big = a->big_endian;
    for (size_t i = 0; i < count; i++) {
        const unsigned char *q = src + i * (size_t)size;
        uint64_t u = 0;
        if (big) for (int b = 0; b < size; b++) u = u << 8 | q[b];
        else for (int b = size - 1; b >= 0; b--) u = u << 8 | q[b];
        switch (a->kind) {
        case 'b': dst[i] = u != 0; break;
        case 'u':
            if (u > ((uint64_t)1 << 53)) {
                snprintf(bad, bad_size, "%llu", (unsigned long long)u);
                return i + 1;
            }
            dst[i] = (double)u;
            break;
        case 'i': {
            int sh = 64 - 8 * size;
            int64_t v = (int64_t)(u << sh) >> sh;
            if (v > ((int64_t)1 << 53) || v < -((int64_t)1 << 53)) {
                snprintf(bad, bad_size, "%lld", (long long)v);
                return i + 1;
            }
            dst[i] = (double)v;
            break;
        }
        default:   /* 'f' */
            if (size == 2) dst[i] = half_to_double((unsigned)u);
            else if (size == 4) {
                uint32_t w = (uint32_t)u;
                float f;
                memcpy(&f, &w, 4);
                dst[i] = f;
            } else memcpy(&dst[i], &u, 8);
        }
    }
    return 0;
}

/* ---- reader ------------------------------------------------------------- */

const char *minima_npy_format_shape(int ndim, const size_t *shape, char *buf, size_t size)
{
    if (!buf || size == 0) return buf;
    size_t k = 0;
    char item[32];
    buf[0] = '\0';
    for (int i = -1; i <= ndim; i++) {
        if (i < 0) snprintf(item, sizeof item, "(");
        else if (i == ndim) snprintf(item, sizeof item, ndim == 1 ? ",)" : ")");
        else snprintf(item, sizeof item, i ? ", %zu" : "%zu", shape[i]);
        size_t m = strlen(item);
        if (k + m + 1 > size) {   /* does not fit: end with "..." if there is room */
            if (size >= 4) {
                size_t at = k + 4 <= size ? k : size - 4;
                memcpy(buf + at, "...", 4);
            }
            return buf;
        }
        memcpy(buf + k, item, m + 1);
        k += m;
    }
    return buf;
}

static uint32_t le_u(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

minima_status minima_npy_read(const char *path, size_t max_rows, minima_npy_array *out)
{
    return minima_npy_read_limited(path, max_rows, 0, out);
}

minima_status minima_npy_read_limited(const char *path, size_t max_rows, uint64_t max_bytes,
                                      minima_npy_array *out)
{
    if (!path || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_npy_read: NULL argument");
    memset(out, 0, sizeof *out);
    minima_status s = MINIMA_OK;
    char *header = NULL;
    unsigned char *buf = NULL;
    double *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) MINIMA_FAIL(MINIMA_EIO, "cannot open npy file '%s': %s", path, strerror(errno));
    unsigned char pre[12];
    size_t got = fread(pre, 1, 10, f);
    if (got < 8) {
        s = minima_error(MINIMA_EFORMAT, "npy file '%s' is truncated in the magic: expected 8 "
                         "bytes (\\x93NUMPY and the version) at offset 0, the file holds %zu",
                         path, got);
        goto fail;
    }
    if (memcmp(pre, "\x93NUMPY", 6) != 0) {
        s = minima_error(MINIMA_EFORMAT, "npy file '%s': wrong magic at offset 0: expected "
                         "93 4E 55 4D 50 59 (\\x93NUMPY), found %02X %02X %02X %02X %02X %02X%s",
                         path, pre[0], pre[1], pre[2], pre[3], pre[4], pre[5],
                         pre[0] == 'P' && pre[1] == 'K' ? " (a zip file: is it an .npz?)" : "");
        goto fail;
    }
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0) {
        s = minima_error(MINIMA_EUNSUPPORTED, "npy file '%s': format version %d.%d at offset 6: "
                         "expected 1.0, 2.0 or 3.0", path, major, minor);
        goto fail;
    }
    size_t len_bytes = major == 1 ? 2 : 4;
    if (major > 1) got += fread(pre + 10, 1, 2, f);
    if (got < 8 + len_bytes) {
        s = minima_error(MINIMA_EFORMAT, "npy file '%s' is truncated in the header length: "
                         "expected %zu bytes at offset 8, the file holds %zu", path, len_bytes,
                         got - 8);
        goto fail;
    }
    size_t hlen = le_u(pre + 8, (int)len_bytes);
    size_t data_off = 8 + len_bytes + hlen;
    if (hlen > MINIMA_NPY_MAX_HEADER) {
        s = minima_error(MINIMA_EFORMAT, "npy file '%s': header length at offset 8 is %zu: "
                         "expected at most %d", path, hlen, MINIMA_NPY_MAX_HEADER);
        goto fail;
    }
    if (!(header = minima_alloc(hlen + 1, 1))) goto nomem;
    got = fread(header, 1, hlen, f);
    if (got < hlen) {
        s = minima_error(MINIMA_EFORMAT, "npy file '%s' is truncated in the header: the header "
                         "length at offset 8 declares %zu bytes from offset %zu, the file holds "
                         "%zu", path, hlen, 8 + len_bytes, got);
        goto fail;
    }
    header[hlen] = '\0';
    if ((s = parse_header(path, header, hlen, 8 + len_bytes, out))) goto fail;
    out->version = major;

    uint64_t n_values = 1;
    for (int k = 0; k < out->ndim; k++) {
        if (out->shape[k] && n_values > MINIMA_NPY_MAX_BYTES / out->shape[k] / 8) {
            s = minima_error(MINIMA_EFORMAT, "npy file '%s': the shape in the header declares "
                             "more than %llu bytes of data: a corrupt header?", path,
                             (unsigned long long)MINIMA_NPY_MAX_BYTES);
            goto fail;
        }
        n_values *= out->shape[k];
    }
    size_t tsize = (size_t)out->itemsize;
    size_t n_rows = out->ndim ? out->shape[0] : 1;
    size_t row_size = 1;
    for (int k = 1; k < out->ndim; k++) row_size *= out->shape[k];
    size_t keep = max_rows && max_rows < n_rows ? max_rows : n_rows;
    uint64_t keep_values = (uint64_t)keep * row_size;
    uint64_t total = data_off + n_values * tsize;

    struct stat st;
    int size_known = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (size_known && (uint64_t)st.st_size != total) {
        uint64_t size = (uint64_t)st.st_size;
        if (size < total)
        {
            char shp[128];
            s = minima_error(MINIMA_EFORMAT, "npy file '%s' is truncated in the data: the header "
                             "(%zu bytes, shape %s, dtype '%s', %llu values) declares %llu bytes "
                             "in all, the file holds %llu", path, data_off,
                             minima_npy_format_shape(out->ndim, out->shape, shp, sizeof shp),
                             out->descr, (unsigned long long)n_values, (unsigned long long)total,
                             (unsigned long long)size);
        }
        else
            s = minima_error(MINIMA_EFORMAT, "npy file '%s' has %llu trailing bytes: the header "
                             "declares %llu bytes in all, the file holds %llu", path,
                             (unsigned long long)(size - total), (unsigned long long)total,
                             (unsigned long long)size);
        goto fail;
    }
    uint64_t limit = minima_data_limit(max_bytes);
    if (keep_values > limit / sizeof(double)) {
        char what[512], shp[128];
        snprintf(what, sizeof what, "npy file '%s' (shape %s, dtype '%s'): %llu values as float64",
                 path, minima_npy_format_shape(out->ndim, out->shape, shp, sizeof shp),
                 out->descr, (unsigned long long)keep_values);
        s = minima_data_limit_error(what, keep_values * sizeof(double), limit);
        goto fail;
    }
    if (!(buf = minima_alloc(CHUNK, 1))) goto nomem;
    /* Regular files are checked by size above, so their data can be
     * allocated at once; a stream grows as it is read. */
    size_t cap = size_known ? (size_t)keep_values : (keep_values < CHUNK ? (size_t)keep_values : CHUNK);
    if (!(data = minima_alloc(cap, sizeof *data))) goto nomem;
    uint64_t done = 0, stop = size_known ? keep_values : n_values;
    while (done < stop) {
        uint64_t left = (stop - done) * tsize;
        size_t want = left < CHUNK ? (size_t)left : CHUNK;
        got = fread(buf, 1, want, f);
        if (ferror(f)) {
            s = minima_error(MINIMA_EIO, "npy file '%s': read error at offset %llu: %s", path,
                             (unsigned long long)(data_off + done * tsize), strerror(errno));
            goto fail;
        }
        size_t nv = got / tsize;
        if (done < keep_values) {
            uint64_t take = keep_values - done;
            if (take > nv) take = nv;
            if (done + take > cap) {
                size_t ncap = cap ? cap : 1;
                while (ncap < done + take) ncap = ncap > keep_values / 2 ? (size_t)keep_values : 2 * ncap;
                double *nd = minima_realloc(data, ncap, sizeof *data);
                if (!nd) goto nomem;
                data = nd;
                cap = ncap;
            }
            char text[32];
            size_t bad = convert(out, buf, (size_t)take, data + done, text, sizeof text);
            if (bad) {
                s = minima_error(MINIMA_EUNSUPPORTED, "npy file '%s': value %llu (dtype '%s') is "
                                 "%s, beyond 2^53: expected integers that float64 holds exactly "
                                 "(|value| <= 9007199254740992)", path,
                                 (unsigned long long)(done + bad - 1), out->descr, text);
                goto fail;
            }
        }
        done += nv;
        if (got < want) {
            s = minima_error(MINIMA_EFORMAT, "npy file '%s' is truncated in the data: the header "
                             "declares %llu bytes in all, the file holds %llu", path,
                             (unsigned long long)total,
                             (unsigned long long)(data_off + done * tsize + got % tsize));
            goto fail;
        }
        if (minima_interrupted()) {
            s = minima_error(MINIMA_EINTERRUPTED, "reading npy file '%s' interrupted", path);
            goto fail;
        }
    }
    if (!size_known) {
        uint64_t extra = 0;
        while ((got = fread(buf, 1, CHUNK, f)) > 0) extra += got;
        if (extra) {
            s = minima_error(MINIMA_EFORMAT, "npy file '%s' has %llu trailing bytes: the header "
                             "declares %llu bytes in all", path, (unsigned long long)extra,
                             (unsigned long long)total);
            goto fail;
        }
    }
    fclose(f);
    minima_free(header);
    minima_free(buf);
    out->n_rows = keep;
    out->row_size = row_size;
    out->data = data;
    return MINIMA_OK;

nomem:
    s = minima_error(MINIMA_ENOMEM, "npy file '%s': out of memory", path);
fail:
    fclose(f);
    minima_free(header);
    minima_free(buf);
    minima_free(data);
    memset(out, 0, sizeof *out);
    return s;
}

/* ---- writer ------------------------------------------------------------- */

static minima_status write_npy(const char *path, int ndim, const size_t *shape, const void *data,
                               int is_int)
{
    if (!path || (ndim > 0 && !shape) || !data)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_npy_write: NULL argument");
    if (ndim < 0 || ndim > MINIMA_NPY_MAX_DIMS)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_npy_write: ndim must be 0 to %d, got %d",
                    MINIMA_NPY_MAX_DIMS, ndim);
    char head[1024];
    int len = snprintf(head, sizeof head, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       is_int ? "<i8" : "<f8");
    size_t n = 1;
    for (int k = 0; k < ndim; k++) {
        len += snprintf(head + len, sizeof head - (size_t)len, k ? ", %zu" : "%zu", shape[k]);
        if (shape[k] && n > SIZE_MAX / 8 / shape[k])
            MINIMA_FAIL(MINIMA_EINVAL, "writing npy file '%s': the shape declares more bytes "
                        "than memory can address", path);
        n *= shape[k];
    }
    len += snprintf(head + len, sizeof head - (size_t)len, "%s), }", ndim == 1 ? "," : "");
    /* numpy pads with spaces so that the data starts at a multiple of 64. */
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(head + len, ' ', pad);
    len += (int)pad;
    head[len++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 255),
                             (unsigned char)(len >> 8)};
    minima_status s = MINIMA_OK;
    unsigned char *buf = NULL;
    char *tmp = minima_data_tmp_path(path);
    if (!tmp) MINIMA_FAIL(MINIMA_ENOMEM, "writing npy file '%s': out of memory", path);
    int slot = minima_tempfile_register(tmp);   /* removed by a second Ctrl-C's handler */
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        s = minima_error(MINIMA_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        minima_tempfile_unregister(slot);
    minima_free(tmp);
        return s;
    }
    if (!(buf = minima_alloc(CHUNK, 1))) {
        s = minima_error(MINIMA_ENOMEM, "writing npy file '%s': out of memory", path);
        goto fail;
    }
    if (fwrite(pre, 1, 10, f) != 10 || fwrite(head, 1, (size_t)len, f) != (size_t)len)
        goto write_error;
    for (size_t i = 0; i < n;) {
        size_t m = n - i < CHUNK / 8 ? n - i : CHUNK / 8;
        for (size_t j = 0; j < m; j++) {
            uint64_t u;
            if (is_int) u = (uint64_t)((const int64_t *)data)[i + j];
            else memcpy(&u, (const double *)data + i + j, 8);
            for (int b = 0; b < 8; b++) buf[8 * j + (size_t)b] = (unsigned char)(u >> (8 * b));
        }
        if (fwrite(buf, 8, m, f) != m) goto write_error;
        i += m;
    }
    if (fflush(f) != 0) goto write_error;
    int rc = fclose(f);
    f = NULL;
    if (rc != 0) goto write_error;
    minima_free(buf);
    s = minima_data_commit_tmp(tmp, path);
    minima_tempfile_unregister(slot);
    minima_free(tmp);
    return s;
write_error:
    s = minima_error(MINIMA_EIO, "cannot write '%s': %s", tmp, strerror(errno));
fail:
    if (f) fclose(f);
    remove(tmp);
    minima_tempfile_unregister(slot);
    minima_free(tmp);
    minima_free(buf);
    return s;
}

minima_status minima_npy_write(const char *path, int ndim, const size_t *shape, const double *data)
{
    return write_npy(path, ndim, shape, data, 0);
}

minima_status minima_npy_write_int64(const char *path, int ndim, const size_t *shape,
                                     const int64_t *data)
{
    return write_npy(path, ndim, shape, data, 1);
}
