// `rill-run` and `rill run`: a compiled model (`rill compile`) run on an input array by the
// runtime alone (librill_rt, rill/compiled_model.h). This file and rill_run_main.cc use no
// frontend or compiler code, so the rill-run executable links librill_rt only.
#pragma once

#include <cstdint>
#include <string>

namespace rill::cli {

// argv[0] is the program name as errors should show it ("rill-run", "rill run"); the
// arguments: PLAN --input X.npy --output Y.npy [--stream N], flags as --name=value or --name
// value. `plan_offset`: where the plan starts in its file (an executable made by
// `rill compile --emit executable` runs itself with its payload's offset).
// Returns the exit status: 0, 1 (the run failed: one line on stderr), 2 (a usage error).
int RunCompiledModelMain(int argc, char** argv, const std::string& plan_path = "",
                         uint64_t plan_offset = 0);

}  // namespace rill::cli
