// The CUDA backend of programs that link the runtime alone (rill-run, executables made by
// `rill compile --emit executable`, programs on librill_rt): a module, librill_rt_cuda.so,
// loaded the first time a plan compiled for cuda is loaded (CompiledModel::Load). A CPU plan
// thus loads no CUDA library, and a machine without CUDA runs it (docs/plan-format.md, "CUDA
// plans").
//
// The module holds the CUDA kernels and the device backend (no NCCL: compiled plans hold no
// collective) and takes the runtime it registers them into from the program that loads it, so
// that program must export the runtime's symbols: rill-run is linked with --export-dynamic, and
// librill_rt.so exports them.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rill {

inline constexpr char kCudaModuleFile[] = "librill_rt_cuda.so";
// Names one module file, instead of the search below.
inline constexpr char kCudaModuleEnv[] = "RILL_RT_CUDA_MODULE";
// The module's entry points (C linkage): its rill version, which must equal the loader's, and
// the registration of its backend.
inline constexpr char kCudaModuleVersionSymbol[] = "rill_rt_cuda_module_version";
inline constexpr char kCudaModuleRegisterSymbol[] = "rill_rt_cuda_module_register";

// Registers the CUDA backend from the module unless a CUDA backend is registered already. The
// module is the file $RILL_RT_CUDA_MODULE names, else librill_rt_cuda.so beside the program or
// library that holds the runtime, else in the library directory rill was configured to install
// into. FailedPrecondition naming the file and the loader's reason when it cannot be loaded, is
// of another rill version, or is nowhere; in a build without CUDA, saying so. Thread-safe; a
// module once loaded stays.
// An executable made by `rill compile --emit executable` from a cuda plan carries its module
// inside (runtime/plan_file.h), which it loads unless $RILL_RT_CUDA_MODULE names another.
absl::Status LoadCudaModule();

// The module file that a program without one inside would load: $RILL_RT_CUDA_MODULE's, else
// the first found by the search above (what `rill compile --emit executable` puts inside a
// cuda executable). FailedPrecondition as above when there is none.
absl::StatusOr<std::string> FindCudaModuleFile();

}  // namespace rill
