/* minima/synthetic.h — seeded synthetic data sets.
 *
 * Source syntax (minima_data_load):  synthetic:NAME[:N][:KEY=VALUE...]
 *
 * Fields after NAME are separated by ':' (or ','); a field of digits is
 * N, the number of examples (default 1000, at most 10^8); the others set
 * the generator's parameters below. The same source and seed give the same
 * data, bit for bit, on every machine (minima_rng streams of the seed).
 *
 * blobs — Gaussian blobs, classification.
 *     classes=4   number of classes K (2 .. 1000)
 *     d=2         features (>= 2)
 *     sep=3       radius of the circle the class centres lie on
 *     std=1       standard deviation of each blob
 *   Example i has label i mod K; the centre of class k is
 *   sep * (cos 2 pi k/K, sin 2 pi k/K, 0, ..., 0); x = centre + std * N(0, I).
 *
 * teacher — a random ReLU network's outputs: regression targets and labels.
 *     arch=10-16-3   the teacher's widths d_0-...-d_K (biases on every layer)
 *     noise=0        fraction of labels flipped: round(noise * N) examples,
 *                    chosen at random, get a different class, uniformly
 *     target_noise=0 standard deviation of Gaussian noise added to targets
 *   The teacher is minima_model_create(arch, biases, ReLU) initialised with
 *   minima_model_init(seed) (PyTorch's nn.Linear default scale); inputs are
 *   N(0, I); targets are its outputs Z_K (d_target = d_K, for MSE) and
 *   labels their argmax (n_classes = d_K, for cross-entropy). Without noise
 *   a student of the teacher's architecture has an exact minimum: the
 *   teacher's parameters, with zero MSE loss. The outputs are small (root
 *   mean square ~0.1 at the default scale) and the classes are usually
 *   unbalanced (e.g. 10% / 90% / 0.1% for seed 3): it is a regression set
 *   first, its labels a by-product.
 *
 * xor — two classes in 2-D: x uniform on [-1, 1]^2, label
 *   (x_0 > 0) xor (x_1 > 0); noise=0 flips that fraction of labels.
 *
 * spiral — K interleaved spiral arms in 2-D.
 *     classes=3   number of arms (2 .. 100)
 *     turns=1     turns of each arm
 *     std=0.05    Gaussian noise added to each point
 *   Example i is on arm k = i mod K at radius r = u in [0, 1) and angle
 *   2 pi (turns * r + k / K), u uniform. */
#ifndef MINIMA_SYNTHETIC_H
#define MINIMA_SYNTHETIC_H

#include <stddef.h>
#include <stdint.h>

#include "minima/data.h"
#include "minima/model.h"
#include "minima/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MINIMA_SYNTHETIC_DEFAULT_N 1000
#define MINIMA_SYNTHETIC_MAX_N 100000000

/* Generates the data set described by `spec` (the source string after
 * "synthetic:", e.g. "teacher:500:noise=0.1") from `seed`. MINIMA_EINVAL
 * names an unknown generator or parameter, or a value out of its range. */
minima_status minima_synthetic_load(const char *spec, uint64_t seed, minima_dataset **out);
/* The same under a data-size limit on N x (d + d_target) x 8 bytes (0: the
 * default 16 GiB), checked before anything is generated (MINIMA_ERANGE). */
minima_status minima_synthetic_load_limited(const char *spec, uint64_t seed, uint64_t max_bytes,
                                            minima_dataset **out);

/* The teacher network of a "teacher..." spec (the string after
 * "synthetic:") and seed, loss set to MSE: its parameters are an exact
 * minimum (zero MSE loss) of the noise-free data that minima_synthetic_load
 * gives for the same spec and seed. MINIMA_EINVAL for other generators. */
minima_status minima_synthetic_teacher_model(const char *spec, uint64_t seed,
                                             minima_model **out);

/* The generators, with explicit parameters. */
minima_status minima_synthetic_blobs(size_t n, int d, int classes, double sep, double std,
                                     uint64_t seed, minima_dataset **out);
minima_status minima_synthetic_teacher(size_t n, int n_layers, const int *widths,
                                       double label_noise, double target_noise, uint64_t seed,
                                       minima_dataset **out);
minima_status minima_synthetic_xor(size_t n, double label_noise, uint64_t seed,
                                   minima_dataset **out);
minima_status minima_synthetic_spiral(size_t n, int classes, double turns, double std,
                                      uint64_t seed, minima_dataset **out);

#ifdef __cplusplus
}
#endif
#endif
