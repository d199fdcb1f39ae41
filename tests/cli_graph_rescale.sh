#!/usr/bin/env bash
# cli_graph_rescale.sh — `minima rescale` and `minima info` on a graph (a
# CNN with a residual block): a random orbit point computes the same
# function (rel_diff <= 1e-12) with other parameters, the canonical point is
# the same from two points of one orbit, the stage-wise form (--alpha, one
# factor per stage and one for the output) keeps the function on a residual
# net and on a plain CNN and refuses a wrong count (naming the stages) or a
# product other than 1 (exit 2), --canonical --group layer is one point per
# stage-wise orbit, a graph with tanh keeps its function (the group fixes
# tanh channels), and `info` reports the group with the class count worked
# out by hand. Usage: cli_graph_rescale.sh MINIMA_BINARY.
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
has "neurons: no stage-wise factors" "$TMP/out" '"alpha": [1, 1, 1, 1], "n_stages": 3'
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

# ---- the stage-wise map ----------------------------------------------------------
# Stages: conv4 (4 classes); the residual stream (conv6k3s2 and the block's
# second conv, 6 classes); the block's first conv (6): 3 stages, 4 factors.
A=$TMP/a.safetensors
run "alpha --check" 0 "$BIN" rescale --model "$M" --alpha 2,0.5,4,0.25 "${D[@]}" --check --json --out "$A"
has "alpha: passed" "$TMP/out" '"passed": true'
has "alpha: factors and stages" "$TMP/out" '"alpha": [2, 0.5, 4, 0.25], "n_stages": 3, "n_classes": 16'
awk -v r="$(jget "$TMP/out" rel_diff)" 'BEGIN { exit !(r != "" && r <= 1e-12) }' && ok \
    || bad "alpha: rel_diff '$(jget "$TMP/out" rel_diff)' > 1e-12"
TA_=$(theta_norm "$A")
awk -v a="$TA_" -v b="$T0" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d > 1e-3 * b) }' \
    && ok || bad "alpha: ||theta|| did not change ($T0 -> $TA_)"
run "alpha text" 0 "$BIN" rescale --model "$M" --alpha 2,0.5,4 --derive-last --out "$TMP/a2.safetensors"
has "alpha text: stages" "$TMP/err" "(alpha, 16 channel classes in 3 stages)"
has "alpha text: derived factor" "$TMP/err" "alpha       2, 0.5, 4, 0.25"
close "derive-last: the same point" "$(theta_norm "$TMP/a2.safetensors")" "$TA_" 1e-15
run "alpha and neurons" 0 "$BIN" rescale --model "$M" --alpha 2,0.5,4 --derive-last --neurons 3:0.5 \
    "${D[@]}" --check --json --out "$TMP/an.safetensors"
has "alpha and neurons: passed" "$TMP/out" '"passed": true'
has "alpha and neurons: mode" "$TMP/out" '"mode": "neurons"'
run "alpha: 3 factors" 2 "$BIN" rescale --model "$M" --alpha 2,0.5,1 --out "$TMP/x.safetensors"
has "alpha count: the stages named" "$TMP/err" "this network has 3 stages of hidden channels, so expected 4"
[ ! -e "$TMP/x.safetensors" ] && ok || bad "alpha: a refused rescaling wrote its output"
run "alpha: 5 factors with --derive-last" 2 "$BIN" rescale --model "$M" --alpha 2,0.5,1,1,1 --derive-last \
    --out "$TMP/x.safetensors"
has "alpha count (derive-last): the message" "$TMP/err" "or one fewer, the last derived"
run "alpha: product 2" 2 "$BIN" rescale --model "$M" --alpha 2,0.5,4,0.5 --out "$TMP/x.safetensors"
has "alpha product: the message" "$TMP/err" "the product of the 4 factors is 2"
run "alpha: a factor <= 0" 2 "$BIN" rescale --model "$M" --alpha 2,0,4,0.25 --out "$TMP/x.safetensors"
[ ! -e "$TMP/x.safetensors" ] && ok || bad "alpha: a refused rescaling wrote its output"

# A plain CNN, no residual add: conv5 and conv7 are two stages, 3 factors.
AP="1x28x28:conv5k3p1,relu,maxpool2,conv7k3,relu,gap,10"
MP=$TMP/plain.safetensors
run "train a plain CNN" 0 "$BIN" train "${D[@]}" --arch "$AP" --epochs 1 --out "$MP"
run "plain CNN: alpha --check" 0 "$BIN" rescale --model "$MP" --alpha 0.1,20,0.5 "${D[@]}" --check --json \
    --out "$TMP/p.safetensors"
has "plain CNN: passed" "$TMP/out" '"passed": true'
has "plain CNN: 2 stages" "$TMP/out" '"n_stages": 2, "n_classes": 12'
run "plain CNN: 4 factors" 2 "$BIN" rescale --model "$MP" --alpha 2,0.5,4,0.25 --out "$TMP/x.safetensors"
has "plain CNN: the stages named" "$TMP/err" "this network has 2 stages of hidden channels, so expected 3"

# ---- canonical over the stage-wise maps: one point per stage-wise orbit ------------
run "group layer from the original" 0 "$BIN" rescale --model "$M" --canonical --group layer "${D[@]}" \
    --check --json --out "$TMP/l1.safetensors"
has "group layer: converged" "$TMP/out" '"group": "layer", "iterations": '
has "group layer: converged" "$TMP/out" '"converged": true, "n_degenerate": 0'
has "group layer: passed" "$TMP/out" '"passed": true'
L1=$(jget "$TMP/out" norm_after)
awk -v a="$L1" -v b="$T0" -v c="$C1" 'BEGIN { exit !(a != "" && a <= b && a >= c) }' && ok \
    || bad "group layer: ||theta|| $L1 not between the class-wise minimum $C1 and $T0"
run "group layer from the stage-wise point" 0 "$BIN" rescale --model "$A" --canonical --group layer --json \
    --out "$TMP/l2.safetensors"
close "group layer: same norm from two stage-wise points" "$(jget "$TMP/out" norm_after)" "$L1" 1e-10
run "canonical with alpha" 2 "$BIN" rescale --model "$M" --canonical --alpha 2,0.5,4,0.25 --out "$TMP/x.safetensors"

# ---- refused as for MLPs: --canonical with --neurons --------------------------------
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
