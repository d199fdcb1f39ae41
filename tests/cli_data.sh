#!/usr/bin/env bash
# cli_data.sh — labels and the data-size limit through the program: float
# labels holding integers are classes, integer regression targets train and
# evaluate with MSE, every label error names the labels file, the entry and
# its value, and --max-data-bytes bounds what is loaded.
# Usage: cli_data.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_data.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-data-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1

. "$(dirname "$0")/checks.sh"

# same NAME A B: the two --json results are equal but for their "seconds".
same() {
    if cmp -s <(sed 's/, "seconds": [^,}]*//' "$2") <(sed 's/, "seconds": [^,}]*//' "$3"); then
        ok; else bad "$1: $2 and $3 differ"; fi
}

M=$FIX/torch_mlp_f64.safetensors   # 5-8-6-3
X=$FIX/torch_mlp_x.npy             # (20, 5)
Y=$FIX/torch_mlp_y.npy             # int64 classes 0..2

# float32 labels holding 0.0, 1.0, 2.0 are the same classes as the int64 ones
run "int labels" 0 "$BIN" eval --model "$M" --data "$X" --labels "$Y" --json
cp "$TMP/out" "$TMP/int.json"
run "float32 labels" 0 "$BIN" eval --model "$M" --data "$X" --labels "$FIX/labels_f32.npy" --json
same "float32 labels give the int64 result" "$TMP/int.json" "$TMP/out"
has "float32 labels: cross-entropy" "$TMP/out" '"loss_kind": "ce"'
run "float32 labels, mse" 0 "$BIN" eval --model "$M" --data "$X" --labels "$FIX/labels_f32.npy" --loss mse --json
cp "$TMP/out" "$TMP/f32mse.json"
run "int labels, mse (one-hot)" 0 "$BIN" eval --model "$M" --data "$X" --labels "$Y" --loss mse --json
same "one-hot MSE alike" "$TMP/f32mse.json" "$TMP/out"

# a value that is no class: the labels file, the entry and the value
run "fraction" 2 "$BIN" eval --model "$M" --data "$X" --labels "$FIX/labels_frac.npy"
has "fraction" "$TMP/err" "labels file '$FIX/labels_frac.npy': entry 17 is 2.5: expected an integer class in 0..2 for cross-entropy (or use --loss mse for regression targets)"
run "beyond the outputs" 2 "$BIN" eval --model "$M" --data "$X" --labels "$FIX/labels_big.npy"
has "beyond the outputs" "$TMP/err" "labels file '$FIX/labels_big.npy': entry 4 is 7: expected an integer class in 0..2"
run "beyond the outputs, mse" 2 "$BIN" eval --model "$M" --data "$X" --labels "$FIX/labels_big.npy" --loss mse
has "beyond the outputs, mse" "$TMP/err" "entry 4 is 7: expected an integer class in 0..2 for one-hot MSE targets of a network with 3 outputs"

# integer regression targets: a network with one output trains on them
run "train on int targets" 0 "$BIN" train --data "$X" --labels "$FIX/targets_int.npy" \
    --arch 5-4-1 --loss mse --epochs 2 --batch 5 --lr 1e-5 --out "$TMP/reg.safetensors"
run "eval on int targets" 0 "$BIN" eval --model "$TMP/reg.safetensors" --data "$X" \
    --labels "$FIX/targets_int.npy" --loss mse --json
has "eval on int targets" "$TMP/out" '"loss_kind": "mse"'
has "eval on int targets: no classes" "$TMP/out" '"accuracy": null'
run "int targets, ce" 2 "$BIN" eval --model "$TMP/reg.safetensors" --data "$X" \
    --labels "$FIX/targets_int.npy" --loss ce
has "int targets, ce" "$TMP/err" "targets_int.npy': entry 0 is -500: expected an integer class in 0..0 for cross-entropy"

# CSV label columns follow the same rule and name the line
printf 'y,a,b,c,d,e\n1.0,0,0,0,0,0\n2.5,1,1,1,1,1\n' >"$TMP/d.csv"
run "csv fraction" 2 "$BIN" eval --model "$M" --data "$TMP/d.csv"
has "csv fraction" "$TMP/err" "CSV file '$TMP/d.csv': line 3, column 1 is 2.5: expected an integer class in 0..2 for cross-entropy"
printf 'y,a,b,c,d,e\n1.0,0,0,0,0,0\n2.0,1,1,1,1,1\n' >"$TMP/d.csv"
run "csv integral floats" 0 "$BIN" eval --model "$M" --data "$TMP/d.csv"

# the data-size limit: the features take 800 bytes, the labels 160
run "limit 1K" 0 "$BIN" eval --model "$M" --data "$X" --labels "$Y" --max-data-bytes 1K
run "limit 799" 2 "$BIN" eval --model "$M" --data "$X" --labels "$Y" --max-data-bytes 799
has "limit 799" "$TMP/err" "needs 800 bytes, more than the data-size limit of 799 bytes"
has "limit 799" "$TMP/err" "--max-data-bytes"
run "limit with subset" 0 "$BIN" eval --model "$M" --data "$X" --labels "$Y" --max-data-bytes 799 --subset 10
run "bad limit" 2 "$BIN" eval --model "$M" --data "$X" --labels "$Y" --max-data-bytes 4Q
has "bad limit" "$TMP/err" "option --max-data-bytes: expected a size such as 4G"
run "train limit" 2 "$BIN" train --data "$X" --labels "$Y" --arch 5-3 --epochs 1 \
    --max-data-bytes 500 --out "$TMP/t.safetensors"
has "train limit" "$TMP/err" "data-size limit of 500 bytes"
[ ! -e "$TMP/t.safetensors" ] && ok || bad "train limit: wrote a model"

echo "cli_data: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
