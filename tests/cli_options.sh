#!/usr/bin/env bash
# cli_options.sh — every number given on the command line goes through one
# checked parser with a range: out of range, malformed, nan/inf, overflow,
# leading spaces or signs, empty lists and empty list entries are usage
# errors (exit 2) whose message names the option and what was found; every
# numeric option of every command shows its range in --help.
# Usage: cli_options.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_options.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-options-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1

. "$(dirname "$0")/checks.sh"
# usage NAME OPTION FOUND CMD...: exit 2, and the message names the option and the text found.
usage() {
    local name=$1 opt=$2 found=$3; shift 3
    run "$name" 2 "$@"
    has "$name: names the option" "$TMP/err" "option $opt"
    has "$name: quotes the value" "$TMP/err" "$found"
}

M=$FIX/torch_mlp_f64.safetensors
D=(--model "$M" --data "$FIX/torch_mlp_x.npy" --labels "$FIX/torch_mlp_y.npy")

# ---- integers: plain digits, in range, within the type ---------------------------
usage "--top leading space" --top "' 5'" "$BIN" spectrum "${D[@]}" --top " 5"
usage "--top plus sign" --top "'+5'" "$BIN" spectrum "${D[@]}" --top +5
usage "--top hex" --top "'0x5'" "$BIN" spectrum "${D[@]}" --top 0x5
usage "--top beyond int" --top "'4294967297'" "$BIN" spectrum "${D[@]}" --top 4294967297
usage "--top beyond 64 bits" --top "too large" "$BIN" spectrum "${D[@]}" --top 99999999999999999999999
usage "--top above its range" --top "[0, 10000]" "$BIN" spectrum "${D[@]}" --top 10001
usage "--bottom negative" --bottom "'-1'" "$BIN" spectrum "${D[@]}" --bottom -1
usage "--subset ' -5' (was 2^64 - 5)" --subset "' -5'" "$BIN" train --data synthetic:blobs:20 --arch 2-3-4 \
    --epochs 1 --out "$TMP/t.safetensors" --subset " -5"
[ -e "$TMP/t.safetensors" ] && bad "--subset ' -5': a model was written" || ok
usage "--batch empty" --batch "''" "$BIN" spectrum "${D[@]}" --batch ""
usage "--epochs 0" --epochs "[1, " "$BIN" train --data synthetic:blobs:20 --arch 2-3-4 --epochs 0 --out "$TMP/t.safetensors"
# seeds: every 64-bit value, nothing beyond
run "--seed 2^64 - 1" 0 "$BIN" spectrum "${D[@]}" --seed 18446744073709551615
usage "--seed 2^64" --seed "'18446744073709551616'" "$BIN" spectrum "${D[@]}" --seed 18446744073709551616
usage "--seed negative" --seed "'-1'" "$BIN" spectrum "${D[@]}" --seed -1

# ---- numbers: finite decimals in range ----------------------------------------------
usage "--tol nan" --tol "'nan'" "$BIN" spectrum "${D[@]}" --tol nan
usage "--tol inf" --tol "'inf'" "$BIN" spectrum "${D[@]}" --tol inf
usage "--tol 0" --tol "(0, 1)" "$BIN" spectrum "${D[@]}" --tol 0
usage "--tol 1e-400 underflows" --tol "beyond the range of a double" "$BIN" spectrum "${D[@]}" --tol 1e-400
usage "--tol leading space" --tol "' 0.1'" "$BIN" spectrum "${D[@]}" --tol " 0.1"
usage "--tol hex float" --tol "'0x1p-4'" "$BIN" spectrum "${D[@]}" --tol 0x1p-4
# audit --step 1e-300: decades / step overflowed a float-to-int conversion
usage "audit --step 1e-300" --step "[0.01, 30]" "$BIN" audit "${D[@]}" --step 1e-300
usage "audit --step 0" --step "'0'" "$BIN" audit "${D[@]}" --step 0
usage "audit --decades 31" --decades "'31'" "$BIN" audit "${D[@]}" --decades 31
usage "landscape --points 1e3 (not an integer)" --points "'1e3'" "$BIN" landscape "${D[@]}" --json --points 1e3
usage "landscape --clip 0" --clip "(0, 1]" "$BIN" landscape "${D[@]}" --json --clip 0
usage "train --momentum 1" --momentum "[0, 1)" "$BIN" train --data synthetic:blobs:20 --arch 2-3-4 --momentum 1 --out "$TMP/t.safetensors"

# ---- lists: no empty list, no empty entry, no nan/inf, entries in range -------------
usage "--levels nan" --levels "'nan'" "$BIN" spectrum "${D[@]}" --exact --top 0 --levels nan
usage "--levels empty" --levels "empty list" "$BIN" spectrum "${D[@]}" --exact --top 0 --levels ""
usage "--levels empty entry" --levels "entry 2 of '1,,2'" "$BIN" spectrum "${D[@]}" --exact --top 0 --levels 1,,2
usage "--levels trailing comma" --levels "an empty entry" "$BIN" spectrum "${D[@]}" --exact --top 0 --levels 1,
usage "--levels text" --levels "'ten'" "$BIN" spectrum "${D[@]}" --exact --top 0 --levels 1,ten
run "--levels 0.5,-1" 0 "$BIN" spectrum "${D[@]}" --exact --top 0 --levels 0.5,-1
has "--levels counts" "$TMP/err" "eigenvalues > -1:"
usage "rescale --alpha empty" --alpha "empty list" "$BIN" rescale --model "$M" --alpha "" --out "$TMP/r.safetensors"
usage "rescale --alpha negative" --alpha "'-2'" "$BIN" rescale --model "$M" --alpha 0.5,-2 --out "$TMP/r.safetensors"
usage "rescale --alpha inf" --alpha "'inf'" "$BIN" rescale --model "$M" --alpha 0.5,inf --out "$TMP/r.safetensors"
[ -e "$TMP/r.safetensors" ] && bad "rescale: a model was written" || ok
usage "landscape --compare-rescaled nan" --compare-rescaled "'nan'" "$BIN" landscape "${D[@]}" --json --compare-rescaled 2,nan
usage "reparam weightnorm --scales 0" --scales "'0'" "$BIN" reparam weightnorm "${D[@]}" --scales 1,0

# ---- --help shows every numeric option's range; no command lacks one ----------------
# cli_parse refuses to run (exit 1, "internal error") while any numeric option of
# the command's table has no range, so exit 0 here means every one has it.
for c in audit demo eval info landscape rescale sharpness spectrum theorem train "reparam radial" \
         "reparam weightnorm" "reparam input"; do
    # shellcheck disable=SC2086
    run "$c --help" 0 "$BIN" $c --help
done
run "spectrum --help" 0 "$BIN" spectrum --help
has "spectrum --help: --top's range" "$TMP/out" "(default: 1; range [0, 10000])"
has "spectrum --help: --tol's range" "$TMP/out" "(default: 1e-08; range (0, 1))"

echo "cli_options: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
