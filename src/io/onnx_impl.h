/* onnx_impl.h — shared by the ONNX reader and writer (internal).
 *
 * onnx_proto.c: the file's bytes into a protobuf-c ModelProto, after a
 * walk of the wire format that bounds the nesting depth (protobuf-c
 * recurses without a limit) and checks every length; the tensors of the
 * file as doubles or integers, their sizes checked against their dims. */
#ifndef MINIMA_ONNX_IMPL_H
#define MINIMA_ONNX_IMPL_H

#ifdef MINIMA_HAVE_ONNX

#include <stddef.h>
#include <stdint.h>

#include "minima/status.h"
#include "onnx.pb-c.h"

/* Deepest nesting of messages accepted. */
#define MINIMA_ONNX_MAX_DEPTH 64
/* Largest file read (protobuf's own limit is 2 GiB). */
#define MINIMA_ONNX_MAX_BYTES ((size_t)2 << 30)

/* Reads and decodes path. *out is freed with onnx__model_proto__free_unpacked(*out, NULL). */
minima_status minima_onnx_read_file(const char *path, Onnx__ModelProto **out);

/* Number of elements of t (the product of its dims), MINIMA_EFORMAT if a
 * dim is negative or the product overflows. */
minima_status minima_onnx_numel(const char *path, const Onnx__TensorProto *t, size_t *n);

/* t's values as doubles (FLOAT or DOUBLE; also INT64, INT32 and BOOL,
 * exactly when they fit). *values is minima_alloc'ed (n may be 0: then NULL). */
minima_status minima_onnx_tensor_doubles(const char *path, const Onnx__TensorProto *t,
                                         double **values, size_t *n);
/* t's values as int64 (INT64 or INT32). */
minima_status minima_onnx_tensor_ints(const char *path, const Onnx__TensorProto *t,
                                      int64_t **values, size_t *n);

#endif
#endif
