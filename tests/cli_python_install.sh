#!/usr/bin/env bash
# cli_python_install.sh — the Python package installs offline as the docs
# say (pip install --no-build-isolation ./python, into a virtual environment
# that sees Debian's NumPy), carries the shared library with it, and works
# from outside the repository. Skipped (exit 0, with a message) without
# Debian's python3 with pip, venv, setuptools and NumPy, or without the
# build's shared library (a sanitizer build's library is not loadable from
# a stock interpreter).
# Usage: cli_python_install.sh MINIMA_BINARY
set -u
BIN=${1:?usage: cli_python_install.sh MINIMA_BINARY}
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$(dirname "$BIN")" && pwd)
PY=${MINIMA_PYTHON:-/usr/bin/python3}
skip() { echo "skip: the Python package's install ($*)" >&2; exit 0; }
[ -x "$PY" ] || skip "$PY not found"
"$PY" -c 'import numpy, setuptools, pip, venv' 2>/dev/null || skip "needs python3-numpy, -setuptools, -pip, -venv"
[ -e "$BUILD/libminima.so" ] || skip "no $BUILD/libminima.so"
if ldd "$BUILD/libminima.so" 2>/dev/null | grep -q 'lib[at]san'; then skip "sanitizer build"; fi
TMP=$(mktemp -d /tmp/minima-cli-pyinstall-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/checks.sh"

"$PY" -m venv --system-site-packages "$TMP/venv" >"$TMP/err" 2>&1 || skip "cannot make a virtual environment: $(tail -1 "$TMP/err")"
# From a copy (pip builds in the source folder), taking this build's libminima.so along.
cp -r "$SRC/python" "$TMP/src"
if (cd "$TMP" && MINIMA_LIBRARY=$BUILD/libminima.so "$TMP/venv/bin/pip" install -q --no-build-isolation --no-index \
        "$TMP/src") >"$TMP/out" 2>&1; then ok; else bad "pip install failed"; sed 's/^/    /' "$TMP/out" >&2; fi
site=$("$TMP/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -e "$site/minima/libminima.so" ] && ok || bad "the installed package has no libminima.so"
# From a directory outside the repository, with no hint where the library is:
# the installed package must load its own copy and compute.
out=$(cd "$TMP" && env -u MINIMA_LIBRARY MINIMA_NO_PROGRESS=1 "$TMP/venv/bin/python" -c '
import minima, numpy as np
m = minima.Model.create("3-5-2", seed=1)
X = np.random.default_rng(0).normal(size=(40, 3)); y = (X[:, 0] > 0).astype(np.int64)
p = minima.Problem(m, minima.Data(X, y))
g = p.grad()
print(minima.__file__, len(g), np.isfinite(g).all())' 2>"$TMP/err")
case "$out" in
    "$site/minima/__init__.py 32 True") ok ;;
    *) bad "the installed package did not run: '$out'"; sed 's/^/    /' "$TMP/err" >&2 ;;
esac
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
