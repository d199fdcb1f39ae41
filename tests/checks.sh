# checks.sh — what the command-line tests (tests/cli_*.sh) share: the
# pass/fail counters and checks. Sourced after the script has set TMP (its
# scratch folder): `. "$(dirname "$0")/checks.sh"`. Each script ends with
#     echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]
# (the plain closing line ctest's logs are read for).

pass=0 fail=0
ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run NAME WANT COMMAND...: COMMAND's exit code is WANT; its stdout and
# stderr are kept in $TMP/out and $TMP/err (shown when the check fails).
run() {
    local name=$1 want=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else
        bad "$name: exit code $rc, expected $want"; sed 's/^/    /' "$TMP/err" >&2; fi
}

# has NAME FILE TEXT / hasnt NAME FILE TEXT: FILE holds (does not hold) TEXT.
has() {
    if grep -qF -- "$3" "$2"; then ok; else bad "$1: '$3' not in $2:"; sed 's/^/    /' "$2" >&2; fi
}
hasnt() {
    if grep -qF -- "$3" "$2"; then bad "$1: '$3' in $2:"; sed 's/^/    /' "$2" >&2; else ok; fi
}
