#!/usr/bin/env bash
# cli_model.sh — `minima info` and `minima eval` on the PyTorch fixtures and on
# bad model files. Usage: cli_model.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_model.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-model-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=$(command -v python3 || true)

. "$(dirname "$0")/checks.sh"

# pycheck NAME EXPR: a Python expression over out (the --json result) and
# exp (the fixture's expected values) that must be true.
pycheck() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "$TMP/out" "$FIX/torch_mlp_expected.json" "$2" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1])); exp = json.load(open(sys.argv[2]))
def rel(a, b): return abs(a - b) / max(abs(a), abs(b), 1e-300)
ok = eval(sys.argv[3])
if not ok:
    print("  out =", json.dumps(out)[:400], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    then ok; else bad "$1: $2"; fi
}

F64=$FIX/torch_mlp_f64.safetensors
F32=$FIX/torch_mlp_f32.safetensors
X=$FIX/torch_mlp_x.npy
Y=$FIX/torch_mlp_y.npy

# ---- --help -----------------------------------------------------------------
run "info --help" 0 "$BIN" info --help
has "info --help" "$TMP/out" "--model MODEL"
has "info --help" "$TMP/out" "--json"
run "eval --help" 0 "$BIN" eval --help
for opt in --model --data --labels --subset --loss --batch --json; do
    has "eval --help" "$TMP/out" "$opt"
done

# ---- info -----------------------------------------------------------------
run "info f64 --json" 0 "$BIN" info --model "$F64" --json
pycheck "info f64 layers" "out['n_params'] == exp['n_params'] == 123 and [{k: l[k] for k in ('name', 'in', 'out', 'bias')} for l in out['layers']] == exp['layers']"
pycheck "info f64 arch" "out['arch'] == '5-8-6-3' and out['activation'] == 'relu' and out['loss'] == 'ce'"
run "info f32 text" 0 "$BIN" info --model "$F32"
has "info f32 text" "$TMP/err" "5-8-6-3"
has "info f32 text" "$TMP/err" "123"

# ---- eval: PyTorch's numbers ----------------------------------------------
run "eval f64" 0 "$BIN" eval --model "$F64" --data "$X" --labels "$Y" --json
pycheck "eval f64 loss = PyTorch float64 to 1e-10" "rel(out['loss'], exp['f64']['loss']) <= 1e-10"
pycheck "eval f64 accuracy" "out['accuracy'] == exp['f64']['accuracy'] and out['n_examples'] == 20"
for b in 0 1 7; do
    run "eval f64 --batch $b" 0 "$BIN" eval --model "$F64" --data "$X" --labels "$Y" --batch $b --json
    pycheck "eval f64 --batch $b" "rel(out['loss'], exp['f64']['loss']) <= 1e-10"
done
run "eval f32" 0 "$BIN" eval --model "$F32" --data "$X" --labels "$Y" --json
pycheck "eval f32 = PyTorch float32 to float32 rounding" "rel(out['loss'], exp['f32']['loss']) <= 1e-6"
pycheck "eval f32 params in float64 to 1e-10" "rel(out['loss'], exp['f32_params_in_f64']['loss']) <= 1e-10"
pycheck "eval f32 accuracy" "out['accuracy'] == exp['f32']['accuracy']"
run "eval --subset" 0 "$BIN" eval --model "$F64" --data "$X" --labels "$Y" --subset 10 --json
pycheck "eval --subset 10" "out['n_examples'] == 10"
run "eval text" 0 "$BIN" eval --model "$F64" --data "$X" --labels "$Y"
has "eval text" "$TMP/err" "loss (ce)"

# ---- eval: data that does not fit, and bad usage ---------------------------
run "eval d_0 mismatch" 2 "$BIN" eval --model "$F64" --data synthetic:blobs:10
has "eval d_0 mismatch" "$TMP/err" "d_0 = 5"
has "eval d_0 mismatch" "$TMP/err" "features"
run "eval no --model" 2 "$BIN" eval --data "$X" --labels "$Y"
has "eval no --model" "$TMP/err" "--model"
run "eval no --data" 2 "$BIN" eval --model "$F64"
run "eval bad --loss" 2 "$BIN" eval --model "$F64" --data "$X" --labels "$Y" --loss hinge
has "eval bad --loss" "$TMP/err" "hinge"
run "eval mse on class labels (one-hot targets)" 0 "$BIN" eval --model "$F64" --data "$X" --labels "$Y" --loss mse --json
pycheck "eval mse one-hot" "out['loss_kind'] == 'mse' and out['loss'] > 0"
run "eval unknown option" 2 "$BIN" eval --model "$F64" --frobnicate
run "eval missing data file" 2 "$BIN" eval --model "$F64" --data "$TMP/nope.npy" --labels "$Y"
has "eval missing data file" "$TMP/err" "nope.npy"

# ---- bad model files: exit 2 and a message naming the file ----------------
run "info missing file" 2 "$BIN" info --model "$TMP/missing.safetensors"
has "info missing file" "$TMP/err" "missing.safetensors"
run "info no --model" 2 "$BIN" info
for cut in 0 5 8 100 500 1407; do
    head -c $cut "$F64" >"$TMP/cut$cut.safetensors"
    run "info truncated at $cut" 2 "$BIN" info --model "$TMP/cut$cut.safetensors"
    has "info truncated at $cut" "$TMP/err" "cut$cut.safetensors"
    run "eval truncated at $cut" 2 "$BIN" eval --model "$TMP/cut$cut.safetensors" --data "$X" --labels "$Y"
done
printf 'this is not a safetensors file at all, just text\n' >"$TMP/text.safetensors"
run "info text file" 2 "$BIN" info --model "$TMP/text.safetensors"
has "info text file" "$TMP/err" "header length"
run "info directory" 2 "$BIN" info --model "$TMP"
# a file whose header lies, a NaN weight, and shapes that do not chain (written with python3)
if [ -n "$PY" ]; then
    "$PY" - "$TMP" "$F64" <<'EOF'
import json, struct, sys
def write(path, header, data):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)
d = struct.pack("<6d", 1, 2, 3, float("nan"), 5, 6)
w = lambda shape, a, b: {"dtype": "F64", "shape": shape, "data_offsets": [a, b]}
write(sys.argv[1] + "/nan.safetensors", {"0.weight": w([2, 2], 0, 32), "0.bias": w([2], 32, 48)}, d)
write(sys.argv[1] + "/lie.safetensors", {"0.weight": w([2, 2], 0, 4096)}, d)
write(sys.argv[1] + "/chain.safetensors", {"0.weight": w([2, 1], 0, 16), "2.weight": w([1, 3], 16, 40)}, d)
write(sys.argv[1] + "/overlap.safetensors", {"0.weight": w([2, 2], 0, 32), "1.weight": w([2, 2], 16, 48)}, d)
write(sys.argv[1] + "/extra.safetensors", {"0.weight": w([2, 2], 0, 32), "0.bias": w([2], 32, 48),
                                           "emb.scale": w([1], 48, 56)}, struct.pack("<7d", *range(7)))
# the fixture with "loss": "mse" in its metadata
src = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", src[:8])[0]
h = json.loads(src[8:8 + n])
h["__metadata__"]["loss"] = "mse"
write(sys.argv[1] + "/mse.safetensors", h, src[8 + n:])
# labels out of range for 3 outputs, as a .npy file (int64)
hdr = "{'descr': '<i8', 'fortran_order': False, 'shape': (20,), }"
hdr += " " * (-(10 + len(hdr) + 1) % 64) + "\n"
open(sys.argv[1] + "/y7.npy", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) +
                                          hdr.encode() + struct.pack("<20q", *([7] * 20)))
EOF
    run "info NaN weight" 2 "$BIN" info --model "$TMP/nan.safetensors"
    has "info NaN weight" "$TMP/err" "'0.weight' entry [1, 1]"
    run "info NaN allowed" 0 "$BIN" info --model "$TMP/nan.safetensors" --allow-nonfinite
    run "info lying offsets" 2 "$BIN" info --model "$TMP/lie.safetensors"
    has "info lying offsets" "$TMP/err" "past the end of the data section"
    run "info shapes do not chain" 2 "$BIN" info --model "$TMP/chain.safetensors"
    has "info shapes do not chain" "$TMP/err" "do not chain"
    run "info overlap" 2 "$BIN" info --model "$TMP/overlap.safetensors"
    has "info overlap" "$TMP/err" "overlap"
    run "info unknown tensor" 2 "$BIN" info --model "$TMP/extra.safetensors"
    has "info unknown tensor" "$TMP/err" "'emb.scale'"
    run "info --ignore-unknown" 0 "$BIN" info --model "$TMP/extra.safetensors" --ignore-unknown --json
    pycheck "info --ignore-unknown" "out['n_params'] == 6"
    run "info mse metadata" 0 "$BIN" info --model "$TMP/mse.safetensors" --json
    pycheck "info mse metadata" "out['loss'] == 'mse'"
    run "eval loss from metadata" 0 "$BIN" eval --model "$TMP/mse.safetensors" --data "$X" --labels "$Y" --json
    pycheck "eval loss from metadata" "out['loss_kind'] == 'mse'"
    run "eval --loss overrides metadata" 0 "$BIN" eval --model "$TMP/mse.safetensors" --data "$X" --labels "$Y" --loss ce --json
    pycheck "eval --loss ce" "rel(out['loss'], exp['f64']['loss']) <= 1e-10"
    run "eval labels out of range" 2 "$BIN" eval --model "$F64" --data "$X" --labels "$TMP/y7.npy"
    has "eval labels out of range" "$TMP/err" "label"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
