#!/usr/bin/env bash
# dist_scaling.sh — one machine's cores as BLAS threads or as MPI ranks
# (docs/distributed.md). Runs build/bench_dist as 1 rank x 1 thread, 1 rank
# x T threads and T ranks x 1 thread (T = the cores, or $1), all in one
# invocation, and prints the time per product and the parallel efficiency
# of each against the single-thread run: E = t(1 x 1) / (T x t(config)).
# Extra arguments go to bench_dist (e.g. --n 60000 --arch 784-512-512-10).
set -eu
BUILD=${BUILD:-build}
T=${1:-$(nproc)}; shift || true
[ "${T}" -ge 2 ] || { echo "dist_scaling: need at least 2 cores" >&2; exit 2; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
out=$(mktemp); trap 'rm -f "$out"' EXIT
echo "== 1 rank x 1 thread";  OPENBLAS_NUM_THREADS=1  "$BUILD/bench_dist" "$@" | tee -a "$out"
echo "== 1 rank x $T threads"; OPENBLAS_NUM_THREADS=$T "$BUILD/bench_dist" "$@" | tee -a "$out"
echo "== $T ranks x 1 thread"; mpirun --oversubscribe -np "$T" -x OPENBLAS_NUM_THREADS=1 \
    "$BUILD/bench_dist" "$@" | tee -a "$out"
echo
awk -v T="$T" '
/^RESULT ranks=/ {
    split($0, f, /[ =]/); r = f[3]; t = f[5]; g = f[7]; h = f[9]
    key = r "x" t; grad[key] = g; hvp[key] = h; order[++n] = key
}
END {
    printf "%-16s %12s %12s %12s %12s\n", "ranks x threads", "grad s", "HVP s", "E(grad)", "E(HVP)"
    for (i = 1; i <= n; i++) {
        k = order[i]; split(k, rt, "x"); c = rt[1] * rt[2]
        printf "%-16s %12.4f %12.4f %11.0f%% %11.0f%%\n", k, grad[k], hvp[k],
               100 * grad["1x1"] / (c * grad[k]), 100 * hvp["1x1"] / (c * hvp[k])
    }
}' "$out"
