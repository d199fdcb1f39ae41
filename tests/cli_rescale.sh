#!/usr/bin/env bash
# cli_rescale.sh — `minima rescale`: rescaled models compute the same function
# (same loss to 1e-12), bad factors are usage errors, the equivalence check
# fails for a tanh network. Usage: cli_rescale.sh MINIMA_BINARY
# (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_rescale.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-rescale-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1

. "$(dirname "$0")/checks.sh"

# jget FILE KEY: a top-level number of a one-line JSON object (no python needed).
jget() { sed -n "s/.*\"$2\": \([-+0-9.eE]*\).*/\1/p" "$1" | head -1; }
# close NAME A B TOL: |A - B| <= TOL * max(|A|, |B|)
close() {
    if awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN { d = a - b; if (d < 0) d = -d;
        m = a < 0 ? -a : a; n = b < 0 ? -b : b; if (n > m) m = n;
        exit !(a != "" && b != "" && d <= t * m) }'; then ok; else bad "$1: $2 vs $3 (tol $4)"; fi
}

X=$FIX/torch_mlp_x.npy
Y=$FIX/torch_mlp_y.npy
F64=$FIX/torch_mlp_f64.safetensors

# A small 2-layer model 5-8-3 (ReLU, biases) and a tanh twin, written as
# safetensors by hand (struct + json; no numpy needed).
mk_model() {  # mk_model PATH ACTIVATION SEED
    python3 - "$1" "$2" "$3" <<'EOF'
import json, random, struct, sys
path, act, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
shapes = [("0.weight", [8, 5]), ("0.bias", [8]), ("2.weight", [3, 8]), ("2.bias", [3])]
header, data, off = {}, b"", 0
for name, shape in shapes:
    n = 1
    for s in shape: n *= s
    vals = [rng.uniform(-0.8, 0.8) for _ in range(n)]
    blob = struct.pack("<%dd" % n, *vals)
    header[name] = {"dtype": "F64", "shape": shape, "data_offsets": [off, off + len(blob)]}
    data += blob
    off += len(blob)
header["__metadata__"] = {"format": "pt", "activation": act}
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)
EOF
}
if ! command -v python3 >/dev/null; then echo "skip: no python3" >&2; echo "0 passed, 0 failed"; exit 0; fi
M=$TMP/m.safetensors
T=$TMP/tanh.safetensors
mk_model "$M" relu 1
mk_model "$T" tanh 1

loss_of() {  # loss_of MODEL -> prints the loss
    "$BIN" eval --model "$1" --data "$X" --labels "$Y" --json 2>/dev/null | sed -n 's/.*"loss": \([-+0-9.eE]*\).*/\1/p'
}
L0=$(loss_of "$M")

# ---- --help -----------------------------------------------------------------
run "rescale --help" 0 "$BIN" rescale --help
for opt in --model --alpha --neurons --canonical --derive-last --out --data --check --json; do
    has "rescale --help" "$TMP/out" "$opt"
done

# ---- the paper's alpha = (100, 0.01) -----------------------------------------
run "alpha 100,0.01" 0 "$BIN" rescale --model "$M" --alpha 100,0.01 --out "$TMP/a.safetensors"
close "alpha 100,0.01: same loss" "$(loss_of "$TMP/a.safetensors")" "$L0" 1e-12
run "alpha --json --check" 0 "$BIN" rescale --model "$M" --alpha 100,0.01 --out "$TMP/a2.safetensors" \
    --data "$X" --labels "$Y" --check --json
has "alpha --json" "$TMP/out" '"passed": true'
awk -v r="$(jget "$TMP/out" rel_diff)" 'BEGIN { exit !(r <= 1e-14) }' && ok || bad "rel_diff $(jget "$TMP/out" rel_diff) > 1e-14"
awk -v a="$(jget "$TMP/out" norm_after)" -v b="$(jget "$TMP/out" norm_before)" 'BEGIN { exit !(a > 10 * b) }' \
    && ok || bad "alpha 100: the parameters did not move"
run "alpha 1e-3 derive-last" 0 "$BIN" rescale --model "$M" --alpha 1e-3 --derive-last --out "$TMP/d.safetensors"
close "derive-last: same loss" "$(loss_of "$TMP/d.safetensors")" "$L0" 1e-12
# the 3-layer PyTorch fixture
LF=$(loss_of "$F64")
run "fixture alpha" 0 "$BIN" rescale --model "$F64" --alpha 100,0.01,1 --out "$TMP/f.safetensors"
close "fixture alpha: same loss" "$(loss_of "$TMP/f.safetensors")" "$LF" 1e-12

# ---- per-neuron and canonical -------------------------------------------------
run "neurons" 0 "$BIN" rescale --model "$F64" --neurons 7:1.5 --out "$TMP/n.safetensors"
close "neurons: same loss" "$(loss_of "$TMP/n.safetensors")" "$LF" 1e-12
run "canonical" 0 "$BIN" rescale --model "$TMP/n.safetensors" --canonical --out "$TMP/c1.safetensors" --json
close "canonical: same loss" "$(loss_of "$TMP/c1.safetensors")" "$LF" 1e-12
N1=$(jget "$TMP/out" norm_after)
awk -v a="$N1" -v b="$(jget "$TMP/out" norm_before)" 'BEGIN { exit !(a <= b) }' && ok || bad "canonical norm $N1 not <= before"
run "canonical from another point" 0 "$BIN" rescale --model "$F64" --canonical --out "$TMP/c2.safetensors" --json
close "canonical: same norm from two orbit points" "$(jget "$TMP/out" norm_after)" "$N1" 1e-10
run "canonical layer group" 0 "$BIN" rescale --model "$F64" --canonical --group layer --out "$TMP/c3.safetensors"
close "canonical layer: same loss" "$(loss_of "$TMP/c3.safetensors")" "$LF" 1e-12

# ---- bad factors: exit 2, nothing written --------------------------------------
run "product != 1" 2 "$BIN" rescale --model "$M" --alpha 2,3 --out "$TMP/bad1.safetensors"
has "product != 1" "$TMP/err" "multiply to 1"
[ ! -e "$TMP/bad1.safetensors" ] && ok || bad "product != 1 wrote a file"
run "negative alpha" 2 "$BIN" rescale --model "$M" --alpha -1,-1 --out "$TMP/bad2.safetensors"
run "zero alpha" 2 "$BIN" rescale --model "$M" --alpha 0,1 --out "$TMP/bad2.safetensors"
run "wrong count" 2 "$BIN" rescale --model "$M" --alpha 100,0.01,1 --out "$TMP/bad3.safetensors"
has "wrong count" "$TMP/err" "expected 2 factors"
run "not a number" 2 "$BIN" rescale --model "$M" --alpha 1,x --out "$TMP/bad4.safetensors"
run "bad neurons" 2 "$BIN" rescale --model "$M" --neurons 1 --out "$TMP/bad5.safetensors"
run "no mode" 2 "$BIN" rescale --model "$M" --out "$TMP/bad6.safetensors"
run "no out" 2 "$BIN" rescale --model "$M" --alpha 100,0.01
run "missing model" 2 "$BIN" rescale --model "$TMP/none.safetensors" --alpha 100,0.01 --out "$TMP/x.safetensors"
run "check without data" 2 "$BIN" rescale --model "$M" --alpha 100,0.01 --out "$TMP/x.safetensors" --check

# ---- the check means something: tanh is not homogeneous -------------------------
run "tanh refused" 2 "$BIN" rescale --model "$T" --alpha 100,0.01 --out "$TMP/t.safetensors"
has "tanh refused" "$TMP/err" "pass --force"
[ ! -e "$TMP/t.safetensors" ] && ok || bad "a refused rescaling wrote its output"
run "tanh check fails" 1 "$BIN" rescale --model "$T" --alpha 100,0.01 --out "$TMP/t.safetensors" \
    --data "$X" --labels "$Y" --check --json --force
has "tanh --force warns" "$TMP/err" "DIFFERENT function"
has "tanh check fails" "$TMP/out" '"passed": false'
[ ! -e "$TMP/t.safetensors" ] && ok || bad "a failed check wrote its output"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
