/* minima/idx.h — the IDX format of MNIST and Fashion-MNIST: reader and
 * writer, gzip-compressed or raw.
 *
 * Byte layout (Y. LeCun's description at yann.lecun.com/exdb/mnist):
 *
 *   offset 0   2 bytes   0x00 0x00                 (magic: two zero bytes)
 *   offset 2   1 byte    type code:
 *                          0x08 unsigned byte      0x0C signed int32
 *                          0x09 signed byte        0x0D float32
 *                          0x0B signed int16       0x0E float64
 *   offset 3   1 byte    ndims, 1 .. MINIMA_IDX_MAX_DIMS
 *   offset 4   4*ndims   dims[0..ndims-1], each a big-endian uint32 >= 1
 *   then       prod(dims) * sizeof(type) bytes of data, row-major, every
 *              multi-byte value big-endian, and nothing after it.
 *
 * So an image file of 60000 28x28 uint8 images starts 00 00 08 03
 * 00 00 EA 60 00 00 00 1C 00 00 00 1C and holds 16 + 47 040 000 bytes; its
 * labels file starts 00 00 08 01 00 00 EA 60 and holds 8 + 60 000 bytes.
 * The first dimension indexes items (examples); the others are flattened.
 *
 * Files may be gzip-compressed (the reader decides from the content, not
 * the name: zlib reads raw files transparently). The reader checks the
 * magic, the type code, every dimension, and that the (uncompressed) file
 * holds exactly the bytes the header declares — a truncated file and a
 * file with trailing bytes are both errors naming the expected and the
 * found byte counts. */
#ifndef MINIMA_IDX_H
#define MINIMA_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MINIMA_IDX_U8 = 0x08,
    MINIMA_IDX_I8 = 0x09,
    MINIMA_IDX_I16 = 0x0B,
    MINIMA_IDX_I32 = 0x0C,
    MINIMA_IDX_F32 = 0x0D,
    MINIMA_IDX_F64 = 0x0E
} minima_idx_type;

#define MINIMA_IDX_MAX_DIMS 8
/* The reader refuses files whose data would exceed this many bytes (the
 * header is then far more likely corrupt than the data set real). */
#define MINIMA_IDX_MAX_BYTES ((uint64_t)1 << 38)

/* An IDX array, converted to float64 (exactly: every IDX type fits). */
typedef struct {
    minima_idx_type type;
    int ndims;
    size_t dims[MINIMA_IDX_MAX_DIMS];  /* as declared by the header */
    size_t n_items;                    /* items read: min(dims[0], max_items) */
    size_t item_size;                  /* values per item: dims[1] * ... * dims[ndims-1] */
    double *data;                      /* (n_items, item_size), raw values (uint8 NOT scaled) */
} minima_idx_array;

/* Size in bytes of one value of a type, or 0 for an unknown code. */
size_t minima_idx_type_size(int type);
/* "ubyte", "byte", "short", "int", "float", "double", or "unknown". */
const char *minima_idx_type_name(int type);

/* Reads the IDX file at `path` (gzip or raw). Only the first `max_items`
 * items (0 = all) are converted and kept, but the whole file is still read
 * to check its size. *out is zeroed first; free it with
 * minima_idx_array_free. Errors: MINIMA_EIO (cannot open or read),
 * MINIMA_EFORMAT (bad magic, type code, dimensions, truncated, trailing
 * bytes, corrupt gzip stream), MINIMA_EINTERRUPTED. Reports progress. */
minima_status minima_idx_read(const char *path, size_t max_items, minima_idx_array *out);
/* The same with a limit on the bytes of out->data (kept values as float64;
 * 0: the default 16 GiB): a header that declares more is refused
 * (MINIMA_ERANGE) before anything is read. Memory grows with the data that
 * actually arrives, so a gzip stream whose header lies costs no more than
 * what it really holds. */
minima_status minima_idx_read_limited(const char *path, size_t max_items, uint64_t max_bytes,
                                      minima_idx_array *out);
/* Frees the data and zeroes the struct (NULL is fine). */
void minima_idx_array_free(minima_idx_array *array);

/* Writes `data` (prod(dims) values) as an IDX file of the given type,
 * gzip-compressed if `gzip` is nonzero (deterministic bytes: no time
 * stamp). Each value must be representable in the type exactly (integers
 * in range for integer types, finite or not for floats; float32 rounds):
 * MINIMA_EINVAL names the first that is not. Written to a temporary file
 * beside `path` and renamed, so a failure leaves `path` as it was. */
minima_status minima_idx_write(const char *path, minima_idx_type type, int ndims,
                               const size_t *dims, const double *data, int gzip);

#ifdef __cplusplus
}
#endif
#endif
