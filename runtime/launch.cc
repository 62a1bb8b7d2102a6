#include "runtime/launch.h"

#include <cstdlib>
#include <initializer_list>

namespace rill {
namespace {

// The value of the first of `vars` that is set to a number of at least `minimum`, else
// `otherwise`.
int FirstEnvNumber(std::initializer_list<const char*> vars, int minimum, int otherwise) {
  for (const char* var : vars) {
    const char* value = std::getenv(var);
    if (value != nullptr && value[0] != '\0' && std::atoi(value) >= minimum)
      return std::atoi(value);
  }
  return otherwise;
}

}  // namespace

int LaunchedProcessCount() {
  return FirstEnvNumber({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}, 1, 0);
}

int LaunchedLocalProcessCount() {
  return FirstEnvNumber({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}, 1, 0);
}

int LaunchedLocalRank() {
  return FirstEnvNumber({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"}, 0, -1);
}

}  // namespace rill
