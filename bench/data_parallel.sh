#!/usr/bin/env bash
# Data-parallel CPU scaling of config a's training step (bench/data_parallel_bench.cc):
# 1 process x 2 threads vs 2 processes x 1 thread (mpirun). Prints one line per run.
#   bench/data_parallel.sh [BUILD_DIR] [bench flags...]
set -euo pipefail
build=${1:-build}
shift || true
bench="$build/bench/data_parallel_bench"
OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 "$bench" "$@"
mpirun --oversubscribe --allow-run-as-root -np 2 --bind-to none \
  -x OPENBLAS_NUM_THREADS=1 -x OMP_NUM_THREADS=1 "$bench" "$@"
