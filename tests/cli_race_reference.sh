#!/usr/bin/env bash
# cli_race_reference.sh — bench/race_reference.py, the PyTorch/SciPy side of
# bench_race (docs/performance.md), against minima's exact dense spectrum
# of the 123-parameter fixture network: eigsh's eigenvalues and float64
# residuals (float64 and float32 products), power iteration, the trace
# estimators, SLQ's extreme nodes, and the JSON error object when a
# package is missing. Skipped when /usr/bin/python3 has no torch or scipy.
# Usage: cli_race_reference.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_race_reference.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
SRC=${MINIMA_SRC:-$(dirname "$0")/..}
REF=$SRC/bench/race_reference.py
TMP=$(mktemp -d /tmp/minima-cli-race-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=/usr/bin/python3

. "$(dirname "$0")/checks.sh"
if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy, torch, scipy.sparse.linalg' 2>/dev/null; then
    echo "skip: $PY cannot import numpy, torch and scipy (MINIMA_WITH_TORCH=1 make setup)" >&2
    echo "0 passed, 0 failed"
    exit 0
fi

M=$FIX/torch_mlp_f64.safetensors
X=$FIX/torch_mlp_x.npy
Y=$FIX/torch_mlp_y.npy
run "minima spectrum --exact" 0 "$BIN" spectrum --model "$M" --data "$X" --labels "$Y" --exact --json
cp "$TMP/out" "$TMP/exact.json"

cat > "$TMP/jobs.json" <<'EOF'
[{"id": "hvp", "method": "hvp", "reps": 1},
 {"id": "top3", "method": "eigsh", "which": "LA", "k": 3, "tol": 1e-10},
 {"id": "bottom", "method": "eigsh", "which": "SA", "k": 1, "tol": 1e-10},
 {"id": "power", "method": "power", "k": 1, "tol": 1e-6, "max_iter": 2000},
 {"id": "deflated", "method": "deflated", "k": 2, "tol": 1e-3, "max_iter": 100},
 {"id": "hutchinson", "method": "hutchinson", "rtol": 0.05, "max_products": 3000},
 {"id": "hutch++", "method": "hutchpp", "rtol": 0.05, "sketch": 10, "max_products": 3000},
 {"id": "slq", "method": "slq", "steps": 123, "draws": 1}]
EOF
run "race_reference.py" 0 env OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 \
    "$PY" "$REF" "$M" "$X" "$Y" "$TMP/jobs.json" --threads 1 --batch 7

# Every check compares with the dense spectrum minima computed; f32 rows to 1e-5.
if "$PY" - "$TMP/out" "$TMP/exact.json" <<'PYEOF'
import json, math, sys
out = json.load(open(sys.argv[1]))
ev = sorted(json.load(open(sys.argv[2]))["exact"]["eigenvalues"])
tr, lmax, lmin = math.fsum(ev), ev[-1], ev[0]
big = max(abs(lmax), abs(lmin))
fails = []
def check(name, cond):
    if not cond:
        fails.append(name)
assert out["n_params"] == 123 == len(ev)
for r in out["results"]:
    f64 = r["dtype"] == "float64"
    tol = 1e-9 if f64 else 1e-5
    name = "%s %s" % (r["id"], r["dtype"])
    check(name + ": seconds and products", r["seconds"] >= 0 and r["products"] >= 1)
    if r["id"] == "top3":
        check(name + ": eigenvalues", all(abs(a - b) <= tol * big for a, b in zip(r["eigenvalues"], ev[::-1][:3])))
        check(name + ": float64 residuals", max(r["residuals"]) <= (1e-8 if f64 else 1e-4) and r["converged"])
    if r["id"] == "bottom":
        check(name + ": smallest", abs(r["eigenvalues"][0] - lmin) <= tol * big)
    if r["id"] == "power":
        lam = lmax if abs(lmax) >= abs(lmin) else lmin
        check(name + ": largest magnitude", abs(r["eigenvalues"][0] - lam) <= 1e-3 * abs(lam))
        check(name + ": residual is measured", 0 <= r["residuals"][0] < 0.5)
    if r["id"] == "deflated":
        check(name + ": two values", len(r["eigenvalues"]) == 2 and r["products"] == sum(r["iterations"]))
    if r["id"] in ("hutchinson", "hutch++"):
        check(name + ": the trace within 5 standard errors",
              abs(r["estimate"] - tr) <= 5 * r["std_error"] + 1e-9 * abs(tr))
        check(name + ": stopped on its rule", r["converged"] and r["std_error"] <= 0.05 * abs(r["estimate"]))
    if r["id"] == "hutch++":
        check(name + ": 20 sketch products first", r["products"] >= 20 + 10)
    if r["id"] == "slq":
        nodes, w = r["nodes"][0], r["weights"][0]
        check(name + ": weights sum to 1", abs(sum(w) - 1) <= 1e-10)
        check(name + ": extreme nodes", abs(max(nodes) - lmax) <= tol * 100 * big and abs(min(nodes) - lmin) <= tol * 100 * big)
ids = sorted({(r["id"], r["dtype"]) for r in out["results"]})
check("every job in both precisions", len(ids) == 16)
for f in fails:
    print("  " + f, file=sys.stderr)
sys.exit(1 if fails else 0)
PYEOF
then ok; else bad "race_reference.py against the dense spectrum"; sed 's/^/    /' "$TMP/out" | head -c 3000 >&2; fi

# ---- a Python without the packages: one JSON object with "error", exit 3 -------------
printf 'import sys\nsys.modules["torch"] = None\nsys.argv = sys.argv[1:]\nexec(open(sys.argv[0]).read())\n' > "$TMP/notorch.py"
run "without torch" 3 "$PY" "$TMP/notorch.py" "$REF" "$M" "$X" "$Y" "$TMP/jobs.json"
has "error object" "$TMP/out" '{"error": "the reference needs numpy, torch and scipy'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
