#!/usr/bin/env bash
# cli_graph_rescale.sh — `minima rescale` and `minima info` on a graph (a
# CNN with a residual block): a random orbit point computes the same
# function (rel_diff <= 1e-12) with other parameters, the canonical point is
# the same from two points of one orbit, the layer-wise form is refused
# (exit 2), a graph with tanh keeps its function (the group fixes tanh
# channels), and `info` reports the group with the class count worked out
# by hand. Usage: cli_graph_rescale.sh MINIMA_BINARY.
set -u
BIN=${1:?usage: cli_graph_rescale.sh MINIMA_BINARY}
TMP=$(mktemp -d /tmp/minima-cli-graph-rescale-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
. "$(dirname "$0")/checks.sh"

# jget FILE KEY: the first number under KEY in a JSON text (no python needed).
jget() { sed -n "s/.*\"$2\": \([-+0-9.eE]*\).*/\1/p" "$1" | head -1; }
# close NAME A B TOL: |A - B| <= TOL * max(|A|, |B|)
close() {
    if awk -v a="$2" -v b="$3" -v t="$4" 'BEGIN { d = a - b; if (d < 0) d = -d;
        m = a < 0 ? -a : a; n = b < 0 ? -b : b; if (n > m) m = n;
        exit !(a != "" && b != "" && d <= t * m) }'; then ok; else bad "$1: $2 vs $3 (tol $4)"; fi
}
theta_norm() { "$BIN" info --json "$1" >"$TMP/info" 2>/dev/null; jget "$TMP/info" theta_norm; }

ARCH="1x28x28:conv4k3p1,relu,maxpool2,conv6k3s2,relu,res(conv6k3p1,relu,conv6k3p1),relu,gap,10"
M=$TMP/cnn.safetensors
D=(--data fashion-mnist --subset 200)
run "train a CNN" 0 "$BIN" train "${D[@]}" --arch "$ARCH" --epochs 1 --out "$M"
T0=$(theta_norm "$M")

# ---- info: the group ---------------------------------------------------------
# By the rules of docs/symmetry.md: conv4 -> relu -> maxpool keeps 4 classes;
# conv6k3s2 -> relu is the residual stream, tied through the add to the
# block's second conv6k3p1: 6 classes (the ones across the add); the block's
# first conv6k3p1 -> relu: 6 more; gap feeds the output linear (fixed).
# 4 + 6 + 6 = 16 free classes, 6 across residual adds, no node fixed.
run "info --json" 0 "$BIN" info --json "$M"
has "info: symmetry key" "$TMP/out" '"symmetry": {"n_classes": 16, "n_residual_classes": 6, "n_fixed_nodes": 0, "fixed_nodes": []}'
has "info: old keys kept" "$TMP/out" '"is_mlp": false'
run "info text" 0 "$BIN" info "$M"
has "info text: symmetry line" "$TMP/err" "symmetry    16 classes (6 across residual adds); no linear/conv2d node fixed"

# ---- a random orbit point: same function, other parameters --------------------
R=$TMP/r.safetensors
run "neurons --check" 0 "$BIN" rescale --model "$M" --neurons 1:1 "${D[@]}" --check --json --out "$R"
has "neurons: passed" "$TMP/out" '"passed": true'
has "neurons: n_classes" "$TMP/out" '"n_classes": 16'
has "neurons: mode" "$TMP/out" '"mode": "neurons"'
hasnt "neurons: no MLP alpha for a graph" "$TMP/out" '"alpha"'
awk -v r="$(jget "$TMP/out" rel_diff)" 'BEGIN { exit !(r != "" && r <= 1e-12) }' && ok \
    || bad "neurons: rel_diff '$(jget "$TMP/out" rel_diff)' > 1e-12"
TR=$(theta_norm "$R")
awk -v a="$TR" -v b="$T0" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d > 1e-3 * b) }' \
    && ok || bad "neurons: ||theta|| did not change ($T0 -> $TR)"
close "neurons: norm_after is the file's theta_norm" "$(jget "$TMP/out" norm_after)" "$TR" 1e-12
run "the rescaled graph reads back" 0 "$BIN" info --json "$R"
has "rescaled: same arch" "$TMP/out" "\"arch\": \"$ARCH\""
has "rescaled: metadata kept" "$TMP/out" '"trained_by"'
# the same seed gives the same point; another seed another one
run "neurons again" 0 "$BIN" rescale --model "$M" --neurons 1:1 --out "$TMP/r1.safetensors"
close "neurons: seeded" "$(theta_norm "$TMP/r1.safetensors")" "$TR" 1e-15
run "neurons seed 2" 0 "$BIN" rescale --model "$M" --neurons 2:1 --out "$TMP/r2.safetensors"
T2=$(theta_norm "$TMP/r2.safetensors")
[ "$T2" != "$TR" ] && ok || bad "neurons: seeds 1 and 2 gave the same point ($T2)"
run "spread 0 is the identity" 0 "$BIN" rescale --model "$M" --neurons 5:0 --out "$TMP/r0.safetensors"
close "spread 0: same norm" "$(theta_norm "$TMP/r0.safetensors")" "$T0" 1e-15

# ---- the canonical point: one per orbit ------------------------------------------
run "canonical from the original" 0 "$BIN" rescale --model "$M" --canonical "${D[@]}" --check --json \
    --out "$TMP/c1.safetensors"
has "canonical: converged" "$TMP/out" '"converged": true'
has "canonical: passed" "$TMP/out" '"passed": true'
C1=$(jget "$TMP/out" norm_after)
awk -v a="$C1" -v b="$T0" 'BEGIN { exit !(a != "" && a <= b) }' && ok || bad "canonical: $C1 > $T0"
run "canonical from the rescaled" 0 "$BIN" rescale --model "$R" --canonical --json --out "$TMP/c2.safetensors"
C2=$(jget "$TMP/out" norm_after)
close "canonical: same norm from two orbit points" "$C2" "$C1" 1e-10
close "canonical: the file's theta_norm" "$(theta_norm "$TMP/c2.safetensors")" "$C1" 1e-10

# ---- refused: the layer-wise form, and --canonical with --neurons as for MLPs -------
run "alpha on a graph" 2 "$BIN" rescale --model "$M" --alpha 2,0.5 --out "$TMP/x.safetensors"
has "alpha: the message" "$TMP/err" "the graph form supports --neurons and --canonical"
[ ! -e "$TMP/x.safetensors" ] && ok || bad "alpha: a refused rescaling wrote its output"
run "group layer on a graph" 2 "$BIN" rescale --model "$M" --canonical --group layer --out "$TMP/x.safetensors"
has "group layer: the message" "$TMP/err" "found --group layer"
run "canonical with neurons" 2 "$BIN" rescale --model "$M" --canonical --neurons 1:1 --out "$TMP/x.safetensors"
[ ! -e "$TMP/x.safetensors" ] && ok || bad "a refused rescaling wrote its output"

# ---- tanh: its channels are fixed, so the function is kept, no --force ------------
# conv4 read by tanh: fixed (1 node fixed); conv5 -> relu -> gap: 5 classes.
TA="1x28x28:conv4k3p1,tanh,conv5k3s2,relu,gap,10"
MT=$TMP/tanh.safetensors
run "train a tanh CNN" 0 "$BIN" train "${D[@]}" --arch "$TA" --epochs 1 --out "$MT"
run "tanh info" 0 "$BIN" info --json "$MT"
has "tanh info: one node fixed" "$TMP/out" '"n_classes": 5, "n_residual_classes": 0, "n_fixed_nodes": 1, "fixed_nodes": ['
run "tanh graph rescaled" 0 "$BIN" rescale --model "$MT" --neurons 3:2 "${D[@]}" --check --json \
    --out "$TMP/t.safetensors"
has "tanh graph: same function" "$TMP/out" '"passed": true'
hasnt "tanh graph: no warning" "$TMP/err" "DIFFERENT"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
