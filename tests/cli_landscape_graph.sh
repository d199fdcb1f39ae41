#!/usr/bin/env bash
# cli_landscape_graph.sh — `minima landscape --compare-rescaled` and
# `--canonical` on graph models (a CNN, a residual net): the stage-wise map
# (one factor per stage and one for the output) leaves the filter-normalized
# slice as it was and moves the random one, a per-class point moves both,
# the canonical points of the two models give the same slices, the CSV holds
# both curves, and a wrong factor count is refused naming the stages.
# Usage: cli_landscape_graph.sh MINIMA_BINARY.
set -u
BIN=${1:?usage: cli_landscape_graph.sh MINIMA_BINARY}
TMP=$(mktemp -d /tmp/minima-cli-landscape-graph-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=$(command -v python3 || true)
. "$(dirname "$0")/checks.sh"

# pycheck NAME EXPR: a Python expression over out (the --json result).
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
def curve(name):
    return [float(r['loss']) for r in rows if r['series'] == name]
ok = eval(sys.argv[2])
if not ok:
    print("  rows[:3] =", rows[:3], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    then ok; else bad "$1: $3"; fi
}

D=(--data fashion-mnist --subset 100)
ARCH="1x28x28:conv4k3p1,relu,maxpool2,conv6k3,relu,maxpool2,flatten,12,relu,10"
M=$TMP/cnn.safetensors
run "train a CNN" 0 "$BIN" train "${D[@]}" --arch "$ARCH" --epochs 1 --out "$M"
L=(landscape --model "$M" "${D[@]}" --points 11)

# ---- stage-wise: conv4, conv6 and the hidden linear layer are 3 stages --------
run "stage-wise" 0 "$BIN" "${L[@]}" --compare-rescaled 10,0.2,2,0.25 --csv "$TMP/s.csv" --json
pycheck "stage-wise: the factors" "out['rescaling'] == 'stage-wise α = (10, 0.2, 2, 0.25)'"
pycheck "stage-wise: filter slice unchanged, random one moved" \
    "[c['direction'] for c in out['compare']] == ['random', 'filter'] and out['compare'][1]['max_rel_diff'] <= 1e-12 and out['compare'][0]['max_rel_diff'] > 1e-2"
pycheck "stage-wise: both curves" "all(len(c['before']['loss']) == 11 and len(c['after']['loss']) == 11 for c in out['compare'])"
pycheck "stage-wise: same loss at theta" "abs(out['compare'][1]['after']['loss_at_theta'] - out['loss']) <= 1e-12 * out['loss']"
csvcheck "stage-wise csv: 4 series of 11" "$TMP/s.csv" \
    "len(rows) == 44 and sorted(set(r['series'] for r in rows)) == ['filter_after', 'filter_before', 'random_after', 'random_before']"
csvcheck "stage-wise csv: filter curves the same" "$TMP/s.csv" \
    "max(abs(a - b) for a, b in zip(curve('filter_before'), curve('filter_after'))) <= 1e-12 * max(curve('filter_before'))"
run "stage-wise, last derived" 0 "$BIN" "${L[@]}" --compare-rescaled 10,0.2,2 --json
pycheck "derived: the last factor" "out['rescaling'] == 'stage-wise α = (10, 0.2, 2, 0.25)'"
run "stage-wise 2-D" 0 "$BIN" "${L[@]}" --compare-rescaled 10,0.2,2 --2d --points 4 --plot "$TMP/s2.png" --json
pycheck "stage-wise 2-D: filter unchanged" "out['dims'] == 2 and out['compare'][1]['max_rel_diff'] <= 1e-12"
[ -s "$TMP/s2.png" ] && ok || bad "stage-wise 2-D: no figure"

# ---- per class: input channels scaled differently ------------------------------
run "per-class" 0 "$BIN" "${L[@]}" --compare-rescaled neurons:3:1.0 --json
pycheck "per-class: the filter slice moves" "out['rescaling'] == 'per-channel rescaling, spread 1' and out['compare'][1]['max_rel_diff'] > 1e-4"

# ---- canonical: one picture per orbit -----------------------------------------
run "canonical per-class" 0 "$BIN" "${L[@]}" --compare-rescaled neurons:3:1.0 --canonical --csv "$TMP/c.csv" --json
pycheck "canonical: the same slices" "out['canonical'] and all(c['max_rel_diff'] <= 1e-9 for c in out['compare'])"
csvcheck "canonical csv: before and after curves equal" "$TMP/c.csv" \
    "all(max(abs(a - b) for a, b in zip(curve(k + '_before'), curve(k + '_after'))) <= 1e-9 * max(curve(k + '_before')) for k in ('random', 'filter'))"
run "canonical alone" 0 "$BIN" "${L[@]}" --canonical --dir random --json
pycheck "canonical alone: a grid" "out['canonical'] and len(out['grid']['loss']) == 11"

# ---- a residual net: the stream is one stage -----------------------------------
RA="1x28x28:conv4k3p1,relu,maxpool2,res(conv4k3p1,relu,conv4k3p1),relu,gap,10"
MR=$TMP/res.safetensors
run "train a residual net" 0 "$BIN" train "${D[@]}" --arch "$RA" --epochs 1 --out "$MR"
run "residual: stage-wise" 0 "$BIN" landscape --model "$MR" "${D[@]}" --points 7 --compare-rescaled 4,0.5,0.5 --json
pycheck "residual: filter unchanged" "out['compare'][1]['max_rel_diff'] <= 1e-12 and out['compare'][0]['max_rel_diff'] > 1e-3"

# ---- refused -------------------------------------------------------------------
run "wrong count" 2 "$BIN" "${L[@]}" --compare-rescaled 2,0.5 --csv "$TMP/x.csv"
has "wrong count: the stages" "$TMP/err" "the graph has 3 stages: expected 4 factors (product 1) or 3 (the last derived)"
[ ! -e "$TMP/x.csv" ] && ok || bad "a refused comparison wrote its CSV"
run "product 2" 2 "$BIN" "${L[@]}" --compare-rescaled 2,0.5,2,1 --csv "$TMP/x.csv"
has "product 2: the message" "$TMP/err" "the product of the 4 factors is 2"
run "bad neurons" 2 "$BIN" "${L[@]}" --compare-rescaled neurons:x --csv "$TMP/x.csv"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
