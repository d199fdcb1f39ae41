/* onnx_proto.c — an ONNX file's bytes into protobuf-c messages, and its
 * tensors into numbers, nothing in the file trusted (onnx_impl.h). */
#ifdef MINIMA_HAVE_ONNX

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx_impl.h"
#include "minima/alloc.h"

/* ---- the wire format, walked before protobuf-c decodes it -------------- */

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return 0;
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 1;
        }
    }
    return 0;
}

/* 0 on success; else the byte offset (from base) where the walk failed,
 * plus one, and *why says what went wrong. */
static size_t walk(const uint8_t *base, const uint8_t *p, const uint8_t *end,
                   const ProtobufCMessageDescriptor *desc, int depth, const char **why)
{
    if (depth > MINIMA_ONNX_MAX_DEPTH) {
        *why = "messages nested deeper than 64";
        return (size_t)(p - base) + 1;
    }
    while (p < end) {
        const uint8_t *at = p;
        uint64_t key, v;
        if (!read_varint(&p, end, &key)) {
            *why = "a field key runs past the end of its message";
            return (size_t)(at - base) + 1;
        }
        unsigned wire = (unsigned)(key & 7);
        uint64_t number = key >> 3;
        switch (wire) {
        case 0:
            if (!read_varint(&p, end, &v)) {
                *why = "a varint runs past the end of its message";
                return (size_t)(at - base) + 1;
            }
            break;
        case 1:
        case 5: {
            size_t w = wire == 1 ? 8 : 4;
            if ((size_t)(end - p) < w) {
                *why = "a fixed-size field runs past the end of its message";
                return (size_t)(at - base) + 1;
            }
            p += w;
            break;
        }
        case 2: {
            if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p)) {
                *why = "a length runs past the end of its message";
                return (size_t)(at - base) + 1;
            }
            const ProtobufCFieldDescriptor *f =
                desc && number <= 0x1fffffff
                    ? protobuf_c_message_descriptor_get_field(desc, (unsigned)number) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                size_t r = walk(base, p, p + v, (const ProtobufCMessageDescriptor *)f->descriptor,
                                depth + 1, why);
                if (r) return r;
            }
            p += v;
            break;
        }
        default:
            *why = "a field has a wire type protobuf does not define (or a group)";
            return (size_t)(at - base) + 1;
        }
        if (number == 0) {
            *why = "a field number is 0";
            return (size_t)(at - base) + 1;
        }
    }
    return 0;
}

minima_status minima_onnx_read_file(const char *path, Onnx__ModelProto **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) MINIMA_FAIL(MINIMA_EIO, "cannot open '%s': %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : 65536;
            if (cap >= MINIMA_ONNX_MAX_BYTES) {
                fclose(f);
                minima_free(buf);
                MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s' is larger than 2 GiB, protobuf's limit for an "
                            "ONNX model (weights in external data are not read either)", path);
            }
            uint8_t *nb = minima_realloc(buf, ncap, 1);
            if (!nb) {
                fclose(f);
                minima_free(buf);
                MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory reading the file", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        minima_free(buf);
        MINIMA_FAIL(MINIMA_EIO, "cannot read '%s'", path);
    }
    const char *why = NULL;
    size_t bad = walk(buf, buf, buf + len, &onnx__model_proto__descriptor, 0, &why);
    if (bad) {
        minima_free(buf);
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s' is not an ONNX model: at byte %zu of %zu, %s (a truncated "
                    "or damaged file, or not a protobuf ModelProto)", path, bad - 1, len, why);
    }
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    minima_free(buf);
    if (!m)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s' is not an ONNX model: protobuf-c cannot decode it as a "
                    "ModelProto (%zu bytes)", path, len);
    *out = m;
    return MINIMA_OK;
}

/* ---- tensors ------------------------------------------------------------ */

static const char *tname(const Onnx__TensorProto *t)
{
    return t->name && t->name[0] ? t->name : "(unnamed)";
}

minima_status minima_onnx_numel(const char *path, const Onnx__TensorProto *t, size_t *n)
{
    size_t p = 1;
    for (size_t k = 0; k < t->n_dims; k++) {
        if (t->dims[k] < 0)
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%.200s' has dimension %zu = %lld; expected >= 0",
                        path, tname(t), k, (long long)t->dims[k]);
        uint64_t d = (uint64_t)t->dims[k];
        if (d && p > SIZE_MAX / 16 / d)
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%.200s' declares more elements than memory "
                        "can hold", path, tname(t));
        p *= (size_t)d;
    }
    *n = p;
    return MINIMA_OK;
}

static minima_status check_location(const char *path, const Onnx__TensorProto *t)
{
    if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        t->n_external_data)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s': tensor '%.200s' keeps its data in an external file; "
                    "minima reads models whose weights are inside the .onnx file (export without "
                    "external data, or onnx.load then onnx.save with save_as_external_data=False)",
                    path, tname(t));
    if (t->segment)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s': tensor '%.200s' is a segment of a larger tensor; "
                    "minima reads whole tensors only", path, tname(t));
    return MINIMA_OK;
}

static int elem_size(int32_t type)
{
    switch (type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return 1;
    default: return 0;
    }
}

static uint64_t le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int k = n - 1; k >= 0; k--) v = v << 8 | p[k];
    return v;
}

/* Where t's n values are: raw_data, or the typed field for its type.
 * Returns the count found in the typed field (or in raw_data / size). */
static minima_status locate(const char *path, const Onnx__TensorProto *t, size_t n, int *raw)
{
    int es = elem_size(t->data_type);
    *raw = t->has_raw_data && t->raw_data.len > 0;
    size_t have;
    if (*raw) {
        if (t->raw_data.len % (size_t)es || t->raw_data.len / (size_t)es != n)
            MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%.200s' has %zu bytes of raw_data; its dims "
                        "declare %zu elements of %d bytes", path, tname(t), t->raw_data.len, n, es);
        return MINIMA_OK;
    }
    switch (t->data_type) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: have = t->n_float_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: have = t->n_double_data; break;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: have = t->n_int64_data; break;
    default: have = t->n_int32_data; break;
    }
    if (have != n)
        MINIMA_FAIL(MINIMA_EFORMAT, "'%s': tensor '%.200s' holds %zu values; its dims declare %zu",
                    path, tname(t), have, n);
    return MINIMA_OK;
}

minima_status minima_onnx_tensor_doubles(const char *path, const Onnx__TensorProto *t,
                                         double **values, size_t *count)
{
    *values = NULL;
    *count = 0;
    MINIMA_TRY(check_location(path, t));
    if (!elem_size(t->data_type))
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s': tensor '%.200s' has data type %d; minima reads "
                    "parameters of type FLOAT (1) or DOUBLE (11) (and integer or boolean settings)",
                    path, tname(t), (int)t->data_type);
    size_t n;
    int raw;
    MINIMA_TRY(minima_onnx_numel(path, t, &n));
    MINIMA_TRY(locate(path, t, n, &raw));
    double *v = n ? minima_alloc(n, sizeof *v) : NULL;
    if (n && !v) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory reading tensor '%.200s'", path, tname(t));
    const uint8_t *r = t->raw_data.data;
    for (size_t i = 0; i < n; i++) {
        switch (t->data_type) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
            if (raw) {
                uint32_t u = (uint32_t)le(r + 4 * i, 4);
                float x;
                memcpy(&x, &u, 4);
                v[i] = x;
            } else {
                v[i] = t->float_data[i];
            }
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
            if (raw) {
                uint64_t u = le(r + 8 * i, 8);
                memcpy(&v[i], &u, 8);
            } else {
                v[i] = t->double_data[i];
            }
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
            v[i] = (double)(raw ? (int64_t)le(r + 8 * i, 8) : t->int64_data[i]);
            break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
            v[i] = raw ? (r[i] != 0) : (t->int32_data[i] != 0);
            break;
        default:
            v[i] = (double)(raw ? (int32_t)(uint32_t)le(r + 4 * i, 4) : t->int32_data[i]);
            break;
        }
    }
    *values = v;
    *count = n;
    return MINIMA_OK;
}

minima_status minima_onnx_tensor_ints(const char *path, const Onnx__TensorProto *t,
                                      int64_t **values, size_t *count)
{
    *values = NULL;
    *count = 0;
    MINIMA_TRY(check_location(path, t));
    if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 &&
        t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT32)
        MINIMA_FAIL(MINIMA_EUNSUPPORTED, "'%s': tensor '%.200s' has data type %d; expected INT64 (7) "
                    "or INT32 (6) here", path, tname(t), (int)t->data_type);
    size_t n;
    int raw;
    MINIMA_TRY(minima_onnx_numel(path, t, &n));
    MINIMA_TRY(locate(path, t, n, &raw));
    int64_t *v = n ? minima_alloc(n, sizeof *v) : NULL;
    if (n && !v) MINIMA_FAIL(MINIMA_ENOMEM, "'%s': out of memory reading tensor '%.200s'", path, tname(t));
    int wide = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    for (size_t i = 0; i < n; i++) {
        if (raw) v[i] = wide ? (int64_t)le(t->raw_data.data + 8 * i, 8)
                             : (int32_t)(uint32_t)le(t->raw_data.data + 4 * i, 4);
        else v[i] = wide ? t->int64_data[i] : t->int32_data[i];
    }
    *values = v;
    *count = n;
    return MINIMA_OK;
}

#endif
