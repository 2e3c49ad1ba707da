#!/usr/bin/env bash
# `cmake --install` gives a package that find_package(firebreak) finds and a
# consumer builds against and runs.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$1
source_dir=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/firebreak/metrics.h"
test -f "$work/prefix/lib/cmake/firebreak/firebreakConfig.cmake"
cmake -S "$source_dir/tests/install/consumer" -B "$work/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer" | grep -q '^consumer_runs_total 1$'
echo "installed package found, built against and run"
