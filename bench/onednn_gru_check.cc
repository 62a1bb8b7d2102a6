// Proves that RunOneDnnGru computes CuDNNGRU's function: small problems run through oneDNN's
// lbr_gru and through rill's registered cudnn_gru / cudnn_gru_grad CPU kernels on the same
// inputs; prints the largest absolute difference of y, dx, dkernel, drecurrent and dbias and
// exits non-zero when one exceeds 1e-4 (or oneDNN refuses the problem).
//
//   onednn_gru_check [--threads=2]
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/onednn_gru.h"
#include "kernels/register.h"
#include "runtime/kernel.h"
#include "runtime/tensor.h"

namespace {

using rill::DType;
using rill::Shape;
using rill::Tensor;
using rill::TensorView;

constexpr double kTolerance = 1e-4;

Tensor Random(Shape shape, float limit, std::mt19937& rng) {
  Tensor t(DType::kF32, std::move(shape));
  std::uniform_real_distribution<float> dist(-limit, limit);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

double MaxAbsDiff(const Tensor& want, const std::vector<float>& got) {
  if (static_cast<int64_t>(got.size()) != want.size()) return INFINITY;
  double worst = 0;
  for (int64_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::fabs(static_cast<double>(want.data<float>()[i]) - got[i]));
  }
  return worst;
}

// Returns true when every difference is within kTolerance.
bool Check(int64_t time, int64_t batch, int64_t input, int64_t units) {
  std::mt19937 rng(7);
  const int64_t u = units, d = input;
  Tensor x = Random({batch, time, d}, 1.0f, rng);
  Tensor h0(DType::kF32, {batch, u});
  Tensor kernel = Random({d, 3 * u}, 0.5f, rng);
  Tensor recurrent = Random({u, 3 * u}, 0.5f, rng);
  Tensor bias = Random({6 * u}, 0.5f, rng);
  Tensor dy = Random({batch, time, u}, 1.0f, rng);
  Tensor y(DType::kF32, {batch, time, u}), h_last(DType::kF32, {batch, u});
  Tensor reserve(DType::kF32, {batch, time, 4 * u});
  Tensor dh_last(DType::kF32, {batch, u});
  Tensor dx(DType::kF32, x.shape()), dh0(DType::kF32, h0.shape());
  Tensor dkernel(DType::kF32, kernel.shape()), drecurrent(DType::kF32, recurrent.shape());
  Tensor dbias(DType::kF32, bias.shape());
  std::memset(h0.data<float>(), 0, h0.size() * sizeof(float));
  std::memset(dh_last.data<float>(), 0, dh_last.size() * sizeof(float));

  const rill::Attrs attrs = {{"time_major", false}, {"go_backwards", false}};
  const rill::KernelContext ctx;
  const std::vector<TensorView> fwd_in = {x.view(), h0.view(), kernel.view(), recurrent.view(),
                                          bias.view()};
  std::vector<TensorView> bwd_in = fwd_in;
  for (Tensor* t : {&y, &reserve, &dy, &dh_last}) bwd_in.push_back(t->view());
  const absl::Status fwd =
      rill::FindKernel(rill::OpKind::kCuDNNGRU, rill::DeviceKind::kCpu)
          ->fn({attrs, fwd_in, {y.view(), h_last.view(), reserve.view()}, ctx});
  const absl::Status bwd =
      rill::FindKernel(rill::OpKind::kCuDNNGRUGrad, rill::DeviceKind::kCpu)
          ->fn({attrs,
                bwd_in,
                {dx.view(), dh0.view(), dkernel.view(), drecurrent.view(), dbias.view()},
                ctx});
  if (!fwd.ok() || !bwd.ok()) {
    std::printf("rill kernel failed: %s %s\n", std::string(fwd.message()).c_str(),
                std::string(bwd.message()).c_str());
    return false;
  }

  rill::bench::GruProblem p;
  p.time = time;
  p.batch = batch;
  p.input = input;
  p.units = units;
  p.x = x.data<float>();
  p.kernel = kernel.data<float>();
  p.recurrent = recurrent.data<float>();
  p.bias = bias.data<float>();
  p.dy = dy.data<float>();
  // Several runs: a gradient that accumulated across runs would show here.
  const rill::bench::OneDnnGruResult r = rill::bench::RunOneDnnGru(p, 3);
  std::printf("T=%lld B=%lld I=%lld H=%lld: ", static_cast<long long>(time),
              static_cast<long long>(batch), static_cast<long long>(input),
              static_cast<long long>(units));
  if (!r.error.empty()) {
    std::printf("%s\n", r.error.c_str());
    return false;
  }
  const double diffs[] = {MaxAbsDiff(y, r.y), MaxAbsDiff(dx, r.dx), MaxAbsDiff(dkernel, r.dkernel),
                          MaxAbsDiff(drecurrent, r.drecurrent), MaxAbsDiff(dbias, r.dbias)};
  std::printf("max |diff| y %.3g  dx %.3g  dkernel %.3g  drecurrent %.3g  dbias %.3g\n", diffs[0],
              diffs[1], diffs[2], diffs[3], diffs[4]);
  return std::all_of(std::begin(diffs), std::end(diffs), [](double v) { return v <= kTolerance; });
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = std::atoi(argv[i] + 10);
  }
  omp_set_num_threads(std::max(1, threads));
  rill::RegisterCpuKernels();
  std::printf("oneDNN lbr_gru vs rill cudnn_gru(_grad), oneDNN ISA %s, tolerance %g\n",
              rill::bench::OneDnnIsa().c_str(), kTolerance);
  bool ok = true;
  ok &= Check(4, 3, 5, 7);
  ok &= Check(3, 2, 8, 4);
  ok &= Check(6, 5, 3, 9);
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
