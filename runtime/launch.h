// What the launcher (mpirun, MPICH's hydra, a PMIx launcher) tells a process about its launch in
// the environment: the one place rill reads it (the process group, kernels/cpu/process_group.h;
// the GPU of each rank, kernels/cuda/device.h).
#pragma once

namespace rill {

// The number of processes of this launch (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE); 0 when the
// program was not started by a launcher.
int LaunchedProcessCount();

// The processes of this launch on this machine and this one's index among them (Open MPI's
// OMPI_COMM_WORLD_LOCAL_SIZE and _RANK, MPICH's MPI_LOCALNRANKS and MPI_LOCALRANKID); 0 and -1
// without a launcher.
int LaunchedLocalProcessCount();
int LaunchedLocalRank();

}  // namespace rill
