#!/usr/bin/env bash
# cli_python.sh — the Python package's tests (python/tests/test_*.py) with
# Debian's /usr/bin/python3 and python3-numpy, against the build tree's
# libminima.so and program. The tests that need PyTorch skip themselves
# when python3-torch is absent. Skipped (exit 0, with a message) without
# /usr/bin/python3, NumPy or the shared library.
# Usage: cli_python.sh MINIMA_BINARY
set -u
BIN=${1:?usage: cli_python.sh MINIMA_BINARY}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${MINIMA_PYTHON:-/usr/bin/python3}
BUILD=$(cd "$(dirname "$BIN")" && pwd)
BIN=$BUILD/$(basename "$BIN")           # the tests run from python/tests
if [ ! -x "$PY" ]; then echo "skip: the Python package's tests ($PY not found)" >&2; exit 0; fi
if ! "$PY" -c 'import numpy' 2>/dev/null; then
    echo "skip: the Python package's tests (no NumPy for $PY: apt-get install python3-numpy)" >&2; exit 0
fi
if [ -z "${MINIMA_LIBRARY:-}" ]; then
    if [ -e "$BUILD/libminima.so" ]; then export MINIMA_LIBRARY=$BUILD/libminima.so
    else echo "skip: the Python package's tests (no $BUILD/libminima.so)" >&2; exit 0; fi
fi
# A sanitizer build's library needs its runtime loaded first, which a stock
# Python interpreter does not do: those builds test the library in C.
if ldd "$MINIMA_LIBRARY" 2>/dev/null | grep -q 'lib[at]san'; then
    echo "skip: the Python package's tests (the library is built with a sanitizer)" >&2; exit 0
fi
export MINIMA_BIN=$BIN MINIMA_NO_PROGRESS=1 PYTHONDONTWRITEBYTECODE=1
export MINIMA_FIXTURES=${MINIMA_FIXTURES:-$HERE/fixtures}
cd "$HERE/../python/tests" && exec "$PY" -m unittest discover -s . -p 'test_*.py' -v
