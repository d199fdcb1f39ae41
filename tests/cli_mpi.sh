#!/usr/bin/env bash
# cli_mpi.sh — distributed runs (docs/distributed.md): `mpirun -np P minima ...`
# with 1, 2 and 3 ranks gives the plain program's numbers to 1e-12 relative
# (spectrum with --exact and --trace, eval, sharpness, a short train), with
# uneven blocks and a rank without examples; rank 0 alone prints and writes;
# a rank that cannot read its data stops every rank with exit 2, and an
# interrupt on one rank stops every rank with exit 130.
# Skipped (exit 77) when the program was built without MPI.
# Usage: cli_mpi.sh MINIMA_BINARY
set -u
BIN=${1:?usage: cli_mpi.sh MINIMA_BINARY}
MPIEXEC=${MINIMA_MPIEXEC:-$(command -v mpirun || true)}
if ! ldd "$BIN" 2>/dev/null | grep -q libmpi || [ -z "$MPIEXEC" ]; then
    echo "skip: $BIN was built without MPI, or there is no mpirun"
    exit 77
fi
TMP=$(mktemp -d /tmp/minima-cli-mpi-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1 OPENBLAS_NUM_THREADS=1
# CI runs as root; Open MPI refuses that unless told.
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_rmaps_base_oversubscribe=1
# Under the sanitizer build (make sanitize): Open MPI keeps what MPI_Init
# allocates until exit, in its own libraries and plugins. Keep the plugins
# loaded and unwind fully, so that LeakSanitizer names those libraries and
# the suppressions (src/plot/plot_render.c, tests/lsan.supp) apply.
export OMPI_MCA_mca_base_component_disable_dlclose=1
# test_dist draws nothing, so it does not link the drawing library that
# carries the built-in suppressions: it reads the file.
if [ -n "${ASAN_OPTIONS+x}" ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS}:fast_unwind_on_malloc=0"
    [ -n "${MINIMA_SRC:-}" ] && export LSAN_OPTIONS="suppressions=$MINIMA_SRC/tests/lsan.supp"
fi
PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "skip: no python3 to compare results"; exit 77; }

. "$(dirname "$0")/checks.sh"

mpi() { local np=$1; shift; timeout 120 "$MPIEXEC" --oversubscribe -np "$np" "$@"; }

# close NAME A.json B.json [TOL]: every number in A equals B's to TOL (1e-12) relative
# (to the largest number of its list, for lists such as a spectrum), except
# the fields that are not results (times, residuals: rounding-sized
# differences of tiny numbers).
close() {
    if "$PY" - "$2" "$3" "${4:-1e-12}" <<'EOF'
import json, sys
TOL = float(sys.argv[3])
SKIP = {"seconds", "residual", "true_residual", "time", "elapsed", "stderr_rounding"}
def walk(a, b, path, scale):
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            if k in SKIP or k.endswith("seconds"):
                continue
            walk(a[k], b[k], f"{path}.{k}", None)
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{path}: lengths differ"
        nums = [abs(x) for x in a if isinstance(x, (int, float)) and not isinstance(x, bool)]
        s = max(nums) if nums else None
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", s)
    elif isinstance(a, bool) or not isinstance(a, (int, float)):
        assert a == b, f"{path}: {a!r} vs {b!r}"
    else:
        ref = max(abs(a), abs(b), scale or 0.0)
        assert abs(a - b) <= TOL * ref, f"{path}: {a!r} vs {b!r} ({abs(a-b)/ref:.2e} relative)"
try:
    walk(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), "", None)
except AssertionError as e:
    print("  ", e, file=sys.stderr)
    sys.exit(1)
EOF
    then ok; else bad "$1: $2 and $3 differ"; fi
}

# same_weights NAME A B: two safetensors files hold the same tensors to 1e-12.
same_weights() {
    if "$PY" - "$2" "$3" <<'EOF'
import json, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); d = b[8 + n:]
    out = {}
    for k, v in h.items():
        if k == "__metadata__": continue
        s, e = v["data_offsets"]
        out[k] = struct.unpack("<%dd" % ((e - s) // 8), d[s:e])
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
assert set(a) == set(b)
for k in a:
    s = max(max(abs(x) for x in a[k]), 1e-300)
    d = max(abs(x - y) for x, y in zip(a[k], b[k]))
    if d > 1e-12 * s:
        print(f"   {k}: {d/s:.2e} relative", file=sys.stderr); sys.exit(1)
EOF
    then ok; else bad "$1: $2 and $3 differ"; fi
}

# ---- the models ---------------------------------------------------------------
"$BIN" train --data synthetic:blobs:400 --arch 2-16-16-4 --epochs 3 --batch 32 \
    --out "$TMP/blobs.safetensors" >/dev/null 2>&1 || bad "training the blobs model"
"$BIN" train --data fashion-mnist --subset 500 --arch 784-16-10 --epochs 1 --batch 50 \
    --out "$TMP/fm.safetensors" >/dev/null 2>&1 || bad "training the Fashion-MNIST model"

# compare NAME TOL ARGS: the command with --json, plain and with 1, 2, 3 ranks.
compare() {
    local name=$1 tol=$2; shift 2
    run "$name (plain)" 0 "$BIN" "$@" --json
    cp "$TMP/out" "$TMP/plain.json"
    for np in 1 2 3; do
        run "$name ($np ranks)" 0 mpi "$np" "$BIN" "$@" --json
        local lines
        lines=$(wc -l <"$TMP/out")
        [ "$lines" -eq 1 ] && ok || bad "$name ($np ranks): $lines lines of output, expected one (rank 0 alone prints)"
        cp "$TMP/out" "$TMP/np$np.json"
        close "$name ($np ranks)" "$TMP/plain.json" "$TMP/np$np.json" "$tol"
    done
}

# 301 and 101 examples: blocks of unequal size with 2 and 3 ranks.
compare "spectrum --exact" 1e-12 spectrum --model "$TMP/blobs.safetensors" --data synthetic:blobs:301 \
    --top 5 --trace --exact
compare "spectrum fashion-mnist" 1e-12 spectrum --model "$TMP/fm.safetensors" --data fashion-mnist \
    --subset 101 --top 5 --trace --bottom 1 --precision float64
# The default precision estimates the trace with float32 products: their
# agreement is float32's (the eigenvalues are float64 either way).
compare "spectrum default precision" 1e-6 spectrum --model "$TMP/fm.safetensors" --data fashion-mnist \
    --subset 101 --top 5 --trace
for np in 1 2 3; do   # ... and the eigenvalues of that run to 1e-12
    if "$PY" - "$TMP/plain.json" "$TMP/np$np.json" <<'EOF2'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ea = [t["eigenvalue"] for t in a["top"]]; eb = [t["eigenvalue"] for t in b["top"]]
s = max(abs(x) for x in ea)
sys.exit(0 if len(ea) == 5 and all(abs(x - y) <= 1e-12 * s for x, y in zip(ea, eb)) else 1)
EOF2
    then ok; else bad "spectrum default precision ($np ranks): eigenvalues differ beyond 1e-12"; fi
done
# float32 products add each rank's float32 partial sums: another order of
# float32 rounding, so the agreement is float32's (the eigenvalues carry
# ~1e-6 relative error either way).
compare "spectrum ggn float32" 1e-6 spectrum --model "$TMP/fm.safetensors" --data fashion-mnist \
    --subset 101 --top 3 --ggn --float32 --tol 1e-5
compare "eval" 1e-12 eval --model "$TMP/fm.safetensors" --data fashion-mnist --subset 101
compare "sharpness" 1e-12 sharpness --model "$TMP/blobs.safetensors" --data synthetic:blobs:301 \
    --measure hessian_max,hessian_trace,fisher_rao,keskar_full,pac_bayes,normalized_sharpness,fms_penalty
# Two examples over three ranks: rank 0 has none.
compare "no examples on a rank" 1e-12 spectrum --model "$TMP/fm.safetensors" --data fashion-mnist \
    --subset 2 --top 2 --trace --precision float64

# ---- the engine's other paths (tests/test_dist.c): the per-example Jacobian
# over a range that crosses the blocks, block products, block Lanczos --------
TD="$(dirname "$BIN")/test_dist"
if [ -x "$TD" ]; then
    run "test_dist (plain)" 0 "$TD" "$TMP/td_plain.txt"
    for np in 2 3; do
        run "test_dist ($np ranks)" 0 mpi "$np" "$TD" "$TMP/td_$np.txt"
        if "$PY" - "$TMP/td_plain.txt" "$TMP/td_$np.txt" <<'PYEOF'
import sys
a = [float(x) for x in open(sys.argv[1])]
b = [float(x) for x in open(sys.argv[2])]
assert len(a) == len(b) and len(a) > 1000, (len(a), len(b))
scale = max(abs(x) for x in a)
bad = [(i, x, y) for i, (x, y) in enumerate(zip(a, b)) if abs(x - y) > 1e-12 * max(abs(x), abs(y), 1e-3 * scale)]
if bad:
    print("   %d of %d numbers differ, first: %r" % (len(bad), len(a), bad[0]), file=sys.stderr)
    sys.exit(1)
PYEOF
        then ok; else bad "test_dist ($np ranks) differs from the plain run"; fi
    done
else
    bad "no test_dist beside $BIN"
fi

# ---- train: synchronous data-parallel steps, same weights ----------------------
for opt in sgd adam; do
    T=(train --data synthetic:blobs:301 --arch 2-16-4 --epochs 2 --batch 50 --optimizer "$opt")
    run "train $opt (plain)" 0 "$BIN" "${T[@]}" --out "$TMP/t_plain.safetensors"
    for np in 2 3; do
        run "train $opt ($np ranks)" 0 mpi "$np" "$BIN" "${T[@]}" --out "$TMP/t_$np.safetensors"
        same_weights "train $opt ($np ranks)" "$TMP/t_plain.safetensors" "$TMP/t_$np.safetensors"
    done
done
leftover=$(find "$TMP" -name '*.tmp*' | head -1)
[ -z "$leftover" ] && ok || bad "a temporary file was left behind: $leftover"

# ---- failures stop every rank ---------------------------------------------------
"$PY" - "$TMP" <<'EOF'
import struct, sys
# a valid .npy of 20 x 2 float64 and its labels; then the same file cut short
hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (20, 2), }"
hdr += " " * (117 - len(hdr)) + "\n"
body = struct.pack("<40d", *[0.1 * i for i in range(40)])
open(sys.argv[1] + "/x.npy", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + body)
open(sys.argv[1] + "/bad.npy", "wb").write((b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + body)[:200])
lh = "{'descr': '<i8', 'fortran_order': False, 'shape': (20,), }"
lh += " " * (117 - len(lh)) + "\n"
open(sys.argv[1] + "/y.npy", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(lh)) + lh.encode() + struct.pack("<20q", *[i % 4 for i in range(20)]))
EOF
E=(eval --model "$TMP/blobs.safetensors" --labels "$TMP/y.npy")
run "good npy" 0 "$BIN" "${E[@]}" --data "$TMP/x.npy"
start=$(date +%s)
run "rank 1 cannot read its data" 2 timeout 60 "$MPIEXEC" --oversubscribe -np 1 "$BIN" "${E[@]}" \
    --data "$TMP/x.npy" : -np 2 "$BIN" "${E[@]}" --data "$TMP/bad.npy"
has "rank 1 cannot read its data" "$TMP/err" "rank 1: npy file"
took=$(( $(date +%s) - start ))
[ "$took" -le 30 ] && ok || bad "a failing rank took $took s to stop the others"
run "rank 0 cannot read its data" 2 timeout 60 "$MPIEXEC" --oversubscribe -np 1 "$BIN" "${E[@]}" \
    --data "$TMP/missing.npy" : -np 2 "$BIN" "${E[@]}" --data "$TMP/x.npy"
has "rank 0 cannot read its data" "$TMP/err" "missing.npy"

# An interrupt on the last rank only, during a long spectrum: every rank stops
# with 130 (agreed at the next reduction), rank 0 prints what it had.
MARK="--seed 9713"
timeout 120 "$MPIEXEC" --oversubscribe -np 2 "$BIN" spectrum --model "$TMP/fm.safetensors" \
    --data fashion-mnist --subset 20000 --top 200 --tol 1e-15 --max-products 100000 $MARK \
    >"$TMP/int.out" 2>"$TMP/int.err" &
job=$!
pids=""
for _ in $(seq 1 100); do
    sleep 0.2
    # the ranks only: their command lines start with the program (those of
    # timeout and mpirun do not)
    pids=$(pgrep -f -- "^$BIN spectrum --model $TMP/fm.safetensors.*$MARK" | sort -n)
    [ "$(echo "$pids" | grep -c .)" -ge 2 ] && break
done
sleep 3   # let the ranks load the data and start the products
kill -INT "$(echo "$pids" | tail -1)" 2>/dev/null
start=$(date +%s)
wait "$job"
rc=$?
took=$(( $(date +%s) - start ))
[ "$rc" -eq 130 ] && ok || { bad "interrupt on one rank: exit code $rc, expected 130"; sed 's/^/    /' "$TMP/int.err" >&2; }
[ "$took" -le 30 ] && ok || bad "an interrupt on one rank took $took s to stop the run"
has "interrupt on one rank" "$TMP/int.err" "interrupt"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
