#!/usr/bin/env bash
# cli_precision.sh — `minima spectrum --precision float64|mixed|float32`:
# the same eigenvalues in float64 and mixed precision with float64
# residuals, the product counts by precision (table and JSON), trace and
# density with float32 products said so, --float32 as an alias, and the
# refusals. Usage: cli_precision.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_precision.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-precision-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=$(command -v python3 || true)

. "$(dirname "$0")/checks.sh"
pycheck() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "$TMP/$3" "$2" "$TMP/f64.json" <<'PYEOF'
import json, math, sys
out = json.load(open(sys.argv[1]))
try:
    f64 = json.load(open(sys.argv[3]))
except Exception:
    f64 = None
ok = eval(sys.argv[2])
if not ok:
    print("  out =", json.dumps(out)[:600], file=sys.stderr)
sys.exit(0 if ok else 1)
PYEOF
    then ok; else bad "$1: $2"; fi
}

M=$FIX/torch_mlp_f64.safetensors
D=(--model "$M" --data "$FIX/torch_mlp_x.npy" --labels "$FIX/torch_mlp_y.npy")

run "float64" 0 "$BIN" spectrum "${D[@]}" --top 3 --bottom 1 --precision float64 --json
cp "$TMP/out" "$TMP/f64.json"
pycheck "float64: no float32 product" "out['precision'] == 'float64' and out['n_hvp_float32'] == 0 and out['n_hvp_float64'] == out['n_hvp']" f64.json

run "mixed" 0 "$BIN" spectrum "${D[@]}" --top 3 --bottom 1 --precision mixed --json
cp "$TMP/out" "$TMP/mixed.json"
pycheck "mixed: both kinds of products" "out['precision'] == 'mixed' and out['n_hvp_float32'] > 0 and out['n_hvp_float64'] > 0 and out['n_hvp_float32'] + out['n_hvp_float64'] == out['n_hvp']" mixed.json
pycheck "mixed: the float64 eigenvalues, float64 residuals within tol" "out['converged'] and all(abs(a['eigenvalue'] - b['eigenvalue']) <= 1e-9 * abs(f64['top'][0]['eigenvalue']) for a, b in zip(out['top'] + out['bottom'], f64['top'] + f64['bottom'])) and all(a['residual'] <= 1e-8 * max(abs(a['eigenvalue']), 0.1 * abs(out['top'][0]['eigenvalue'])) for a in out['top'] + out['bottom'])" mixed.json

run "mixed, table" 0 "$BIN" spectrum "${D[@]}" --top 2 --precision mixed --trace --density
has "table: Lanczos products by precision" "$TMP/err" "Lanczos (mixed):"
has "table: float32 and float64 counts" "$TMP/err" "float32,"
has "trace said float32" "$TMP/err" "trace: float32 products (error ~1e-6 relative"
has "density said float32" "$TMP/err" "density: float32 products"

run "mixed trace and density, JSON" 0 "$BIN" spectrum "${D[@]}" --top 1 --precision mixed --trace --density --json
cp "$TMP/out" "$TMP/td.json"
pycheck "trace and density precision in JSON" "out['trace']['precision'] == 'float32' and out['density']['precision'] == 'float32'" td.json
run "float64 trace" 0 "$BIN" spectrum "${D[@]}" --top 1 --precision float64 --trace --json
cp "$TMP/out" "$TMP/t64.json"
pycheck "float64 trace: float64, and the float32 one within 1e-4" "out['trace']['precision'] == 'float64' and abs(out['trace']['estimate'] - json.load(open(sys.argv[1].replace('t64', 'td')))['trace']['estimate']) <= 1e-4 * abs(out['trace']['estimate'])" t64.json

run "default (auto)" 0 "$BIN" spectrum "${D[@]}" --top 3 --bottom 1 --trace --json
cp "$TMP/out" "$TMP/auto.json"
pycheck "auto: Lanczos in float64 (the float64 run's numbers), trace in float32" "out['precision'] == 'auto' and out['top'] == f64['top'] and out['bottom'] == f64['bottom'] and out['trace']['precision'] == 'float32'" auto.json

run "--float32 alias" 0 "$BIN" spectrum "${D[@]}" --top 1 --float32 --tol 1e-5 --json
cp "$TMP/out" "$TMP/f32.json"
pycheck "--float32 = --precision float32" "out['precision'] == 'float32' and out['n_hvp_float32'] == out['n_hvp'] and abs(out['top'][0]['eigenvalue'] - f64['top'][0]['eigenvalue']) <= 1e-4 * abs(f64['top'][0]['eigenvalue'])" f32.json
run "--precision float32" 0 "$BIN" spectrum "${D[@]}" --top 1 --precision float32 --tol 1e-5 --json
cmp -s "$TMP/out" "$TMP/f32.json" 2>/dev/null && ok || {
    # equal up to the seconds field
    if [ -n "$PY" ] && "$PY" -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); a.pop('seconds'); b.pop('seconds'); sys.exit(a!=b)" "$TMP/out" "$TMP/f32.json"; then ok; else bad "--float32 and --precision float32 differ"; fi; }

run "float32 at tol 1e-8 refused" 2 "$BIN" spectrum "${D[@]}" --top 1 --precision float32
has "refusal names mixed" "$TMP/err" "--precision mixed"
run "unknown precision" 2 "$BIN" spectrum "${D[@]}" --precision half
has "unknown precision named" "$TMP/err" "'half'"

echo "cli_precision: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
