/* minima/onnx.h — models in and out of ONNX files (what torch.onnx.export
 * writes).
 *
 * minima_model_load and minima_model_save (safetensors.h) send a path whose
 * name ends in ".onnx" (any case) here, so every command that takes
 * --model takes an exported network: the file names the format, as it does
 * for PyTorch and onnxruntime. The functions below are the same entry
 * points for callers that want ONNX whatever the name.
 *
 * Reading. The file is a protobuf ModelProto, decoded by protobuf-c from
 * the messages of ONNX's own onnx.proto (generated at build time). Its
 * graph becomes a minima graph (model.h); the supported operators, with
 * opsets 9 to 17 of the default domain, are:
 *
 *   Conv           conv2d: strides, dilations, group, symmetric pads
 *                  (pads [t, l, b, r] with t = b and l = r), auto_pad
 *                  NOTSET or VALID; weight [Cout, Cin/G, kh, kw] and an
 *                  optional bias, both initializers
 *   Gemm           linear: transA = 0, transB 0 or 1 (the weight is stored
 *                  [out, in] either way), alpha folded into the weight and
 *                  beta into the bias; C of shape [out], [1, out] or one value
 *   MatMul         linear without bias (B an initializer [in, out]); an Add of
 *                  an initializer [out] right after it becomes its bias
 *   Add            of two activations of the same shape: a residual add; of
 *                  an activation and an initializer, right after a Conv
 *                  ([C, 1, 1] or [1, C, 1, 1]) or Gemm/MatMul ([out] or
 *                  [1, out]) whose output nothing else reads: added to its bias
 *   Relu, LeakyRelu (alpha in (0, 1)), Tanh
 *   MaxPool        kernel_shape, strides, symmetric pads; no dilation, floor mode
 *   AveragePool    kernel_shape, strides, symmetric pads, floor mode; with
 *                  pads, count_include_pad = 1 (what minima's avgpool2d
 *                  computes; ONNX's default 0 is refused)
 *   GlobalAveragePool, Flatten (axis 1), and Reshape when it flattens each
 *                  example: to [N, -1], [0, -1], [k, -1] or [-1, C*H*W], the
 *                  shape a constant or computed by Shape, Gather (index of
 *                  one dimension), Unsqueeze and Concat from the batch size
 *                  (what x.view(x.size(0), -1) exports with a dynamic batch)
 *   BatchNormalization (training_mode 0) right after a Conv, Gemm or MatMul
 *                  whose output nothing else reads: folded into it as for a
 *                  state dict (safetensors.h): s = scale / sqrt(var + epsilon),
 *                  W' = W s per output channel, b' = (b - mean) s + B; the
 *                  node gets folded_batchnorm
 *   Pad            mode constant, value 0, on the height and width only,
 *                  symmetric, read by an AveragePool or a Conv: added to
 *                  that node's padding (PyTorch 1.13 writes
 *                  Constant + Pad + AveragePool for nn.AvgPool2d(padding=p))
 *   Identity       identity on the data; on a constant, the same constant
 *   Constant, Dropout (removed: evaluation mode)
 *
 * The graph has one input (the data: [N, C, H, W] or [N, D], N free) and
 * one output; initializers of type FLOAT or DOUBLE (raw_data little-endian,
 * or float_data / double_data), converted to double exactly. Float
 * attributes (LeakyRelu alpha, BatchNormalization epsilon, Gemm alpha and
 * beta) are single precision in ONNX; the shortest decimal that rounds to
 * the stored float (0.1, 1e-05: what PyTorch computed with) is used. Everything
 * else is refused: an operator not in the list, a node in another domain,
 * an attribute the mapping does not honour, broadcasting, a dimension that
 * is not fixed, external data, a second graph input or output:
 * MINIMA_EUNSUPPORTED with a message naming the node (its name and index),
 * its op and what is supported. A file that is not a well-formed ModelProto
 * (truncated, a length running past the end, nesting deeper than 64, a
 * tensor whose data does not match its dims) is MINIMA_EFORMAT; a file
 * that cannot be read MINIMA_EIO; NaN/Inf parameters MINIMA_ENONFINITE
 * unless minima_load_options.allow_nonfinite.
 *
 * The parameters are those of the nodes, in node order (the order of the
 * ONNX nodes, which torch.onnx.export writes in the module's execution
 * order): each node's weight in PyTorch's layout, then its bias. A node is
 * named after its weight initializer without ".weight" ("fc1" for
 * "fc1.weight"); when the exporter renamed the weight (it does for a
 * BatchNorm it folded itself: "onnx::Conv_19"), after the ONNX node's
 * scope ("/features/0/Conv" gives "features.0"). Names that would repeat
 * are left empty. The model's metadata records "onnx_producer" and
 * "onnx_folded" (what was folded into what), which `minima info` prints.
 * minima_load_options: allow_nonfinite and activation_set are honoured;
 * arch is refused (the file carries its graph); order, expected_inputs and
 * ignore_unknown do not apply.
 *
 * Writing (minima_model_save_onnx): a new ModelProto (ir_version 7, opset
 * 13, producer "minima") with one node per minima node: Conv, Gemm
 * (transB = 1), MaxPool, AveragePool (count_include_pad = 1),
 * GlobalAveragePool then Flatten, Flatten, Add, Relu, LeakyRelu, Tanh,
 * Identity; initializers "<node name>.weight" / ".bias" (the node index
 * when the name is empty; names must be distinct, MINIMA_EINVAL otherwise)
 * of type DOUBLE (MINIMA_DTYPE_F64) or FLOAT (F32, each value rounded;
 * MINIMA_ERANGE for a finite value outside float range); input "input"
 * [N, ...] and output "output" with N symbolic; metadata_props
 * "minima.loss", "minima.folded_batchnorm" (the names of the nodes a
 * BatchNorm was folded into) and every key of model->meta except
 * onnx_producer and onnx_folded, all read back by the reader. A model read
 * from ONNX is written this way too: its BatchNorms stay folded and the
 * original file's node names, opset and other contents are not kept (its
 * FLOAT graph would round new parameters to float32; DOUBLE keeps them).
 * Reading the file back gives the same graph and, for F64, the same
 * parameters bit for bit. Atomic, as minima_model_save.
 *
 * A build without protobuf-c (or without ONNX's onnx.proto) has these
 * functions, and they return MINIMA_EUNSUPPORTED naming the Debian packages
 * to install (protobuf-c-compiler libprotobuf-c-dev python3-onnx). */
#ifndef MINIMA_ONNX_H
#define MINIMA_ONNX_H

#include "minima/model.h"
#include "minima/safetensors.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this build reads and writes ONNX, 0 otherwise. */
int minima_onnx_available(void);

/* 1 when path's name ends in ".onnx" (any case). */
int minima_path_is_onnx(const char *path);

/* Reads an ONNX model (above). opts may be NULL. On failure *out is NULL. */
minima_status minima_model_load_onnx(const char *path, const minima_load_options *opts,
                                     minima_model **out);

/* Writes the model as ONNX (above); dtype F64 or F32. */
minima_status minima_model_save_onnx(const minima_model *model, const char *path,
                                     minima_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
