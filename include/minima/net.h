/* minima/net.h — the engine: loss, gradient and exact curvature products of
 * a network over a whole data set, in float64.
 *
 * A minima_net binds a model's architecture to a data set and owns every
 * workspace the computations need, allocated once at creation: no product
 * allocates. The data is processed in batches of `batch_size` examples; the
 * loss is the mean over all N examples exactly as PyTorch's defaults
 * (docs/engine.md), and so are its derivatives.
 *
 * Points. The net holds an *anchor* point theta_0 (a copy of the model's
 * parameters at creation; change it with minima_net_set_point). Curvature
 * products (Hessian, Gauss-Newton, Jacobian) are taken at the anchor. Loss,
 * outputs and gradient take an explicit theta, or NULL for the anchor, so a
 * search can evaluate many nearby points without disturbing the anchor.
 *
 * Cache. At the anchor, the activations A_k, backward signals G_k and the
 * softmax of the outputs do not depend on the direction of a product
 * (docs/engine.md). The first product after the anchor is set computes them
 * once and keeps them if they fit in `cache_limit` bytes; every later product
 * then costs no forward or backward pass of its own. If they do not fit,
 * each product recomputes them batch by batch (about one extra gradient).
 *
 * Precision. Everything is float64 unless params.float32 is set; then
 * Hessian and Gauss-Newton products run their GEMMs in float32 on the
 * float64 cache rounded once (the activations, signals and softmax are
 * still computed in float64) and return float64 vectors whose relative
 * error is that of float32 accumulation, about 1e-6 (tests/test_net.c
 * bounds it). Use it for speed on large networks; report float64 numbers.
 * A float64 net gives the same float32 products on demand too
 * (minima_net_hvp_f32, minima_linop_hessian_f32): mixed-precision solvers
 * do most of their work with them and finish with float64 products, on one
 * net. Their workspaces (and a float32 copy of the cache, when it fits
 * beside the float64 one within cache_limit) are allocated on the first
 * such product.
 *
 * Distributed (minima/dist.h): under mpirun every net computes over its
 * rank's contiguous block of the examples and sums across ranks, so every
 * function here returns the whole data set's result on every rank and is
 * a collective call; sizes (cache, activations) are then one rank's.
 *
 * Not thread-safe: one net per thread. The caller keeps `model` and `data`
 * alive and unchanged (apart from theta, which the net does not read after
 * creation) while the net exists. */
#ifndef MINIMA_NET_H
#define MINIMA_NET_H

#include <stddef.h>

#include "minima/data.h"
#include "minima/linop.h"
#include "minima/model.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct minima_net minima_net;

typedef struct {
    minima_loss loss;          /* default: the model's loss */
    size_t batch_size;         /* examples per batch; default 1000; 0 = all in one batch */
    size_t cache_limit;        /* bytes the curvature cache may use; default 8 GiB */
    int float32;               /* nonzero: Hessian and Gauss-Newton products in float32
                                  (about twice as fast; relative error ~1e-6, see below);
                                  default 0. Loss, gradient, outputs and J v stay float64. */
} minima_net_params;

/* Defaults for a model (its loss) — adjust fields, then pass to create. */
minima_net_params minima_net_default_params(const minima_model *model);

/* Check that the model and data fit together (d_0 = features, labels in
 * range for cross-entropy, targets of width d_K for MSE, everything finite)
 * and allocate every workspace. params may be NULL for the defaults. MSE on
 * a data set with class labels and no float targets uses one-hot targets
 * (PyTorch: MSELoss()(f(x), F.one_hot(y, d_K).double())). */
minima_status minima_net_create(minima_net **out, const minima_model *model,
                                const minima_dataset *data, const minima_net_params *params);
void minima_net_free(minima_net *net);

size_t minima_net_n_params(const minima_net *net);
size_t minima_net_n_examples(const minima_net *net);
const minima_model *minima_net_model(const minima_net *net);
const minima_dataset *minima_net_data(const minima_net *net);
minima_loss minima_net_loss_kind(const minima_net *net);
/* The parameters the net was created with (loss, batch size, cache limit, float32). */
minima_net_params minima_net_get_params(const minima_net *net);

/* Move the anchor to theta (P values, must be finite); drops the cache. */
minima_status minima_net_set_point(minima_net *net, const double *theta);
/* The anchor (P values, owned by the net). */
const double *minima_net_point(const minima_net *net);

/* Mean loss at theta (NULL: the anchor) and, if `accuracy` is not NULL,
 * the fraction of examples whose largest output is their label (NaN when
 * the data has no labels). */
minima_status minima_net_loss(minima_net *net, const double *theta, double *loss,
                              double *accuracy);
/* Loss and its gradient (P values) at theta (NULL: the anchor). */
minima_status minima_net_gradient(minima_net *net, const double *theta, double *loss,
                                  double *grad);
/* The outputs Z_K for every example: (N, d_K), row-major. */
minima_status minima_net_outputs(minima_net *net, const double *theta, double *outputs);

/* Hessian-vector product hv = H v at the anchor (Pearlmutter's R-operator,
 * exact). v and hv have P entries and must not overlap. */
minima_status minima_net_hvp(minima_net *net, const double *v, double *hv);
/* Generalised Gauss-Newton product gv = G v = J^T H_out J v (PSD). */
minima_status minima_net_ggnvp(minima_net *net, const double *v, double *gv);
/* Block products: HV = H [v_1 ... v_b] and GV = G [v_1 ... v_b] for b >= 1
 * directions at once, V and HV (b, P) row-major (row j is v_j, resp. H v_j),
 * not overlapping. One pass over the data (the cache) serves all b: the
 * values at the anchor are read once and a linear layer's GEMMs are b times
 * wider instead of run b times. Equal to b calls of minima_net_hvp /
 * minima_net_ggnvp up to rounding (tests/test_net_block.c: 1e-13
 * relative) and counted as b products. Linear, relu, leaky_relu, tanh and
 * identity nodes run as blocks; other kinds (conv2d, pooling, add,
 * flatten...) once per direction inside the pass. The first call with a
 * larger b allocates workspaces of about 2 b times the R-values of a batch
 * (the batch is made smaller to keep them under 1 GiB); a float32 net
 * computes its b float32 products one by one. */
minima_status minima_net_hvp_block(minima_net *net, size_t b, const double *V, double *HV);
minima_status minima_net_ggnvp_block(minima_net *net, size_t b, const double *V, double *GV);

/* The same products with float32 GEMMs (relative error ~1e-6, as a
 * params.float32 net's), whatever params.float32 is. On a float64 net the
 * first call allocates the float32 workspaces: the float32 data (N d_0
 * floats), batch workspaces (half the float64 ones) and, if the float64
 * cache is kept and the float32 copy fits beside it within cache_limit,
 * that copy (half the float64 cache; minima_net_cache_bytes counts it from
 * then on). MINIMA_ENOMEM if the workspaces cannot be allocated; the net
 * is then unchanged and its float64 products still work. Counted in
 * minima_net_n_products like every product. */
minima_status minima_net_hvp_f32(minima_net *net, const double *v, double *hv);
minima_status minima_net_ggnvp_f32(minima_net *net, const double *v, double *gv);
/* Jacobian-vector product: the directional derivative of the outputs,
 * R{Z_K} = d/dt Z_K(theta_0 + t v) at t = 0, as (N, d_K). */
minima_status minima_net_jvp(minima_net *net, const double *v, double *rz);

/* The per-example Jacobian of the outputs at the anchor (src/engine/net_jacobian.c):
 *     jac[(i d_K + k) P + p] = d z_k(x_{first+i}) / d theta_p,
 * i < n, k < d_K, p < P (weights and biases, theta's order), z the d_K
 * outputs (logits) of example first+i of the net's data; every entry of
 * jac (n d_K P doubles) is written. Row (i, k) times v is entry (first+i, k)
 * of minima_net_jvp(v). Computed exactly by the node kinds' backward
 * functions: one forward pass of the examples, then d_K backward passes of
 * ONE example each per example (a sum over a batch would mix examples).
 * At a kink (a ReLU input exactly 0, a max-pooling tie) the derivative is
 * the one the gradient uses. Independent of the loss. Allocates its own
 * workspace for the call (the values of up to 32 examples); leaves the
 * net's cache, workspaces and product count alone. MINIMA_ERANGE when
 * [first, first+n) is not inside the data; n = 0 does nothing. */
minima_status minima_net_output_jacobian(minima_net *net, size_t first, size_t n, double *jac);

/* The exact dense Hessian (P, P) at the anchor, assembled column by column
 * from products and symmetrised ((H + H^T)/2). Needs P*P doubles from the
 * caller; meant for P up to a few thousand. Reports progress. */
minima_status minima_net_hessian(minima_net *net, double *hessian);

/* Bytes the cache needs at this data set and architecture, and whether it
 * is (or, once computed, will be) kept. The bytes include the float32 copy
 * of a params.float32 net, and that of a float64 net once its first float32
 * product has allocated it (minima_net_hvp_f32). */
size_t minima_net_cache_bytes(const minima_net *net);
int minima_net_cache_enabled(const minima_net *net);
/* Bytes of every node's values for all N examples at once: what one
 * forward pass over the data would hold if nothing were freed (to compare
 * the cache with). */
size_t minima_net_activation_bytes(const minima_net *net);
/* Rows per batch: params.batch_size, made smaller if the batch workspaces
 * of all nodes would exceed 1 GiB. */
size_t minima_net_batch_rows(const minima_net *net);
/* Number of products (HVP, GGN, JVP) computed since creation. */
size_t minima_net_n_products(const minima_net *net);

/* ---- the curvature as operators (src/engine/net_operators.c) ---------- */

/* The Hessian of the net's loss at its anchor (minima_net_hvp), n = P.
 * Borrows the net. */
minima_status minima_linop_hessian(minima_linop **out, minima_net *net);
/* The generalised Gauss-Newton matrix at the anchor (minima_net_ggnvp),
 * positive semi-definite, n = P. Borrows the net. */
minima_status minima_linop_ggn(minima_linop **out, minima_net *net);

/* The same two operators with float32 products (minima_net_hvp_f32,
 * minima_net_ggnvp_f32) on any net: the low-precision operator of a
 * mixed-precision solver (minima_eigs_params.op_low). Borrows the net. */
minima_status minima_linop_hessian_f32(minima_linop **out, minima_net *net);
minima_status minima_linop_ggn_f32(minima_linop **out, minima_net *net);

/* The parameter indices (into the model's theta, parameters() order, strictly
 * increasing) of the layers named in `spec`: a comma-separated list of
 * tokens, each
 *     NAME          every parameter of the layer with that PyTorch name
 *                   ("0", "2", "fc1", "features.3": the names of the
 *                   model's linear and conv2d nodes)
 *     NAME.weight   only its weight matrix
 *     NAME.bias     only its bias (an error if the model has none)
 *     #k            the k-th linear or conv2d node, 0-based
 * Names are matched first, so "2" is the layer named "2" and "#2" the
 * third layer. A token naming nothing, an empty token or a layer named
 * twice is MINIMA_EINVAL with the token quoted. On success *index
 * (allocated with minima_alloc, the caller frees it with minima_free) holds
 * *n_index indices. */
minima_status minima_linop_select_layers(const minima_model *model, const char *spec,
                                         size_t **index, size_t *n_index);

#ifdef __cplusplus
}
#endif
#endif
