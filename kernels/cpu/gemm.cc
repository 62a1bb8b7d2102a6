// Float and double GEMM for the CPU kernels, and the choice of the float GEMM's library.
// Debian's OpenBLAS runs its Haswell (AVX2) kernels on CPUs newer than itself (AVX-512 Zen 5
// among them), at half of what such a CPU can do; oneDNN's sgemm dispatches to AVX-512 by
// itself. So float goes to oneDNN where the CPU has AVX-512 and OpenBLAS's core does not use
// it; double always goes to OpenBLAS.
#include "kernels/cpu/gemm.h"

#include <cblas.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "kernels/cpu/gru_cpu.h"
#include "rill_config.h"

#if RILL_HAVE_ONEDNN
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#endif

namespace rill::cpu {
namespace {

#if RILL_HAVE_ONEDNN
// Below this many FLOPs (about 20 µs on one core) a float product runs single-threaded.
constexpr double kSmallSgemmFlops = 4e6;
#endif

bool OpenBlasCoreUsesAvx512() {
  const std::string core = openblas_get_corename();
  return core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids";
}

SgemmLibrary ChooseSgemm() {
  if (const char* forced = std::getenv("RILL_SGEMM")) {
    if (std::strcmp(forced, "openblas") == 0) return SgemmLibrary::kOpenBlas;
    if (std::strcmp(forced, "onednn") == 0 && RILL_HAVE_ONEDNN) return SgemmLibrary::kOneDnn;
  }
  if (RILL_HAVE_ONEDNN && BestCpuIsa() == CpuIsa::kAvx512 && !OpenBlasCoreUsesAvx512()) {
    return SgemmLibrary::kOneDnn;
  }
  return SgemmLibrary::kOpenBlas;
}

}  // namespace

SgemmLibrary ChosenSgemm() {
  static const SgemmLibrary chosen = ChooseSgemm();
  return chosen;
}

std::string SgemmReport() {
  std::string report =
      absl::StrCat("sgemm: ", ChosenSgemm() == SgemmLibrary::kOneDnn ? "oneDNN" : "OpenBLAS",
                   " (OpenBLAS core ", openblas_get_corename());
#if RILL_HAVE_ONEDNN
  absl::StrAppend(&report, ", oneDNN built in");
#else
  absl::StrAppend(&report, ", no oneDNN");
#endif
  absl::StrAppend(&report, ", cpu ", CpuIsaName(BestCpuIsa()), ")");
  return report;
}

void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#if RILL_HAVE_ONEDNN
  // dnnl_sgemm refuses nothing cblas accepts here (sizes and leading dimensions are checked
  // by the callers), so its status is not inspected.
  if (ChosenSgemm() == SgemmLibrary::kOneDnn) {
    // A small product runs on the calling thread alone: waking OpenMP's team costs more than
    // it saves there, and the woken threads then spin for milliseconds (libgomp's default wait
    // policy) on the cores that the GRU's own threads need next (a training step's Dense
    // layers around a GRU).
    const bool small = 2.0 * m * n * k < kSmallSgemmFlops;
    const int team = small ? omp_get_max_threads() : 1;
    if (small) omp_set_num_threads(1);
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (small) omp_set_num_threads(team);
    return;
  }
#endif
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
              k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace rill::cpu
