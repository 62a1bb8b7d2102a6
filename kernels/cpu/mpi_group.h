// MPI's world as the process group of launches by mpirun (process_group.h): a library of its own
// (rill_kernels_mpi), which librill and the rill command link and librill_rt does not, so that
// programs that only run plans need no MPI.
#pragma once

namespace rill {

// Makes ProcessGroup::World() MPI's world under a launcher (SetProcessGroupFactory); call before
// the first World(). Without MPI in the build, nothing. Repeated calls are free.
void RegisterMpiProcessGroup();

}  // namespace rill
