// `rill-run` and `rill run`: a compiled model (`rill compile`) run on an input array by the
// runtime alone (librill_rt, rill/compiled_model.h). This file and rill_run_main.cc use no
// frontend or compiler code, so the rill-run executable links librill_rt only.
#pragma once

#include <string>

#include "runtime/plan_file.h"

namespace rill::cli {

// argv[0] is the program name as errors should show it ("rill-run", "rill run"); the
// arguments: PLAN --input X.npy --output Y.npy [--stream N], flags as --name=value or --name
// value. With `plan_path` (an executable made by `rill compile --emit executable` runs the
// plan inside itself, at `where`) the arguments have no PLAN.
// Returns the exit status: 0, 1 (the run failed: one line on stderr), 2 (a usage error).
int RunCompiledModelMain(int argc, char** argv, const std::string& plan_path = "",
                         PlanLocation where = {});

}  // namespace rill::cli
