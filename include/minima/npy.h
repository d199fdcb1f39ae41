/* minima/npy.h — NumPy's .npy format: reader and writer.
 *
 * Byte layout (numpy.lib.format, versions 1.0, 2.0 and 3.0):
 *
 *   offset 0   6 bytes   "\x93NUMPY"                       (magic)
 *   offset 6   1 byte    major version: 1, 2 or 3
 *   offset 7   1 byte    minor version: 0
 *   offset 8   2 bytes   HEADER_LEN, little-endian uint16  (version 1.0)
 *              4 bytes   HEADER_LEN, little-endian uint32  (versions 2.0, 3.0)
 *   then       HEADER_LEN bytes: a Python dict literal, ASCII (UTF-8 in
 *              3.0), padded with spaces and ended by '\n', e.g.
 *                {'descr': '<f8', 'fortran_order': False, 'shape': (60000, 784), }
 *   then       prod(shape) * itemsize bytes of data, and nothing after it.
 *
 * The header is parsed as a dict: the keys 'descr', 'fortran_order' and
 * 'shape' in any order, each exactly once, single or double quotes, any
 * whitespace, an optional trailing comma. Supported dtypes ('descr'): a
 * byte-order character '<' (little), '>' (big), '=' (native) or '|' (not
 * applicable, one-byte types only), then f2 f4 f8 (float16/32/64),
 * i1 i2 i4 i8, u1 u2 u4 u8, b1 (bool). Not supported, with a clear
 * error: fortran_order True (save with np.ascontiguousarray), object
 * arrays ('O'), structured dtypes (a list as descr), complex, strings,
 * dates. 64-bit integers must have |value| <= 2^53 (exact in float64).
 * The file must hold exactly the data the header declares. */
#ifndef MINIMA_NPY_H
#define MINIMA_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MINIMA_NPY_MAX_DIMS 16
/* Headers longer than this are refused (numpy itself writes < 200 bytes
 * for a plain array; it refuses more than 10000 by default). */
#define MINIMA_NPY_MAX_HEADER 65536
/* Data larger than this is refused as a corrupt header. */
#define MINIMA_NPY_MAX_BYTES ((uint64_t)1 << 38)

/* An array read from a .npy file, converted to float64. */
typedef struct {
    int version;                       /* major version: 1, 2 or 3 */
    char descr[16];                    /* the dtype as written, e.g. "<f4" */
    char kind;                         /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
    int itemsize;                      /* bytes per value: 1, 2, 4 or 8 */
    int big_endian;
    int ndim;                          /* 0 .. MINIMA_NPY_MAX_DIMS (0: a scalar) */
    size_t shape[MINIMA_NPY_MAX_DIMS];
    size_t n_rows;                     /* rows read: min(shape[0], max_rows); 1 if ndim = 0 */
    size_t row_size;                   /* values per row: shape[1] * ... (1 if ndim <= 1) */
    double *data;                      /* (n_rows, row_size), raw values (uint8 NOT scaled) */
} minima_npy_array;

/* Reads the .npy file at `path`, converting and keeping only the first
 * `max_rows` rows (0 = all); the size of the whole file is still checked.
 * *out is zeroed first; free it with minima_npy_array_free. Errors:
 * MINIMA_EIO (cannot open or read), MINIMA_EFORMAT (bad magic, version,
 * header, sizes), MINIMA_EUNSUPPORTED (a valid dtype or layout this reader
 * does not handle), MINIMA_EINTERRUPTED. */
minima_status minima_npy_read(const char *path, size_t max_rows, minima_npy_array *out);
/* The same with a limit on the bytes of out->data (kept values as float64;
 * 0: the default 16 GiB): a header that declares more is refused
 * (MINIMA_ERANGE) before anything is allocated. */
minima_status minima_npy_read_limited(const char *path, size_t max_rows, uint64_t max_bytes,
                                      minima_npy_array *out);
/* A shape as Python prints it: "()", "(60,)", "(60, 0)", cut short with
 * "..." if it does not fit in `size` bytes. Returns buf. */
const char *minima_npy_format_shape(int ndim, const size_t *shape, char *buf, size_t size);
void minima_npy_array_free(minima_npy_array *array);

/* Writes a version 1.0 file of dtype '<f8' (float64) or '<i8' (int64),
 * C order, with the given shape (ndim 0 .. MINIMA_NPY_MAX_DIMS) — the
 * bytes numpy.save writes for the same array. Written to a temporary file
 * beside `path` and renamed, so a failure leaves `path` as it was. */
minima_status minima_npy_write(const char *path, int ndim, const size_t *shape,
                               const double *data);
minima_status minima_npy_write_int64(const char *path, int ndim, const size_t *shape,
                                     const int64_t *data);

#ifdef __cplusplus
}
#endif
#endif
