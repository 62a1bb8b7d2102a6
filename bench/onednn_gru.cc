// The CPU GRU benchmark's oneDNN anchor over the product's kernel (see onednn_gru.h).
#include "bench/onednn_gru.h"

#include <exception>
#include <oneapi/dnnl/dnnl.hpp>

#include "bench/timing.h"
#include "ir/status.h"
#include "kernels/cpu/gru_onednn.h"

namespace rill::bench {
namespace {

absl::Status Run(const GruProblem& p, int reps, OneDnnGruResult& r) {
  const cpu::GruShape s{.batch = p.batch, .time = p.time, .input = p.input, .units = p.units};
  const int64_t n = p.batch * p.time, h = p.units;
  const std::vector<float> h0(p.batch * h, 0.0f), dh_last(p.batch * h, 0.0f);
  std::vector<float> h_last(p.batch * h), dh0(p.batch * h);
  r.y.resize(n * h);
  r.dx.resize(n * p.input);
  r.dkernel.resize(p.input * 3 * h);
  r.drecurrent.resize(h * 3 * h);
  r.dbias.resize(6 * h);
  RILL_ASSIGN_OR_RETURN(r.forward_ms, MedianMsOrError(reps, [&] {
                          return cpu::OneDnnGruForward(s, /*training=*/false, p.x, h0.data(),
                                                       p.kernel, p.recurrent, p.bias, r.y.data(),
                                                       h_last.data(), nullptr);
                        }));
  RILL_ASSIGN_OR_RETURN(int64_t workspace_bytes, cpu::OneDnnGruWorkspaceBytes(s));
  std::vector<char> workspace(workspace_bytes);
  RILL_ASSIGN_OR_RETURN(r.train_ms, MedianMsOrError(reps, [&]() -> absl::Status {
                          RILL_RETURN_IF_ERROR(cpu::OneDnnGruForward(
                              s, /*training=*/true, p.x, h0.data(), p.kernel, p.recurrent, p.bias,
                              r.y.data(), h_last.data(), workspace.data()));
                          return cpu::OneDnnGruBackward(
                              s, p.x, h0.data(), p.kernel, p.recurrent, p.bias, r.y.data(),
                              workspace.data(), p.dy, dh_last.data(), r.dx.data(), dh0.data(),
                              r.dkernel.data(), r.drecurrent.data(), r.dbias.data());
                        }));
  return absl::OkStatus();
}

}  // namespace

OneDnnGruResult RunOneDnnGru(const GruProblem& p, int reps) {
  OneDnnGruResult r;
  if (p.time <= 0 || p.batch <= 0 || p.input <= 0 || p.units <= 0 || reps < 1) {
    r.error = "onednn gru: sizes and reps must be positive";
    return r;
  }
  absl::Status st;
  try {
    st = Run(p, reps, r);
  } catch (const std::exception& e) {  // std::bad_alloc for a problem too large for memory
    st = absl::ResourceExhaustedError(std::string("onednn gru: ") + e.what());
  }
  if (!st.ok()) {
    r = OneDnnGruResult();
    r.error = std::string(st.message());
  }
  return r;
}

std::string OneDnnIsa() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::all:
      return "all";
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx512_mic:
      return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
  }
  return "unknown (" + std::to_string(static_cast<int>(dnnl::get_effective_cpu_isa())) + ")";
}

}  // namespace rill::bench
