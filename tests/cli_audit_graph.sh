#!/usr/bin/env bash
# cli_audit_graph.sh — `minima audit` and `minima sharpness --canonical` on
# a graph model (a CNN with a residual block): the audit runs on the
# graph's group (stage-wise maps, per-channel draws; exit 0), every orbit
# point computes the same function, the Hessian's spectral norm moves by
# orders of magnitude while the magnitude-aware PAC-Bayes flatness with
# mag_eps=0 does not, and the canonical value is the same for the model and
# a rescaled copy. Usage: cli_audit_graph.sh MINIMA_BINARY.
set -u
BIN=${1:?usage: cli_audit_graph.sh MINIMA_BINARY}
TMP=$(mktemp -d /tmp/minima-cli-audit-graph-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
. "$(dirname "$0")/checks.sh"

# pycheck NAME EXPR: a Python expression over out (the JSON in FILE $3, default
# $TMP/out) that must be true; m(name) is the measure of that name.
pycheck() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "${3:-$TMP/out}" "$2" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
def m(name): return [x for x in out["measures"] if x["name"] == name][0]
ok = eval(sys.argv[2])
if not ok:
    print("  out =", json.dumps(out)[:1500], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    then ok; else bad "$1: $2"; fi
}

ARCH="1x28x28:conv4k3s2p1,relu,res(conv4k3p1,relu,conv4k3p1),relu,maxpool2,flatten,10"
M=$TMP/cnn.safetensors
D=(--data fashion-mnist --subset 100)
run "train a CNN" 0 "$BIN" train "${D[@]}" --arch "$ARCH" --epochs 1 --out "$M"

# ---- audit ---------------------------------------------------------------------
run "audit on a graph" 0 "$BIN" audit --model "$M" "${D[@]}" --measure hessian_max,pac_bayes_mag \
    --set pac_bayes_mag:mag_eps=0,depth=10,draws=2 --decades 2 --neuron-draws 2 --json --plot "$TMP/audit.svg"
# the figure's legend names the graph's maps (the SVG writes text as character references)
enc() { printf '%s' "$1" | od -An -tx1 -v | tr -s ' \n' ' ' | sed 's/^ //; s/ $//; s/\([0-9a-f][0-9a-f]\)/\&#x\1;/g; s/ //g; s/&#x0\([0-9a-f]\);/\&#x\1;/g'; }
has "audit --plot: stage-wise legend" "$TMP/audit.svg" "$(enc stage-wise)"
has "audit --plot: per-channel legend" "$TMP/audit.svg" "$(enc per-channel)"
has "audit: the table names the group" "$TMP/err" "stage-wise maps over"
has "audit: per-channel points" "$TMP/err" "channels seed 1 spread 1"
# conv4 (stream, tied through the add to the block's second conv) and the
# block's first conv: 4 + 4 = 8 classes in 2 stages
pycheck "audit: the graph's group" "out['orbit']['group'] == 'graph' and out['orbit']['n_stages'] == 2 and out['orbit']['n_classes'] == 8"
pycheck "audit: 7 points, all equivalent" "len(out['points']) == 7 and out['n_not_equivalent'] == 0 and all(p['equivalent'] and p['rel_diff'] <= 1e-12 for p in out['points'])"
pycheck "audit: point kinds" "sorted(p['kind'] for p in out['points']) == ['layer'] * 5 + ['neuron'] * 2 and sorted(p['log10_alpha'] for p in out['points'] if p['kind'] == 'layer') == [-2, -1, 0, 1, 2]"
pycheck "audit: canonical points are one point" "all(p['canonical_distance'] <= 1e-9 for p in out['points'])"
pycheck "audit: hessian_max moves" "m('hessian_max')['ratio'] > 100 and m('hessian_max')['agrees'] and m('hessian_max')['verdict'].startswith('moved by')"
pycheck "audit: hessian_max canonical values agree" "m('hessian_max')['canonical']['rel_spread'] <= 1e-6 and m('hessian_max')['canonical']['n'] == 7"
pycheck "audit: pac_bayes_mag (mag_eps=0) invariant" "m('pac_bayes_mag')['invariant_expected'] == 'yes' and m('pac_bayes_mag')['rel_spread'] <= 1e-9 and m('pac_bayes_mag')['agrees']"
pycheck "audit: all agree" "out['all_agree'] and out['disagreements'] == [] and out['not_measured'] == []"

# ---- sharpness --canonical -------------------------------------------------------
run "rescale the CNN" 0 "$BIN" rescale --model "$M" --neurons 3:1 --out "$TMP/moved.safetensors"
for k in 0 1; do
    model=$M
    [ "$k" -eq 1 ] && model=$TMP/moved.safetensors
    run "sharpness --canonical on a graph ($k)" 0 "$BIN" sharpness --model "$model" "${D[@]}" \
        --measure hessian_max --set hessian_max:tol=1e-10 --canonical --json
    cp "$TMP/out" "$TMP/sharp$k.json"
    pycheck "sharpness --canonical: converged ($k)" "out['canonical']['converged'] and out['canonical']['norm_after'] < out['canonical']['norm_before'] and out['canonical']['iterations'] > 0 and out['canonical']['n_degenerate'] == 0" "$TMP/sharp$k.json"
done
run "sharpness --canonical text" 0 "$BIN" sharpness --model "$M" "${D[@]}" --measure hessian_max --canonical
has "sharpness --canonical text: the norms" "$TMP/err" "canonical representative: ||theta||"
if [ -n "$PY" ]; then
    if "$PY" - "$TMP/sharp0.json" "$TMP/sharp1.json" <<'EOF'
import json, sys
a, b = (json.load(open(f))["measures"][0] for f in sys.argv[1:3])
rel = lambda x, y: abs(x - y) / max(abs(x), abs(y))
ok = rel(a["value"], b["value"]) > 1e-3 and rel(a["canonical"]["value"], b["canonical"]["value"]) <= 1e-9
if not ok: print("  values", a["value"], b["value"], "canonical", a["canonical"]["value"], b["canonical"]["value"], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    then ok; else bad "sharpness --canonical: the rescaled model's canonical value differs"; fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
