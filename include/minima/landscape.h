/* minima/landscape.h — loss landscapes: the loss and accuracy of a network on
 * 1-D and 2-D slices of parameter space through a point (docs/landscape.md).
 *
 *     1-D   L(theta + t d)              t on a grid of n points in [lo, hi]
 *     2-D   L(theta + s d1 + t d2)      (s, t) on an nx-by-ny grid
 *
 * Every grid point is evaluated exactly: the mean loss over the whole data
 * set bound to the net, in its batches (minima_net_loss with an explicit
 * theta; the net's anchor is not moved), and the accuracy beside it.
 *
 * Directions (src/landscape/directions.c), all P-vectors in PyTorch's parameters() order:
 *   - random: Gaussian from a seed, rescaled to a chosen Euclidean norm
 *     (by default ||theta||): "plain" random directions, one global scale;
 *   - filter-normalized (Li et al. 2018, "Visualizing the Loss Landscape of
 *     Neural Nets"): for a fully connected layer a "filter" is one output
 *     unit, i.e. one row of W_k, for a conv2d node one output channel (its
 *     [in/groups, kh, kw] block), on any graph; each is rescaled to
 *     the Euclidean norm of the same row of theta. Biases: zeroed (Li et
 *     al.'s default, ignore='biasbn'), copied from theta (their other
 *     option, d_b = b) or treated as one more entry of their unit's row;
 *   - the top Hessian eigenvectors at the net's anchor (Lanczos, eigen.h):
 *     unit vectors, so t is a Euclidean distance;
 *   - the straight line to a second model of the same shape:
 *     d = theta_b - theta_a, so t = 0 is model a and t = 1 is model b.
 *
 * What is invariant under the function-preserving rescalings theta -> A theta
 * of symmetry.h and graph_symmetry.h (docs/landscape.md has the derivation;
 * tests check it):
 *   L(A theta + t d') = L(theta + t A^{-1} d'), so the slice through A theta
 *   along d' is the slice through theta along A^{-1} d'. It is the SAME
 *   curve, point for point, exactly when d' = A d.
 *   - Plain random directions: d' = d (the same draw) is not A d, and no
 *     global rescaling makes it so unless A is a multiple of the identity:
 *     the slice changes with the representative.
 *   - Filter-normalized, biases zeroed or copied: with unit scales s, row i
 *     of W_k becomes s_k[i] W_k[i, j] / s_{k-1}[j]. The row's own factor
 *     s_k[i] cancels in the normalization; the column factors 1/s_{k-1}[j]
 *     do not. Hence d' = A d exactly (same seed) iff the scales entering
 *     every row are equal, i.e. s_{k-1} is constant on each hidden layer:
 *     EXACTLY INVARIANT under the layer-wise T_alpha, NOT under a general
 *     per-neuron rescaling (which scales the columns of W_{k+1}).
 *     On a graph a filter is one output channel of a linear or conv2d node
 *     and the same holds: every node reads the channels of one stage (or
 *     the input), so the stage-wise map scales each filter by one factor
 *     (exact invariance), a per-class point scales its input channels by
 *     different factors (no invariance).
 *   - Filter-normalized with the bias inside the row: the bias is a weight
 *     from a constant input of scale 1 while the other inputs have scale
 *     s_{k-1}, so even T_alpha breaks it (for every layer after the first).
 *   - Eigenvectors: hess L(A theta) = A^{-1} H A^{-1} has other eigenvectors
 *     and eigenvalues; the slice changes.
 *
 * Interruption: a slice checks minima_interrupted() before each grid
 * point and returns MINIMA_EINTERRUPTED with the points done so far (the
 * rest NaN, n_done counting them). Progress: task "landscape", one unit a
 * grid point. */
#ifndef MINIMA_LANDSCAPE_H
#define MINIMA_LANDSCAPE_H

#include <stddef.h>
#include <stdint.h>

#include "minima/eigen.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- directions (src/landscape/directions.c) ------------------------------------ */

/* How filter normalization treats biases (models without biases: moot). */
typedef enum {
    MINIMA_FILTER_BIAS_ZERO = 0, /* d_b = 0 (Li et al.'s default, ignore='biasbn') */
    MINIMA_FILTER_BIAS_COPY,     /* d_b = b, the model's own bias (their other option) */
    MINIMA_FILTER_BIAS_ROW       /* (W_k[i, :], b_k[i]) normalized together as one row */
} minima_filter_bias;

/* Gaussian N(0, 1) entries from `seed` (minima_rng), then scaled so that
 * ||d||_2 = norm (norm > 0 and finite). The same (P, seed) give the same
 * direction. */
minima_status minima_dir_random(size_t n_params, uint64_t seed, double norm, double *d /* (P) */);

/* Filter normalization of d in place, against theta (P values; NULL: the
 * model's own theta): every row i of every W_k of d is multiplied by
 * ||theta row|| / ||d row|| (a zero row of d stays zero; a zero row of
 * theta makes the row of d zero); biases as `bias` says. */
minima_status minima_dir_filter_normalize(const minima_model *model, const double *theta /* (P) or NULL */,
                                          minima_filter_bias bias, double *d /* (P) */);

/* A Gaussian draw from `seed` (the same draw as minima_dir_random), filter
 * normalized against theta (NULL: the model's). */
minima_status minima_dir_filter(const minima_model *model, const double *theta /* (P) or NULL */,
                                uint64_t seed, minima_filter_bias bias, double *d /* (P) */);

/* The k largest (algebraically) Hessian eigenpairs at the net's anchor by
 * Lanczos (params NULL: minima_eigs_default_params with k_top = k,
 * k_bottom = 0). vectors (k, P) row-major, unit norm; eigenvalues (k),
 * largest first (may be NULL). Fails with the eigensolver's status if it
 * did not converge; the sign of each vector is the solver's. */
minima_status minima_dir_eigen(minima_net *net, int k, const minima_eigs_params *params,
                               double *vectors /* (k, P) */, double *eigenvalues /* (k) or NULL */);

/* d = theta_b - theta_a. MINIMA_ESHAPE naming the first difference if the
 * two models differ in widths, biases or activation; MINIMA_ENONFINITE if
 * either holds NaN/Inf. */
minima_status minima_dir_interpolation(const minima_model *a, const minima_model *b,
                                       double *d /* (P) */);

/* Euclidean norm of x (n values), accumulated in float64 without overflow. */
double minima_dir_norm(const double *x, size_t n);

/* The directions `minima landscape` uses, in one call. */
typedef enum {
    MINIMA_DIR_RANDOM = 0,       /* Gaussian, ||d|| = ||theta|| */
    MINIMA_DIR_FILTER,           /* Gaussian, filter-normalized against theta */
    MINIMA_DIR_EIGEN             /* top Hessian eigenvectors at theta */
} minima_dir_kind;

typedef struct {
    minima_dir_kind kind;        /* default MINIMA_DIR_FILTER */
    minima_filter_bias bias;     /* filter: default MINIMA_FILTER_BIAS_ZERO */
    uint64_t seed;               /* direction i (0-based) is drawn from seed + i; eigen: the
                                    Lanczos start vector; default 0 */
    int dims;                    /* number of directions, 1 or 2; default 1 */
    double eig_tol;              /* eigen: Lanczos relative residual tolerance; default 1e-6 */
    size_t eig_max_products;     /* eigen: Lanczos gives up (MINIMA_ENOCONV) after this many
                                    products; default 10000 */
} minima_dir_params;

minima_dir_params minima_dir_default_params(void);
const char *minima_dir_kind_name(minima_dir_kind kind);   /* "random", "filter", "eigen" */
/* "random", "filter" or "eigen"; MINIMA_EINVAL naming the string otherwise. */
minima_status minima_dir_kind_parse(const char *s, minima_dir_kind *kind);

/* params->dims directions (dims, P) of params->kind at theta (NULL: the
 * net's anchor; the model's architecture is the net's). Eigen at a theta
 * other than the anchor moves the anchor there for the solve and back
 * (the curvature cache is recomputed). eigenvalues (dims) for eigen, may
 * be NULL; left untouched for the other kinds. */
minima_status minima_dir_make(minima_net *net, const double *theta /* (P) or NULL */,
                              const minima_dir_params *params, double *d /* (dims, P) */,
                              double *eigenvalues /* (dims) or NULL */);

/* ---- slices (src/landscape/landscape.c) ---------------------------------------- */

/* A computed slice. 1-D: ny = 1, y = NULL. Values are row-major (ny, nx):
 * loss[j * nx + i] is the loss at (x[i], y[j]), as plot.h's maps want.
 * Released with minima_landscape_free. */
typedef struct {
    int dims;                 /* 1 or 2 */
    size_t nx, ny;            /* grid sizes (ny = 1 for 1-D) */
    double *x;                /* (nx) the coordinate t (1-D) or s (2-D) */
    double *y;                /* (ny) the coordinate t (2-D), NULL for 1-D */
    double *loss;             /* (ny, nx) */
    double *accuracy;         /* (ny, nx), NaN when the data has no labels */
    double loss0, accuracy0;  /* at theta itself (t = 0), evaluated separately */
    size_t n_done;            /* grid points evaluated (< nx*ny only when interrupted) */
    double seconds;           /* wall-clock time of the slice */
} minima_landscape;

/* Grid coordinates: x_i = ((n-1-i) lo + i hi) / (n-1), i = 0..n-1 (so a
 * symmetric range with odd n holds 0 exactly). n >= 2, lo < hi, finite. */
minima_status minima_landscape_grid(double lo, double hi, size_t n, double *x /* (n) */);

/* 1-D slice L(theta + t d), t on n points of [lo, hi] (n >= 2, lo < hi,
 * finite; MINIMA_EINVAL otherwise). theta NULL: the net's anchor. d must
 * be finite. On MINIMA_OK or MINIMA_EINTERRUPTED *out holds the slice
 * (free it with minima_landscape_free); on other failures it is empty. */
minima_status minima_landscape_1d(minima_net *net, const double *theta /* (P) or NULL */,
                                  const double *d /* (P) */, double lo, double hi, size_t n,
                                  minima_landscape *out);

/* 2-D slice L(theta + s d1 + t d2), s on nx points of [xlo, xhi] and t on
 * ny points of [ylo, yhi]. As minima_landscape_1d otherwise. */
minima_status minima_landscape_2d(minima_net *net, const double *theta /* (P) or NULL */,
                                  const double *d1 /* (P) */, const double *d2 /* (P) */,
                                  double xlo, double xhi, size_t nx, double ylo, double yhi,
                                  size_t ny, minima_landscape *out);

void minima_landscape_free(minima_landscape *ls);   /* frees the arrays, zeroes the struct */

/* The comparison Dinh et al.'s critique is about: the slice through the
 * net's anchor theta and through A theta, A the function-preserving
 * rescaling of unit scales `scales` (symmetry.h), with directions of the
 * same kind and seed made at each point (minima_dir_make), on the same
 * grid [lo, hi] (n points; n x n in 2-D). eig_before / eig_after (dims)
 * receive the eigenvalues for MINIMA_DIR_EIGEN (may be NULL). On failure
 * both slices are empty, except MINIMA_EINTERRUPTED (partial, as the
 * slices' contract says). See the header comment for which kinds give the
 * same slice. */
minima_status minima_landscape_rescaled(minima_net *net, const double *scales /* (n_units) */,
                                        const minima_dir_params *params, double lo, double hi,
                                        size_t n, minima_landscape *before, minima_landscape *after,
                                        double *eig_before, double *eig_after);

/* The same comparison for any rescaled point theta_r (P values, finite):
 * the slice through the net's anchor theta and through theta_r. For a graph
 * (minima/graph_symmetry.h) theta_r = D(u) .* theta of a group point u
 * (minima_gsym_apply), e.g. the stage-wise map of minima_gsym_stage_u;
 * minima_landscape_rescaled is this entry with theta_r = A theta from unit
 * scales. Nothing checks that theta_r is on theta's orbit: the slices are
 * what they are. MINIMA_EINVAL for a NULL or non-finite theta_r; otherwise
 * as minima_landscape_rescaled. */
minima_status minima_landscape_rescaled_point(minima_net *net, const double *theta_r /* (P) */,
                                              const minima_dir_params *params, double lo, double hi,
                                              size_t n, minima_landscape *before,
                                              minima_landscape *after, double *eig_before,
                                              double *eig_after);

/* max |a.loss - b.loss| over the grid (same dims and grid, else NaN), and
 * the same relative to max |a.loss|. Either pointer may be NULL. */
void minima_landscape_diff(const minima_landscape *a, const minima_landscape *b, double *max_abs,
                           double *max_rel);

/* ---- CSV ----------------------------------------------------------------- */

/* Writes slices as CSV, atomically (a temporary file beside `path`, then
 * renamed). Columns: 1-D "t,loss,accuracy", 2-D "s,t,loss,accuracy" (s
 * varies fastest); with names (n names, one per slice) a first column
 * "series" holds the slice's name, so several slices (e.g. before and
 * after a rescaling) go in one long-format file. Without names n must be 1.
 * All slices must have the same dims. Numbers are %.17g (round trip
 * exact), NaN as "nan". */
minima_status minima_landscape_write_csv(const char *path, const minima_landscape *const *slices,
                                         const char *const *names, size_t n);

/* Reads one slice back from such a file: the rows of series `name` (NULL:
 * the file must have no series column). The grid must be complete and
 * regular (every s for every t, in the written order); MINIMA_EFORMAT
 * naming the line otherwise, MINIMA_EINVAL if the series is absent.
 * loss0/accuracy0 are taken from the grid point at 0 if there is one, else
 * NaN; seconds is 0. */
minima_status minima_landscape_read_csv(const char *path, const char *name,
                                        minima_landscape *out);

/* ---- figures (src/plot/landscape_plot.c) ----------------------------------- */

typedef struct {
    const char *title;        /* over the figure; NULL: none */
    const char *xlabel;       /* default "t" (1-D) or "s (direction 1)" (2-D) */
    const char *ylabel;       /* 2-D only; default "t (direction 2)" */
    int log_loss;             /* log10 loss axis (1-D) or colour scale (2-D); default 0 */
    int accuracy;             /* also draw the accuracy (a second panel); default 1 */
    double mark_x1;           /* 1-D: a second marked point (e.g. t = 1 of an
                                 interpolation); NaN (default): none */
    const char *mark_label0;  /* name of t = 0 (default "θ"); mark_x1's name */
    const char *mark_label1;
    int n_contours;           /* 2-D contour lines; default 12 */
    double clip_quantile;     /* 2-D colour range up to this quantile of the loss
                                 (1: the max; default 1). Values above show the top colour. */
    int width, height;        /* pixels; 0: chosen from the layout */
} minima_landscape_plot_options;

minima_landscape_plot_options minima_landscape_plot_default_options(void);

/* One or more slices of one kind, each a series (names[i] its legend entry,
 * may be NULL for one slice). 1-D: loss panel | accuracy panel, one line
 * per slice, the point theta marked. 2-D (n must be 1): a filled loss map
 * with contours and a colour bar, theta marked | the accuracy map. */
minima_status minima_landscape_plot(const char *path, const minima_landscape *const *slices,
                                    const char *const *names, size_t n,
                                    const minima_landscape_plot_options *opts);

/* The comparison before | after a rescaling, side by side with the same
 * axes and colour scale on both sides. before[i] and after[i] are the same
 * direction kind (names[i], e.g. "random", "filter-normalized") through
 * theta and through A theta. 1-D: two loss panels (before, after), one line
 * per kind, the "before" curves repeated thin and dashed on the right for
 * reference. 2-D: n rows (one per kind) of two loss maps. */
minima_status minima_landscape_plot_compare(const char *path, const minima_landscape *const *before,
                                            const minima_landscape *const *after,
                                            const char *const *names, size_t n,
                                            const char *before_title, const char *after_title,
                                            const minima_landscape_plot_options *opts);

#ifdef __cplusplus
}
#endif
#endif
