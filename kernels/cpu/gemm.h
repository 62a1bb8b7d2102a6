// Row-major GEMM for float and double: C = alpha·op(A)·op(B) + beta·C. double runs on
// OpenBLAS; float on the library chosen once per process (ChosenSgemm).
#pragma once

#include <cstdint>
#include <string>

namespace rill::cpu {

// Float GEMM's library: oneDNN (when built in) on a CPU with AVX-512 whose OpenBLAS core does
// not use it (Debian's OpenBLAS picks AVX2 kernels on CPUs newer than itself), else OpenBLAS.
// RILL_SGEMM=openblas|onednn forces one. Threads: OpenBLAS's (OPENBLAS_NUM_THREADS) or
// OpenMP's (OMP_NUM_THREADS) for oneDNN.
enum class SgemmLibrary { kOpenBlas, kOneDnn };
SgemmLibrary ChosenSgemm();
// One line saying which library float GEMMs use and why (rill version, benchmarks).
std::string SgemmReport();

void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

}  // namespace rill::cpu
