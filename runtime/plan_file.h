// The compiled model file (`rill compile`, docs/plan-format.md): a lowered, scheduled,
// memory-planned plan with the values of its parameters, versioned and checksummed, whose
// weights are laid out so that a reader maps the file and uses them in place (zero copy).
//
//   preamble   magic "RILLPLAN", format version, section count, file size, CRC-32s of the
//              section table and of the preamble
//   table      one entry per section: id, CRC-32 (zlib's crc32) of its bytes, offset, size
//   sections   header (rill version, device, inputs, outputs, arena bytes), plan, parameter
//              index, parameter data (page-aligned; each tensor 64-byte aligned)
//
// Reading checks, in order: the magic, the format version (another version is refused naming
// both), the preamble and table checksums, the file size, every section's bounds and checksum,
// that the bytes between sections are zero, then the contents (indices in range, kernels
// present, parameter types); nothing is allocated from a size before it is checked against
// the bytes that hold it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/param_store.h"
#include "runtime/plan.h"
#include "runtime/tensor.h"

namespace rill {

// Bumped whenever the layout of any part of the file changes (docs/plan-format.md).
inline constexpr uint32_t kPlanFormatVersion = 3;
inline constexpr char kPlanMagic[8] = {'R', 'I', 'L', 'L', 'P', 'L', 'A', 'N'};
// Parameter data starts on a page boundary of the file (mmap offsets), each tensor on 64 bytes.
inline constexpr size_t kPlanPageAlignment = 4096;
inline constexpr size_t kPlanTensorAlignment = 64;

struct NamedType {
  std::string name;
  TensorType type;
  friend bool operator==(const NamedType&, const NamedType&) = default;
};

// What the header section says: enough to use a model without decoding its plan.
struct PlanFileHeader {
  uint32_t format_version = kPlanFormatVersion;
  std::string rill_version;  // the rill that wrote the file
  DeviceKind device = DeviceKind::kCpu;
  int64_t arena_bytes = 0;
  std::vector<NamedType> inputs;
  std::vector<NamedType> outputs;
};

// The file's bytes for an inference plan (InvalidArgument for a training plan) and the values
// of its kParam buffers, found by name in `params` (FailedPrecondition when one is missing or
// has another type).
absl::StatusOr<std::string> EncodePlanFile(const Plan& plan, const ParamStore& params);

// EncodePlanFile, written to a temporary file beside `path` and renamed into place once
// complete; `path` is checked first (CheckFileTarget, runtime/output_path.h).
absl::Status WritePlanFile(const std::string& path, const Plan& plan, const ParamStore& params);

// A decoded file. The parameters are views of the file's bytes (kept alive by them): the plan
// may write the ones it updates (stateful layers' states) without touching the file.
struct LoadedPlan {
  PlanFileHeader header;
  Plan plan;  // every step's kernel found for plan.device
  std::vector<std::pair<std::string, Tensor>> params;
};

// Decodes the `size` bytes at `data` (held by `keep`, writable). InvalidArgument naming what
// is wrong; the kernels must be registered for the plan's device.
absl::StatusOr<LoadedPlan> DecodePlanFile(std::shared_ptr<std::byte> keep, size_t size);

// Where a plan lies in a file: all of a .rillc file, or the payload of an executable made by
// `rill compile --emit executable`.
struct PlanLocation {
  uint64_t offset = 0;  // a multiple of kPlanPageAlignment
  uint64_t size = 0;    // 0: to the end of the file
};

// Maps the plan at `where` in the file at `path` (privately: writes stay in this process) and
// decodes it. Errors start with the path: "m.rillc: plan file truncated: 100 bytes, its
// preamble says 4096".
absl::StatusOr<LoadedPlan> ReadPlanFile(const std::string& path, PlanLocation where = {});

// An executable with a plan inside: the program's bytes, zeros up to a page boundary, the plan
// file, then, for a plan compiled for cuda, zeros up to a page boundary and the CUDA backend
// module (rill/cuda_module.h), then a 48-byte trailer: u64 plan offset, u64 plan size, u64
// module offset, u64 module size (0, 0 without one), u32 CRC-32 of the module, 4 zero bytes,
// "RILLEXE2".
inline constexpr char kEmbeddedPlanMagic[8] = {'R', 'I', 'L', 'L', 'E', 'X', 'E', '2'};
inline constexpr size_t kEmbeddedTrailerBytes = 48;

// Writes `program` (an executable's bytes) with `plan` (a plan file's bytes) and `module` (a
// CUDA backend module's bytes, or empty) inside to `path` as an executable file (mode 0755),
// through a temporary beside it.
absl::Status WriteExecutableWithPlan(const std::string& path, const std::string& program,
                                     const std::string& plan, const std::string& module = "");

// What an executable holds: its plan (size 0 when the file has no trailer) and its CUDA backend
// module (size 0 when none).
struct EmbeddedPayload {
  PlanLocation plan;
  PlanLocation module;
  uint32_t module_crc = 0;
};

// The payload inside the executable at `path`. InvalidArgument naming the file when a trailer's
// offsets and sizes do not fit it.
absl::StatusOr<EmbeddedPayload> FindEmbeddedPayload(const std::string& path);

}  // namespace rill
