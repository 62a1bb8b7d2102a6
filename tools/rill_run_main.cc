// rill-run: the runner of compiled models (run_plan.h), linked against librill_rt alone.
#include "tools/run_plan.h"

int main(int argc, char** argv) { return rill::cli::RunCompiledModelMain(argc, argv); }
