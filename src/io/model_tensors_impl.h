/* model_tensors_impl.h — a model from named tensors in memory (internal to
 * the library; defined in safetensors.c, used by api.c).
 *
 * The tensors of a PyTorch state dict, given as names, shapes and float64
 * values, become a model by exactly the rules that turn the tensors of a
 * safetensors file into one (safetensors.h, "How a file becomes a model"):
 * the same code groups weights and biases into layers, refuses BatchNorm
 * statistics, unknown tensors, mixed biases and non-finite values, and
 * decides the order of the layers (opts->order, else numbering and shapes,
 * refused when ambiguous). There is no __metadata__: the activation is
 * opts->activation when activation_set (source "option"), else relu
 * ("assumed"); the loss is cross-entropy. */
#ifndef MINIMA_MODEL_TENSORS_IMPL_H
#define MINIMA_MODEL_TENSORS_IMPL_H

#include <stdint.h>

#include "minima/model.h"
#include "minima/safetensors.h"
#include "minima/status.h"

typedef struct {
    const char *name;          /* "<layer>.weight", "<layer>.bias" */
    int ndim;                  /* 0..8 (a layer's tensors have 2 and 1) */
    const int64_t *shape;      /* (ndim) sizes >= 0 */
    const double *values;      /* product of shape values, row-major (C order) */
} minima_named_tensor;

/* The model of the n tensors (n >= 1). `what` names them in messages (as a
 * file's path does: "'state dict': tensor '0.weight' ..."; NULL: "tensors").
 * Values are copied. On failure *out is NULL. */
minima_status minima_model_from_named_tensors(const minima_named_tensor *tensors, int n,
                                              const minima_load_options *opts, const char *what,
                                              minima_model **out);

#endif
