#!/usr/bin/env bash
# The docs check (scripts/check-docs) must fail on planted faults: a copy of the docs and the
# files they name, with a doc naming a path that is not there and a marked listing that no
# longer matches its file.
set -euo pipefail
src=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/docs" "$src/examples" "$src/README.md" "$work/"
for entry in "$src"/* "$src/.ci"; do
  [[ -e "$work/$(basename "$entry")" ]] || ln -s "$entry" "$work/$(basename "$entry")"
done
printf '\nSee `passes/planted_pass.h`.\n' >>"$work/docs/ir.md"
echo '// planted' >>"$work/examples/train_mlp.cc"
if out=$(python3 "$src/scripts/check-docs" "$work" 2>&1); then
  echo "check-docs passed docs naming a missing path and a stale listing"
  exit 1
fi
for want in 'names passes/planted_pass.h, which is not in the tree' \
  'the listing differs from examples/train_mlp.cc'; do
  if ! grep -qF "$want" <<<"$out"; then
    echo "check-docs failed, but without saying '$want':"
    echo "$out"
    exit 1
  fi
done
echo "check-docs refuses the planted path and listing"
