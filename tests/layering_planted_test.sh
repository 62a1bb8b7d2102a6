#!/usr/bin/env bash
# The layering check (scripts/check-layering) must fail on a planted violation: a copy of the
# layers' sources with one kernels/ file that includes a passes/ header, checked against the
# real build.
set -euo pipefail
src=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for layer in ir runtime kernels passes frontend tools; do cp -r "$src/$layer" "$work/"; done
echo '#include "passes/compiler.h"' >"$work/kernels/cpu/planted.cc"
if out=$(python3 "$src/scripts/check-layering" "$work" "$build" 2>&1); then
  echo "check-layering passed a tree with a kernels/ file including passes/compiler.h"
  exit 1
fi
if ! grep -qF 'kernels/cpu/planted.cc (kernels/) includes "passes/compiler.h" (passes/)' <<<"$out"; then
  echo "check-layering failed, but without naming the planted include:"
  echo "$out"
  exit 1
fi
echo "check-layering refuses the planted include"
