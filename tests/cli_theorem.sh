#!/usr/bin/env bash
# cli_theorem.sh — `minima theorem`: every check passes on the built-in
# networks (--json parsed with python3), a user model with two hidden
# layers says why Thm 2 does not apply, bad usage exits 2.
# Usage: cli_theorem.sh MINIMA_BINARY
set -u
BIN=${1:?usage: cli_theorem.sh MINIMA_BINARY}
TMP=$(mktemp -d /tmp/minima-cli-theorem-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=/usr/bin/python3

. "$(dirname "$0")/checks.sh"

# pycheck NAME PYTHON-EXPRESSION over j = the JSON on $TMP/out
pycheck() {
    if "$PY" -c "import json,sys; j=json.load(open('$TMP/out')); sys.exit(0 if ($2) else 1)" 2>/dev/null; then ok; else
        bad "$1: ($2) is false for:"; head -c 3000 "$TMP/out" | sed 's/^/    /' >&2; echo >&2; fi
}

# 1. all checks on the built-in networks
run "all --json" 0 "$BIN" theorem all --json
pycheck "ten theorems" "len(j['theorems']) == 10"
pycheck "every passed" "all(t['passed'] is True for t in j['theorems'])"
pycheck "keys" "all(set(['name','passed','details']) <= set(t) for t in j['theorems'])"
pycheck "all_passed" "j['all_passed'] is True"
pycheck "numbers" "all(len(t['numbers']) > 0 for t in j['theorems'])"
grep -q "PASS" "$TMP/err" && ok || bad "table on stderr"

# 2. one check by name, --list
run "thm3" 0 "$BIN" theorem thm3 --json
pycheck "one theorem" "[t['name'] for t in j['theorems']] == ['thm3']"
run "--list" 0 "$BIN" theorem --list
grep -q "^appD" "$TMP/out" && ok || bad "--list names appD"

# 3. a user model with two hidden layers: thm2 does not apply, and says why
DATA=synthetic:teacher:200:arch=5-8-3
run "train" 0 "$BIN" train --data "$DATA" --arch 5-8-6-3 --loss mse --epochs 3 --full-batch --out "$TMP/m.safetensors"
run "user --json" 0 "$BIN" theorem all --model "$TMP/m.safetensors" --data "$DATA" --json
pycheck "thm2 n/a" "[t for t in j['theorems'] if t['name'] == 'thm2'][0]['applicable'] is False"
pycheck "thm2 reason" "'one hidden layer' in [t for t in j['theorems'] if t['name'] == 'thm2'][0]['reason']"
pycheck "thm1 passes" "[t for t in j['theorems'] if t['name'] == 'thm1'][0]['passed'] is True"
pycheck "thm4 needs a minimum" "'critical' in [t for t in j['theorems'] if t['name'] == 'thm4'][0]['reason']"
grep -q "not applicable" "$TMP/err" && ok || bad "table says not applicable"

# 4. help and bad usage
run "--help" 0 "$BIN" theorem --help
grep -q -- "--figures" "$TMP/out" && ok || bad "--help lists --figures"
run "unknown option" 2 "$BIN" theorem --nope
run "unknown theorem" 2 "$BIN" theorem thm9
run "model without data" 2 "$BIN" theorem --model "$TMP/m.safetensors"
run "missing model" 2 "$BIN" theorem --model "$TMP/none.safetensors" --data "$DATA"
# Lanczos inside a check ends at --max-products: the check fails (exit 1), saying so
run "thm4 --max-products 3" 1 "$BIN" theorem thm4 --max-products 3
grep -q "max_products = 3" "$TMP/out" "$TMP/err" && ok || bad "thm4 --max-products 3 does not name the limit"
run "--max-products 2" 2 "$BIN" theorem thm4 --max-products 2

echo "cli_theorem.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
