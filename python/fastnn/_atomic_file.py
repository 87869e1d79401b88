"""Atomic file replacement for every file fastnn writes (fastnn.save, Keras model.save / save_weights, the
callbacks' metadata): the target either keeps its old complete content or gets the new complete content,
whatever kills the writer, and a killed writer's temp file is removed by the next save to the same path.

A write goes to ``.<name>.fastnn-tmp-<pid>-<random>`` in the target's directory (the same filesystem, so the
rename is atomic; a leading dot keeps it out of globs such as ``ckpt-*.keras``), is flushed and fsynced, renamed
over the target with ``os.replace`` and then the directory is fsynced, so the new name survives a power loss
too. Any exception (KeyboardInterrupt included) removes the temp file. A SIGKILL or a power loss cannot run
any cleanup, so each save first sweeps the temp files of *its own target* that no live writer owns: one whose
pid is not running, or is this process's but not one of its writes in progress. A temp file of a live pid is
left alone unless its lock (each writer holds an ``flock`` on its temp file) is free and it is older than
``_REUSED_PID_GRACE_S``: then its pid has been reused by an unrelated process. Files that do not match the
pattern for this target are never touched.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
import time

try:  # POSIX: a writer's lock on its temp file tells a live write from a pid that was reused
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

TMP_MARK = ".fastnn-tmp-"
_REUSED_PID_GRACE_S = 60.0
_live: set[str] = set()  # this process's temp files being written now (any thread)
_live_lock = threading.Lock()


def temp_prefix(path: str) -> str:
    """The start of every temp file name for ``path`` (a basename, without the directory)."""
    return "." + os.path.basename(path) + TMP_MARK


def _pattern(path: str) -> re.Pattern:
    return re.compile(re.escape(temp_prefix(path)) + r"(\d+)-[0-9a-f]{16}\Z")


def _pid_running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    except OSError:  # pragma: no cover - platforms without signal 0: assume alive, never delete a live write
        return True
    return True


def _unlocked_and_old(tmp: str) -> bool:
    """True when no writer holds the temp file's lock and it has not been written to for a while."""
    if fcntl is None:
        return False
    try:
        fd = os.open(tmp, os.O_RDONLY)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a writer holds it
        return time.time() - os.fstat(fd).st_mtime > _REUSED_PID_GRACE_S
    finally:
        os.close(fd)


def stale_temp_files(path: str) -> list[str]:
    """The temp files of writes to ``path`` that no live writer owns (full paths)."""
    directory = os.path.dirname(os.path.abspath(path))
    pattern = _pattern(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    prefix, me, out = temp_prefix(path), os.getpid(), []
    for name in names:
        if not name.startswith(prefix):
            continue
        m = pattern.match(name)
        if m is None:
            continue
        full, pid = os.path.join(directory, name), int(m.group(1))
        with _live_lock:
            live_here = full in _live
        if live_here:
            continue
        if pid == me or not _pid_running(pid) or _unlocked_and_old(full):
            out.append(full)
    return out


def sweep(path: str) -> int:
    """Removes the stale temp files of ``path``; returns how many were removed."""
    removed = 0
    for tmp in stale_temp_files(path):
        try:
            os.unlink(tmp)
            removed += 1
        except FileNotFoundError:  # another process swept it first
            pass
        except OSError:  # not ours to remove after all (permissions): leave it
            pass
    return removed


def fsync_dir(directory: str) -> None:
    """Makes a rename durable; not possible on every platform (Windows), where it is skipped."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def default_mode(path: str) -> int:
    """The new file's permissions: those of the file it replaces, else 0o666 less the process umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        pass
    try:  # Linux reports the umask without changing it (os.umask would, for every thread, for a moment)
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def resolve(f) -> str:
    """The real path a save to ``f`` (str, bytes or os.PathLike) writes: through a symlink, the file it names."""
    path = os.fspath(f)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return os.path.realpath(path)


@contextlib.contextmanager
def atomic_write(f):
    """``with atomic_write(path) as out: out.write(...)``: ``out`` is a binary file; on a clean exit the
    content replaces ``path`` atomically and durably, on an exception the old file is untouched and the temp
    file is gone."""
    path = resolve(f)
    directory = os.path.dirname(path)
    sweep(path)
    mode = default_mode(path)
    tmp = os.path.join(directory, f"{temp_prefix(path)}{os.getpid()}-{secrets.token_hex(8)}")
    with _live_lock:
        _live.add(tmp)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed
            with os.fdopen(fd, "wb") as out:
                fd = -1
                yield out
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
    finally:
        with _live_lock:
            _live.discard(tmp)
    fsync_dir(directory)


def write_bytes(f, data: bytes) -> None:
    """The whole of ``data`` as the new content of ``f``, atomically."""
    with atomic_write(f) as out:
        out.write(data)


def write_text(f, text: str, encoding: str = "utf-8") -> None:
    write_bytes(f, text.encode(encoding))


def copy_file(src, dst) -> None:
    """``shutil.copyfile`` whose destination is replaced atomically."""
    import shutil

    with open(src, "rb") as inp, atomic_write(dst) as out:
        shutil.copyfileobj(inp, out, 1 << 20)
