#!/usr/bin/env bash
# cli_train.sh — `minima train`: a run on synthetic blobs, its evaluation, an
# interrupted run resumed to the same bytes, Ctrl-C, bad options, and a failed
# run that leaves the user's files alone. Usage: cli_train.sh MINIMA_BINARY
set -u
BIN=${1:?usage: cli_train.sh MINIMA_BINARY}
TMP=$(mktemp -d /tmp/minima-cli-train-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=$(command -v python3 || true)

. "$(dirname "$0")/checks.sh"

# same NAME A B: the two files are byte for byte equal.
same() {
    if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi
}
# pyjson NAME EXPR: a Python expression over out (the --json result) that must hold.
pyjson() {
    if [ -z "$PY" ]; then echo "skip: $1 (no python3)" >&2; return; fi
    if "$PY" - "$TMP/out" "$2" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("  out =", json.dumps(out)[:600], file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    then ok; else bad "$1: $2"; fi
}

DATA=(--data synthetic:blobs:600 --test synthetic:blobs:300 --arch 2-16-4)

# ---- --help -----------------------------------------------------------------
run "train --help" 0 "$BIN" train --help
for opt in --data --labels --subset --test --arch --no-bias --activation --loss --optimizer \
           --lr --momentum --weight-decay --batch --full-batch --epochs --grad-tol --seed \
           --checkpoint-every --out --resume --json "fashion-mnist:test"; do
    has "train --help" "$TMP/out" "$opt"
done

# ---- a run, its JSON, its metadata, and eval ----------------------------------
run "train blobs" 0 "$BIN" train "${DATA[@]}" --epochs 4 --batch 32 --out "$TMP/a.safetensors" --json
has "train blobs" "$TMP/err" "epoch 4/4"
has "train blobs" "$TMP/err" "test loss"
pyjson "train --json" 'len(out["epochs"]) == 4 and out["final"]["epoch"] == 4 and out["final"]["test_accuracy"] > 0.9 and out["out"].endswith("a.safetensors") and out["final"]["steps"] == 4 * 19'
[ -f "$TMP/a.safetensors.ckpt" ] && ok || bad "no checkpoint written beside the model"
if "$BIN" info --help >/dev/null 2>&1; then
    run "info trained" 0 "$BIN" info --model "$TMP/a.safetensors"
    cat "$TMP/out" "$TMP/err" >"$TMP/both"
    for key in "optimizer" "lr" "epochs" "seed" "synthetic:blobs:600" "relu"; do
        has "info trained" "$TMP/both" "$key"
    done
fi
if "$BIN" eval --help >/dev/null 2>&1; then
    run "eval trained" 0 "$BIN" eval --model "$TMP/a.safetensors" --data synthetic:blobs:300 --seed 1 --json
    pyjson "eval trained" 'out["accuracy"] > 0.9'
fi

# Same seed, same bytes; another seed, other bytes.
run "train again" 0 "$BIN" train "${DATA[@]}" --epochs 4 --batch 32 --out "$TMP/b.safetensors"
same "same seed" "$TMP/a.safetensors" "$TMP/b.safetensors"
run "train seed 1" 0 "$BIN" train "${DATA[@]}" --epochs 4 --batch 32 --seed 1 --out "$TMP/c.safetensors"
if cmp -s "$TMP/a.safetensors" "$TMP/c.safetensors"; then bad "seed 1 gave seed 0's model"; else ok; fi

# ---- interrupted and resumed: the same bytes -----------------------------------
for opt in sgd adam; do
    ref="$TMP/ref-$opt.safetensors" res="$TMP/res-$opt.safetensors"
    run "reference $opt" 0 "$BIN" train "${DATA[@]}" --optimizer $opt --epochs 3 --batch 32 --out "$ref"
    # 19 steps an epoch: stop in the middle of epoch 2, then at the end of epoch 3's first step.
    run "stopped $opt" 130 "$BIN" train "${DATA[@]}" --optimizer $opt --epochs 3 --batch 32 --out "$res" --stop-after-steps 25
    has "stopped $opt" "$TMP/err" "--resume"
    [ ! -e "$res" ] && ok || bad "an interrupted run wrote the model"
    run "resumed $opt" 130 "$BIN" train "${DATA[@]}" --optimizer $opt --epochs 3 --batch 32 --out "$res" --resume --stop-after-steps 14
    has "resumed $opt" "$TMP/err" "resuming from"
    run "resumed again $opt" 0 "$BIN" train "${DATA[@]}" --optimizer $opt --epochs 3 --batch 32 --out "$res" --resume
    same "resume $opt" "$ref" "$res"
done

# Full batch (the gradient of each epoch's evaluation is reused by the next
# step): interrupted after an epoch's step, resumed.
FB=(--full-batch --lr 0.1 --epochs 20 --grad-every 1)
run "full batch reference" 0 "$BIN" train "${DATA[@]}" "${FB[@]}" --out "$TMP/fb.safetensors"
has "full batch reference" "$TMP/err" "|grad|"
run "full batch stopped" 130 "$BIN" train "${DATA[@]}" "${FB[@]}" --out "$TMP/fb2.safetensors" --stop-after-steps 7
run "full batch resumed" 0 "$BIN" train "${DATA[@]}" "${FB[@]}" --out "$TMP/fb2.safetensors" --resume
same "full batch resume" "$TMP/fb.safetensors" "$TMP/fb2.safetensors"

# A finished run extends with a larger --epochs, to the bytes of a longer run.
run "extend" 0 "$BIN" train "${DATA[@]}" --epochs 5 --batch 32 --out "$TMP/a.safetensors" --resume
run "five epochs" 0 "$BIN" train "${DATA[@]}" --epochs 5 --batch 32 --out "$TMP/five.safetensors"
same "extend" "$TMP/a.safetensors" "$TMP/five.safetensors"
run "nothing to do" 0 "$BIN" train "${DATA[@]}" --epochs 5 --batch 32 --out "$TMP/a.safetensors" --resume
has "nothing to do" "$TMP/err" "finished"

# Resuming with other settings is refused, naming the setting.
run "resume other lr" 2 "$BIN" train "${DATA[@]}" --epochs 6 --batch 32 --lr 0.5 --out "$TMP/a.safetensors" --resume
has "resume other lr" "$TMP/err" "learning rate"
run "resume other data" 2 "$BIN" train "${DATA[@]}" --data-seed 5 --epochs 6 --batch 32 --out "$TMP/a.safetensors" --resume
has "resume other data" "$TMP/err" "training data checksum"

# ---- SIGINT for real: checkpoint, exit 130 --------------------------------------
"$BIN" train --data synthetic:blobs:200000 --arch 2-64-64-4 --epochs 50 --out "$TMP/sig.safetensors" \
    >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 1 100); do grep -q "training" "$TMP/err" 2>/dev/null && break; sleep 0.05; done
sleep 0.3
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 130 ] && ok || { bad "SIGINT: exit code $rc, expected 130"; sed 's/^/    /' "$TMP/err" >&2; }
has "SIGINT" "$TMP/err" "--resume"
[ -f "$TMP/sig.safetensors.ckpt" ] && ok || bad "SIGINT: no checkpoint"

# ---- grad-tol ----------------------------------------------------------------
run "grad-tol reached" 0 "$BIN" train --data synthetic:teacher:64:arch=4-1 --loss mse --arch 4-1 \
    --full-batch --lr 0.2 --epochs 3000 --grad-tol 1e-8 --log-every 1000 --out "$TMP/t.safetensors" --json
pyjson "grad-tol reached" 'out["final"]["converged"] and out["final"]["grad_norm"] <= 1e-8'
run "grad-tol missed" 1 "$BIN" train --data synthetic:teacher:64:arch=4-1 --loss mse --arch 4-1 \
    --full-batch --lr 0.2 --epochs 3 --grad-tol 1e-12 --out "$TMP/t2.safetensors"
[ -f "$TMP/t2.safetensors" ] && ok || bad "grad-tol missed: the model was not written"

# ---- bad usage: exit 2, and nothing of the user's is touched ---------------------
echo "precious" >"$TMP/keep.safetensors"
cp "$TMP/keep.safetensors" "$TMP/keep.orig"
run "no --data" 2 "$BIN" train --out "$TMP/keep.safetensors"
run "no --out" 2 "$BIN" train --data synthetic:blobs
run "unknown option" 2 "$BIN" train "${DATA[@]}" --out "$TMP/keep.safetensors" --frobnicate
run "bad lr" 2 "$BIN" train "${DATA[@]}" --out "$TMP/keep.safetensors" --lr -1
run "bad lr text" 2 "$BIN" train "${DATA[@]}" --out "$TMP/keep.safetensors" --lr fast
run "bad optimizer" 2 "$BIN" train "${DATA[@]}" --out "$TMP/keep.safetensors" --optimizer lbfgs
run "bad activation" 2 "$BIN" train "${DATA[@]}" --out "$TMP/keep.safetensors" --activation sigmoid
run "bad arch" 2 "$BIN" train "${DATA[@]}" --out "$TMP/keep.safetensors" --arch 2-x-4
run "arch vs data" 2 "$BIN" train --data synthetic:blobs --arch 3-8-4 --out "$TMP/keep.safetensors"
has "arch vs data" "$TMP/err" "features"
run "epochs 0" 2 "$BIN" train "${DATA[@]}" --out "$TMP/keep.safetensors" --epochs 0
run "batch and full batch" 2 "$BIN" train "${DATA[@]}" --out "$TMP/keep.safetensors" --batch 8 --full-batch
run "adam momentum" 2 "$BIN" train "${DATA[@]}" --out "$TMP/keep.safetensors" --optimizer adam --momentum 0.5
run "bad data" 2 "$BIN" train --data "$TMP/nope.csv" --arch 2-4 --out "$TMP/keep.safetensors"
run "resume without checkpoint" 2 "$BIN" train "${DATA[@]}" --out "$TMP/keep.safetensors" --resume
has "resume without checkpoint" "$TMP/err" "keep.safetensors.ckpt"
# Diverging: a computation failure (exit 1), the old model untouched.
run "diverges" 1 "$BIN" train --data synthetic:teacher:64:arch=4-1 --loss mse --arch 4-1 \
    --full-batch --lr 1e6 --momentum 0 --epochs 200 --out "$TMP/keep.safetensors"
has "diverges" "$TMP/err" "diverged"
same "failed runs leave --out alone" "$TMP/keep.safetensors" "$TMP/keep.orig"
# A corrupt checkpoint: exit 2, named.
printf 'MINIMACKgarbage' >"$TMP/a.safetensors.ckpt"
run "corrupt checkpoint" 2 "$BIN" train "${DATA[@]}" --epochs 6 --batch 32 --out "$TMP/a.safetensors" --resume
has "corrupt checkpoint" "$TMP/err" "a.safetensors.ckpt"
ls "$TMP" | grep -q '\.tmp' && bad "temporary files left behind: $(ls "$TMP")" || ok

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
