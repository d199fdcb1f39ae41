/* idx.c — the IDX reader and writer (see minima/idx.h for the layout). */
#include "minima/idx.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io/data_impl.h"
#include "minima/alloc.h"
#include "minima/tempfile.h"

#define CHUNK ((size_t)1 << 20)   /* bytes read per gzread call */

size_t minima_idx_type_size(int type)
{
    switch (type) {
    case MINIMA_IDX_U8: case MINIMA_IDX_I8: return 1;
    case MINIMA_IDX_I16: return 2;
    case MINIMA_IDX_I32: case MINIMA_IDX_F32: return 4;
    case MINIMA_IDX_F64: return 8;
    default: return 0;
    }
}

const char *minima_idx_type_name(int type)
{
    switch (type) {
    case MINIMA_IDX_U8: return "ubyte";
    case MINIMA_IDX_I8: return "byte";
    case MINIMA_IDX_I16: return "short";
    case MINIMA_IDX_I32: return "int";
    case MINIMA_IDX_F32: return "float";
    case MINIMA_IDX_F64: return "double";
    default: return "unknown";
    }
}

void minima_idx_array_free(minima_idx_array *a)
{
    if (!a) return;
    minima_free(a->data);
    memset(a, 0, sizeof *a);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* count big-endian values of `type` at src to float64 at dst. */
static void convert_be(const unsigned char *src, size_t count, int type, double *dst)
{
    size_t i;
    switch (type) {
    case MINIMA_IDX_U8: for (i = 0; i < count; i++) dst[i] = src[i]; break;
    case MINIMA_IDX_I8: for (i = 0; i < count; i++) dst[i] = (int8_t)src[i]; break;
    case MINIMA_IDX_I16:
        for (i = 0; i < count; i++)
            dst[i] = (int16_t)(uint16_t)((unsigned)src[2 * i] << 8 | src[2 * i + 1]);
        break;
    case MINIMA_IDX_I32: for (i = 0; i < count; i++) dst[i] = (int32_t)be32(src + 4 * i); break;
    case MINIMA_IDX_F32:
        for (i = 0; i < count; i++) {
            uint32_t u = be32(src + 4 * i);
            float f;
            memcpy(&f, &u, 4);
            dst[i] = f;
        }
        break;
    case MINIMA_IDX_F64:
        for (i = 0; i < count; i++) {
            uint64_t u = be64(src + 8 * i);
            memcpy(&dst[i], &u, 8);
        }
        break;
    }
}

/* Reads up to n bytes; *got is how many arrived (fewer only at the end of
 * the file). A zlib or system error is MINIMA_EIO/EFORMAT. */
static minima_status read_bytes(gzFile f, const char *path, void *buf, size_t n, size_t *got,
                                uint64_t offset)
{
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        if (want > CHUNK) want = CHUNK;
        int r = gzread(f, (unsigned char *)buf + *got, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            if (zerr == Z_ERRNO)
                MINIMA_FAIL(MINIMA_EIO, "IDX file '%s': read error at offset %llu: %s", path,
                            (unsigned long long)(offset + *got), strerror(errno));
            MINIMA_FAIL(MINIMA_EFORMAT,
                        "IDX file '%s': corrupt gzip stream after %llu uncompressed bytes: %s",
                        path, (unsigned long long)(offset + *got), msg);
        }
        if (r == 0) break;
        *got += (size_t)r;
    }
    return MINIMA_OK;
}

/* " (the gzip stream is cut short)" when zlib saw a truncated stream. */
static const char *gz_cut_note(gzFile f)
{
    int zerr;
    gzerror(f, &zerr);
    return zerr == Z_BUF_ERROR ? " (the gzip stream is cut short)" : "";
}

static minima_status truncated(gzFile f, const char *path, const char *section, uint64_t expected,
                               uint64_t found)
{
    MINIMA_FAIL(MINIMA_EFORMAT,
                "IDX file '%s' is truncated in the %s: the header declares %llu bytes in all, "
                "the file holds %llu%s%s", path, section, (unsigned long long)expected,
                (unsigned long long)found, gzdirect(f) ? "" : " once uncompressed",
                gz_cut_note(f));
}

minima_status minima_idx_read(const char *path, size_t max_items, minima_idx_array *out)
{
    return minima_idx_read_limited(path, max_items, 0, out);
}

minima_status minima_idx_read_limited(const char *path, size_t max_items, uint64_t max_bytes,
                                      minima_idx_array *out)
{
    if (!path || !out) MINIMA_FAIL(MINIMA_EINVAL, "minima_idx_read: NULL argument");
    memset(out, 0, sizeof *out);
    minima_status s = MINIMA_OK;
    unsigned char *buf = NULL;
    double *data = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        MINIMA_FAIL(MINIMA_EIO, "cannot open IDX file '%s': %s", path,
                    errno ? strerror(errno) : "out of memory");
    }
    gzbuffer(f, 1 << 17);
    unsigned char head[4 + 4 * MINIMA_IDX_MAX_DIMS];
    size_t got;
    if ((s = read_bytes(f, path, head, 4, &got, 0))) goto fail;
    if (got < 4) {
        s = minima_error(MINIMA_EFORMAT,
                         "IDX file '%s' is truncated in the header: expected 4 bytes (magic, "
                         "type code, ndims) at offset 0, the file holds %zu%s%s",
                         path, got, gzdirect(f) ? "" : " once uncompressed", gz_cut_note(f));
        goto fail;
    }
    if (head[0] != 0 || head[1] != 0) {
        s = minima_error(MINIMA_EFORMAT,
                         "IDX file '%s': wrong magic at offset 0: expected bytes 00 00, found "
                         "%02X %02X%s", path, head[0], head[1],
                         head[0] == 0x93 && head[1] == 'N' ? " (this is a NumPy .npy file)" : "");
        goto fail;
    }
    int type = head[2], ndims = head[3];
    size_t tsize = minima_idx_type_size(type);
    if (!tsize) {
        s = minima_error(MINIMA_EFORMAT,
                         "IDX file '%s': unknown type code 0x%02X at offset 2: expected 0x08 "
                         "(ubyte), 0x09 (byte), 0x0B (short), 0x0C (int), 0x0D (float) or "
                         "0x0E (double)", path, type);
        goto fail;
    }
    if (ndims < 1 || ndims > MINIMA_IDX_MAX_DIMS) {
        s = minima_error(MINIMA_EFORMAT,
                         "IDX file '%s': number of dimensions at offset 3 is %d: expected 1 to %d",
                         path, ndims, MINIMA_IDX_MAX_DIMS);
        goto fail;
    }
    size_t header = 4 + 4 * (size_t)ndims;
    if ((s = read_bytes(f, path, head + 4, 4 * (size_t)ndims, &got, 4))) goto fail;
    if (got < 4 * (size_t)ndims) {
        s = minima_error(MINIMA_EFORMAT,
                         "IDX file '%s' is truncated in the dimensions: %d dimensions need %zu "
                         "header bytes, the file holds %zu%s%s",
                         path, ndims, header, 4 + got, gzdirect(f) ? "" : " once uncompressed",
                         gz_cut_note(f));
        goto fail;
    }
    uint64_t n_values = 1;
    for (int k = 0; k < ndims; k++) {
        uint32_t dk = be32(head + 4 + 4 * k);
        if (dk == 0) {
            s = minima_error(MINIMA_EFORMAT,
                             "IDX file '%s': dimension %d (offset %d) is 0: expected at least 1",
                             path, k, 4 + 4 * k);
            goto fail;
        }
        out->dims[k] = dk;
        if (n_values > MINIMA_IDX_MAX_BYTES / dk / tsize) {
            s = minima_error(MINIMA_EFORMAT,
                             "IDX file '%s': the dimensions in the header declare more than %llu "
                             "bytes of data (dimension %d at offset %d is %u): a corrupt header?",
                             path, (unsigned long long)MINIMA_IDX_MAX_BYTES, k, 4 + 4 * k, dk);
            goto fail;
        }
        n_values *= dk;
    }
    out->type = (minima_idx_type)type;
    out->ndims = ndims;
    size_t n_items = out->dims[0];
    size_t item_size = (size_t)(n_values / n_items);
    size_t keep = max_items && max_items < n_items ? max_items : n_items;
    uint64_t data_bytes = n_values * tsize;
    uint64_t total = header + data_bytes;
    uint64_t keep_values = (uint64_t)keep * item_size;

    /* A raw file's size is known without reading it: a wrong size is
     * reported at once and the items after the kept ones are skipped. */
    int size_known = 0;
    struct stat st;
    if (gzdirect(f) && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        uint64_t size = (uint64_t)st.st_size;
        if (size < total) {
            s = minima_error(MINIMA_EFORMAT,
                             "IDX file '%s' is truncated in the data: the header (%zu bytes, type "
                             "%s, %llu values) declares %llu bytes in all, the file holds %llu",
                             path, header, minima_idx_type_name(type),
                             (unsigned long long)n_values, (unsigned long long)total,
                             (unsigned long long)size);
            goto fail;
        }
        if (size > total) {
            s = minima_error(MINIMA_EFORMAT,
                             "IDX file '%s' has %llu trailing bytes: the header declares %llu "
                             "bytes in all, the file holds %llu", path,
                             (unsigned long long)(size - total), (unsigned long long)total,
                             (unsigned long long)size);
            goto fail;
        }
        size_known = 1;
    }

    uint64_t limit = minima_data_limit(max_bytes);
    if (keep_values > limit / sizeof(double)) {
        char what[512], dims[160];
        size_t k = 0;
        for (int i = 0; i < ndims && k + 16 < sizeof dims; i++)
            k += (size_t)snprintf(dims + k, sizeof dims - k, i ? " x %zu" : "%zu", out->dims[i]);
        snprintf(what, sizeof what, "IDX file '%s' (dimensions %s, type %s): %llu values as "
                 "float64", path, dims, minima_idx_type_name(type),
                 (unsigned long long)keep_values);
        s = minima_data_limit_error(what, keep_values * sizeof(double), limit);
        goto fail;
    }
    buf = minima_alloc(CHUNK, 1);
    if (!buf) goto nomem;
    /* The output grows as data arrives, so a header that lies about its
     * sizes gives a truncation error, not a huge allocation. */
    size_t cap = keep_values < (CHUNK / 8) ? (size_t)keep_values : CHUNK / 8;
    data = minima_alloc(cap, sizeof *data);
    if (!data) goto nomem;
    uint64_t read_values = 0;   /* values read from the data section */
    uint64_t stop = size_known ? keep_values : n_values;
    while (read_values < stop) {
        uint64_t left = (stop - read_values) * tsize;
        size_t want = left < CHUNK ? (size_t)left : CHUNK;
        if ((s = read_bytes(f, path, buf, want, &got, header + read_values * tsize))) goto fail;
        size_t nv = got / tsize;
        if (read_values < keep_values) {
            uint64_t take = keep_values - read_values;
            if (take > nv) take = nv;
            if (read_values + take > cap) {
                size_t ncap = cap ? cap : 1;
                while (ncap < read_values + take) ncap = ncap > keep_values / 2 ? (size_t)keep_values : 2 * ncap;
                double *nd = minima_realloc(data, ncap, sizeof *data);
                if (!nd) goto nomem;
                data = nd;
                cap = ncap;
            }
            convert_be(buf, (size_t)take, type, data + read_values);
        }
        read_values += nv;
        if (got < want) {
            s = truncated(f, path, "data", total, header + read_values * tsize + got % tsize);
            goto fail;
        }
        minima_progress("reading IDX", (double)read_values, (double)stop);
        if (minima_interrupted()) {
            s = minima_error(MINIMA_EINTERRUPTED, "reading IDX file '%s' interrupted", path);
            goto fail;
        }
    }
    if (!size_known) {
        uint64_t extra = 0;
        do {
            if ((s = read_bytes(f, path, buf, CHUNK, &got, total + extra))) goto fail;
            extra += got;
        } while (got == CHUNK);
        int zerr;
        gzerror(f, &zerr);
        if (zerr == Z_BUF_ERROR) {
            s = minima_error(MINIMA_EFORMAT,
                             "IDX file '%s': the gzip stream is cut short after all %llu bytes "
                             "the header declares (its end-of-stream trailer is missing)",
                             path, (unsigned long long)total);
            goto fail;
        }
        if (extra) {
            s = minima_error(MINIMA_EFORMAT,
                             "IDX file '%s' has %llu trailing bytes: the header declares %llu "
                             "bytes in all, the (uncompressed) file holds %llu", path,
                             (unsigned long long)extra, (unsigned long long)total,
                             (unsigned long long)(total + extra));
            goto fail;
        }
    }
    gzclose(f);
    minima_free(buf);
    out->n_items = keep;
    out->item_size = item_size;
    out->data = data;
    return MINIMA_OK;

nomem:
    s = minima_error(MINIMA_ENOMEM, "IDX file '%s': out of memory for %llu values", path,
                     (unsigned long long)keep_values);
fail:
    gzclose(f);
    minima_free(buf);
    minima_free(data);
    memset(out, 0, sizeof *out);
    return s;
}

/* Value x as `type`, big-endian, at p; 0 if x is not representable. */
static int encode_be(double x, int type, unsigned char *p)
{
    int64_t lo = 0, hi = 0;
    switch (type) {
    case MINIMA_IDX_U8: lo = 0; hi = 255; break;
    case MINIMA_IDX_I8: lo = -128; hi = 127; break;
    case MINIMA_IDX_I16: lo = -32768; hi = 32767; break;
    case MINIMA_IDX_I32: lo = INT32_MIN; hi = INT32_MAX; break;
    case MINIMA_IDX_F32: {
        float f = (float)x;
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int i = 0; i < 4; i++) p[i] = (unsigned char)(u >> (24 - 8 * i));
        return 1;
    }
    case MINIMA_IDX_F64: {
        uint64_t u;
        memcpy(&u, &x, 8);
        for (int i = 0; i < 8; i++) p[i] = (unsigned char)(u >> (56 - 8 * i));
        return 1;
    }
    default: return 0;
    }
    if (!(x >= (double)lo && x <= (double)hi) || x != floor(x)) return 0;
    uint32_t u = (uint32_t)(int64_t)x;
    size_t n = minima_idx_type_size(type);
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(u >> (8 * (n - 1 - i)));
    return 1;
}

minima_status minima_idx_write(const char *path, minima_idx_type type, int ndims,
                               const size_t *dims, const double *data, int gzip)
{
    if (!path || !dims || !data) MINIMA_FAIL(MINIMA_EINVAL, "minima_idx_write: NULL argument");
    size_t tsize = minima_idx_type_size(type);
    if (!tsize) MINIMA_FAIL(MINIMA_EINVAL, "minima_idx_write: unknown IDX type code 0x%02X", type);
    if (ndims < 1 || ndims > MINIMA_IDX_MAX_DIMS)
        MINIMA_FAIL(MINIMA_EINVAL, "minima_idx_write: ndims must be 1 to %d, got %d",
                    MINIMA_IDX_MAX_DIMS, ndims);
    unsigned char head[4 + 4 * MINIMA_IDX_MAX_DIMS] = {0, 0, (unsigned char)type,
                                                      (unsigned char)ndims};
    uint64_t n = 1;
    for (int k = 0; k < ndims; k++) {
        if (dims[k] < 1 || dims[k] > UINT32_MAX)
            MINIMA_FAIL(MINIMA_EINVAL, "minima_idx_write: dimension %d is %zu: expected 1 to "
                        "2^32-1", k, dims[k]);
        if (n > MINIMA_IDX_MAX_BYTES / dims[k])
            MINIMA_FAIL(MINIMA_EINVAL, "writing IDX file '%s': the dimensions declare more than "
                        "%llu values", path, (unsigned long long)MINIMA_IDX_MAX_BYTES);
        n *= dims[k];
        for (int i = 0; i < 4; i++) head[4 + 4 * k + i] = (unsigned char)(dims[k] >> (24 - 8 * i));
    }
    minima_status s = MINIMA_OK;
    unsigned char *buf = NULL;
    gzFile f = NULL;
    char *tmp = minima_data_tmp_path(path);
    if (!tmp) MINIMA_FAIL(MINIMA_ENOMEM, "writing IDX file '%s': out of memory", path);
    int slot = minima_tempfile_register(tmp);   /* removed by a second Ctrl-C's handler */
    f = gzopen(tmp, gzip ? "wb6" : "wbT");
    if (!f) {
        s = minima_error(MINIMA_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        goto fail;
    }
    buf = minima_alloc(CHUNK, 1);
    if (!buf) {
        s = minima_error(MINIMA_ENOMEM, "writing IDX file '%s': out of memory", path);
        goto fail;
    }
    size_t header = 4 + 4 * (size_t)ndims;
    if (gzwrite(f, head, (unsigned)header) != (int)header) goto write_error;
    size_t per_chunk = CHUNK / tsize;
    for (uint64_t i = 0; i < n;) {
        size_t m = n - i < per_chunk ? (size_t)(n - i) : per_chunk;
        for (size_t j = 0; j < m; j++) {
            if (!encode_be(data[i + j], type, buf + j * tsize)) {
                s = minima_error(MINIMA_EINVAL,
                                 "writing IDX file '%s': value %.17g at index %llu is not "
                                 "representable as type %s", path, data[i + j],
                                 (unsigned long long)(i + j), minima_idx_type_name(type));
                goto fail;
            }
        }
        if (gzwrite(f, buf, (unsigned)(m * tsize)) != (int)(m * tsize)) goto write_error;
        i += m;
    }
    int rc = gzclose(f);
    f = NULL;
    if (rc != Z_OK) goto write_error;
    minima_free(buf);
    s = minima_data_commit_tmp(tmp, path);
    minima_tempfile_unregister(slot);
    minima_free(tmp);
    return s;

write_error:
    s = minima_error(MINIMA_EIO, "cannot write '%s': %s", tmp, strerror(errno));
fail:
    if (f) gzclose(f);
    remove(tmp);
    minima_tempfile_unregister(slot);
    minima_free(tmp);
    minima_free(buf);
    return s;
}
