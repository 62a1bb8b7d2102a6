#!/usr/bin/env bash
# The installed library as its users consume it (docs/cpp-api.md). Twice: from this build
# directory (installed with --destdir) and from a -Dcuda=disabled build configured here (under
# <build>/install-test, kept between runs so that later runs rebuild only what changed). Each
# time the installed tree is checked (no CUDA library linked into librill or librill_rt;
# librill_cuda, which links them, installed exactly when the build has CUDA), then
# examples/train_mlp.cc and examples/add_kernel.cc are built with examples/consumers/ through
# pkg-config (shared and static librill) and CMake's find_package(rill), and run, and with CUDA
# examples/gpu_predict.cc through pkg-config (rill_cuda) and CMake (rill::cuda); then they are
# built with rill as a Meson subproject of a debug build (gpu_predict on its rill_cuda, with
# CUDA). gpu_predict must find its CUDA backend registered and predict on the GPU or, where
# none is usable, the CPU. A header or library missing from the install fails a build; an
# example that does not learn, or reports another version, fails its run.
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

# run_examples DIR: runs DIR/train_mlp (and DIR/train_mlp_static when built), DIR/add_kernel
# and DIR/gpu_predict when built.
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
  [[ -x $dir/gpu_predict ]] || return 0
  out=$("$dir/gpu_predict") || fail "$dir/gpu_predict exited with status $?"
  grep -q "^CUDA backend registered" <<<"$out" || fail "$dir/gpu_predict: no CUDA backend"
  grep -Eq "^predict ran on (cpu|cuda):" <<<"$out" || fail "$dir/gpu_predict: no result line"
  echo "$dir/gpu_predict: $(grep -E '^(CUDA|predict)' <<<"$out" | paste -sd '|' | sed 's/|/; /')"
}

# copy_consumer KIND DIR: examples/consumers/KIND and the example sources, fresh, in DIR.
copy_consumer() {
  rm -rf "$2"
  mkdir -p "$2"
  cp "$src/examples/consumers/$1"/* "$src/examples/train_mlp.cc" "$src/examples/add_kernel.cc" \
     "$src/examples/gpu_predict.cc" "$2"/
}

# check_cuda_library ROOT LIBDIR LABEL CUDA: with CUDA (1), librill_cuda (shared and static),
# <rill/cuda.h> and rill_cuda.pc are installed, the shared library links cudart, cuBLAS,
# cuBLASLt and cuDNN itself and takes rill's registries from librill.so (it must not define
# them: the backend would register into a copy the frontend never reads); without (0), none of
# them is installed.
check_cuda_library() {
  local root=$1 libdir=$2 label=$3 cuda=$4 file needed
  local files=("$libdir/librill_cuda.a" "$libdir/librill_cuda.so.$version"
               "$libdir/pkgconfig/rill_cuda.pc" include/rill/cuda.h
               include/rill/kernels/cuda/cuda_backend.h "$libdir/librill_rt_cuda.so")
  for file in "${files[@]}"; do
    if [[ $cuda == 1 && ! -f $root/$file ]]; then
      fail "$label: $file is not installed"
    elif [[ $cuda == 0 && -e $root/$file ]]; then
      fail "$label: $file is installed by a build without CUDA"
    fi
  done
  [[ $cuda == 1 ]] || return 0
  needed=$(LD_LIBRARY_PATH=$root/$libdir ldd "$root/$libdir/librill_cuda.so.$version")
  for file in librill.so libcudart libcublas.so libcublasLt libcudnn.so; do
    grep -q "$file" <<<"$needed" || fail "$label: librill_cuda.so does not link $file"
  done
  if nm -D --defined-only "$root/$libdir/librill_cuda.so.$version" | c++filt |
      grep -E 'rill::(RegisterDeviceBackend|FindDeviceBackend|FindKernel)\('; then
    fail "$label: librill_cuda.so defines rill's registries (they belong to librill.so)"
  fi
  # The runtime's CUDA backend module takes them from the program that loads it (rill-run or
  # librill_rt.so), and NCCL is not its business; rill-run itself loads no CUDA library.
  if nm -D --defined-only "$root/$libdir/librill_rt_cuda.so" | c++filt |
      grep -E 'rill::(RegisterDeviceBackend|FindDeviceBackend|FindKernel)\('; then
    fail "$label: librill_rt_cuda.so defines rill's registries (they belong to its loader)"
  fi
  if readelf -d "$root/$libdir/librill_rt_cuda.so" | grep -E 'NEEDED.*(libnccl|libmpi)'; then
    fail "$label: librill_rt_cuda.so links NCCL or MPI"
  fi
  if readelf -d "$root/bin/rill-run" | grep -E 'NEEDED.*(libcudart|libcublas|libcudnn|libnccl)'; then
    fail "$label: rill-run links CUDA libraries (only librill_rt_cuda.so may)"
  fi
}

# consume ROOT LIBDIR LABEL CUDA: the install at ROOT (prefix) of a build with CUDA (1) or
# without (0), checked and built against.
consume() {
  local root=$1 libdir=$2 label=$3 cuda=$4 lib
  for lib in librill librill_rt; do
    [[ -f $root/$libdir/$lib.a ]] || fail "$label: $lib.a is not installed"
    [[ -f $root/$libdir/$lib.so.$version ]] || fail "$label: $lib.so.$version is not installed"
    if ldd "$root/$libdir/$lib.so.$version" | grep -E 'libcudart|libcublas|libcudnn'; then
      fail "$label: $lib.so links CUDA libraries"
    fi
  done
  check_cuda_library "$root" "$libdir" "$label" "$cuda"

  echo "== $label: pkg-config (rill.pc, rill_rt.pc)"
  local dir=$work/$label-pkg-config
  copy_consumer pkg-config "$dir"
  PKG_CONFIG_PATH=$root/$libdir/pkgconfig make -s -C "$dir" CXXFLAGS=-O0
  if [[ $cuda == 1 ]]; then
    echo "== $label: pkg-config (rill_cuda.pc): $(PKG_CONFIG_PATH=$root/$libdir/pkgconfig \
      pkg-config --libs rill_cuda)"
    PKG_CONFIG_PATH=$root/$libdir/pkgconfig make -s -C "$dir" CXXFLAGS=-O0 gpu_predict
  fi
  LD_LIBRARY_PATH=$root/$libdir run_examples "$dir"

  echo "== $label: CMake find_package(rill)"
  dir=$work/$label-cmake
  copy_consumer cmake "$dir"
  cmake -S "$dir" -B "$dir/build" -G Ninja -DCMAKE_PREFIX_PATH="$root" -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$dir/build"
  [[ $cuda == 0 || -x $dir/build/gpu_predict ]] || fail "$label: CMake found no rill::cuda"
  [[ $cuda == 1 || ! -e $dir/build/gpu_predict ]] || fail "$label: rill::cuda without CUDA"
  run_examples "$dir/build"
}

# subproject LABEL CUDA HAVE_CUDA: rill as subprojects/rill of a debug build, with
# -Drill:cuda=CUDA, which finds CUDA (1: gpu_predict is built, on rill_cuda) or not (0). One
# build directory serves both labels and stays between runs, so that Ninja (and ccache) redo
# only what changed.
subproject() {
  local label=$1 dir=$work/meson-subproject
  echo "== $label: Meson subproject (-Drill:cuda=$2)"
  mkdir -p "$dir/subprojects"
  cp "$src/examples/consumers/meson/meson.build" "$src/examples/train_mlp.cc" \
     "$src/examples/add_kernel.cc" "$src/examples/gpu_predict.cc" "$dir"/
  rm -f "$dir/build/gpu_predict"
  ln -sfn "$src" "$dir/subprojects/rill"
  if [[ -f $dir/build/build.ninja ]]; then
    meson configure "$dir/build" "-Drill:cuda=$2"
  else
    rm -rf "$dir/build"
    meson setup "$dir/build" "$dir" "-Drill:cuda=$2" >/dev/null
  fi
  ninja -C "$dir/build" >/dev/null
  [[ $3 == 0 || -x $dir/build/gpu_predict ]] || fail "$label: the subproject gave no rill_cuda"
  [[ $3 == 1 || ! -e $dir/build/gpu_predict ]] || fail "$label: rill_cuda without CUDA"
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
# Whether the build found CUDA (RILL_HAVE_CUDA in its rill_config.h).
plain_cuda=$(sed -n 's/^#define RILL_HAVE_CUDA \([01]\)$/\1/p' "$build/rill_config.h")
[[ $plain_cuda == [01] ]] || fail "$build/rill_config.h: no RILL_HAVE_CUDA"
consume "$dest$(option "$build" prefix)" "$(option "$build" libdir)" plain "$plain_cuda"
subproject plain auto "$plain_cuda"

# -Dcuda=disabled: only what the install needs is built, unoptimized (it compiles fastest, and
# this is a test of the install, not of speed).
nocuda=$work/nocuda-build
prefix=$work/nocuda-prefix
nocuda_options=(-Dcuda=disabled -Doptimization=0 -Ddebug=false "--prefix=$prefix")
if [[ -f $nocuda/build.ninja ]]; then
  meson configure "$nocuda" "${nocuda_options[@]}"
  # Regenerated now, so that the introspection below lists the targets of the current sources.
  ninja -C "$nocuda" build.ninja >/dev/null
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
consume "$prefix" "$(option "$nocuda" libdir)" nocuda 0
subproject nocuda disabled 0

echo "install test: $((SECONDS - start)) s"
