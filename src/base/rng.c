/* rng.c — xoshiro256** (Blackman & Vigna) seeded with splitmix64. */
#include "minima/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void minima_rng_seed(minima_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

void minima_rng_seed2(minima_rng *rng, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x632be59bd9b4e019ULL);
    uint64_t mix = splitmix64(&x);
    minima_rng_seed(rng, mix ^ seed);
}

uint64_t minima_rng_u64(minima_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double minima_rng_uniform(minima_rng *rng)
{
    return (double)(minima_rng_u64(rng) >> 11) * 0x1.0p-53;
}

uint64_t minima_rng_below(minima_rng *rng, uint64_t n)
{
    if (n <= 1) return 0;
    /* Rejection sampling to avoid modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do { r = minima_rng_u64(rng); } while (r >= limit);
    return r % n;
}

double minima_rng_normal(minima_rng *rng)
{
    double u1 = minima_rng_uniform(rng);
    double u2 = minima_rng_uniform(rng);
    if (u1 < 0x1.0p-60) u1 = 0x1.0p-60;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void minima_rng_fill_rademacher(minima_rng *rng, double *x, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint64_t bits = minima_rng_u64(rng);
        for (int b = 0; b < 64 && i < n; b++, i++) x[i] = ((bits >> b) & 1) ? 1.0 : -1.0;
    }
}

void minima_rng_fill_normal(minima_rng *rng, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = minima_rng_normal(rng);
}

void minima_rng_fill_uniform(minima_rng *rng, double *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * minima_rng_uniform(rng);
}

void minima_rng_permutation(minima_rng *rng, size_t *perm, size_t n)
{
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)minima_rng_below(rng, i);
        size_t t = perm[i - 1]; perm[i - 1] = perm[j]; perm[j] = t;
    }
}
