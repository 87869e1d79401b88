"""fastnn.distributed: torch.distributed's names over MPI (mpi4py), for data-parallel training.

Launch the same script on N processes with ``mpiexec -n N python script.py`` (or
``python -m fastnn.distributed.run --nproc-per-node N script.py``, which also sets torchrun's RANK /
LOCAL_RANK / WORLD_SIZE variables), call ``init_process_group()``, and use the collectives below or
``fastnn.nn.parallel.DistributedDataParallel``. Importing this package does not import mpi4py:
``init_process_group`` does.
"""
from .collectives import (all_gather, all_gather_into_tensor, all_gather_object, all_reduce, all_to_all_single,
                          barrier, broadcast, broadcast_object_list, gather, irecv, isend, monitored_barrier, recv,
                          reduce, reduce_scatter, reduce_scatter_tensor, scatter, send)
from .process_group import (Backend, GroupMember, ProcessGroup, default_pg_timeout, destroy_process_group,
                            get_backend, get_global_rank, get_group_rank, get_process_group_ranks, get_rank,
                            get_world_size, group, init_process_group, is_available, is_gloo_available,
                            is_initialized, is_mpi_available, is_nccl_available, new_group)
from .reduce_op import ReduceOp, reduce_op
from .work import Work

__all__ = ["Backend", "GroupMember", "ProcessGroup", "ReduceOp", "Work", "all_gather", "all_gather_into_tensor",
           "all_gather_object", "all_reduce", "all_to_all_single", "barrier", "broadcast", "broadcast_object_list",
           "default_pg_timeout", "destroy_process_group", "gather", "get_backend", "get_global_rank",
           "get_group_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group", "init_process_group",
           "irecv", "is_available", "is_gloo_available", "is_initialized", "is_mpi_available", "is_nccl_available",
           "isend", "monitored_barrier", "new_group", "recv", "reduce", "reduce_op", "reduce_scatter",
           "reduce_scatter_tensor", "scatter", "send"]
