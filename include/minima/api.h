/* minima/api.h — the library through plain types: opaque handles, numbers,
 * strings, arrays and JSON. For bindings (the Python package calls these
 * through ctypes) and for C programs that want the common path in a few
 * calls. Everything here is a thin layer over the structured API of the
 * other headers; it adds no numerics of its own.
 *
 * Conventions:
 *   - every function returns a minima_status; on failure minima_last_error()
 *     holds the message (file, field, expected, found) and *out is NULL;
 *   - arrays are C-contiguous (row-major) float64 unless said otherwise;
 *     parameter vectors are in PyTorch's parameters() order;
 *   - a `request` is "key=value,key=value" (NULL or "" for the defaults),
 *     with the keys and defaults of the matching command-line options
 *     (docs/python.md lists them); unknown keys are MINIMA_EINVAL;
 *   - a `char **json` result is a NUL-terminated JSON text with the keys of
 *     the command's --json output, allocated by the library: release it
 *     with minima_api_free_string();
 *   - long calls report progress through minima_set_progress() and stop
 *     with MINIMA_EINTERRUPTED after minima_interrupt(). */
#ifndef MINIMA_API_H
#define MINIMA_API_H

#include <stddef.h>
#include <stdint.h>

#include "minima/data.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Releases a string returned by this API (NULL is a no-op). */
void minima_api_free_string(char *s);

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *minima_api_version(void);

/* ---- models ------------------------------------------------------------ */

/* A model file (safetensors) as `minima info` reads it. activation: NULL
 * (the file's, else relu with a warning logged through minima_log) or
 * "relu", "tanh", "leaky_relu[:SLOPE]" (SLOPE in (0, 1), default 0.01);
 * order: NULL or "a,b,c" (layer names in the order they run); arch: NULL
 * or the architecture of a state dict that carries no graph, in the
 * general form "1x28x28:conv8k3p1,bn,relu,maxpool2,flatten,10" or the MLP
 * form "784-128-10" (minima_load_options.arch; docs/model-files.md,
 * "Loading a PyTorch CNN": the tensors fill the nodes with parameters,
 * every shape checked, BatchNorm folded after `bn`). A file minima wrote
 * records its graph; an arch given with it must describe the same graph.
 * order and arch together are MINIMA_EINVAL. */
minima_status minima_api_model_load(const char *path, const char *activation, const char *order,
                                    const char *arch, minima_model **out);

/* A model from named tensors, as in a PyTorch state_dict: tensor i is
 * names[i] with ndims[i] dimensions (0..8; a linear weight has 2, a conv2d
 * weight 4, a bias 1), its shape the next ndims[i] entries of `shapes` (all
 * tensors' shapes concatenated), its values values[i] (float64, row-major;
 * copied). The same rules as a safetensors file with the same tensors,
 * applied by the same code. Without arch, an MLP: "<layer>.weight"
 * [out, in] and "<layer>.bias" [out]; any other tensor refused (BatchNorm
 * statistics and 4-D weights with MINIMA_EUNSUPPORTED, pointing to arch),
 * biases on every layer or none, finite values; the layer order from
 * `order` ("a,b,c") or, when NULL, from the names' numbering and the
 * shapes, refused when ambiguous (MINIMA_EINVAL listing the orders). With
 * arch (as for minima_api_model_load; `order` must then be NULL): the
 * tensors fill the architecture's nodes module by module, every shape
 * checked (MINIMA_ESHAPE naming the tensor, both shapes and the node),
 * BatchNorm statistics folded after `bn` (num_batches_tracked, an integer
 * in PyTorch, is skipped: pass it as float64 or leave it out). Messages
 * name the tensors "'state dict': tensor '0.weight' ...". activation and
 * loss ("ce", "mse"; NULL: "ce") as for minima_api_model_load; the
 * activation's source is "option" when given or with arch, else
 * "assumed". */
minima_status minima_api_model_from_tensors(int n_tensors, const char *const *names, const int *ndims,
                                            const int64_t *shapes, const double *const *values,
                                            const char *order, const char *arch,
                                            const char *activation, const char *loss,
                                            minima_model **out);

/* A new model of the architecture `arch`: MLP widths "784-128-10"
 * (activation as above between the layers, NULL: relu) or the general form
 * "1x28x28:conv32k3p1,relu,maxpool2,flatten,10" (docs/model-files.md), bias
 * 0/1 for every layer, initialised as PyTorch's nn.Linear/nn.Conv2d with
 * `seed`. */
minima_status minima_api_model_create(const char *arch, int bias, const char *activation,
                                      uint64_t seed, minima_model **out);

/* Writes the model (dtype "F64" or "F32"; NULL: F64), atomically. */
minima_status minima_api_model_save(const minima_model *model, const char *path, const char *dtype);

/* `minima info --json` of the model (the same keys, written by the same
 * code; "model", the file's path there, is null). */
minima_status minima_api_model_info(const minima_model *model, char **json);

/* Number of parameters P (0 for NULL), and a copy of them in or out
 * (P doubles). set_params refuses NaN/Inf (MINIMA_ENONFINITE), leaving
 * the model unchanged. */
size_t minima_api_model_n_params(const minima_model *model);
minima_status minima_api_model_get_params(const minima_model *model, double *theta);
minima_status minima_api_model_set_params(minima_model *model, const double *theta);

/* A rescaled copy computing the same function (`minima rescale`):
 * request keys alpha (layer factors "a1;a2;..." separated by ';', their
 * product 1, or K-1 of them with derive_last=1), neurons ("SEED:SPREAD",
 * random per-neuron factors, composed with alpha if both are given),
 * canonical (1: the minimum-norm point of the orbit; not with alpha or
 * neurons), group (with canonical: "neuron", the default, or "layer"),
 * derive_last (0/1), force (0/1). One of alpha, neurons, canonical=1 is
 * required. Refuses a non-homogeneous (tanh) perceptron unless force=1
 * (then a warning is logged). A model that is not an MLP (a graph with
 * conv2d, pooling, residual adds) is rescaled through its group
 * (minima/graph_symmetry.h): alpha gives one factor per stage plus one for
 * the output node (n_stages + 1, product 1, or n_stages with
 * derive_last=1; MINIMA_EINVAL naming the stage count otherwise), neurons
 * one random factor per free channel class (after alpha), canonical the
 * minimum norm over every class (group "neuron") or over the stage-wise
 * maps (group "layer", minima/graph_stage.h); tanh channels are fixed by
 * the group, so no force is needed. The parameters equal those `minima
 * rescale` writes for the same options. */
minima_status minima_api_model_rescale(const minima_model *model, const char *request,
                                       minima_model **out);

/* ---- data -------------------------------------------------------------- */

/* A data set from arrays: x (n, d), finite; labels (n) class indices in
 * 0..C-1 as int64, or NULL; targets (n, d_target) float64 for MSE, finite,
 * or NULL (exactly one of labels and targets). n_classes: the number of
 * classes (0: the largest label + 1). Values are copied. A label out of
 * range is MINIMA_ERANGE, a NaN/Inf MINIMA_ENONFINITE, naming the entry. */
minima_status minima_api_data_from_arrays(size_t n, int d, const double *x, const int64_t *labels,
                                          int n_classes, const double *targets, int d_target,
                                          minima_dataset **out);

/* A data source as the command line names it ("fashion-mnist", "X.npy",
 * "synthetic:blobs:500", ...); labels: a labels file or NULL; subset: the
 * first N examples (0: all). */
minima_status minima_api_data_load(const char *source, const char *labels, size_t subset,
                                   minima_dataset **out);

size_t minima_api_data_n(const minima_dataset *data);
int minima_api_data_d(const minima_dataset *data);

/* ---- problems: a model's loss on a data set ---------------------------- */

/* A minima_net for the model on the data (copies of neither: both must
 * outlive it). loss: NULL (the model's) or "ce"/"mse"; batch: examples per
 * internal batch (0: the default, 1000). Loss, gradient and products are
 * then the minima_net_* calls of minima/net.h. */
minima_status minima_api_problem(const minima_model *model, const minima_dataset *data,
                                 const char *loss, size_t batch, minima_net **out);

/* ---- the commands' computations, with their --json results ------------- */

/* `minima spectrum`: request keys top, bottom, tol, basis, max_products,
 * trace (0/1), trace_method (xtrace, hutch++, hutchinson, exact, xnystrace), trace_rtol,
 * trace_max, density (0/1), slq_steps, slq_draws, exact (0/1), levels
 * ("1;10;100"), layers ("0;2", names separated by ';'), ggn (0/1),
 * float32 (0/1), seed. The numbers equal the command's for the same
 * model, data and request. */
minima_status minima_api_spectrum(minima_net *net, const char *request, char **json);

/* `minima sharpness`: measures "name,name" or "all"; settings: NULL or
 * "name:key=value,key=value;name:key=value" (each measure's settings, as
 * --set gives them); seed. */
minima_status minima_api_sharpness(minima_net *net, const char *measures, const char *settings,
                                   uint64_t seed, char **json);

/* `minima audit`: measures and settings as above; request keys decades,
 * step, neuron_points, spread, seed, canonical (0/1), and the others of
 * the command's options (docs/python.md). */
minima_status minima_api_audit(minima_net *net, const char *measures, const char *settings,
                               const char *request, char **json);

#ifdef __cplusplus
}
#endif
#endif
