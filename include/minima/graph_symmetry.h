/* minima/graph_symmetry.h — the rescaling symmetry group of any graph
 * (docs/symmetry.md, "The rescaling group of a graph").
 *
 * minima/symmetry.h rescales the hidden units of a multilayer perceptron.
 * This is the same group for every graph minima runs (minima/model.h):
 * convolutions with any stride, padding, dilation and groups, pooling,
 * flatten, residual adds, activations.
 *
 * CHANNELS. Every node's output has channels: C for a C x H x W tensor, d
 * for a flat d-vector (shape.c in both cases). Entry (node i, channel c) of
 * the graph is one element of a union-find; one extra element, FIXED,
 * stands for "factor 1". The rules, node by node:
 *
 *   input                     every channel is tied to FIXED
 *   linear, conv2d            every output channel is a free variable
 *   relu, leaky_relu, identity,
 *   maxpool2d, avgpool2d      output channel c is tied to input channel c
 *                             (positively homogeneous, or linear, per channel)
 *   global_avgpool            output feature c is tied to input channel c
 *   flatten                   output feature f is tied to input channel
 *                             f / (H W) (flat input: feature f)
 *   add                       channel c of both inputs and of the output are
 *                             tied together (a residual stream shares one
 *                             factor per channel)
 *   tanh                      not homogeneous: its input's and its output's
 *                             channels are tied to FIXED
 *   the output node           (the last one, whatever its kind) every
 *                             channel is tied to FIXED: the logits must not
 *                             change
 *
 * A CLASS is a set of tied (node, channel) pairs. The classes not tied to
 * FIXED are the free classes, numbered 0..n_classes-1 in the order of their
 * first (node, channel) pair, nodes in graph order and channels in order.
 * Every free class contains the output channel of at least one linear or
 * conv2d node. For a multilayer perceptron the free classes are exactly its
 * hidden units, layer by layer (class k = unit k of minima/symmetry.h's
 * scales).
 *
 * THE TRANSFORMATION. Log-factors u (n_classes values, any finite reals)
 * stand for factors c = exp(u) per class, 1 for FIXED. For a linear or
 * conv2d node with output channel o in class c_out(o):
 *
 *     W[o, j, ...] -> c_out(o) / c_in(in(o, j)) * W[o, j, ...]
 *     b[o]         -> c_out(o) * b[o]
 *
 * where in(o, j) is the input channel read by that weight: for conv2d with
 * Cin input channels, Cout outputs and G groups,
 *     in(o, j) = (o / (Cout / G)) (Cin / G) + j      (j < Cin / G);
 * for linear it is the channel of input feature j (feature j itself, the
 * input being flat). Every parameter is multiplied by one positive number
 * D_p(u): theta' = D(u) .* theta, the diagonal map A = diag(D) with
 * A^{-1} = diag(1/D). For every u the network computes the same function
 * (for every input), hence for any loss of its outputs
 *     grad L(A theta) = A^{-1} grad L(theta),
 *     hess L(A theta) = A^{-1} hess L(theta) A^{-1}.
 * log D_p(u) = u[c_out] - u[c_in] (a term missing when that side is FIXED),
 * linear in u. Composition adds log-factors; the inverse negates them.
 *
 * THE CANONICAL REPRESENTATIVE minimises the squared norm over the orbit,
 *     F(u) = sum_p theta_p^2 D_p(u)^2 = sum_p theta_p^2 exp(2 a_p . u),
 * a sum of exponentials of linear forms, convex in u (minima_gsym_canonical). */
#ifndef MINIMA_GRAPH_SYMMETRY_H
#define MINIMA_GRAPH_SYMMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "minima/model.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The group of one model's graph (it depends on the graph, not on theta).
 * Read-only; made by minima_gsym_create, freed by minima_gsym_free. */
typedef struct {
    int n_nodes;               /* the model's */
    size_t n_params;           /* the model's P */
    int n_classes;             /* free classes */
    int *n_channels;           /* (n_nodes) channels of each node's output */
    size_t *channel_offset;    /* (n_nodes) node i's channels start at class_of + channel_offset[i] */
    size_t n_pairs;            /* sum of n_channels */
    int *class_of;             /* (n_pairs) the free class of each (node, channel), -1 when fixed */
    /* What describes the group (minima_gsym_describe writes them as a line): */
    int n_residual_classes;    /* free classes holding a channel of an add node */
    size_t n_residual_pairs;   /* (node, channel) pairs in those classes */
    int n_parametric;          /* linear and conv2d nodes */
    int n_fixed_nodes;         /* linear/conv2d nodes other than the output node whose
                                  every output channel is fixed (e.g. read by tanh) */
    int *node_fixed;           /* (n_nodes) 1 for a linear/conv2d node whose every output
                                  channel is fixed (the output node included), else 0 */
    /* Stages (minima_gsym_stage_u): */
    int n_stages;              /* stages of free classes */
    int *stage_of_class;       /* (n_classes) the stage of each free class, 0..n_stages-1 */
    int *node_stage;           /* (n_nodes) the stage of a linear/conv2d node's free output
                                  channels; -1 for other nodes and for fixed ones */
} minima_gsym;

/* The group of `model`'s graph. MINIMA_EINVAL for NULL arguments,
 * MINIMA_EUNSUPPORTED naming the node for a node kind the group does not
 * know, MINIMA_ESHAPE naming the node when a node's channels and its
 * input's disagree where the rules above tie them one to one (not possible
 * for a checked graph), MINIMA_ENOMEM. */
minima_status minima_gsym_create(const minima_model *model, minima_gsym **out);
void minima_gsym_free(minima_gsym *g);

/* The free class of (node, channel), -1 when it is fixed, -2 when node or
 * channel is out of range (or g is NULL). */
int minima_gsym_class(const minima_gsym *g, int node, int channel);

/* The diagonal D(u) of the map: P positive values, theta' = diag .* theta.
 * u holds g->n_classes finite log-factors (NULL: all 0, the identity).
 * MINIMA_EINVAL for NULL g/model/diag, a model that is not the one g was
 * made for (node or parameter count differ), or a non-finite u;
 * MINIMA_ERANGE if some factor overflows. */
minima_status minima_gsym_diag(const minima_gsym *g, const minima_model *model, const double *u,
                               double *diag /* (P) */);

/* out = D(u) .* theta (P values; out may equal theta; theta NULL:
 * model->theta). Errors as minima_gsym_diag. */
minima_status minima_gsym_apply(const minima_gsym *g, const minima_model *model, const double *u,
                                const double *theta /* (P) or NULL */, double *out /* (P) */);

/* ---- stage-wise maps and random points ---------------------------------- */

/* STAGES. The free classes of one linear/conv2d node's output channels form
 * one stage, and two stages sharing a class are one: a residual stream,
 * written by the stem and by the last convolution of every block through
 * the adds, is one stage with all the convolutions that write it; each
 * block's inner convolution makes its own stage. Stages are numbered in
 * graph order of the first node that writes them. For a multilayer
 * perceptron stage k is hidden layer k+1 (n_stages = K-1).
 *
 * The STAGE-WISE MAP T_alpha gives every class of stage s (1-based) the
 * factor alpha_1 ... alpha_s; the output node is the last factor,
 * alpha_{S+1} = 1/(alpha_1 ... alpha_S). For an MLP this is the layer-wise
 * map of minima/symmetry.h: W_k -> alpha_k W_k, b_k -> (alpha_1...alpha_k) b_k.
 * On other graphs a weight reading stage s and writing stage t is
 * multiplied by (alpha_1...alpha_t)/(alpha_1...alpha_s), a bias of stage t
 * by alpha_1...alpha_t. */

/* The log-factors u (n_classes) of T_alpha. alpha holds n_alpha finite
 * factors > 0: without derive_last n_alpha = n_stages + 1 and their product
 * must be 1 within prod_tol (relative); with derive_last n_alpha = n_stages
 * (or n_stages + 1, the last ignored) and the last factor is derived. In
 * both cases the map applies alpha_{S+1} = 1/(alpha_1...alpha_S), which
 * alpha_used (n_stages + 1 values, or NULL) receives. MINIMA_EINVAL naming
 * the count expected, the bad factor or the product found. */
minima_status minima_gsym_stage_u(const minima_gsym *g, const double *alpha, int n_alpha,
                                  int derive_last, double prod_tol, double *u /* (n_classes) */,
                                  double *alpha_used /* (n_stages + 1) or NULL */);

/* A random point of the group: u[c] = u0[c] + spread * z_c (u0 NULL: 0),
 * z_c standard normal from minima's generator seeded with `seed`, drawn in
 * class order. For an MLP, exp(u) are the unit scales of
 * minima_sym_random_scales with the same seed (log-normal factors).
 * MINIMA_EINVAL for a negative or non-finite spread. */
minima_status minima_gsym_random_u(const minima_gsym *g, uint64_t seed, double spread,
                                   const double *u0 /* (n_classes) or NULL */,
                                   double *u /* (n_classes) */);

/* ---- the canonical representative ----------------------------------- */

/* At most this many free classes (the Newton Hessian is dense,
 * n_classes^2 doubles). */
#define MINIMA_GSYM_MAX_CANONICAL_CLASSES 4096

typedef struct {
    double norm_before;        /* ||theta||_2 */
    double norm_after;         /* ||D(u*) theta||_2 <= norm_before */
    double grad_norm;          /* ||grad F(u*)||_2 over the classes optimised */
    int iterations;            /* Newton steps taken */
    int n_degenerate;          /* classes held at u = 0 (below) */
} minima_gsym_canonical_info;

/* The log-factors u* (n_classes) minimising F(u) = ||D(u) .* theta||^2
 * over the orbit of theta (NULL: model->theta), and, if theta_out is not
 * NULL, the canonical point D(u*) .* theta (P values; may equal theta).
 *
 * Method: Newton's method on F with the exact gradient
 *     dF/du_k = 2 sum_p theta_p^2 D_p^2 a_pk
 * and the exact dense Hessian 4 sum_p theta_p^2 D_p^2 a_p a_p^T (a_p holds
 * +1 at the class of the output channel, -1 at that of the input channel),
 * solved by Cholesky, with Armijo backtracking (the full step once every
 * component of the step is <= 1e-3), from u = 0, for theta divided by its largest
 * |entry| (the same minimiser; no square overflows). The Hessian is
 * Jacobi-scaled before Cholesky; should it still not be numerically
 * positive definite, the diagonal Newton step is taken instead. Converged
 * when ||grad F|| <= 1e-13 F; MINIMA_ENOCONV after 100 steps otherwise (u
 * and theta_out then hold the last, better, iterate). Measured: from orbit
 * points whose log-factors are off by up to 5 it takes 5-21 steps, by up
 * to 20 some 45-75; by 100 it stops with MINIMA_ENOCONV.
 * MINIMA_ERANGE if F overflows nevertheless.
 *
 * Degenerate directions. Draw a directed graph on the free classes and
 * FIXED with an edge from c_in to c_out for every non-zero parameter (a
 * bias: FIXED to c_out). F has a minimiser, unique, exactly when every class
 * lies on a directed cycle through FIXED (every direction u raises some
 * term). A class that does not — all its parameters zero, or non-zero only
 * on its incoming side (a dead unit) or only on its outgoing side — has no
 * minimum along its direction (F decreases towards an infimum at infinity,
 * or does not depend on it): such classes are held at u = 0 and counted in
 * n_degenerate; the other classes are minimised exactly (they still form a
 * problem with a unique minimiser). With n_degenerate = 0 the result is
 * the same for every point of one orbit, and the canonical point of the
 * canonical point is itself (u* = 0).
 *
 * MINIMA_EINVAL for NULL g/model/u or a model g was not made for;
 * MINIMA_ENONFINITE for a non-finite theta; MINIMA_EUNSUPPORTED when
 * n_classes > MINIMA_GSYM_MAX_CANONICAL_CLASSES; MINIMA_ENOMEM. */
minima_status minima_gsym_canonical(const minima_gsym *g, const minima_model *model,
                                    const double *theta /* (P) or NULL */,
                                    double *u /* (n_classes) */,
                                    double *theta_out /* (P) or NULL */,
                                    minima_gsym_canonical_info *info /* or NULL */);

/* F and its gradient at u (NULL: 0) for theta (NULL: model->theta): what
 * minima_gsym_canonical minimises, for tests and reports. grad may be
 * NULL. Errors as minima_gsym_diag. */
minima_status minima_gsym_norm2(const minima_gsym *g, const minima_model *model,
                                const double *theta, const double *u, double *f,
                                double *grad /* (n_classes) or NULL */);

/* ---- description ------------------------------------------------------ */

/* One line for `minima info`: "24 classes (6 across residual adds);
 * 1 linear/conv2d node fixed: node 5 (conv2d '3')" or "... no node fixed".
 * Lists at most the first 4 fixed nodes, then "and N more". Truncated to
 * size-1 characters. */
void minima_gsym_describe(const minima_gsym *g, const minima_model *model, char *buf,
                          size_t size);

/* The JSON of `minima info --json`: minima_model_info_json's object (path
 * NULL: "model": null) with one more key, last,
 *     "symmetry": {"n_classes": N, "n_residual_classes": R,
 *                  "n_fixed_nodes": F, "fixed_nodes": [names]}
 * (the F fixed nodes counted above, by name, or by label when unnamed), or,
 * when the group cannot be formed (a node kind it does not know),
 *     "symmetry": null, "symmetry_error": "the reason".
 * It lives here and not in the engine's model_info.c because the group is
 * built above the engine. *json is allocated (minima_free it).
 * MINIMA_EINVAL for NULL model/json, MINIMA_ENOMEM. */
minima_status minima_gsym_model_info_json(const minima_model *model, const char *path, char **json);

#ifdef __cplusplus
}
#endif
#endif
