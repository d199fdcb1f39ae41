#!/usr/bin/env bash
# cli_onnx.sh — models exported by torch.onnx.export given to the commands
# with --model X.onnx and no --arch: eval equals PyTorch's loss and accuracy
# on the fixture's examples (tests/fixtures/onnx_expected.json, written to
# .npy here), spectrum --exact on mlp.onnx equals PyTorch's exact Hessian
# (onnx_hessian.json), spectrum, sharpness, audit and info run on the exported LeNet
# and residual net, --layers speaks the PyTorch module names, refusals exit 2
# with the node named, and (when python3-onnx is installed) a model minima
# writes as ONNX passes onnx.checker. Usage: cli_onnx.sh MINIMA_BINARY.
set -u
BIN=${1:?usage: cli_onnx.sh MINIMA_BINARY}
TMP=$(mktemp -d /tmp/minima-cli-onnx-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
. "$(dirname "$0")/checks.sh"

if ! "$BIN" info --model "$FIX/onnx/lenet.onnx" >"$TMP/out" 2>"$TMP/err"; then
    if grep -q "without ONNX support" "$TMP/err"; then
        run "no ONNX support: refused, exit 2" 2 "$BIN" info --model "$FIX/onnx/lenet.onnx"
        has "no ONNX support: names the packages" "$TMP/err" "libprotobuf-c-dev"
        echo "$pass passed, $fail failed (built without ONNX support)"; [ "$fail" -eq 0 ]; exit
    fi
fi

# pyjson NAME EXPR FILE: a Python expression over out (the JSON in FILE) that must be true.
pyjson() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "$3" "$2" <<'PYEOF'
import json, math, sys
out = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("  out =", json.dumps(out)[:1500], file=sys.stderr)
sys.exit(0 if ok else 1)
PYEOF
    then ok; else bad "$1: $2"; fi
}

# ---- eval equals PyTorch on the fixture's examples ------------------------------
if [ -n "$PY" ] && "$PY" -c "import numpy" 2>/dev/null; then
    for net in lenet residual bn_preserve strided_f64 mlp; do
        "$PY" - "$FIX/onnx_expected.json" "$net" "$TMP" <<'PYEOF'
import json, sys
import numpy as np
e = json.load(open(sys.argv[1]))[sys.argv[2]]
n = len(e["y"])
np.save("%s/%s_x.npy" % (sys.argv[3], sys.argv[2]), np.array(e["x"], dtype=np.float64).reshape(n, -1))
np.save("%s/%s_y.npy" % (sys.argv[3], sys.argv[2]), np.array(e["y"], dtype=np.int64))
PYEOF
        run "eval $net.onnx" 0 "$BIN" eval --model "$FIX/onnx/$net.onnx" --data "$TMP/${net}_x.npy" \
            --labels "$TMP/${net}_y.npy" --json
        cp "$TMP/out" "$TMP/eval_$net.json"
        "$PY" -c "import json; e = json.load(open('$FIX/onnx_expected.json'))['$net']; print(e['loss_ce'], e['accuracy'])" >"$TMP/want"
        read -r want_loss want_acc <"$TMP/want"
        pyjson "eval $net.onnx: PyTorch's loss and accuracy" \
            "abs(out['loss'] - $want_loss) <= 1e-10 * abs($want_loss) and abs(out['accuracy'] - $want_acc) <= 1e-12" \
            "$TMP/eval_$net.json"
    done
    # spectrum --exact on mlp.onnx equals PyTorch's exact Hessian (onnx_hessian.json,
    # make_onnx_hessian.py): every eigenvalue, and their sum the trace, within 1e-9 of max |lambda|
    run "spectrum --exact mlp.onnx" 0 "$BIN" spectrum --model "$FIX/onnx/mlp.onnx" --data "$TMP/mlp_x.npy" \
        --labels "$TMP/mlp_y.npy" --exact --json
    cp "$TMP/out" "$TMP/exact_mlp.json"
    W="json.load(open('$FIX/onnx_hessian.json'))"
    pyjson "spectrum --exact mlp.onnx: PyTorch's eigenvalues" \
        "(lambda w, g: len(g) == len(w) == 155 and max(map(abs, w)) > 0.1 and max(abs(a - b) for a, b in zip(sorted(g), w)) <= 1e-9 * max(map(abs, w)))($W['eigenvalues'], out['exact']['eigenvalues'])" \
        "$TMP/exact_mlp.json"
    pyjson "spectrum --exact mlp.onnx: PyTorch's trace" \
        "abs(math.fsum(out['exact']['eigenvalues']) - $W['trace']) <= 1e-9 * max(map(abs, $W['eigenvalues']))" \
        "$TMP/exact_mlp.json"
else
    echo "skip: eval against PyTorch (no python3-numpy)" >&2
fi

# ---- the curvature commands on the exported LeNet (1x12x12, 5 classes) --------
L=$FIX/onnx/lenet.onnx
D=(--data synthetic:blobs:40:classes=5:d=144)
run "info lenet.onnx" 0 "$BIN" info --model "$L"
has "info: the graph" "$TMP/err" "1x12x12:conv4k3p1,relu,maxpool2,conv6k3,relu,maxpool2,flatten,10,relu,5"
has "info: the producer" "$TMP/err" "onnx_producer = pytorch"
run "info --json lenet.onnx" 0 "$BIN" info --model "$L" --json
cp "$TMP/out" "$TMP/info.json"
pyjson "info --json: PyTorch's module names" "[n.get('name') for n in out['nodes'] if n.get('n_params')] == ['0', '3', '7', '10']" "$TMP/info.json"
run "eval lenet.onnx" 0 "$BIN" eval --model "$L" "${D[@]}" --json
run "spectrum --top 1" 0 "$BIN" spectrum --model "$L" "${D[@]}" --top 1 --json
cp "$TMP/out" "$TMP/spec.json"
pyjson "spectrum: one finite eigenvalue" "len(out['top']) == 1 and math.isfinite(out['top'][0]['eigenvalue']) and out['converged']" "$TMP/spec.json"
run "spectrum --layers 7,10 (PyTorch names)" 0 "$BIN" spectrum --model "$L" "${D[@]}" --top 1 --layers 7,10
run "sharpness hessian_max,path_norm" 0 "$BIN" sharpness --model "$L" "${D[@]}" --measure hessian_max,path_norm --json
cp "$TMP/out" "$TMP/sharp.json"
pyjson "sharpness: both measured" "sorted(m['name'] for m in out['measures']) == ['hessian_max', 'path_norm']" "$TMP/sharp.json"
run "audit hessian_max" 0 "$BIN" audit --model "$L" "${D[@]}" --measure hessian_max --decades 1 --neuron-draws 1

# ---- the residual net and the BatchNorm exports --------------------------------
run "sharpness on residual.onnx" 0 "$BIN" sharpness --model "$FIX/onnx/residual.onnx" \
    --data synthetic:blobs:20:classes=3:d=50 --measure hessian_max
run "info bn_preserve.onnx" 0 "$BIN" info --model "$FIX/onnx/bn_preserve.onnx"
has "info: the folded BatchNorms" "$TMP/err" "batch norm folded into node 1 (conv2d '0')"
has "info: what was folded" "$TMP/err" "onnx_folded = BatchNormalization"

# ---- refusals: exit 2, the node and op named ------------------------------------
run "unsupported op: exit 2" 2 "$BIN" info --model "$FIX/onnx/bad_op.onnx"
has "unsupported op: named" "$TMP/err" "op 'Sigmoid' is not supported"
run "two outputs: exit 2" 2 "$BIN" eval --model "$FIX/onnx/bad_two_outputs.onnx" --data synthetic:blobs:8:d=4
run "--arch with ONNX refused" 2 "$BIN" info --model "$L" --arch "1x12x12:conv4k3p1,relu,flatten,5"
printf 'not a model' >"$TMP/junk.onnx"
run "not ONNX: exit 2" 2 "$BIN" info --model "$TMP/junk.onnx"
has "not ONNX: said" "$TMP/err" "is not an ONNX model"

# ---- writing: rescale --out r.onnx, train --out m.onnx ---------------------------
run "rescale --out r.onnx" 0 "$BIN" rescale --model "$L" --neurons 3:1 --out "$TMP/r.onnx" \
    "${D[@]}" --check
run "eval of the rescaled ONNX" 0 "$BIN" eval --model "$TMP/r.onnx" "${D[@]}" --json
cp "$TMP/out" "$TMP/eval_r.json"
run "eval of the original" 0 "$BIN" eval --model "$L" "${D[@]}" --json
cp "$TMP/out" "$TMP/eval_l.json"
if [ -n "$PY" ]; then
    "$PY" -c "import json; print(json.load(open('$TMP/eval_l.json'))['loss'])" >"$TMP/want"
    pyjson "rescaled ONNX: the same function" "abs(out['loss'] - $(cat "$TMP/want")) <= 1e-10 * abs($(cat "$TMP/want"))" "$TMP/eval_r.json"
fi
run "rescaled ONNX: info" 0 "$BIN" info --model "$TMP/r.onnx"
has "rescaled ONNX: the graph" "$TMP/err" "1x12x12:conv4k3p1,relu,maxpool2,conv6k3,relu,maxpool2,flatten,10,relu,5"
run "train --out m.onnx" 0 "$BIN" train --data synthetic:blobs:64:classes=3:d=6 --arch "6:8,relu,res(8,relu,8),3" \
    --epochs 1 --out "$TMP/m.onnx"
run "trained ONNX: eval" 0 "$BIN" eval --model "$TMP/m.onnx" --data synthetic:blobs:64:classes=3:d=6
run "safetensors to ONNX and back" 0 "$BIN" rescale --model "$TMP/m.onnx" --alpha 1,2,0.5 --out "$TMP/m.safetensors"
if [ -n "$PY" ] && "$PY" -c "import onnx" 2>/dev/null; then
    for f in r m; do
        if "$PY" -c "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)" "$TMP/$f.onnx" 2>"$TMP/err"; then
            ok; else bad "onnx.checker refuses $f.onnx"; cat "$TMP/err" >&2; fi
    done
else
    echo "skip: onnx.checker (python3-onnx not installed)" >&2
fi

echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]
