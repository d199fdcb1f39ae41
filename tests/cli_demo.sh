#!/usr/bin/env bash
# cli_demo.sh — `minima demo` end to end on a small budget: it trains, audits
# a few measures, draws every figure, runs the theorems and writes the
# report; a second run reuses the model. $1 is the minima binary. Needs
# Debian's dataset-fashion-mnist (make test installs it); skipped without it.
set -u
BIN=$1
TMP=$(mktemp -d /tmp/minima-cli-demo-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
if ! "$BIN" eval --help >/dev/null 2>&1 || ! ls /usr/share/datasets/fashion-mnist/*.gz >/dev/null 2>&1 && [ -z "${MINIMA_DATA_DIR:-}" ]; then
    echo "skip: no Fashion-MNIST (dataset-fashion-mnist)" >&2; echo "0 passed, 0 failed"; exit 0
fi
OUT="$TMP/demo"
ARGS=(--out "$OUT" --subset 600 --audit-subset 200 --epochs 1 --arch 784-16-10 --quick
      --measure path_norm,fisher_rao,hessian_max,hessian_trace
      --cnn-arch 1x28x28:conv2k5s2,relu,maxpool2,flatten,10 --cnn-subset 600 --cnn-epochs 1
      --cnn-curvature-subset 100 --cnn-audit-subset 50 --cnn-measure path_norm,hessian_max,normalized_sharpness)
if "$BIN" demo "${ARGS[@]}" >"$TMP/out" 2>"$TMP/err"; then ok; else bad "demo exit code $?"; sed 's/^/    /' "$TMP/err" >&2; fi
for f in report.md model.safetensors spectrum.png audit.png landscape_layerwise.png landscape_neuron.png \
         cnn.safetensors cnn_spectrum.png cnn_audit.png cnn_landscape_layerwise.png cnn_landscape_neuron.png \
         figures/fig1_flatness.png figures/fig2_levelsets.png figures/fig3_boxes.png \
         figures/fig4_balls.png figures/fig5_reparam.png figures/supp_fig1_radial.png; do
    if [ -s "$OUT/$f" ]; then ok; else bad "missing $f"; fi
done
for f in "$OUT"/*.png "$OUT"/figures/*.png; do
    if [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then ok; else bad "$f is not a PNG"; fi
done
for s in "path_norm" "invariant to" "moved by" "thm5" "passed" "(audit.png)" "### CNN" "(cnn_audit.png)" \
         "stage-wise" "normalized_sharpness" "(on the CNN)"; do
    if grep -qF -- "$s" "$OUT/report.md" "$TMP/err"; then ok; else bad "'$s' not in the report"; fi
done
if grep -q "FAILED" "$OUT/report.md"; then bad "a theorem check failed"; else ok; fi
# a second run reuses the saved model; with --strict it exits 1 exactly when the audit has
# findings (a disagreement, a measure not measured), which the report names (asam's default
# floor usually disagrees)
"$BIN" demo "${ARGS[@]}" --measure path_norm,asam --strict >"$TMP/out" 2>"$TMP/err"
rc=$?
if grep -q "MLP: reusing" "$TMP/err" && grep -q "CNN: reusing" "$TMP/err"; then ok; else bad "the second run did not reuse the models"; fi
want=0
if grep -q -e "(\*\*disagrees\*\*)" -e "could not be compared" "$OUT/report.md"; then want=1; fi
if [ "$rc" -eq "$want" ]; then ok; else bad "demo --strict exit code $rc, expected $want"; sed 's/^/    /' "$TMP/err" >&2; fi
if [ "$want" -eq 0 ] || grep -q -- "--strict: the audit has findings" "$TMP/err"; then ok; else bad "--strict did not say why"; fi
# ... but not a model of the same shape that records another activation (tanh)
if "$BIN" rescale --model "$OUT/model.safetensors" --activation tanh --force --alpha 1,1 \
       --out "$TMP/tanh.safetensors" >/dev/null 2>&1 && mv "$TMP/tanh.safetensors" "$OUT/model.safetensors"
then ok; else bad "rescale to tanh failed"; fi
if "$BIN" demo "${ARGS[@]}" >"$TMP/out" 2>"$TMP/err"; then ok; else bad "third demo exit code $?"; fi
if grep -q "MLP: reusing" "$TMP/err"; then bad "the demo reused a tanh model"; else ok; fi
# bad usage
if "$BIN" demo --epochs 0 >/dev/null 2>&1; then bad "--epochs 0 accepted"; else [ $? -eq 2 ] && ok || bad "--epochs 0: exit code not 2"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
