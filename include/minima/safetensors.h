/* minima/safetensors.h — models in and out of safetensors files.
 *
 * The format (https://github.com/huggingface/safetensors), byte by byte:
 *
 *     offset 0       8 bytes   N, the header length: unsigned 64-bit, little-endian
 *     offset 8       N bytes   the header: a UTF-8 JSON object, possibly padded
 *                              at the end with spaces (0x20)
 *     offset 8 + N   the rest  the data section: raw little-endian tensor bytes
 *
 * The header maps each tensor name to
 *
 *     {"dtype": "F64", "shape": [out, in], "data_offsets": [begin, end]}
 *
 * where begin <= end are byte offsets relative to the start of the data
 * section, end - begin = (bytes per element) * (product of shape), and the
 * byte ranges of two tensors never overlap. Tensors are stored row-major
 * (C order). An optional key "__metadata__" maps strings to strings.
 * Dtypes read here: F64, F32, F16, BF16 (each converted to double exactly).
 * The other dtypes of the format (I8..I64, U8..U64, BOOL, F8_*) are
 * validated like the others and rejected with MINIMA_EUNSUPPORTED when a
 * layer's weight or bias has one; a name the format does not define is
 * MINIMA_EFORMAT.
 *
 * How a file becomes a model (PyTorch's layout; docs/model-files.md). A
 * file becomes a multilayer perceptron by the rules of this list, unless
 * it records a graph or the caller gives an architecture (see "Graph
 * models" below):
 *
 *   - every tensor "<name>.weight" of shape [out, in] is a linear layer
 *     called <name>; "<name>.bias" of shape [out] is its bias. A file whose
 *     only tensors are "weight" and "bias" (the state dict of one
 *     nn.Linear) is one layer with the empty name.
 *   - the order of the layers (a state dict does not record it) is, in
 *     this precedence: minima_load_options.order ("a,b,c", every layer
 *     name once); the __metadata__ key "layers" (same form; minima writes
 *     it); otherwise the orders allowed by the numbering (names sharing a
 *     prefix and ending in an integer, "0", "2", "4" or "layers.0",
 *     "layers.1" or "fc1", "fc2", run in the order of that integer) in
 *     which the shapes chain (and the first layer takes
 *     minima_load_options.expected_inputs inputs, when set) are searched:
 *     exactly one is used; several are MINIMA_EINVAL listing some of them
 *     (the caller must give the order); none is MINIMA_ESHAPE. The model
 *     records which rule decided (order_source).
 *   - a file holding BatchNorm statistics (running_mean, running_var,
 *     num_batches_tracked) is MINIMA_EUNSUPPORTED (the message points to an
 *     architecture with `bn`), and so is a torch.save file (a zip archive or
 *     a pickle) given instead of safetensors, and a 4-D weight (a
 *     convolution: "this file carries no graph: pass --arch SHAPE:LAYER,...").
 *   - shapes must chain: in of each layer = out of the layer before it.
 *   - biases are on every layer or on none.
 *   - any other tensor (a ".bias" without its ".weight", a "running_mean",
 *     a 1-D weight, ...) is an error naming it, unless
 *     minima_load_options.ignore_unknown is set, when it is validated like
 *     every tensor, logged (minima_log, WARN) and skipped.
 *   - __metadata__ "activation" ("relu", "leaky_relu", "tanh"),
 *     "leaky_slope" (0 < a < 1, default 0.01) and "loss" ("ce", default;
 *     "mse") set the model's fields. minima_load_options.activation_set
 *     overrides the file's activation. A file without "activation" loads
 *     as relu with activation_source MINIMA_FROM_ASSUMED, so callers can
 *     say that it was assumed. "arch", "format" and "layers" are
 *     recomputed on save. Every other key is kept in the model's metadata
 *     (minima_model_set_meta) and written back by minima_model_save.
 *
 * Graph models (any model that is not a plain MLP):
 *
 *   - a file minima wrote records its graph: __metadata__ "arch" in the
 *     general form (it contains ':'; minima_arch_format), read with
 *     minima_arch_parse(arch, 1, relu, 0) (biases as the arch says), and
 *     "layers", the names of the nodes with parameters in node order. Each
 *     such node's tensors are "<name>.weight" and "<name>.bias", found by
 *     name; every shape is checked (PyTorch's: linear [out, in], conv2d
 *     [out, in/groups, kh, kw]). A tensor no node takes is an error
 *     (skipped with a warning under ignore_unknown). Its order and
 *     activation sources are FILE. If the caller also gives
 *     minima_load_options.arch, it must describe the same graph
 *     (MINIMA_EINVAL otherwise).
 *   - a state dict that carries no graph loads only with
 *     minima_load_options.arch ("SHAPE:LAYER,..." or the MLP form
 *     "784-128-10", whose activation is the caller's, else the file's, else
 *     relu assumed). Its tensors are grouped by module (the name up to the
 *     last '.'), taken module by module in the natural order of the module
 *     names (minima_natural_compare), and fill the nodes with parameters in
 *     node order: the node's weight, then its bias if the module has one
 *     (the tensors decide whether a node has a bias). Where the next module
 *     in that order does not fit the node (shape, or a BatchNorm where a
 *     weight is expected), the first remaining module of another numbered
 *     family that fits is taken ("features.0", "features.3" are one family
 *     and keep the order of their numbers; "classifier" is another), so
 *     torchvision's features + classifier load. Each parametric node takes
 *     its module's name. A shape that does not fit is MINIMA_ESHAPE naming
 *     the tensor, both shapes and the node ("tensor 'features.3.weight' has
 *     shape [64, 32, 3, 3]; the architecture expects [64, 16, 3, 3] for
 *     node 4 (conv2d '3')"); missing tensors name the node that lacks them,
 *     extra ones the first left over. Order and activation sources are
 *     OPTION.
 *   - BatchNorm: a `bn` after a linear or conv2d node (folded_batchnorm)
 *     means the module after its own is an nn.BatchNorm1d/2d in evaluation
 *     mode: running_mean, running_var [C], with weight and bias [C]
 *     (absent when affine=False: 1 and 0), and num_batches_tracked (an
 *     integer tensor, skipped: the only tensor whose dtype may be an
 *     integer). It is folded into the node: y = gamma (z - mean) /
 *     sqrt(var + eps) + beta becomes W' = W s per output channel and
 *     b' = (b - mean) s + beta, s = gamma / sqrt(var + eps), b = 0 when the
 *     PyTorch layer had no bias (bias=False before BatchNorm). eps is the
 *     __metadata__ key "bn_eps" when present, else PyTorch's default 1e-5.
 *     The node keeps folded_batchnorm = 1 and has a bias; each fold is
 *     logged at INFO level ("folded BatchNorm '1' into node 1 (conv2d
 *     '0')"). A file minima wrote holds the folded parameters and folds
 *     nothing again.
 *   - __metadata__ "loss" and every key minima does not write itself are
 *     read as for an MLP; minima_load_options.activation_set changes every
 *     activation node (minima_model_set_activation).
 *
 * Nothing in the file is trusted: the header length is checked against the
 * file size and max_header_bytes, the JSON against the format, every shape
 * product and byte size for overflow, every data_offsets range against the
 * data section, its size against dtype and shape, and the ranges against
 * each other for overlap. Gaps between tensors are allowed (the format does
 * not forbid them) and logged at DEBUG level. Failures return
 * MINIMA_EIO (cannot open/read), MINIMA_EFORMAT (malformed), MINIMA_ESHAPE
 * (shapes do not chain or do not fit a layer), MINIMA_ENONFINITE (NaN/Inf
 * weight, unless allowed), MINIMA_EUNSUPPORTED (a valid dtype not handled)
 * with a message naming the file, the tensor or byte offset, what was
 * expected and what was found. */
#ifndef MINIMA_SAFETENSORS_H
#define MINIMA_SAFETENSORS_H

#include <stddef.h>

#include "minima/model.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of a safetensors file that minima reads. */
typedef enum {
    MINIMA_DTYPE_F64 = 0,      /* "F64": IEEE binary64 */
    MINIMA_DTYPE_F32,          /* "F32": IEEE binary32 */
    MINIMA_DTYPE_F16,          /* "F16": IEEE binary16 (read only) */
    MINIMA_DTYPE_BF16          /* "BF16": bfloat16 (read only) */
} minima_dtype;

/* "F64", "F32", "F16", "BF16". */
const char *minima_dtype_name(minima_dtype dtype);
/* Parses a name above (also "f64", "float64", "double", "f32", "float32",
 * "float"); MINIMA_EINVAL otherwise. */
minima_status minima_dtype_parse(const char *s, minima_dtype *dtype);

typedef struct {
    int allow_nonfinite;       /* accept NaN/Inf parameters (default 0: MINIMA_ENONFINITE) */
    int ignore_unknown;        /* skip tensors that are not a layer's weight or bias (default 0: error) */
    size_t max_header_bytes;   /* largest header accepted (default 100 MB) */
    int activation_set;        /* nonzero: use activation (and leaky_slope) whatever the file says */
    minima_activation activation;
    double leaky_slope;        /* for MINIMA_ACT_LEAKY_RELU with activation_set (0 < a < 1) */
    const char *order;         /* "a,b,c": the layer names in the order they run (NULL: decide) */
    int expected_inputs;       /* the data's feature count d_0, used to order layers (0: unknown) */
    const char *arch;          /* the architecture of a state dict that carries no graph,
                                  "SHAPE:LAYER,..." or "784-128-10" (minima_arch_parse; NULL:
                                  none, the file is an MLP or records its graph); see above */
} minima_load_options;

minima_load_options minima_load_default_options(void);

/* Reads a model from a safetensors file (see above). opts may be NULL for
 * the defaults. On failure *out is NULL. A path whose name ends in ".onnx"
 * is read as ONNX instead (minima_model_load_onnx, minima/onnx.h). */
minima_status minima_model_load(const char *path, const minima_load_options *opts,
                                minima_model **out);

/* Writes the model as a safetensors file (as ONNX when path's name ends in
 * ".onnx": minima_model_save_onnx, minima/onnx.h). A multilayer perceptron with no
 * folded BatchNorm is written in the MLP form: tensors "<layer name>.weight"
 * [out, in] and "<layer name>.bias" [out] (PyTorch's layout; "weight" and
 * "bias" for a single layer with the empty name) in dtype F64 or F32 (F32:
 * each value rounded to nearest; a finite value outside float range is
 * MINIMA_ERANGE), and __metadata__ with "format": "pt", "activation",
 * "loss", "arch" ("784-128-10"), "layers" (the layer names in order,
 * joined by commas), "leaky_slope" for leaky ReLU, and every key of
 * model->meta. "activation" is left out when the model's activation was
 * only assumed (activation_source MINIMA_FROM_ASSUMED), so that the new
 * file does not claim what the old one never said. The header is padded
 * with spaces to a multiple of 8 bytes, so F64 data is 8-byte aligned.
 *
 * Layer names must be distinct and free of commas (MINIMA_EINVAL
 * otherwise); their order is kept by "layers".
 *
 * Every other model (a graph: convolutions, pooling, residual additions,
 * mixed activations, a folded BatchNorm) is written in the general form:
 * for every node with parameters, in node order, "<name>.weight" in
 * PyTorch's shape (linear [out, in], conv2d [out, in/groups, kh, kw]) and
 * "<name>.bias" [out] if it has one, the data in theta's order; and
 * __metadata__ "format", "loss", "arch" (minima_arch_format, the general
 * form, which records the activations, the biases and the bn of folded
 * nodes), "layers" (the names of the nodes with parameters, in order) and
 * every key of model->meta; no "activation". A node with parameters and
 * the empty name is saved under its node index ("5"). The names of the
 * nodes with parameters must be distinct, free of commas and not
 * "__metadata__" (MINIMA_EINVAL naming both nodes otherwise).
 *
 * Atomic: the file is written to a temporary file in the same directory,
 * flushed, fsync'ed and renamed over `path`. A failed save leaves an
 * existing file at `path` untouched and no temporary file behind. */
minima_status minima_model_save(const minima_model *model, const char *path, minima_dtype dtype);

/* Natural order of names: runs of digits compare as numbers ("2" < "10"),
 * everything else byte by byte; ties (such as "01" and "1") are broken by
 * strcmp. Returns <0, 0 or >0 like strcmp. */
int minima_natural_compare(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif
