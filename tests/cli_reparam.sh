#!/usr/bin/env bash
# cli_reparam.sh — `minima reparam radial|weightnorm|input` on the PyTorch
# fixture: the radial map multiplies the Hessian by (rhat/rho)^2, several maps
# produce a requested flatness order, the v-block of weight normalization
# scales by 1/alpha^2, folded input transforms keep predictions and loss.
# Usage: cli_reparam.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_reparam.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-reparam-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1

. "$(dirname "$0")/checks.sh"
jget() { sed -n "s/.*\"$2\": \([-+0-9.eE]*\).*/\1/p" "$1" | head -1; }
# holds NAME AWK_CONDITION var=value...: an awk condition over the given values
holds() {
    local name=$1 cond=$2; shift 2
    local args=()
    for kv in "$@"; do
        if [ -z "${kv#*=}" ]; then bad "$name: no value for ${kv%%=*}"; return; fi
        args+=(-v "$kv")
    done
    if awk "${args[@]}" "BEGIN { exit !($cond) }"; then ok; else bad "$name: $cond with $*"; fi
}

M=$FIX/torch_mlp_f64.safetensors
D=(--data "$FIX/torch_mlp_x.npy" --labels "$FIX/torch_mlp_y.npy")

run "reparam --help" 0 "$BIN" reparam --help
has "reparam --help" "$TMP/out" "weightnorm"
for k in radial weightnorm input; do
    run "reparam $k --help" 0 "$BIN" reparam "$k" --help
    has "reparam $k --help" "$TMP/out" "--model MODEL"
done
run "reparam unknown kind" 2 "$BIN" reparam spherical --model "$M"

# ---- radial: (rhat/rho)^2 = 100 at the centre ---------------------------------------
run "radial" 0 "$BIN" reparam radial --model "$M" "${D[@]}" --rhat 0.5 --delta 1 --rho 0.05 --json
holds "radial ratio" "r > 100 * (1 - 1e-8) && r < 100 * (1 + 1e-8)" r="$(jget "$TMP/out" ratio)"
run "radial fig5" 0 "$BIN" reparam radial --model "$M" "${D[@]}" --fig5 1,0.5 --json
holds "fig5 ratio b^-2a = 4" "r > 4 * (1 - 1e-8) && r < 4 * (1 + 1e-8)" r="$(jget "$TMP/out" ratio)"
run "radial fig5 bad a" 2 "$BIN" reparam radial --model "$M" "${D[@]}" --fig5 -1,0.5
run "radial bad radii" 2 "$BIN" reparam radial --model "$M" "${D[@]}" --rhat 2 --delta 1
# ---- several minima in a requested order --------------------------------------------
"$BIN" rescale --model "$M" --alpha 2,0.5,1 --out "$TMP/a.safetensors" 2>/dev/null
"$BIN" rescale --model "$M" --neurons 3:0.3 --out "$TMP/n.safetensors" 2>/dev/null
for ord in 0,1,2 2,0,1 1,2,0; do
    run "radial order $ord" 0 "$BIN" reparam radial --model "$M,$TMP/a.safetensors,$TMP/n.safetensors" \
        "${D[@]}" --order "$ord" --json
    has "radial order $ord" "$TMP/out" '"ordered": true'
done
run "radial bad order" 2 "$BIN" reparam radial --model "$M,$TMP/a.safetensors" "${D[@]}" --order 0,0

# ---- weight normalization: alpha^2 lambda_v constant -----------------------------------
run "weightnorm" 0 "$BIN" reparam weightnorm --model "$M" "${D[@]}" --scales 0.1,10 --json
v=($(grep -o '"top_v_times_scale2": [-+0-9.eE]*' "$TMP/out" | sed 's/.*: //'))
holds "weightnorm scaling" "a > 0 && (a - b) / a < 1e-8 && (b - a) / a < 1e-8" a="${v[0]:-0}" b="${v[1]:-1}"
run "weightnorm bad scale" 2 "$BIN" reparam weightnorm --model "$M" "${D[@]}" --scales 0,1

# ---- input: same predictions and loss, different input gradients ------------------------
for meth in standardize whiten pca; do
    run "input $meth" 0 "$BIN" reparam input --model "$M" "${D[@]}" --method "$meth" \
        --out "$TMP/in_$meth.safetensors" --out-data "$TMP/u_$meth.npy" --json
    holds "input $meth predictions" "r <= 1e-12" r="$(jget "$TMP/out" rel_diff)"
    holds "input $meth loss" "(a - b) <= 1e-12 * a && (b - a) <= 1e-12 * a" \
        a="$(jget "$TMP/out" loss_x)" b="$(jget "$TMP/out" loss_u)"
    holds "input $meth gradients move" "a != b" a="$(jget "$TMP/out" input_grad_mean_x)" \
        b="$(jget "$TMP/out" input_grad_mean_u)"
    L1=$("$BIN" eval --model "$M" "${D[@]}" --json 2>/dev/null | sed -n 's/.*"loss": \([-+0-9.eE]*\).*/\1/p')
    L2=$("$BIN" eval --model "$TMP/in_$meth.safetensors" --data "$TMP/u_$meth.npy" --labels "$FIX/torch_mlp_y.npy" \
         --json 2>/dev/null | sed -n 's/.*"loss": \([-+0-9.eE]*\).*/\1/p')
    holds "input $meth: eval on the written files" "(a - b) <= 1e-12 * a && (b - a) <= 1e-12 * a" a="${L1:-1}" b="${L2:-0}"
done
run "input bad method" 2 "$BIN" reparam input --model "$M" "${D[@]}" --method sphere --out "$TMP/x.safetensors"
run "input no out" 2 "$BIN" reparam input --model "$M" "${D[@]}"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
