#!/usr/bin/env bash
# cli_load.sh — how a model file becomes a network, seen from the command
# line: PyTorch state dicts that record neither the activation nor the order
# of their layers (tests/fixtures/make_load_fixtures.py), --activation,
# --order, files that are not an MLP of Linear layers, and state dicts of
# networks with BatchNorm or convolutions, which need --arch.
# Usage: cli_load.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_load.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-load-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=$(command -v python3 || true)

. "$(dirname "$0")/checks.sh"
# pycheck NAME EXPR: EXPR over out (the --json result) and exp
# (load_expected.json, PyTorch's float64 results) must be true.
pycheck() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "$TMP/out" "$FIX/load_expected.json" "$2" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1])); exp = json.load(open(sys.argv[2]))
def rel(a, b): return abs(a - b) / max(abs(a), abs(b), 1e-300)
ok = eval(sys.argv[3])
if not ok:
    print("  out =", json.dumps(out)[:600], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    then ok; else bad "$1: $2"; fi
}

D=(--data "$FIX/load_x.npy" --labels "$FIX/load_y.npy")

# ---- the order of the layers, from the shapes ------------------------------
# PyTorch's loss (float64) of each model, to 1e-10: the layers run in the order
# of the module, not of the names
for m in names features ioh; do
    run "eval $m" 0 "$BIN" eval --model "$FIX/load_$m.safetensors" "${D[@]}" --json
    pycheck "eval $m loss" "rel(out['loss'], exp['$m']['loss']) <= 1e-10"
    pycheck "eval $m source" "out['layer_order_source'] == 'shapes'"
    has "eval $m note" "$TMP/err" "does not record the order of its layers"
done
run "eval names" 0 "$BIN" eval --model "$FIX/load_names.safetensors" "${D[@]}"
has "eval names order" "$TMP/err" "embed -> mlp_up -> mlp_down -> out"
run "info features" 0 "$BIN" info --model "$FIX/load_features.safetensors" --json
pycheck "info features order" "[l['name'] for l in out['layers']] == exp['features']['order']"
pycheck "info features sources" "out['layer_order_source'] == 'shapes' and out['activation_source'] == 'assumed'"

# several orders chain: refused, listed, and settled by --order
run "twins refused" 2 "$BIN" eval --model "$FIX/load_twins.safetensors" "${D[@]}" --json
has "twins refused" "$TMP/err" "input,block_a,block_b,head"
has "twins refused" "$TMP/err" "input,block_b,block_a,head"
has "twins refused" "$TMP/err" "--order"
[ -s "$TMP/out" ] && bad "twins refused: printed a result" || ok
run "twins --order" 0 "$BIN" eval --model "$FIX/load_twins.safetensors" "${D[@]}" --json \
    --order input,block_a,block_b,head
pycheck "twins --order loss" "rel(out['loss'], exp['twins']['loss']) <= 1e-10"
pycheck "twins --order source" "out['layer_order_source'] == 'option'"
run "twins --order wrong" 0 "$BIN" eval --model "$FIX/load_twins.safetensors" "${D[@]}" --json \
    --order input,block_b,block_a,head
pycheck "twins other order differs" "rel(out['loss'], exp['twins']['loss']) > 1e-6"
run "--order unknown name" 2 "$BIN" info --model "$FIX/load_twins.safetensors" --order input,block_a,block_c,head
has "--order unknown name" "$TMP/err" "'block_c'"
run "--order not chaining" 2 "$BIN" info --model "$FIX/load_twins.safetensors" --order head,input,block_a,block_b
has "--order not chaining" "$TMP/err" "do not chain"

# a file minima wrote records its order: rescale keeps it (and --check proves the function)
run "rescale names" 0 "$BIN" rescale --model "$FIX/load_names.safetensors" --alpha 2,0.5,4,0.25 \
    --out "$TMP/resc.safetensors" "${D[@]}" --check --json
pycheck "rescale names equivalent" "out['passed'] and out['layer_order_source'] == 'shapes'"
run "info rescaled" 0 "$BIN" info --model "$TMP/resc.safetensors" --json
pycheck "info rescaled order" "[l['name'] for l in out['layers']] == exp['names']['order'] and out['layer_order_source'] == 'file'"
# ... but not an activation that was only assumed
pycheck "info rescaled activation" "out['activation_source'] == 'assumed'"
hasnt "info rescaled no note" "$TMP/err" "does not record the order"
run "eval rescaled" 0 "$BIN" eval --model "$TMP/resc.safetensors" "${D[@]}" --json
pycheck "eval rescaled loss" "rel(out['loss'], exp['names']['loss']) <= 1e-10"

# ---- the activation ----------------------------------------------------------
run "tanh assumed relu" 0 "$BIN" eval --model "$FIX/load_tanh.safetensors" "${D[@]}" --json
has "tanh assumed warns" "$TMP/err" "load_tanh.safetensors records no activation; assuming relu (pass --activation to set it)"
[ "$(grep -c 'records no activation' "$TMP/err")" -eq 1 ] && ok || bad "tanh assumed: the warning is not given exactly once"
pycheck "tanh assumed" "out['activation'] == 'relu' and out['activation_source'] == 'assumed'"
pycheck "tanh assumed loss" "rel(out['loss'], exp['tanh']['loss_if_relu']) <= 1e-10"
run "tanh --activation" 0 "$BIN" eval --model "$FIX/load_tanh.safetensors" "${D[@]}" --json --activation tanh
pycheck "tanh --activation loss" "rel(out['loss'], exp['tanh']['loss']) <= 1e-10"
pycheck "tanh --activation source" "out['activation'] == 'tanh' and out['activation_source'] == 'option'"
hasnt "tanh --activation no warning" "$TMP/err" "assuming relu"
run "info assumed" 0 "$BIN" info --model "$FIX/load_tanh.safetensors"
has "info assumed" "$TMP/err" "ASSUMED"
run "--activation leaky" 0 "$BIN" info --model "$FIX/load_tanh.safetensors" --activation leaky_relu:0.2 --json
pycheck "--activation leaky" "out['activation'] == 'leaky_relu' and out['leaky_slope'] == 0.2"
run "--activation bad" 2 "$BIN" info --model "$FIX/load_tanh.safetensors" --activation sigmoid
has "--activation bad" "$TMP/err" "sigmoid"
run "--activation bad slope" 2 "$BIN" info --model "$FIX/load_tanh.safetensors" --activation leaky_relu:2
run "--activation relu:slope" 2 "$BIN" info --model "$FIX/load_tanh.safetensors" --activation relu:0.1
# a recorded activation, overridden: said on stderr
run "tanh recorded" 0 "$BIN" rescale --model "$FIX/load_tanh.safetensors" --activation tanh --force \
    --alpha 1,1 --out "$TMP/tanh_rec.safetensors"
run "info recorded" 0 "$BIN" info --model "$TMP/tanh_rec.safetensors" --json
pycheck "info recorded" "out['activation'] == 'tanh' and out['activation_source'] == 'file'"
run "override recorded" 0 "$BIN" info --model "$TMP/tanh_rec.safetensors" --activation relu --json
has "override recorded" "$TMP/err" "using relu as asked"
pycheck "override recorded" "out['activation'] == 'relu' and out['activation_source'] == 'option'"

# every --json result says where the activation and the order came from
T=(--model "$FIX/load_tanh.safetensors" "${D[@]}" --activation tanh --json)
srccheck="out['activation'] == 'tanh' and out['activation_source'] == 'option' and out['layer_order_source'] == 'index'"
run "spectrum json" 0 "$BIN" spectrum "${T[@]}"
pycheck "spectrum json" "$srccheck"
run "sharpness json" 0 "$BIN" sharpness "${T[@]}"
pycheck "sharpness json" "$srccheck"
run "landscape json" 0 "$BIN" landscape "${T[@]}" --points 3
pycheck "landscape json" "$srccheck"
run "reparam weightnorm json" 0 "$BIN" reparam weightnorm "${T[@]}"
pycheck "reparam weightnorm json" "$srccheck"
run "reparam radial json" 0 "$BIN" reparam radial "${T[@]}"
pycheck "reparam radial json" "$srccheck"
run "reparam input json" 0 "$BIN" reparam input "${T[@]}" --out "$TMP/xi.npy"
pycheck "reparam input json" "$srccheck"
run "rescale json" 0 "$BIN" rescale "${T[@]}" --alpha 1,1 --out "$TMP/r.safetensors" --force
pycheck "rescale json" "$srccheck"
run "audit json" 0 "$BIN" audit --model "$FIX/load_names.safetensors" "${D[@]}" --json --measure path_norm
pycheck "audit json" "out['activation_source'] == 'assumed' and out['layer_order_source'] == 'shapes'"
run "reparam radial --layer-order" 0 "$BIN" reparam radial --model "$FIX/load_twins.safetensors" "${D[@]}" \
    --layer-order input,block_a,block_b,head --json
pycheck "reparam radial --layer-order" "out['layer_order_source'] == 'option'"

# ---- theorem --model on a network that is not homogeneous -------------------
run "theorem tanh" 0 "$BIN" theorem thm1 "${T[@]}"
pycheck "theorem tanh n/a" "out['theorems'][0]['applicable'] is False and 'homogeneous' in out['theorems'][0]['reason']"
pycheck "theorem tanh source" "$srccheck"
run "theorem relu" 0 "$BIN" theorem thm1 --model "$FIX/load_tanh.safetensors" "${D[@]}" --activation relu --json
pycheck "theorem relu applies" "out['theorems'][0]['applicable'] is True and out['theorems'][0]['passed'] is True"

# ---- rescale refuses a tanh network unless forced ----------------------------
run "rescale tanh" 2 "$BIN" rescale --model "$FIX/load_tanh.safetensors" --activation tanh --alpha 2,0.5 \
    --out "$TMP/t2.safetensors"
has "rescale tanh" "$TMP/err" "--force"
[ -e "$TMP/t2.safetensors" ] && bad "rescale tanh wrote a file" || ok

# ---- not an MLP of Linear layers ----------------------------------------------
run "batchnorm" 2 "$BIN" info --model "$FIX/load_batchnorm.safetensors"
has "batchnorm" "$TMP/err" "BatchNorm is not supported in a safetensors MLP; fold it"
has "batchnorm" "$TMP/err" "export ONNX"
run "batchnorm --ignore-unknown" 2 "$BIN" info --model "$FIX/load_batchnorm.safetensors" --ignore-unknown
has "batchnorm --ignore-unknown" "$TMP/err" "BatchNorm"
for f in load_zip.pt load_pickle.pt; do
    run "torch.save $f" 2 "$BIN" eval --model "$FIX/$f" "${D[@]}"
    has "torch.save $f" "$TMP/err" "this is a torch.save file"
    has "torch.save $f" "$TMP/err" "save with safetensors"
done

# ---- a state dict with no graph: --arch (make_bn_fixtures.py) -----------------
run "conv without --arch" 2 "$BIN" info --model "$FIX/bn_cnn.safetensors"
has "conv without --arch" "$TMP/err" "tensor '0.weight' is a 4-D convolution weight; this file carries no graph: pass --arch SHAPE:LAYER,... (docs/model-files.md)"
run "conv without --arch (eval)" 2 "$BIN" eval --model "$FIX/bn_cnn.safetensors" "${D[@]}"
has "conv without --arch (eval)" "$TMP/err" "--arch SHAPE:LAYER"
run "batchnorm without --arch" 2 "$BIN" info --model "$FIX/bn_mlp.safetensors"
has "batchnorm without --arch" "$TMP/err" "BatchNorm is not supported in a safetensors MLP; fold it"
has "batchnorm without --arch" "$TMP/err" ",bn,"
# with the grammar (minima_arch_parse) in the build: loaded, folded, errors naming the tensor
if "$BIN" info --model "$FIX/bn_mlp.safetensors" --arch 3:2 2>&1 | grep -q "general form is not read yet"; then
    bad "--arch loads: the architecture grammar is not in this build"
else
    run "bn --arch" 0 "$BIN" info --model "$FIX/bn_mlp.safetensors" --arch 4:5,bn,relu,3 --json
    pycheck "bn --arch" "out['n_params'] == 5 * 4 + 5 + 3 * 5 + 3"
    run "bn --arch shape" 2 "$BIN" info --model "$FIX/bn_mlp.safetensors" --arch 4:6,bn,relu,3
    has "bn --arch shape" "$TMP/err" "tensor '0.weight' has shape [5, 4]; the architecture expects [6, 4]"
    run "bn --arch no bn" 2 "$BIN" info --model "$FIX/bn_mlp.safetensors" --arch 4:5,relu,3
    has "bn --arch no bn" "$TMP/err" "is a bn missing"
    run "bn --arch too short" 2 "$BIN" info --model "$FIX/bn_mlp.safetensors" --arch 4:5,bn
    has "bn --arch too short" "$TMP/err" "left over"
    run "bn --arch bad" 2 "$BIN" info --model "$FIX/bn_mlp.safetensors" --arch 4:5,bn,sigmoid,3
    has "bn --arch bad" "$TMP/err" "sigmoid"
    # torchvision's names (features.N, then classifier): PyTorch's loss
    run "features --arch" 0 "$BIN" eval --model "$FIX/load_features.safetensors" "${D[@]}" \
        --arch 4:8,relu,6,relu,3 --json
    pycheck "features --arch loss" "rel(out['loss'], exp['features']['loss']) <= 1e-10"
    pycheck "features --arch source" "out['layer_order_source'] == 'option'"
fi

# ---- a model as the positional argument --------------------------------------
run "info positional" 0 "$BIN" info "$FIX/load_names.safetensors" --json
pycheck "info positional" "out['n_params'] == 347"
run "info twice" 2 "$BIN" info "$FIX/load_names.safetensors" --model "$FIX/load_ioh.safetensors"
run "info none" 2 "$BIN" info
run "eval positional" 2 "$BIN" eval "$FIX/load_names.safetensors" "${D[@]}"
has "eval positional" "$TMP/err" "--model"

# ---- --help names the options -------------------------------------------------
for cmd in eval info spectrum sharpness audit landscape rescale theorem "reparam weightnorm"; do
    run "$cmd --help" 0 "$BIN" $cmd --help
    has "$cmd --help" "$TMP/out" "--activation"
done
run "eval --help" 0 "$BIN" eval --help
has "eval --help" "$TMP/out" "--order"
for cmd in eval info spectrum sharpness audit landscape rescale theorem "reparam weightnorm" "reparam radial" "reparam input"; do
    run "$cmd --help --arch" 0 "$BIN" $cmd --help
    has "$cmd --help --arch" "$TMP/out" "architecture of a state dict that carries no graph (SHAPE:LAYER,...), docs/model-files.md"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
