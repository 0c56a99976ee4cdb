#!/usr/bin/env bash
# check.sh install|subdirectory <proctor source> <proctor build> <scratch dir>
# Builds the tiny project in project/ against proctor and runs it; prints "consumer: ok".
set -euo pipefail
mode=$1 src=$2 build=$3 scratch=$4
here="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$scratch"
mkdir -p "$scratch"
if [ "$mode" = install ]; then
  cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
  cmake -S "$here/project" -B "$scratch/build" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
        -DCMAKE_BUILD_TYPE=Release >/dev/null
else
  cmake -S "$here/project" -B "$scratch/build" -DPROCTOR_SOURCE_DIR="$src" \
        -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$scratch/build" -j2 >/dev/null
"$scratch/build/consumer"
rm -rf "$scratch"
