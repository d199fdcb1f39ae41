/* minima/rng.h — a small, fast, seedable random number generator.
 *
 * xoshiro256** seeded through splitmix64: the same seed gives the same
 * stream on every machine, so every seeded result in minima (initial
 * weights, synthetic data, shuffles, random probe vectors) is bit-for-bit
 * reproducible. Not cryptographic. */
#ifndef MINIMA_RNG_H
#define MINIMA_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct { uint64_t s[4]; } minima_rng;

void minima_rng_seed(minima_rng *rng, uint64_t seed);
/* Derive an independent stream, e.g. one per probe vector or per epoch. */
void minima_rng_seed2(minima_rng *rng, uint64_t seed, uint64_t stream);
uint64_t minima_rng_u64(minima_rng *rng);
/* Uniform on [0, 1) with 53 random bits. */
double minima_rng_uniform(minima_rng *rng);
/* Uniform integer in [0, n). */
uint64_t minima_rng_below(minima_rng *rng, uint64_t n);
/* Standard normal (Box-Muller; uses two uniforms per call, no caching so
 * the stream position is a pure function of the number of calls). */
double minima_rng_normal(minima_rng *rng);
/* Fill x with +1/-1 (Rademacher), N(0,1), or U[lo, hi). */
void minima_rng_fill_rademacher(minima_rng *rng, double *x, size_t n);
void minima_rng_fill_normal(minima_rng *rng, double *x, size_t n);
void minima_rng_fill_uniform(minima_rng *rng, double *x, size_t n, double lo, double hi);
/* Uniformly random permutation of 0..n-1 (Fisher-Yates). */
void minima_rng_permutation(minima_rng *rng, size_t *perm, size_t n);

#ifdef __cplusplus
}
#endif
#endif
