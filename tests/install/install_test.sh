#!/usr/bin/env bash
# The installed library as its users consume it (docs/cpp-api.md). Twice: from this build
# directory (installed with --destdir) and from a -Dcuda=disabled build configured here (under
# <build>/install-test, kept between runs so that later runs rebuild only what changed). Each
# time the installed tree is checked (no CUDA library linked into librill or librill_rt), then
# examples/train_mlp.cc and examples/add_kernel.cc are built with examples/consumers/ through
# pkg-config (shared and static librill) and CMake's find_package(rill), and run; then they
# are built with rill as a Meson subproject of a debug build. A header or library missing from
# the install fails a build; an example that does not learn, or reports another version, fails
# its run.
#   tests/install/install_test.sh SOURCE_ROOT BUILD_ROOT
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$build/install-test
mkdir -p "$work"

version=$(meson introspect --projectinfo "$build" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
option() {  # option BUILD NAME: a configured option's value
  meson introspect --buildoptions "$1" |
    python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$2"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# run_examples DIR: runs DIR/train_mlp (and DIR/train_mlp_static when built) and DIR/add_kernel.
run_examples() {
  local dir=$1 program out
  for program in train_mlp train_mlp_static; do
    [[ -x $dir/$program ]] || continue
    out=$("$dir/$program") || fail "$dir/$program exited with status $?"
    grep -qx "rill $version (headers $version)" <<<"$out" ||
      fail "$dir/$program: no line 'rill $version (headers $version)' in its output"
    echo "$dir/$program: $(grep '^final:' <<<"$out")"
  done
  out=$("$dir/add_kernel" "$dir") || fail "$dir/add_kernel exited with status $?"
  grep -q "^add: " <<<"$out" || fail "$dir/add_kernel: no result line"
  echo "$dir/add_kernel: $out"
}

# copy_consumer KIND DIR: examples/consumers/KIND and the example sources, fresh, in DIR.
copy_consumer() {
  rm -rf "$2"
  mkdir -p "$2"
  cp "$src/examples/consumers/$1"/* "$src/examples/train_mlp.cc" "$src/examples/add_kernel.cc" "$2"/
}

# consume ROOT LIBDIR LABEL: the install at ROOT (prefix), checked and built against.
consume() {
  local root=$1 libdir=$2 label=$3 lib
  for lib in librill librill_rt; do
    [[ -f $root/$libdir/$lib.a ]] || fail "$label: $lib.a is not installed"
    [[ -f $root/$libdir/$lib.so.$version ]] || fail "$label: $lib.so.$version is not installed"
    if ldd "$root/$libdir/$lib.so.$version" | grep -E 'libcudart|libcublas|libcudnn'; then
      fail "$label: $lib.so links CUDA libraries"
    fi
  done

  echo "== $label: pkg-config (rill.pc, rill_rt.pc)"
  local dir=$work/$label-pkg-config
  copy_consumer pkg-config "$dir"
  PKG_CONFIG_PATH=$root/$libdir/pkgconfig make -s -C "$dir" CXXFLAGS=-O0
  LD_LIBRARY_PATH=$root/$libdir run_examples "$dir"

  echo "== $label: CMake find_package(rill)"
  dir=$work/$label-cmake
  copy_consumer cmake "$dir"
  cmake -S "$dir" -B "$dir/build" -G Ninja -DCMAKE_PREFIX_PATH="$root" -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$dir/build"
  run_examples "$dir/build"
}

# subproject LABEL CUDA: rill as subprojects/rill of a debug build, with -Drill:cuda=CUDA. One
# build directory serves both labels and stays between runs, so that Ninja (and ccache) redo
# only what changed.
subproject() {
  local label=$1 dir=$work/meson-subproject
  echo "== $label: Meson subproject (-Drill:cuda=$2)"
  mkdir -p "$dir/subprojects"
  cp "$src/examples/consumers/meson/meson.build" "$src/examples/train_mlp.cc" \
     "$src/examples/add_kernel.cc" "$dir"/
  ln -sfn "$src" "$dir/subprojects/rill"
  if [[ -f $dir/build/build.ninja ]]; then
    meson configure "$dir/build" "-Drill:cuda=$2"
  else
    rm -rf "$dir/build"
    meson setup "$dir/build" "$dir" "-Drill:cuda=$2" >/dev/null
  fi
  ninja -C "$dir/build" >/dev/null
  run_examples "$dir/build"
  # Only the libraries: no executable of rill's, no sanitized twin built, no GoogleTest looked up.
  meson introspect --targets "$dir/build" >"$dir/targets.json"
  python3 - "$dir/targets.json" <<'EOF' || fail "$label: the subproject builds more than its libraries"
import json, sys
for t in json.load(open(sys.argv[1])):
    if t.get("subproject") == "rill" and (t["type"] == "executable" or
                                          (t["name"].endswith("_san") and t["build_by_default"])):
        sys.exit(f"the subproject builds {t['name']} ({t['type']})")
EOF
  grep -q 'GTest\|gtest' "$dir/build/meson-logs/meson-log.txt" &&
    fail "$label: the subproject looked for GoogleTest"
  # The kernels at -O2 in this -O0 build (and the rest at the parent's -O0).
  python3 - "$dir/build/compile_commands.json" <<'EOF' || fail "$label: optimization levels"
import json, sys
commands = {c["file"].split("subprojects/rill/")[-1]: c["command"]
            for c in json.load(open(sys.argv[1])) if "-fsanitize" not in c["command"]}
for file, level in (("kernels/cpu/gemm.cc", "-O2"), ("ir/graph.cc", "-O0")):
    if level not in commands[file].split():
        sys.exit(f"{file} is not compiled with {level}: {commands[file]}")
EOF
}

start=$SECONDS

# This build directory, installed with --destdir (rill.pc and rillConfig.cmake find their prefix
# from where they lie).
[[ $(option "$build" pkgconfig.relocatable) == True ]] ||
  fail "$build: configure with -Dpkgconfig.relocatable=true (the project's default)"
dest=$work/plain-destdir
rm -rf "$dest"
meson install -C "$build" --no-rebuild --destdir "$dest" --quiet
consume "$dest$(option "$build" prefix)" "$(option "$build" libdir)" plain
subproject plain auto

# -Dcuda=disabled: only what the install needs is built, unoptimized (it compiles fastest, and
# this is a test of the install, not of speed).
nocuda=$work/nocuda-build
prefix=$work/nocuda-prefix
nocuda_options=(-Dcuda=disabled -Doptimization=0 -Ddebug=false "--prefix=$prefix")
if [[ -f $nocuda/build.ninja ]]; then
  meson configure "$nocuda" "${nocuda_options[@]}"
else
  rm -rf "$nocuda"
  meson setup "$nocuda" "$src" "${nocuda_options[@]}" >/dev/null
fi
mapfile -t built < <(meson introspect --targets "$nocuda" | python3 -c '
import json, os, sys
for target in json.load(sys.stdin):
    if target["installed"]:
        for path in target["filename"]:
            print(os.path.relpath(path, sys.argv[1]))
' "$nocuda")
ninja -C "$nocuda" "${built[@]}" >/dev/null
rm -rf "$prefix"
meson install -C "$nocuda" --no-rebuild --quiet
consume "$prefix" "$(option "$nocuda" libdir)" nocuda
subproject nocuda disabled

echo "install test: $((SECONDS - start)) s"
