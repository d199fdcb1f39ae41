#!/usr/bin/env bash
# cli_graph.sh — a convolutional network through the program, end to end:
# trained from an architecture line, saved with its graph, read back by
# every command without --arch; curvature runs on it, the cache can be
# switched off with the same numbers, path_norm is measured on it, and what
# is defined for MLPs only refuses it (exit 2) with the reason.
# Usage: cli_graph.sh MINIMA_BINARY.
set -u
BIN=${1:?usage: cli_graph.sh MINIMA_BINARY}
TMP=$(mktemp -d /tmp/minima-cli-graph-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
. "$(dirname "$0")/checks.sh"

ARCH="1x28x28:conv4k3p1,relu,maxpool2,conv6k3s2,relu,res(conv6k3p1,relu,conv6k3p1),relu,gap,10"
M=$TMP/cnn.safetensors
D=(--data fashion-mnist --subset 200)

run "train a CNN" 0 "$BIN" train "${D[@]}" --arch "$ARCH" --optimizer adam --epochs 1 --out "$M"
has "train: the architecture is announced" "$TMP/err" "training $ARCH"

run "info, no --arch" 0 "$BIN" info --model "$M" --json
has "info: the graph is recorded" "$TMP/out" "\"arch\": \"$ARCH\""
has "info: nodes" "$TMP/out" "\"kind\": \"conv2d\""
run "info text" 0 "$BIN" info --model "$M"
has "info text: one line per node" "$TMP/err" "global_avgpool"

run "eval" 0 "$BIN" eval --model "$M" "${D[@]}" --json
has "eval: a loss" "$TMP/out" "\"loss\""

run "spectrum" 0 "$BIN" spectrum --model "$M" "${D[@]}" --top 2 --json
grep -o '"top": \[[^]]*\]' "$TMP/out" > "$TMP/cached"
run "spectrum --cache-limit 0" 0 "$BIN" spectrum --model "$M" "${D[@]}" --top 2 --json --cache-limit 0
grep -o '"top": \[[^]]*\]' "$TMP/out" > "$TMP/recomputed"
if [ -s "$TMP/cached" ] && cmp -s "$TMP/cached" "$TMP/recomputed"; then ok
else bad "spectrum: the cache changes the eigenpairs"; cat "$TMP/cached" "$TMP/recomputed" >&2; fi

run "sharpness, measures written for dense layers" 0 "$BIN" sharpness --model "$M" "${D[@]}" \
    --measure hessian_max,normalized_sharpness,path_norm --json
has "sharpness: hessian_max computed" "$TMP/out" "\"hessian_max\""
python3 -c "import json, sys; o = json.load(open(sys.argv[1])); v = [m for m in o['measures'] if m['name'] == 'normalized_sharpness'][0]['value']; sys.exit(0 if v and v > 0 else 1)" "$TMP/out" \
    && ok || bad "sharpness: normalized_sharpness has no value on the graph"
python3 -c "import json, sys; o = json.load(open(sys.argv[1])); v = [m for m in o['measures'] if m['name'] == 'path_norm'][0]['value']; sys.exit(0 if v and v > 0 else 1)" "$TMP/out" \
    && ok || bad "sharpness: path_norm has no value on the graph"

# a graph is rescaled by its channel classes and stages
# (tests/cli_graph_rescale.sh); --alpha takes one factor per stage and one
# for the output, and a wrong count names the stages
run "rescale --alpha: a wrong count on a graph" 2 "$BIN" rescale --model "$M" --alpha 2,0.5,3,4,5,6 --out "$TMP/r.safetensors"
has "rescale: the reason" "$TMP/err" "stages of hidden channels, so expected"
[ ! -e "$TMP/r.safetensors" ] && ok || bad "rescale: wrote a file it refused"

run "a bad architecture" 2 "$BIN" train "${D[@]}" --arch "1x28x28:conv4k3,relu,res(conv5k3p1),10" --out "$TMP/x.safetensors"
has "bad architecture: the node named" "$TMP/err" "add"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
