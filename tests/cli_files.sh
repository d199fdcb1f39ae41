#!/usr/bin/env bash
# cli_files.sh — no user file is lost or clobbered: an output that names an
# input is refused; output paths are checked before any work, and results
# computed are printed even when a figure cannot be written; a failed write
# to standard output is an error; an interrupted landscape keeps the old
# CSV; a second Ctrl-C leaves no temporary file; a finished training run says
# why its checkpoint stays. Usage: cli_files.sh MINIMA_BINARY
set -u
BIN=${1:?usage: cli_files.sh MINIMA_BINARY}
TMP=$(mktemp -d /tmp/minima-cli-files-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1
PY=$(command -v python3 || true)

. "$(dirname "$0")/checks.sh"

# same NAME A B: the two files are byte for byte equal.
same() {
    if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi
}
# notmp NAME: no temporary file is left in $TMP.
notmp() {
    local left
    left=$(ls -a "$TMP" | grep -E '\.tmp' || true)
    if [ -z "$left" ]; then ok; else bad "$1: temporary files left behind: $left"; fi
}

# ---- fixtures: a small model, CSV data (label first) ------------------------------
run "setup model" 0 "$BIN" train --data synthetic:blobs:200 --arch 2-8-4 --epochs 1 --out "$TMP/m.safetensors"
run "setup model 2" 0 "$BIN" train --data synthetic:blobs:200 --arch 2-8-4 --epochs 1 --seed 1 --out "$TMP/m2.safetensors"
{
    echo "label,x1,x2"
    for i in $(seq 0 39); do echo "$((i % 4)),0.$((i % 7)),-0.$((i % 5))"; done
} >"$TMP/d.csv"
cp "$TMP/d.csv" "$TMP/t.csv"
for f in m m2; do cp "$TMP/$f.safetensors" "$TMP/$f.orig"; done
cp "$TMP/d.csv" "$TMP/d.orig"
cp "$TMP/t.csv" "$TMP/t.orig"
D=(--data "$TMP/d.csv")

# ---- an output that is an input: refused, exit 2, both options named -------------------
run "train --out = --data" 2 "$BIN" train "${D[@]}" --arch 2-4 --epochs 1 --out "$TMP/d.csv"
has "train --out = --data" "$TMP/err" "--out"
has "train --out = --data" "$TMP/err" "--data"
# The same file under another name (compared by device and inode).
run "train --out = --test, other spelling" 2 "$BIN" train "${D[@]}" --test "$TMP/t.csv" --arch 2-4 \
    --epochs 1 --out "$TMP/./t.csv"
has "train --out = --test" "$TMP/err" "--test"
run "landscape --csv = --data" 2 "$BIN" landscape --model "$TMP/m.safetensors" "${D[@]}" --points 3 --csv "$TMP/d.csv"
has "landscape --csv = --data" "$TMP/err" "--csv"
has "landscape --csv = --data" "$TMP/err" "--data"
run "landscape --csv = second model" 2 "$BIN" landscape --model "$TMP/m.safetensors" "${D[@]}" \
    --dir "$TMP/m2.safetensors" --points 3 --csv "$TMP/m2.safetensors"
has "landscape --csv = --dir" "$TMP/err" "--dir"
run "reparam input --out-data = --data" 2 "$BIN" reparam input --model "$TMP/m.safetensors" "${D[@]}" \
    --out "$TMP/folded.safetensors" --out-data "$TMP/d.csv"
has "reparam input --out-data = --data" "$TMP/err" "--out-data"
run "reparam input --out = --model" 2 "$BIN" reparam input --model "$TMP/m.safetensors" "${D[@]}" \
    --out "$TMP/m.safetensors"
run "rescale in place" 2 "$BIN" rescale --model "$TMP/m.safetensors" --alpha 2,0.5 --out "$TMP/m.safetensors"
has "rescale in place" "$TMP/err" "in place"
cp "$TMP/m.safetensors" "$TMP/mp.png"
cp "$TMP/mp.png" "$TMP/mp.orig"
run "spectrum --plot = --model" 2 "$BIN" spectrum --model "$TMP/mp.png" --data synthetic:blobs:100 --plot "$TMP/mp.png"
has "spectrum --plot = --model" "$TMP/err" "--model"
same "spectrum left its model alone" "$TMP/mp.png" "$TMP/mp.orig"
for f in m m2; do same "$f.safetensors untouched" "$TMP/$f.safetensors" "$TMP/$f.orig"; done
same "d.csv untouched" "$TMP/d.csv" "$TMP/d.orig"
same "t.csv untouched" "$TMP/t.csv" "$TMP/t.orig"
[ ! -e "$TMP/folded.safetensors" ] && ok || bad "a refused reparam wrote its model"

# ---- output paths checked before any work ----------------------------------------
mkdir "$TMP/adir.png"
for p in "$TMP/x.jpg" "$TMP/nodir/x.png" "$TMP/adir.png"; do
    run "spectrum --plot $p" 2 "$BIN" spectrum --model "$TMP/m.safetensors" --data synthetic:blobs:100 --plot "$p"
    has "spectrum --plot $p" "$TMP/err" "nothing was computed"
    hasnt "spectrum --plot $p: checked first" "$TMP/err" "Hessian of"
done
# A FIFO (or a device) is not replaced by a regular file.
mkfifo "$TMP/fifo.csv"
run "landscape --csv a FIFO" 2 "$BIN" landscape --model "$TMP/m.safetensors" "${D[@]}" --points 3 --csv "$TMP/fifo.csv"
has "landscape --csv a FIFO" "$TMP/err" "regular file"
[ -p "$TMP/fifo.csv" ] && ok || bad "landscape --csv replaced the FIFO"
rm -f "$TMP/fifo.csv"
run "landscape --plot missing dir" 2 "$BIN" landscape --model "$TMP/m.safetensors" "${D[@]}" --points 3 \
    --csv "$TMP/ok.csv" --plot "$TMP/nodir/l.png"
hasnt "landscape checked first" "$TMP/err" "landscape of"
[ ! -e "$TMP/ok.csv" ] && ok || bad "landscape wrote --csv before failing on --plot"
run "audit --plot missing dir" 2 "$BIN" audit --model "$TMP/m.safetensors" "${D[@]}" --plot "$TMP/nodir/a.png"
hasnt "audit checked first" "$TMP/err" "audit of"
run "theorem --figures missing" 2 "$BIN" theorem --figures "$TMP/nodir"
has "theorem --figures missing" "$TMP/err" "nothing was computed"
hasnt "theorem checked first" "$TMP/err" "built-in networks"
touch "$TMP/afile"
run "demo --out a file" 2 "$BIN" demo --out "$TMP/afile" --data synthetic:blobs --quick
has "demo --out a file" "$TMP/err" "not a directory"
hasnt "demo checked first" "$TMP/err" "train"
run "train --out missing dir" 2 "$BIN" train "${D[@]}" --arch 2-4 --epochs 1 --out "$TMP/nodir/m.safetensors"
hasnt "train checked first" "$TMP/err" "training"

# A figure that fails after the work (its temporary name is too long for the
# file system): the JSON is printed all the same, and the exit code is 1.
long=$(printf 'p%.0s' $(seq 1 246)).png
run "spectrum: plot fails late" 1 "$BIN" spectrum --model "$TMP/m.safetensors" --data synthetic:blobs:100 \
    --json --plot "$TMP/$long"
if [ -n "$PY" ]; then
    if "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if "top" in json.dumps(d) else 1)' "$TMP/out"
    then ok; else bad "spectrum: plot fails late: no JSON on stdout"; sed 's/^/    /' "$TMP/out" >&2; fi
else
    has "spectrum: plot fails late" "$TMP/out" "n_hvp"
fi

run "audit: plot fails late" 1 "$BIN" audit --model "$TMP/m.safetensors" "${D[@]}" --measure path_norm \
    --json --plot "$TMP/$long"
has "audit: plot fails late: the JSON" "$TMP/out" '"n_params"'
# The same for theorem --figures: a figure whose name is taken by a directory.
mkdir -p "$TMP/figs/fig1_flatness.png"
run "theorem: figure fails late" 1 "$BIN" theorem thm2 --figures "$TMP/figs" --json
has "theorem: figure fails late: the checks' JSON" "$TMP/out" '"theorems"'
has "theorem: figure fails late: named" "$TMP/err" "fig1_flatness.png"
rm -rf "$TMP/figs"

# ---- standard output that cannot be written -----------------------------------------
if [ -w /dev/full ]; then
    "$BIN" spectrum --model "$TMP/m.safetensors" --data synthetic:blobs:100 --json >/dev/full 2>"$TMP/err"
    rc=$?
    [ $rc -eq 1 ] && ok || bad "--json to /dev/full: exit code $rc, expected 1"
    has "--json to /dev/full" "$TMP/err" "minima spectrum: writing the result to standard output failed: No space left on device"
    # More than a buffer's worth: the failure comes from an earlier write.
    run "setup wide model" 0 "$BIN" train --data synthetic:blobs:200 --arch 2-64-4 --epochs 1 --out "$TMP/w.safetensors"
    "$BIN" spectrum --model "$TMP/w.safetensors" --data synthetic:blobs:100 --exact --json >/dev/full 2>"$TMP/err"
    rc=$?
    [ $rc -eq 1 ] && ok || bad "large --json to /dev/full: exit code $rc, expected 1"
    has "large --json to /dev/full" "$TMP/err" "standard output failed"
    "$BIN" --help >/dev/full 2>"$TMP/err"
    rc=$?
    [ $rc -eq 1 ] && ok || bad "--help to /dev/full: exit code $rc, expected 1"
else
    echo "skip: /dev/full is not writable" >&2
fi

# ---- an interrupted landscape keeps the old CSV -------------------------------------
echo "precious" >"$TMP/grid.csv"
cp "$TMP/grid.csv" "$TMP/grid.orig"
"$BIN" landscape --model "$TMP/m.safetensors" --data synthetic:blobs:200000 --2d --points 201 \
    --csv "$TMP/grid.csv" >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 1 200); do grep -q "landscape of" "$TMP/err" 2>/dev/null && break; sleep 0.05; done
sleep 0.3
kill -INT "$pid" 2>/dev/null
wait "$pid"
rc=$?
[ $rc -eq 130 ] && ok || { bad "landscape SIGINT: exit code $rc, expected 130"; sed 's/^/    /' "$TMP/err" >&2; }
same "interrupted landscape: --csv kept" "$TMP/grid.csv" "$TMP/grid.orig"
[ -f "$TMP/grid.partial.csv" ] && ok || bad "interrupted landscape: no grid.partial.csv"
has "interrupted landscape: says where" "$TMP/err" "grid.partial.csv"
head -1 "$TMP/grid.partial.csv" 2>/dev/null | grep -q "^s,t,loss,accuracy" && ok || bad "grid.partial.csv has no header"
rm -f "$TMP/grid.partial.csv" "$TMP/grid.orig"

# ---- a second Ctrl-C while a file is being written: no temporary file left ----------
# A preloaded fsync() that delivers two SIGINTs: the first asks to stop, the
# second exits at once, inside the atomic write, before the rename.
CC=$(command -v cc || command -v gcc || true)
if [ -n "$CC" ] && [ "$(uname)" = Linux ]; then
    cat >"$TMP/sigint_on_fsync.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdlib.h>
static int calls;
int fsync(int fd)
{
    /* SHIM_SKIP=N lets the first N fsyncs through: the (N+1)-th file. */
    const char *skip = getenv("SHIM_SKIP");
    if (calls++ >= (skip ? atoi(skip) : 0)) {
        raise(SIGINT);
        raise(SIGINT);
    }
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return real(fd);
}
EOF
    if "$CC" -shared -fPIC -o "$TMP/shim.so" "$TMP/sigint_on_fsync.c" -ldl 2>"$TMP/err"; then
        rm "$TMP/sigint_on_fsync.c"
        mkdir "$TMP/ck" "$TMP/ck2"
        # The checkpoint after epoch 1 is the first file written.
        LD_PRELOAD="$TMP/shim.so" ASAN_OPTIONS="verify_asan_link_order=0:${ASAN_OPTIONS:-}" \
            "$BIN" train --data synthetic:blobs:200 --arch 2-8-4 --epochs 3 --out "$TMP/ck/s.safetensors" \
            >"$TMP/out" 2>"$TMP/err"
        rc=$?
        [ $rc -eq 130 ] && ok || bad "double Ctrl-C in a checkpoint: exit code $rc, expected 130"
        left=$(ls -a "$TMP/ck" | grep -E '\.tmp' || true)
        [ -z "$left" ] && ok || bad "double Ctrl-C in a checkpoint left: $left"
        # Without checkpoints along the way, the model is the first file written.
        LD_PRELOAD="$TMP/shim.so" ASAN_OPTIONS="verify_asan_link_order=0:${ASAN_OPTIONS:-}" \
            "$BIN" train --data synthetic:blobs:200 --arch 2-8-4 --epochs 1 --checkpoint-every 0 \
            --out "$TMP/ck2/s.safetensors" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        [ $rc -eq 130 ] && ok || bad "double Ctrl-C in the model's write: exit code $rc, expected 130"
        left=$(ls -a "$TMP/ck2" | grep -E '\.tmp' || true)
        [ -z "$left" ] && ok || bad "double Ctrl-C in the model's write left: $left"
        # A figure: its temporary file is removed too.
        mkdir "$TMP/ck3"
        LD_PRELOAD="$TMP/shim.so" ASAN_OPTIONS="verify_asan_link_order=0:${ASAN_OPTIONS:-}" \
            "$BIN" spectrum --model "$TMP/m.safetensors" --data synthetic:blobs:100 \
            --plot "$TMP/ck3/d.png" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        [ $rc -eq 130 ] && ok || bad "double Ctrl-C in a figure's write: exit code $rc, expected 130"
        left=$(ls -a "$TMP/ck3" | grep -E '\.tmp' || true)
        [ -z "$left" ] && ok || bad "double Ctrl-C in a figure's write left: $left"
        # The demo's report grows in report.md.tmp for the whole run; with the
        # model already there, the first file written is the spectrum figure.
        mkdir "$TMP/ck4"
        run "demo setup" 0 "$BIN" train --data synthetic:blobs:600 --arch 2-16-4 --epochs 1 \
            --out "$TMP/ck4/model.safetensors"
        rm -f "$TMP/ck4/model.safetensors.ckpt"
        LD_PRELOAD="$TMP/shim.so" ASAN_OPTIONS="verify_asan_link_order=0:${ASAN_OPTIONS:-}" \
            "$BIN" demo --out "$TMP/ck4" --data synthetic:blobs:600 --arch 2-16-4 --cnn-arch none --subset 600 \
            --audit-subset 200 --epochs 1 --quick --measure path_norm >"$TMP/out" 2>"$TMP/err"
        rc=$?
        [ $rc -eq 130 ] && ok || bad "double Ctrl-C in the demo: exit code $rc, expected 130"
        has "double Ctrl-C in the demo: model reused" "$TMP/err" "reusing"
        left=$(ls -a "$TMP/ck4" | grep -E '\.tmp' || true)
        [ -z "$left" ] && ok || bad "double Ctrl-C in the demo left: $left"
        # A .npy file (reparam input writes the folded model, then the data).
        mkdir "$TMP/ck5"
        SHIM_SKIP=1 LD_PRELOAD="$TMP/shim.so" ASAN_OPTIONS="verify_asan_link_order=0:${ASAN_OPTIONS:-}" \
            "$BIN" reparam input --model "$TMP/m.safetensors" "${D[@]}" --out "$TMP/ck5/f.safetensors" \
            --out-data "$TMP/ck5/u.npy" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        [ $rc -eq 130 ] && ok || bad "double Ctrl-C in a .npy write: exit code $rc, expected 130"
        [ -f "$TMP/ck5/f.safetensors" ] && ok || bad "double Ctrl-C in a .npy write: the model before it is missing"
        left=$(ls -a "$TMP/ck5" | grep -E '\.tmp' || true)
        [ -z "$left" ] && ok || bad "double Ctrl-C in a .npy write left: $left"
        rm -rf "$TMP/ck" "$TMP/ck2" "$TMP/ck3" "$TMP/ck4" "$TMP/ck5" "$TMP/shim.so"
    else
        echo "skip: cannot build the fsync shim" >&2
    fi
else
    echo "skip: no C compiler for the fsync shim" >&2
fi

# ---- a finished run says where its checkpoint is, and why ------------------------------
run "train finished" 0 "$BIN" train --data synthetic:blobs:200 --arch 2-8-4 --epochs 1 --out "$TMP/f.safetensors"
has "train finished: names the checkpoint" "$TMP/err" "f.safetensors.ckpt"
has "train finished: says why" "$TMP/err" "--resume"

notmp "at the end"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
