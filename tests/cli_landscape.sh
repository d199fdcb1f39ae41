#!/usr/bin/env bash
# cli_landscape.sh — `minima landscape` on the PyTorch fixture model: 1-D and
# 2-D slices, every direction, the before/after comparison, CSV and JSON
# outputs, and bad options (exit 2, nothing written).
# Usage: cli_landscape.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_landscape.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-landscape-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=$(command -v python3 || true)

. "$(dirname "$0")/checks.sh"

exists() {
    if [ -s "$2" ]; then ok; else bad "$1: $2 missing or empty"; fi
}
absent() {
    if [ ! -e "$2" ]; then ok; else bad "$1: $2 was written"; fi
}
# pycheck NAME EXPR: a Python expression over out (the --json result) that must be true.
pycheck() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "$TMP/out" "$2" <<'EOF'
import json, math, sys
out = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("  out =", json.dumps(out)[:600], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    then ok; else bad "$1: $2"; fi
}
# csvcheck NAME FILE EXPR: rows (list of dicts of strings) of a CSV file.
csvcheck() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "$2" "$3" <<'EOF'
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ok = eval(sys.argv[2])
if not ok:
    print("  rows[:3] =", rows[:3], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    then ok; else bad "$1: $3"; fi
}

M=$FIX/torch_mlp_f64.safetensors
D=(--data "$FIX/torch_mlp_x.npy" --labels "$FIX/torch_mlp_y.npy")

# ---- --help -------------------------------------------------------------------
run "--help" 0 "$BIN" landscape --help
for opt in --model --data --dir --2d --range --points --seed --bias --log --csv --compare-rescaled --plot --json; do
    has "--help" "$TMP/out" "$opt"
done

# ---- 1-D, the default direction (filter-normalized) --------------------------
run "1-D filter" 0 "$BIN" landscape --model "$M" "${D[@]}" --plot "$TMP/l1.png" --csv "$TMP/l1.csv"
exists "1-D filter png" "$TMP/l1.png"
exists "1-D filter csv" "$TMP/l1.csv"
has "1-D header" "$TMP/l1.csv" "t,loss,accuracy"
csvcheck "1-D 51 points on [-1, 1]" "$TMP/l1.csv" "len(rows) == 51 and float(rows[0]['t']) == -1 and float(rows[25]['t']) == 0 and float(rows[50]['t']) == 1"
run "1-D --json" 0 "$BIN" landscape --model "$M" "${D[@]}" --json --points 11 --range 0.5
pycheck "1-D json: t = 0 is the model's loss" "out['dims'] == 1 and len(out['grid']['t']) == 11 and out['grid']['loss'][5] == out['loss'] and out['grid']['t'][0] == -0.5"
pycheck "1-D json: eval's loss" "abs(out['loss'] - 1.325629156) < 1e-8 and out['n_examples'] == 20"
run "1-D same seed, same bytes" 0 "$BIN" landscape --model "$M" "${D[@]}" --csv "$TMP/l1b.csv"
if cmp -s "$TMP/l1.csv" "$TMP/l1b.csv"; then ok; else bad "same seed gave another CSV"; fi
run "1-D other seed" 0 "$BIN" landscape --model "$M" "${D[@]}" --csv "$TMP/l1c.csv" --seed 5
if cmp -s "$TMP/l1.csv" "$TMP/l1c.csv"; then bad "another seed gave the same CSV"; else ok; fi

# ---- other directions ------------------------------------------------------------
run "1-D random --log svg" 0 "$BIN" landscape --model "$M" "${D[@]}" --dir random --log --plot "$TMP/r.svg"
exists "random svg" "$TMP/r.svg"
run "1-D eigen" 0 "$BIN" landscape --model "$M" "${D[@]}" --dir eigen --points 5 --range 1e-5 --json
pycheck "eigen: lambda t^2/2" "abs((out['grid']['loss'][0] + out['grid']['loss'][4]) / 2 - out['loss'] - 0.5 * out['eigenvalues'][0] * 1e-10) < 1e-3 * 0.5 * out['eigenvalues'][0] * 1e-10"
run "interpolation to itself" 0 "$BIN" landscape --model "$M" "${D[@]}" --dir "$M" --json
pycheck "interpolation: 41 points on [-0.5, 1.5], flat" "len(out['grid']['t']) == 41 and max(out['grid']['loss']) == min(out['grid']['loss']) == out['loss'] == out['loss_b']"
run "interpolation f64 -> f32 plot" 0 "$BIN" landscape --model "$M" "${D[@]}" --dir "$FIX/torch_mlp_f32.safetensors" --plot "$TMP/i.png" --csv "$TMP/i.csv"
exists "interpolation png" "$TMP/i.png"
csvcheck "interpolation: t = 0 and 1 on the grid" "$TMP/i.csv" "float(rows[10]['t']) == 0 and float(rows[30]['t']) == 1"

# ---- 2-D -------------------------------------------------------------------------
run "2-D filter" 0 "$BIN" landscape --model "$M" "${D[@]}" --2d --points 9 --plot "$TMP/l2.png" --csv "$TMP/l2.csv" --log
exists "2-D png" "$TMP/l2.png"
has "2-D header" "$TMP/l2.csv" "s,t,loss,accuracy"
csvcheck "2-D 9 x 9" "$TMP/l2.csv" "len(rows) == 81 and rows[40]['s'] == rows[40]['t'] == '0'"
run "2-D eigen json" 0 "$BIN" landscape --model "$M" "${D[@]}" --2d --dir eigen --points 5 --json
pycheck "2-D eigen json" "out['dims'] == 2 and len(out['eigenvalues']) == 2 and len(out['grid']['loss']) == 25 and out['grid']['loss'][12] == out['loss']"

# ---- before and after a rescaling ------------------------------------------------
run "compare layer-wise" 0 "$BIN" landscape --model "$M" "${D[@]}" --compare-rescaled 10,0.1 --points 21 --plot "$TMP/c.png" --csv "$TMP/c.csv" --json
exists "compare png" "$TMP/c.png"
pycheck "layer-wise: filter slices the same, random ones not" "[c['direction'] for c in out['compare']] == ['random', 'filter'] and out['compare'][1]['max_rel_diff'] <= 1e-12 and out['compare'][0]['max_rel_diff'] > 1e-2"
csvcheck "compare csv: 4 series of 21" "$TMP/c.csv" "len(rows) == 84 and sorted(set(r['series'] for r in rows)) == ['filter_after', 'filter_before', 'random_after', 'random_before']"
run "compare per-neuron 2-D" 0 "$BIN" landscape --model "$M" "${D[@]}" --compare-rescaled neurons:3:1.0 --2d --points 7 --plot "$TMP/c2.png" --json
exists "compare 2-D png" "$TMP/c2.png"
pycheck "per-neuron: filter slices differ" "out['compare'][1]['max_rel_diff'] > 1e-3 and out['dims'] == 2"
run "compare per-neuron --canonical" 0 "$BIN" landscape --model "$M" "${D[@]}" --compare-rescaled neurons:3:1.0 --canonical --points 7 --json
pycheck "canonical: the same slices" "out['canonical'] and all(c['max_rel_diff'] <= 1e-9 for c in out['compare'])"
run "interpolation --canonical" 2 "$BIN" landscape --model "$M" "${D[@]}" --dir "$M" --canonical --json
run "compare with eigen" 0 "$BIN" landscape --model "$M" "${D[@]}" --compare-rescaled 2,0.5,1 --dir eigen --points 5 --json
pycheck "eigen changes under rescaling" "len(out['compare']) == 3 and out['compare'][2]['max_rel_diff'] > 1e-3 and abs(out['compare'][2]['eigenvalues_before'][0] - out['compare'][2]['eigenvalues_after'][0]) > 1e-3"

# ---- Ctrl-C: exit 130, the points done so far in the CSV ------------------------
"$BIN" landscape --model "$M" --data synthetic:blobs:200000:d=5:classes=3 --2d --points 201 \
    --csv "$TMP/int.csv" >"$TMP/out" 2>"$TMP/err" &
pid=$!
# Wait for the slice to start (the header line comes after loading), then a bit.
for _ in $(seq 1 200); do grep -q "landscape of" "$TMP/err" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
if [ "$rc" -eq 130 ]; then ok; else bad "SIGINT: exit code $rc, expected 130"; sed 's/^/    /' "$TMP/err" >&2; fi
has "SIGINT message" "$TMP/err" "interrupted"
csvcheck "SIGINT: partial CSV, the rest nan" "$TMP/int.partial.csv" "len(rows) == 201 * 201 and rows[-1]['loss'] == 'nan'"

# ---- bad options: exit 2, nothing written ----------------------------------------
run "no output" 2 "$BIN" landscape --model "$M" "${D[@]}"
run "bad --dir" 2 "$BIN" landscape --model "$M" "${D[@]}" --dir sideways --plot "$TMP/x.png"
run "bad --range 0" 2 "$BIN" landscape --model "$M" "${D[@]}" --range 0 --plot "$TMP/x.png"
run "bad --range 1:1" 2 "$BIN" landscape --model "$M" "${D[@]}" --range 1:1 --plot "$TMP/x.png"
run "bad --range nan" 2 "$BIN" landscape --model "$M" "${D[@]}" --range nan --plot "$TMP/x.png"
run "bad --range text" 2 "$BIN" landscape --model "$M" "${D[@]}" --range wide --plot "$TMP/x.png"
run "bad --points 1" 2 "$BIN" landscape --model "$M" "${D[@]}" --points 1 --plot "$TMP/x.png"
run "bad --bias" 2 "$BIN" landscape --model "$M" "${D[@]}" --bias some --plot "$TMP/x.png"
run "bad --compare-rescaled count" 2 "$BIN" landscape --model "$M" "${D[@]}" --compare-rescaled 2 --plot "$TMP/x.png"
run "bad --compare-rescaled product" 2 "$BIN" landscape --model "$M" "${D[@]}" --compare-rescaled 2,2,2 --plot "$TMP/x.png"
run "bad --compare-rescaled negative" 2 "$BIN" landscape --model "$M" "${D[@]}" --compare-rescaled -1,-1 --plot "$TMP/x.png"
run "bad --compare-rescaled neurons" 2 "$BIN" landscape --model "$M" "${D[@]}" --compare-rescaled neurons:x --plot "$TMP/x.png"
run "interpolation --2d" 2 "$BIN" landscape --model "$M" "${D[@]}" --dir "$M" --2d --plot "$TMP/x.png"
run "interpolation missing model" 2 "$BIN" landscape --model "$M" "${D[@]}" --dir "$TMP/none.safetensors" --plot "$TMP/x.png"
run "bad plot extension" 2 "$BIN" landscape --model "$M" "${D[@]}" --points 3 --plot "$TMP/x.gif"
run "unknown option" 2 "$BIN" landscape --model "$M" "${D[@]}" --plot "$TMP/x.png" --colour red
run "missing --model" 2 "$BIN" landscape "${D[@]}" --plot "$TMP/x.png"
absent "nothing written" "$TMP/x.png"
absent "nothing written" "$TMP/x.gif"
# A model of another shape for the interpolation (the fixture with a layer
# dropped, written by python if it can; else skipped).
if [ -n "$PY" ] && "$PY" - "$M" "$TMP/other.safetensors" <<'EOF' 2>/dev/null
import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
hdr = json.loads(raw[8:8 + n]); data = raw[8 + n:]
keep = {k: v for k, v in hdr.items() if k == '__metadata__' or not k.startswith('4.')}
out, blob, off = {}, b'', 0
for k, v in keep.items():
    if k == '__metadata__': out[k] = v; continue
    a, b = v['data_offsets']; out[k] = dict(v, data_offsets=[off, off + b - a]); blob += data[a:b]; off += b - a
h = json.dumps(out).encode(); h += b' ' * (-len(h) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(h)) + h + blob)
EOF
then
    run "interpolation to another shape" 2 "$BIN" landscape --model "$M" "${D[@]}" --dir "$TMP/other.safetensors" --plot "$TMP/x.png"
    has "shape message" "$TMP/err" "different"
    absent "nothing written" "$TMP/x.png"
fi

echo "cli_landscape: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
