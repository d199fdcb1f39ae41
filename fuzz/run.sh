#!/usr/bin/env bash
# fuzz/run.sh — runs the libFuzzer harnesses built in build-fuzz/ (make fuzz).
#
#   fuzz/run.sh SECONDS [NAME...]        fuzz each harness (default: all) SECONDS
#   fuzz/run.sh --merge [NAME...]        minimize new inputs into fuzz/corpus/NAME/
#
# Fuzzing reads fuzz/corpus/NAME/ and writes what it finds new to
# build-fuzz/corpus-new/NAME/ (the committed corpus is never touched);
# crashes go to build-fuzz/crashes/NAME/. --merge adds to fuzz/corpus/NAME/
# only the new inputs that reach new coverage. One harness at a time; the
# executions of each are printed at the end, and the exit status is nonzero
# if any harness found a crash.
#
# A crash stops a harness, so a known open bug (fuzz/crashes/) would end
# its run at once: FUZZ_KEEP_GOING=1 runs libFuzzer in fork mode with
# -ignore_crashes=1, which saves every crash and carries on.
set -u
cd "$(dirname "$0")/.."
B=${FUZZ_BUILD:-build-fuzz}
merge=0
if [ "${1:-}" = "--merge" ]; then
    merge=1
    shift
else
    secs=${1:?usage: fuzz/run.sh SECONDS [NAME...] | --merge [NAME...]}
    shift
fi
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in fuzz/fuzz_*.c; do n=${f#fuzz/fuzz_}; names+=("${n%.c}"); done
fi
summary=()
rc=0
for n in "${names[@]}"; do
    bin=$B/fuzz_$n
    [ -x "$bin" ] || { echo "fuzz/run.sh: $bin is missing (run make fuzz)" >&2; exit 2; }
    new=$B/corpus-new/$n
    mkdir -p "$new" "$B/crashes/$n" "fuzz/corpus/$n"
    dict=()
    [ -f "fuzz/dict/$n.dict" ] && dict=(-dict="fuzz/dict/$n.dict")
    if [ $merge = 1 ]; then
        "$bin" -merge=1 "${dict[@]}" "fuzz/corpus/$n" "$new" 2>&1 | tail -2
        echo "fuzz/corpus/$n: $(ls "fuzz/corpus/$n" | wc -l) files"
        continue
    fi
    keep=()
    [ "${FUZZ_KEEP_GOING:-0}" = 1 ] && keep=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    before=$(ls "$B/crashes/$n" | wc -l)
    log=$B/fuzz_$n.log
    echo "== fuzz_$n for ${secs}s (log: $log)"
    "$bin" "${keep[@]}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        "${dict[@]}" -artifact_prefix="$B/crashes/$n/" "$new" "fuzz/corpus/$n" >"$log" 2>&1
    status=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    # fork mode prints no final stats; its last status line has the count
    [ -z "$execs" ] && execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    ncrash=$(ls "$B/crashes/$n" | wc -l)
    result="ok"
    if [ $status -ne 0 ] || [ "$ncrash" -gt "$before" ]; then
        result="FOUND A CRASH (exit $status; $((ncrash - before)) new in $B/crashes/$n): $(ls -t "$B/crashes/$n" | head -1)"
        grep -m1 -E "ERROR:|runtime error|fuzz check failed" "$log"
        rc=1
    fi
    line="fuzz_$n: ${execs:-?} executions in ${secs}s, $(ls "$new" | wc -l) new inputs, $result"
    echo "$line"
    summary+=("$line")
done
if [ $merge = 0 ]; then
    echo "== summary"
    printf '%s\n' "${summary[@]}"
fi
exit $rc
