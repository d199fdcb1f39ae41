#!/usr/bin/env bash
# cli_theorem_graph.sh — `minima theorem` on a user's graph model (a small
# residual CNN): thm1 and thm3 pass through the graph's rescaling group,
# `all` runs every check and lists the ones written for multilayer
# perceptrons as not applicable, with the reason; never a usage error.
# Usage: cli_theorem_graph.sh MINIMA_BINARY
set -u
BIN=${1:?usage: cli_theorem_graph.sh MINIMA_BINARY}
TMP=$(mktemp -d /tmp/minima-cli-theorem-graph-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=/usr/bin/python3

. "$(dirname "$0")/checks.sh"

# pycheck NAME PYTHON-EXPRESSION over j = the JSON on $TMP/out
pycheck() {
    if "$PY" -c "import json,sys; j=json.load(open('$TMP/out')); t={x['name']: x for x in j['theorems']}; sys.exit(0 if ($2) else 1)" 2>/dev/null; then ok; else
        bad "$1: ($2) is false for:"; head -c 3000 "$TMP/out" | sed 's/^/    /' >&2; echo >&2; fi
}

ARCH="1x28x28:conv3k3s2,relu,maxpool2,res(conv3k3p1,relu,conv3k3p1),relu,gap,10"
M=$TMP/cnn.safetensors
D=(--data fashion-mnist --subset 100)
run "train a CNN" 0 "$BIN" train "${D[@]}" --arch "$ARCH" --optimizer adam --epochs 1 --out "$M"

# 1. thm1 and thm3 on the graph: they pass, by the stage-wise maps and group points
run "thm1 --json" 0 "$BIN" theorem thm1 --model "$M" "${D[@]}" --json
pycheck "thm1 passed" "t['thm1']['applicable'] is True and t['thm1']['passed'] is True"
pycheck "thm1 on the group" "t['thm1']['numbers']['n_classes'] == 6 and t['thm1']['numbers']['n_stages'] == 2"
pycheck "thm1 exact" "t['thm1']['numbers']['max_rel_diff'] <= 1e-13"
pycheck "all_passed" "j['all_passed'] is True"
run "thm3 --json" 0 "$BIN" theorem thm3 --model "$M" "${D[@]}" --json
pycheck "thm3 passed" "t['thm3']['passed'] is True and t['thm3']['numbers']['rel_err_hessian'] <= 1e-12"

# 2. all: exit 0 or 1, never 2; the checks written for layers say why they do not apply
"$BIN" theorem all --model "$M" "${D[@]}" --json >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] && ok || { bad "theorem all on a graph: exit $rc"; cat "$TMP/err" >&2; }
pycheck "ten checks" "len(j['theorems']) == 10"
for c in thm2 thm5 sec4.3 sec5.2; do
    pycheck "$c not applicable" "t['$c']['applicable'] is False and 'written for multilayer perceptrons; this model is a graph' in t['$c']['reason']"
done
for c in thm4 sec5.1; do
    pycheck "$c needs a minimum" "t['$c']['applicable'] is False and 'critical' in t['$c']['reason']"
done
pycheck "thm1, thm3, appC pass in all" "t['thm1']['passed'] is True and t['thm3']['passed'] is True and t['appC']['passed'] is True"
grep -q "not applicable" "$TMP/err" && ok || bad "the table says not applicable"
grep -q "computation failed" "$TMP/out" "$TMP/err" && bad "a check failed to compute" || ok

echo "cli_theorem_graph.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
