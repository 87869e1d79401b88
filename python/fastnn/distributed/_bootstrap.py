"""What each rank runs under ``fastnn.distributed.run`` / ``launch``: torchrun's environment variables from
MPI's, then the user's script (or module) as ``__main__``."""
from __future__ import annotations

import os
import runpy
import sys


def _env_from_mpi() -> None:
    # Hydra (MPICH) sets PMI_RANK / PMI_SIZE / MPI_LOCALRANKID; Open MPI sets OMPI_COMM_WORLD_*.
    env = os.environ
    rank = env.get("PMI_RANK", env.get("OMPI_COMM_WORLD_RANK", "0"))
    size = env.get("PMI_SIZE", env.get("OMPI_COMM_WORLD_SIZE", "1"))
    local = env.get("MPI_LOCALRANKID", env.get("OMPI_COMM_WORLD_LOCAL_RANK", rank))
    local_size = env.get("MPI_LOCALNRANKS", env.get("OMPI_COMM_WORLD_LOCAL_SIZE", size))
    for key, value in (("RANK", rank), ("WORLD_SIZE", size), ("LOCAL_RANK", local),
                       ("LOCAL_WORLD_SIZE", local_size), ("GROUP_RANK", "0")):
        env.setdefault(key, value)


def main(argv) -> None:
    _env_from_mpi()
    if argv and argv[0] == "-m":
        sys.argv = argv[1:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
        runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
