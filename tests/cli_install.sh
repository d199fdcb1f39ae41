#!/usr/bin/env bash
# cli_install.sh — the library as a C user gets it: `cmake --install` of the
# existing build into a temporary DESTDIR, then a ten-line client and
# docs/examples/c_api_example.c compiled with
# `pkg-config --cflags --libs minima` and run; the soname; the exported
# symbols are exactly functions of the public headers; minima.h includes
# every public header. Nothing is rebuilt: the build is the program's
# directory. Usage: cli_install.sh MINIMA_BINARY (sources: $MINIMA_SRC).
set -u
BIN=${1:?usage: cli_install.sh MINIMA_BINARY}
SRC=${MINIMA_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
FIX=${MINIMA_FIXTURES:-$SRC/tests/fixtures}
BUILD=$(cd "$(dirname "$BIN")" && pwd)
CC=${CC:-cc}
TMP=$(mktemp -d /tmp/minima-cli-install-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export MINIMA_NO_PROGRESS=1

. "$(dirname "$0")/checks.sh"
run() {
    local name=$1 want=$2; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else
        bad "$name: exit code $rc, expected $want"; sed 's/^/    /' "$TMP/out" "$TMP/err" >&2; fi
}

# ---- install ------------------------------------------------------------
PREFIX=/opt/minima-test
DEST=$TMP/dest
run "cmake --install" 0 env DESTDIR="$DEST" cmake --install "$BUILD" --prefix "$PREFIX"
ROOT=$DEST$PREFIX
PC=$(find "$ROOT" -name minima.pc | head -n 1)
if [ -z "$PC" ]; then bad "no minima.pc under $ROOT"; echo "$pass passed, $fail failed"; exit 1; fi
LIBDIR=$(dirname "$(dirname "$PC")")
for f in "$ROOT/bin/minima" "$ROOT/include/minima/minima.h" "$LIBDIR/libminima.a" \
         "$LIBDIR/libminima.so.0.1.0"; do
    if [ -f "$f" ]; then ok; else bad "not installed: $f"; fi
done
for l in libminima.so.0 libminima.so; do
    if [ -L "$LIBDIR/$l" ] && [ -e "$LIBDIR/$l" ]; then ok; else bad "no symlink $LIBDIR/$l"; fi
done
for h in "$SRC"/include/minima/*.h; do
    cmp -s "$h" "$ROOT/include/minima/$(basename "$h")" && ok || bad "header not installed: $h"
done
has "minima.pc prefix" "$PC" "prefix=$PREFIX"
run "installed program" 0 "$ROOT/bin/minima" --help

# The .pc names PREFIX; from the DESTDIR the prefix is redefined.
export PKG_CONFIG_PATH=$(dirname "$PC")
PKG="pkg-config --define-variable=prefix=$ROOT"
run "pkg-config" 0 $PKG --cflags --libs minima
has "pkg-config --libs" "$TMP/out" "-lminima"
has "pkg-config --cflags" "$TMP/out" "-I$ROOT/include"
run "pkg-config --modversion" 0 $PKG --modversion minima
has "pkg-config --modversion" "$TMP/out" "0.1.0"

# ---- a ten-line client, shared and static -------------------------------
cat >"$TMP/client.c" <<'EOF'
#include <minima/minima.h>
#include <stdio.h>
int main(int argc, char **argv) {
    minima_model *model = NULL;
    char arch[64];
    if (argc < 2 || minima_model_load(argv[1], NULL, &model) != MINIMA_OK) return 1;
    minima_model_arch_string(model, arch, sizeof arch);
    printf("arch %s, %zu parameters\n", arch, model->n_params);
    minima_model_free(model);
    return 0; }
EOF
CFLAGS="-std=c11 -Wall -Wextra -Wpedantic -Werror"
# A sanitizer build (make sanitize) instruments the library: its clients
# must link the same runtimes, first.
if readelf -d "$LIBDIR/libminima.so.0.1.0" | grep -q 'libasan'; then
    CFLAGS="$CFLAGS -fsanitize=address,undefined,float-cast-overflow"
fi
run "compile client" 0 $CC $CFLAGS "$TMP/client.c" -o "$TMP/client" $($PKG --cflags --libs minima)
run "client, shared" 0 env LD_LIBRARY_PATH="$LIBDIR" "$TMP/client" "$FIX/torch_mlp_f64.safetensors"
has "client, shared" "$TMP/out" "arch 5-8-6-3, 123 parameters"
run "client NEEDED" 0 readelf -d "$TMP/client"
has "client NEEDED" "$TMP/out" "[libminima.so.0]"
# Static: libminima.a by path, the rest from Libs.private / Requires.private.
STATIC_LIBS=$($PKG --libs --static minima | sed 's/\(^\| \)-lminima\( \|$\)/ /')
run "compile client, static" 0 $CC $CFLAGS "$TMP/client.c" -o "$TMP/client_static" \
    $($PKG --cflags minima) "$LIBDIR/libminima.a" $STATIC_LIBS
run "client, static" 0 "$TMP/client_static" "$FIX/torch_mlp_f64.safetensors"
has "client, static" "$TMP/out" "arch 5-8-6-3, 123 parameters"

# ---- the example of docs/c-api.md ----------------------------------------
run "compile c_api_example" 0 $CC $CFLAGS "$SRC/docs/examples/c_api_example.c" \
    -o "$TMP/example" $($PKG --cflags --libs minima)
run "c_api_example" 0 env LD_LIBRARY_PATH="$LIBDIR" "$TMP/example" \
    "$FIX/torch_mlp_f64.safetensors" "$FIX/torch_mlp_x.npy" "$FIX/torch_mlp_y.npy"
has "c_api_example" "$TMP/out" "parameters 123, examples 20"
has "c_api_example" "$TMP/out" "progress reports received"
# The Fisher-Rao norm is invariant: the same digits before and after.
if awk '$1 == "fisher_rao" { exit !($2 == $4 && $2 + 0 > 0) } END { if (NR == 0) exit 1 }' "$TMP/out"
then ok; else bad "c_api_example: fisher_rao changed:"; sed 's/^/    /' "$TMP/out" >&2; fi
run "c_api_example, usage" 2 env LD_LIBRARY_PATH="$LIBDIR" "$TMP/example"
run "c_api_example, missing file" 1 env LD_LIBRARY_PATH="$LIBDIR" "$TMP/example" \
    "$TMP/none.safetensors" "$FIX/torch_mlp_x.npy" "$FIX/torch_mlp_y.npy"
has "c_api_example, missing file" "$TMP/err" "none.safetensors"

# ---- soname and exports --------------------------------------------------
run "readelf -d" 0 readelf -d "$LIBDIR/libminima.so.0.1.0"
has "soname" "$TMP/out" "Library soname: [libminima.so.0]"
cmake -DHEADERS_DIR="$SRC/include/minima" -DOUT="$TMP/public" -DLIST=ON \
      -P "$SRC/cmake/minima_exports.cmake" || bad "listing the public functions"
nm -D --defined-only "$LIBDIR/libminima.so.0.1.0" | awk 'NF == 3 { print $3 }' | sort -u >"$TMP/exported"
nm --defined-only "$LIBDIR/libminima.a" 2>/dev/null | awk '$2 == "T" { print $3 }' | sort -u >"$TMP/static"
extra=$(comm -13 "$TMP/public" "$TMP/exported")
if [ -z "$extra" ]; then ok; else bad "exported but not in include/minima/*.h: $extra"; fi
# Every public function that is defined is exported (api.h's may not exist yet).
missing=$(comm -12 "$TMP/public" "$TMP/static" | comm -23 - "$TMP/exported")
if [ -z "$missing" ]; then ok; else bad "public but not exported: $missing"; fi
for f in minima_model_load minima_eigs minima_last_error minima_sym_apply_model; do
    grep -qx "$f" "$TMP/exported" && ok || bad "$f not exported"
done
# Internal helpers: defined in the library, declared in src/ only, not exported.
for f in minima_data_tmp_path minima_curv_note; do
    grep -qx "$f" "$TMP/static" && ok || bad "$f: not in libminima.a (pick another internal name)"
    grep -qx "$f" "$TMP/public" && bad "$f is in a public header" || ok
    grep -qx "$f" "$TMP/exported" && bad "$f exported" || ok
done

# ---- the umbrella header -------------------------------------------------
for h in "$SRC"/include/minima/*.h; do
    b=$(basename "$h")
    [ "$b" = minima.h ] && continue
    grep -qE "^#include [<\"]minima/$b[>\"]" "$SRC/include/minima/minima.h" && ok \
        || bad "include/minima/minima.h does not include minima/$b"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
