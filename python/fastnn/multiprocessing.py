"""torch.multiprocessing: Python's multiprocessing, re-exported, plus torch's ``spawn`` and sharing strategy.

Tensors pickle by value (their bytes), so a tensor sent through a Queue arrives as a copy. To share storage,
call ``Tensor.share_memory_()`` / ``Module.share_memory()`` before starting ``fork`` processes (Linux's
default start method): the storage then lives in a shared mapping the children inherit, which is what
Hogwild-style training needs. torch additionally passes shared storages through Queues by file descriptor;
fastnn does not (a queued tensor is copied)."""
from __future__ import annotations

import multiprocessing as _mp
from multiprocessing import *  # noqa: F401,F403  (the whole of Python's API, as torch.multiprocessing)

__all__ = list(getattr(_mp, "__all__", [])) + ["spawn", "start_processes", "get_sharing_strategy",
                                                "set_sharing_strategy", "get_all_sharing_strategies",
                                                "ProcessRaisedException", "ProcessExitedException"]

_strategy = "file_descriptor"


def get_all_sharing_strategies() -> set:
    return {"file_descriptor", "file_system"}


def get_sharing_strategy() -> str:
    return _strategy


def set_sharing_strategy(new_strategy: str) -> None:
    """Accepted for torch's two strategies; fastnn shares only through inherited mappings (see above),
    which both strategies' users get."""
    global _strategy
    if new_strategy not in get_all_sharing_strategies():
        raise ValueError(f"unknown sharing strategy {new_strategy!r}")
    _strategy = new_strategy


class ProcessExitedException(Exception):
    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int) -> None:
        super().__init__(msg)
        self.error_index, self.pid, self.exit_code = error_index, error_pid, exit_code


class ProcessRaisedException(Exception):
    def __init__(self, msg: str, error_index: int, error_pid: int) -> None:
        super().__init__(msg)
        self.error_index, self.pid = error_index, error_pid


def _wrap(fn, i, args, queue):
    try:
        fn(i, *args)
    except BaseException:
        import traceback

        queue.put((i, traceback.format_exc()))
        raise SystemExit(1)


def start_processes(fn, args=(), nprocs: int = 1, join: bool = True, daemon: bool = False,
                    start_method: str = "spawn"):
    """Runs ``fn(i, *args)`` for i in range(nprocs), each in its own process; with ``join`` waits for all
    and raises ProcessRaisedException (the child's traceback) or ProcessExitedException on a failure."""
    ctx = _mp.get_context(start_method)
    errors = ctx.SimpleQueue()
    procs = []
    for i in range(nprocs):
        p = ctx.Process(target=_wrap, args=(fn, i, args, errors), daemon=daemon)
        p.start()
        procs.append(p)
    if not join:
        return procs
    for p in procs:
        p.join()
    if not errors.empty():
        i, tb = errors.get()
        raise ProcessRaisedException(f"\n\n-- Process {i} terminated with the following error:\n{tb}", i,
                                     procs[i].pid)
    for i, p in enumerate(procs):
        if p.exitcode != 0:
            raise ProcessExitedException(f"process {i} terminated with exit code {p.exitcode}", i, p.pid, p.exitcode)
    return None


def spawn(fn, args=(), nprocs: int = 1, join: bool = True, daemon: bool = False, start_method: str = "spawn"):
    return start_processes(fn, args, nprocs, join, daemon, start_method)
