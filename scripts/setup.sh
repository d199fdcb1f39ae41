#!/usr/bin/env bash
# Installs the Debian packages minima needs, if any are missing.
# As root it installs them; otherwise it prints the one line to run.
set -euo pipefail
PACKAGES=(cmake make gcc pkg-config libopenblas-dev liblapacke-dev zlib1g-dev
          libcjson-dev liblbfgsb-dev libplplot-dev plplot-driver-cairo
          dataset-fashion-mnist python3 python3-numpy python3-setuptools
          protobuf-c-compiler libprotobuf-c-dev python3-onnx
          libopenmpi-dev openmpi-bin)
# PyTorch is only needed to regenerate reference fixtures and run the
# comparison benchmarks (SciPy for the eigsh reference of bench_race);
# install them with MINIMA_WITH_TORCH=1.
if [ "${MINIMA_WITH_TORCH:-0}" = 1 ]; then PACKAGES+=(python3-torch python3-scipy); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "minima needs these Debian packages; install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
