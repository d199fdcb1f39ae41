#!/usr/bin/env bash
# cli_audit.sh — `minima sharpness` and `minima audit` on the PyTorch fixture
# (5-8-6-3, 20 examples): JSON keys, settings overrides, canonical values,
# verdicts and exit codes, the plot, a tanh model's flagged orbit, bad options.
# Usage: cli_audit.sh MINIMA_BINARY (fixtures: $MINIMA_FIXTURES).
set -u
BIN=${1:?usage: cli_audit.sh MINIMA_BINARY}
FIX=${MINIMA_FIXTURES:-$(dirname "$0")/fixtures}
TMP=$(mktemp -d /tmp/minima-cli-audit-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)

. "$(dirname "$0")/checks.sh"

# pycheck NAME EXPR: a Python expression over out (the --json result) that must be true;
# m(name) is the measure of that name.
pycheck() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "$TMP/out" "$2" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
def m(name): return [x for x in out["measures"] if x["name"] == name][0]
ok = eval(sys.argv[2])
if not ok:
    print("  out =", json.dumps(out)[:600], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    then ok; else bad "$1: $2"; fi
}

F64="$FIX/torch_mlp_f64.safetensors"
D=(--data "$FIX/torch_mlp_x.npy" --labels "$FIX/torch_mlp_y.npy")

# ---- sharpness ----------------------------------------------------------
run "sharpness --help" 0 "$BIN" sharpness --help
has "sharpness --help" "$TMP/out" "--canonical"
run "sharpness --list" 0 "$BIN" sharpness --list
has "sharpness --list" "$TMP/out" "path_norm"
run "sharpness --list --json" 0 "$BIN" sharpness --list --json
pycheck "list keys" "all(set(x) >= {'name', 'title', 'source', 'invariance', 'settings'} for x in out['measures']) and m('path_norm')['invariance'] == 'yes' and m('hessian_trace')['invariance'] == 'no'"
pycheck "list settings tables" "all(len(x['setting_table']) == (0 if x['settings'] == '' else x['settings'].count(',') + 1) and all(set(s) >= {'name', 'kind', 'default', 'range', 'doc'} for s in x['setting_table']) for x in out['measures']) and [s['range'] for s in m('keskar_full')['setting_table'] if s['name'] == 'corrections'] == ['an integer in [1, 100]']"
# docs/measures/NAME.md lists every setting of the registry's table with the same default
# (a row "| `key` | default |", or "Settings: those of OTHER plus `key` (default V)")
if [ -n "$PY" ]; then
    if "$PY" - "$TMP/out" "$(dirname "$0")/../docs/measures" <<'EOF'
import json, os, re, sys
reg = {m["name"]: m for m in json.load(open(sys.argv[1]))["measures"]}
def rows(name):
    text = open(os.path.join(sys.argv[2], name + ".md")).read()
    r = {k: v.strip() for k, v in re.findall(r"^\|\s*`([a-z0-9_]+)`\s*\|([^|]*)\|", text, re.M)}
    for other, key, d in re.findall(r"Settings: those of ([a-z0-9_]+) plus `([a-z0-9_]+)` \(default ([^)]*)\)", text):
        r.update(rows(other))
        r[key] = d
    return r
bad = []
for name, m in reg.items():
    r = rows(name)
    for s in m["setting_table"]:
        d = r.get(s["name"])
        if d is None:
            bad.append("%s: %s not in its page" % (name, s["name"]))
        elif s["default"] != "auto":
            try:
                same = float(d) == float(s["default"])
            except ValueError:
                same = False
            if not same:
                bad.append("%s: %s default %s in the page, %s in the registry" % (name, s["name"], d, s["default"]))
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
    then ok; else bad "docs/measures tables differ from the registry's settings"; fi
fi
run "sharpness out-of-range setting" 2 "$BIN" sharpness --model "$F64" "${D[@]}" --measure keskar_full --set keskar_full:corrections=101
has "sharpness out-of-range setting" "$TMP/err" "'corrections' = 101 is out of range: expected an integer in [1, 100]"
run "sharpness two measures" 0 "$BIN" sharpness --model "$F64" "${D[@]}" --measure path_norm,hessian_trace --json
pycheck "sharpness keys" "[x['name'] for x in out['measures']] == ['path_norm', 'hessian_trace'] and all(set(x) >= {'name', 'value', 'params', 'seconds'} for x in out['measures'])"
pycheck "sharpness values" "m('path_norm')['value'] > 0 and m('hessian_trace')['params']['method'] == 'exact' and out['n_examples'] == 20"
run "sharpness --set" 0 "$BIN" sharpness --model "$F64" "${D[@]}" --measure path_norm,dinh_sharpness --set path_norm:p=1 --set dinh_sharpness:eps=1e-2,steps=5 --json
pycheck "--set applied" "m('path_norm')['params']['p'] == 1 and m('dinh_sharpness')['params']['eps'] == 0.01 and m('dinh_sharpness')['params']['steps'] == 5"
run "sharpness --canonical" 0 "$BIN" sharpness --model "$F64" "${D[@]}" --measure path_norm,hessian_trace --canonical --json
pycheck "canonical: invariant measure unchanged" "abs(m('path_norm')['canonical']['value'] - m('path_norm')['value']) <= 1e-12 * m('path_norm')['value']"
pycheck "canonical: trace changes, norm decreases" "m('hessian_trace')['canonical']['value'] != m('hessian_trace')['value'] and out['canonical']['norm_after'] <= out['canonical']['norm_before']"
run "sharpness text" 0 "$BIN" sharpness --model "$F64" "${D[@]}" --measure path_norm
has "sharpness text" "$TMP/err" "path_norm"
run "sharpness same seed same bytes" 0 "$BIN" sharpness --model "$F64" "${D[@]}" --measure average_sharpness --seed 3 --json
"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["measures"][0]["value"])' "$TMP/out" >"$TMP/v1" 2>/dev/null
run "sharpness same seed again" 0 "$BIN" sharpness --model "$F64" "${D[@]}" --measure average_sharpness --seed 3 --json
"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["measures"][0]["value"])' "$TMP/out" >"$TMP/v2" 2>/dev/null
if cmp -s "$TMP/v1" "$TMP/v2"; then ok; else bad "same seed gave different values"; fi

run "sharpness unknown measure" 2 "$BIN" sharpness --model "$F64" "${D[@]}" --measure nope
has "sharpness unknown measure" "$TMP/err" "nope"
run "sharpness --set unknown measure" 2 "$BIN" sharpness --model "$F64" "${D[@]}" --set nope:x=1
run "sharpness --set no colon" 2 "$BIN" sharpness --model "$F64" "${D[@]}" --set path_norm
run "sharpness --set unknown key" 2 "$BIN" sharpness --model "$F64" "${D[@]}" --measure path_norm --set path_norm:q=3
has "sharpness --set unknown key" "$TMP/err" "'q'"
run "sharpness no --model" 2 "$BIN" sharpness "${D[@]}"
run "sharpness no --data" 2 "$BIN" sharpness --model "$F64"
run "sharpness unknown option" 2 "$BIN" sharpness --model "$F64" "${D[@]}" --frobnicate
run "sharpness bad --seed" 2 "$BIN" sharpness --model "$F64" "${D[@]}" --seed -1

# ---- audit --------------------------------------------------------------
run "audit --help" 0 "$BIN" audit --help
has "audit --help" "$TMP/out" "--neuron-draws"
run "audit cheap measures" 0 "$BIN" audit --model "$F64" "${D[@]}" --measure path_norm,fisher_rao,hessian_trace,hessian_max --decades 2 --neuron-draws 2 --json --plot "$TMP/a.png"
pycheck "audit keys" "all(set(x) >= {'name', 'invariant_expected', 'min', 'max', 'ratio', 'verdict'} for x in out['measures'])"
pycheck "audit points" "len(out['points']) == 7 and all(p['equivalent'] and p['rel_diff'] < 1e-12 for p in out['points'])"
pycheck "audit invariant" "m('path_norm')['invariant_expected'] == 'yes' and m('path_norm')['rel_spread'] < 1e-9 and m('path_norm')['verdict'].startswith('invariant') and m('fisher_rao')['agrees']"
pycheck "audit moved" "m('hessian_trace')['ratio'] > 100 and m('hessian_trace')['verdict'].startswith('moved by') and m('hessian_trace')['canonical']['rel_spread'] < 1e-8"
pycheck "audit all agree" "out['all_agree'] and out['disagreements'] == []"
has "audit table" "$TMP/err" "verdict"
if [ -s "$TMP/a.png" ] && [ "$(head -c 4 "$TMP/a.png" | od -An -c | tr -d ' ')" = "211PNG" ]; then ok; else bad "audit --plot wrote no PNG"; fi
# a threshold no measure can pass: the verdict disagrees — a finding, reported and named, exit 0;
# --strict turns it into exit 1
run "audit disagreement exits 0" 0 "$BIN" audit --model "$F64" "${D[@]}" --measure hessian_trace --decades 1 --neuron-draws 0 --moved-tol 1e300 --json
has "audit disagreement named" "$TMP/err" "disagrees with the expected invariance (marked !; a finding"
pycheck "audit disagreement in JSON" "out['disagreements'] == ['hessian_trace'] and out['not_measured'] == [] and not out['all_agree'] and m('hessian_trace')['measured'] and not m('hessian_trace')['agrees']"
run "audit --strict disagreement exits 1" 1 "$BIN" audit --model "$F64" "${D[@]}" --measure hessian_trace --decades 1 --neuron-draws 0 --moved-tol 1e300 --strict
has "audit --strict says why" "$TMP/err" "--strict: exit 1"
run "audit --strict agreeing exits 0" 0 "$BIN" audit --model "$F64" "${D[@]}" --measure path_norm --decades 1 --neuron-draws 0 --strict
# local entropy with the Hessian (ggn=0; the audit uses ggn=1) is NaN here (lambda_min < -gamma): not measured, with the reason, not a disagreement
run "audit not measured" 0 "$BIN" audit --model "$F64" "${D[@]}" --measure path_norm,local_entropy --set local_entropy:ggn=0 --decades 1 --neuron-draws 0 --no-canonical --json
pycheck "audit not measured" "not m('local_entropy')['measured'] and m('local_entropy')['verdict'].startswith('not measured: no finite value at 3 of 3 points: undefined here') and out['not_measured'] == ['local_entropy'] and out['disagreements'] == [] and m('path_norm')['agrees']"
has "audit not measured named" "$TMP/err" "not measured (marked ?"
run "audit --strict not measured exits 1" 1 "$BIN" audit --model "$F64" "${D[@]}" --measure local_entropy --set local_entropy:ggn=0 --decades 1 --neuron-draws 0 --no-canonical --strict
# --set reaches the measure
run "audit --set" 0 "$BIN" audit --model "$F64" "${D[@]}" --measure path_norm --decades 1 --neuron-draws 0 --set path_norm:p=1 --json
pycheck "audit --set" "m('path_norm')['params']['p'] == 1 and m('path_norm')['settings'] == 'p=1'"
# a tanh network: the orbit points compute other functions and are flagged
if [ -n "$PY" ]; then
    "$PY" - "$F64" "$TMP/tanh.safetensors" <<'EOF'
import json, struct, sys
src = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", src[:8])[0]
h = json.loads(src[8:8 + n])
h.setdefault("__metadata__", {})["activation"] = "tanh"
text = json.dumps(h).encode()
text += b" " * (-len(text) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + src[8 + n:])
EOF
    run "audit tanh flagged" 0 "$BIN" audit --model "$TMP/tanh.safetensors" "${D[@]}" --measure path_norm --decades 1 --neuron-draws 1 --json
    pycheck "audit tanh points" "out['n_not_equivalent'] == 3 and not out['all_agree'] and [p['equivalent'] for p in out['points']] == [True, False, False, False]"
    has "audit tanh message" "$TMP/err" "did not compute the same function"
    run "audit tanh flagged --strict" 1 "$BIN" audit --model "$TMP/tanh.safetensors" "${D[@]}" --measure path_norm --decades 1 --neuron-draws 1 --strict
fi
run "audit bad --decades" 2 "$BIN" audit --model "$F64" "${D[@]}" --decades -1
run "audit bad --spread" 2 "$BIN" audit --model "$F64" "${D[@]}" --spread -1
run "audit bad --step" 2 "$BIN" audit --model "$F64" "${D[@]}" --step 0
run "audit bad --neuron-draws" 2 "$BIN" audit --model "$F64" "${D[@]}" --neuron-draws x
run "audit unknown measure" 2 "$BIN" audit --model "$F64" "${D[@]}" --measure nope
run "audit bad --set" 2 "$BIN" audit --model "$F64" "${D[@]}" --measure path_norm --set path_norm:q=1
run "audit no --data" 2 "$BIN" audit --model "$F64"
run "audit unknown option" 2 "$BIN" audit --model "$F64" "${D[@]}" --frobnicate
run "audit bad plot extension" 2 "$BIN" audit --model "$F64" "${D[@]}" --measure path_norm --decades 1 --neuron-draws 0 --plot "$TMP/a.xyz"
run "audit missing model" 2 "$BIN" audit --model "$TMP/missing.safetensors" "${D[@]}"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
