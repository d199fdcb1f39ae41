#!/usr/bin/env bash
# cli_spectrum_xtrace.sh — `minima spectrum --trace --trace-method xtrace |
# xnystrace`: the method in the JSON, the estimate against the exact trace
# (Hessian and Gauss-Newton), determinism, the refusal past the numerical
# rank, and xnystrace refused on the (indefinite) Hessian.
# Usage: cli_spectrum_xtrace.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_spectrum_xtrace.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-xtrace-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=$(command -v python3 || true)

. "$(dirname "$0")/checks.sh"
pycheck() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "$TMP/out" "$TMP/exact.json" "$2" <<'PYEOF'
import json, math, sys
out = json.load(open(sys.argv[1]))
try:
    exact = json.load(open(sys.argv[2]))['trace']['estimate']
except Exception:
    exact = None
ok = eval(sys.argv[3])
if not ok:
    print("  out =", json.dumps(out)[:600], "exact =", exact, file=sys.stderr)
sys.exit(0 if ok else 1)
PYEOF
    then ok; else bad "$1: $2"; fi
}

M=$FIX/torch_mlp_f64.safetensors
D=(--model "$M" --data "$FIX/torch_mlp_x.npy" --labels "$FIX/torch_mlp_y.npy")

# ---- Hessian: xtrace against the exact trace ---------------------------------------
run "exact Hessian trace" 0 "$BIN" spectrum "${D[@]}" --top 0 --trace --trace-method exact --json
cp "$TMP/out" "$TMP/exact.json"
run "xtrace" 0 "$BIN" spectrum "${D[@]}" --top 0 --trace --trace-method xtrace --trace-rtol 0.01 --json
pycheck "xtrace: method, products = 2 test vectors, within 5 stderr of exact" "out['trace']['method'] == 'xtrace' and out['n_hvp'] == 2 * out['trace']['samples'] and abs(out['trace']['estimate'] - exact) <= 5 * out['trace']['stderr'] and out['trace']['stderr'] <= 0.01 * abs(out['trace']['estimate'])"
grep -o '"trace": {[^}]*}' "$TMP/out" > "$TMP/first.trace"
run "xtrace again" 0 "$BIN" spectrum "${D[@]}" --top 0 --trace --trace-method xtrace --trace-rtol 0.01 --json
if cmp -s <(grep -o '"trace": {[^}]*}' "$TMP/out") "$TMP/first.trace"; then ok
else bad "xtrace: the same seed gives the same trace"; fi
# This Hessian has rank 100 of 123: more test vectors than that cannot keep
# an orthonormal basis of the sketch, and xtrace says so instead of guessing.
run "xtrace past the numerical rank" 2 "$BIN" spectrum "${D[@]}" --top 0 --trace --trace-method xtrace --trace-rtol 1e-15
has "xtrace past the rank: why" "$TMP/err" "numerical rank"

# ---- xnystrace: refused on the Hessian, the Gauss-Newton trace with --ggn -----------
run "xnystrace on the Hessian" 2 "$BIN" spectrum "${D[@]}" --top 0 --trace --trace-method xnystrace
has "xnystrace refusal says why" "$TMP/err" "positive semidefinite"
has "xnystrace refusal names --ggn" "$TMP/err" "--ggn"
run "exact GGN trace" 0 "$BIN" spectrum "${D[@]}" --ggn --top 0 --trace --trace-method exact --json
cp "$TMP/out" "$TMP/exact.json"
run "xnystrace --ggn" 0 "$BIN" spectrum "${D[@]}" --ggn --top 0 --trace --trace-method xnystrace --trace-rtol 0.01 --json
pycheck "xnystrace: method, 1 product per test vector, near the exact GGN trace" "out['trace']['method'] == 'xnystrace' and out['n_hvp'] == out['trace']['samples'] and abs(out['trace']['estimate'] - exact) <= max(5 * out['trace']['stderr'], 1e-10 * abs(exact))"
run "xtrace --ggn" 0 "$BIN" spectrum "${D[@]}" --ggn --top 0 --trace --trace-method xtrace --json
pycheck "xtrace --ggn near the exact GGN trace" "abs(out['trace']['estimate'] - exact) <= 5 * out['trace']['stderr']"

# ---- an unknown method lists the methods ---------------------------------------------
run "unknown method" 2 "$BIN" spectrum "${D[@]}" --trace --trace-method xtrace2
has "unknown method: the list" "$TMP/err" "expected xtrace, hutch++, hutchinson, xnystrace or exact"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
