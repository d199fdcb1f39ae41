#!/usr/bin/env bash
# cli_spectrum.sh — `minima spectrum`: the exact trace from the dense
# spectrum, n_params of a --layers block, --max-products (exit 1 with the
# partial result), Ctrl-C (exit 130, one message that says it once), and
# the plain progress lines printed when stderr is not a terminal.
# Usage: cli_spectrum.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_spectrum.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-spectrum-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=$(command -v python3 || true)

. "$(dirname "$0")/checks.sh"
pycheck() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "$TMP/out" "$2" <<'PYEOF'
import json, math, sys
out = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("  out =", json.dumps(out)[:600], file=sys.stderr)
sys.exit(0 if ok else 1)
PYEOF
    then ok; else bad "$1: $2"; fi
}

M=$FIX/torch_mlp_f64.safetensors
D=(--model "$M" --data "$FIX/torch_mlp_x.npy" --labels "$FIX/torch_mlp_y.npy")

# ---- --exact --trace: the trace is the dense spectrum's sum, not an estimate ------
run "--exact --trace" 0 "$BIN" spectrum "${D[@]}" --exact --trace --json
pycheck "exact trace = sum of the eigenvalues" "out['trace']['method'] == 'exact' and out['trace']['stderr'] == 0 and abs(out['trace']['estimate'] - math.fsum(out['exact']['eigenvalues'])) <= 1e-13 * sum(abs(x) for x in out['exact']['eigenvalues'])"
run "--trace-method exact" 0 "$BIN" spectrum "${D[@]}" --exact --trace --json --trace-method exact
run "--trace (Hutch++) alone" 0 "$BIN" spectrum "${D[@]}" --trace --json
pycheck "without --exact: xtrace" "out['trace']['method'] == 'xtrace'"

# ---- --layers: n_params is the selected block's size ---------------------------------
run "--layers 0" 0 "$BIN" spectrum "${D[@]}" --layers 0 --exact --json
pycheck "--layers: n_params of the block, model_n_params of the model" "out['n_params'] == len(out['exact']['eigenvalues']) < out['model_n_params'] == 123"
run "whole model" 0 "$BIN" spectrum "${D[@]}" --json
pycheck "whole model: n_params == model_n_params" "out['n_params'] == out['model_n_params'] == 123"

# ---- --cache-limit: recomputing gives the same numbers; a bad size is exit 2 --------
run "--cache-limit 0" 0 "$BIN" spectrum "${D[@]}" --top 2 --json --cache-limit 0
cp "$TMP/out" "$TMP/recomputed.json"
run "cached" 0 "$BIN" spectrum "${D[@]}" --top 2 --json
if cmp -s <(grep -o '"top": \[[^]]*\]' "$TMP/out") <(grep -o '"top": \[[^]]*\]' "$TMP/recomputed.json"); then ok
else bad "--cache-limit 0: the same eigenpairs as with the cache"; fi
run "--cache-limit 12X" 2 "$BIN" spectrum "${D[@]}" --cache-limit 12X
has "--cache-limit message" "$TMP/err" "option --cache-limit: expected a size"

# ---- --max-products: exit 1, the partial result, a message that says so ------------
run "--max-products 3" 1 "$BIN" spectrum "${D[@]}" --ggn --bottom 1 --max-products 3 --json
pycheck "partial result" "out['converged'] is False and len(out['bottom']) == 1 and len(out['top']) == 1"
has "--max-products message" "$TMP/err" "did not converge in 3 products"
has "--max-products message" "$TMP/err" "partial result printed"
run "--max-products 0" 2 "$BIN" spectrum "${D[@]}" --max-products 0

# ---- every command that runs Lanczos takes --max-products and ends (exit 1) --------
run "landscape --dir eigen --max-products 3" 1 "$BIN" landscape "${D[@]}" --dir eigen --points 5 --json --max-products 3
has "landscape: the limit named" "$TMP/err" "max_products = 3"
run "reparam radial --max-products 3" 1 "$BIN" reparam radial "${D[@]}" --max-products 3
has "reparam radial: the limit named" "$TMP/err" "max_products = 3"
run "reparam weightnorm --max-products 3" 1 "$BIN" reparam weightnorm "${D[@]}" --max-products 3
run "reparam input --max-products 3" 1 "$BIN" reparam input "${D[@]}" --max-products 3 --out "$TMP/in.safetensors"

# ---- progress: plain lines when stderr is not a terminal -----------------------------
MINIMA_NO_PROGRESS= run "progress lines" 0 env -u MINIMA_NO_PROGRESS "$BIN" spectrum "${D[@]}" --top 1
has "progress: start line" "$TMP/err" "progress: lanczos: started"
has "progress: end line" "$TMP/err" "progress: lanczos: finished in"
hasnt "progress: no bar escapes" "$TMP/err" $'\033[K'
run "MINIMA_NO_PROGRESS=1" 0 "$BIN" spectrum "${D[@]}" --top 1
hasnt "MINIMA_NO_PROGRESS=1 silences it" "$TMP/err" "progress:"

# ---- Ctrl-C: exit 130, partial result, 'interrupted' said once -----------------------
# A Gauss-Newton bottom eigenvalue to tol 1e-12 needs far more than the test lets it run.
run "train a model" 0 "$BIN" train --data synthetic:blobs:200 --arch 2-48-48-4 --epochs 2 --out "$TMP/m.safetensors"
"$BIN" spectrum --model "$TMP/m.safetensors" --data synthetic:blobs:200 --ggn --bottom 1 --tol 1e-12 \
    --max-products 100000000 >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 1 200); do grep -q "Gauss-Newton of" "$TMP/err" 2>/dev/null && break; sleep 0.05; done
sleep 0.3
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
if [ "$rc" -eq 130 ]; then ok; else bad "SIGINT: exit code $rc, expected 130"; sed 's/^/    /' "$TMP/err" >&2; fi
has "SIGINT: partial result" "$TMP/err" "bottom  1"
n=$(grep "^minima spectrum:" "$TMP/err" | grep -oi "interrupt" | wc -l)
if [ "$n" -eq 1 ]; then ok; else bad "SIGINT: 'interrupt' said $n times:"; sed 's/^/    /' "$TMP/err" >&2; fi

echo "cli_spectrum: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
