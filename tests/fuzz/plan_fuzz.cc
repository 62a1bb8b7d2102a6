// libFuzzer target: the compiled model file (runtime/plan_file: what `rill-run` and
// CompiledModel::Load read) on arbitrary bytes. Before an input is decoded its checksums are
// recomputed (a fuzzer would never guess them): each section's CRC-32 in the section table
// wherever the entry's bytes lie inside the input, then the table's and the preamble's, with
// the preamble's file size set to the input's. So what runs is the decoding behind the
// checksums: the header, the plan (buffers, steps, attributes, schedule), the parameter index
// and the parameter data. A plan that decodes is then run, as a loaded model runs it, on inputs
// of zeros (zero is a valid index and length), unless its memory exceeds kMaxRunBytes: so every
// kernel meets the steps a hand-made file can give it. The same bytes are also read as an
// executable's payload: its trailer (FindEmbeddedPayload) and, when the trailer fits, the plan it
// points to. Every input must give a plan or an error status. The seeds are compiled plans
// (scripts/fuzz copies the main build's tests/runtime/seq_stack.rillc and compiles four more).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "kernels/register.h"
#include "runtime/byte_io.h"
#include "runtime/executor.h"
#include "runtime/param_store.h"
#include "runtime/plan_file.h"
#include "tests/fuzz/input_file.h"

namespace {

// The container's layout (docs/plan-format.md): a 32-byte preamble (magic, u32 format version,
// u32 section count, u64 file size, u32 CRC-32 of the section table, u32 CRC-32 of the
// preamble's first 28 bytes), then 24 bytes per section (u32 id, u32 CRC-32, u64 offset, u64
// size).
constexpr size_t kPreamble = 32, kEntry = 24;

template <typename T>
T Get(const std::string& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}
template <typename T>
void Put(std::string& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

void FixChecksums(std::string& b) {
  if (b.size() < kPreamble) return;
  Put<uint64_t>(b, 16, b.size());
  const uint64_t entries =
      std::min<uint64_t>(Get<uint32_t>(b, 12), (b.size() - kPreamble) / kEntry);
  for (uint64_t i = 0; i < entries; ++i) {
    const size_t at = kPreamble + i * kEntry;
    const uint64_t offset = Get<uint64_t>(b, at + 8), bytes = Get<uint64_t>(b, at + 16);
    if (offset <= b.size() && bytes <= b.size() - offset)
      Put<uint32_t>(b, at + 4, rill::Crc32(b.data() + offset, bytes));
  }
  Put<uint32_t>(b, 24, rill::Crc32(b.data() + kPreamble, entries * kEntry));
  Put<uint32_t>(b, 28, rill::Crc32(b.data(), kPreamble - 4));
}

// Runs a decoded plan with CompiledModel::Load's executor options, on zero inputs, when its
// arena and inputs fit in kMaxRunBytes. Any status is fine: what is checked is that it returns.
constexpr int64_t kMaxRunBytes = int64_t{64} << 20;
void RunOnZeros(rill::LoadedPlan& loaded) {
  int64_t bytes = loaded.plan.arena_bytes;
  std::vector<rill::Tensor> inputs;
  for (int i : loaded.plan.inputs) {
    const rill::TensorType& type = loaded.plan.buffers[i].type;
    bytes += type.shape.NumElements() * rill::DTypeSize(type.dtype);
    if (bytes > kMaxRunBytes) return;
  }
  for (int i : loaded.plan.inputs) {
    const rill::TensorType& type = loaded.plan.buffers[i].type;
    inputs.emplace_back(type.dtype, type.shape);
    if (inputs.back().bytes() > 0) std::memset(inputs.back().raw(), 0, inputs.back().bytes());
  }
  rill::ParamStore params;
  for (auto& [name, value] : loaded.params) params.Set(name, std::move(value));
  auto executor = rill::Executor::Create(std::move(loaded.plan), &params,
                                         rill::ExecutorOptions{.check_memory = false});
  if (executor.ok()) (void)executor->Run(inputs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool registered = (rill::RegisterCpuKernels(), true);
  (void)registered;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  FixChecksums(bytes);
  // Decoded where a mapping would put it: page-aligned, writable.
  const size_t rounded = (bytes.size() / rill::kPlanPageAlignment + 1) * rill::kPlanPageAlignment;
  auto* buffer = static_cast<std::byte*>(std::aligned_alloc(rill::kPlanPageAlignment, rounded));
  std::memcpy(buffer, bytes.data(), bytes.size());
  std::shared_ptr<std::byte> keep(buffer, [](std::byte* p) { std::free(p); });
  auto plan = rill::DecodePlanFile(keep, bytes.size());
  if (plan.ok()) RunOnZeros(*plan);

  const std::string& path = rill::fuzz::WriteInputFile(data, size, ".rillc", /*in_memory=*/true);
  auto payload = rill::FindEmbeddedPayload(path);
  if (payload.ok() && payload->plan.size > 0) (void)rill::ReadPlanFile(path, payload->plan);
  return 0;
}
