"""``keras.utils.get_file``: a file from a URL, kept in Keras' cache (``~/.keras/datasets`` or
``$KERAS_HOME/datasets``, or ``cache_dir/cache_subdir``), checked against ``file_hash`` and extracted from
its tar/zip archive on request. A cached file is used without touching the network, so data placed in the
cache works offline; when a download fails the error names the URL and the cache path to place it at."""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile

from .progbar import Progbar, print_msg


def keras_home() -> str:
    return os.path.expanduser(os.environ.get("KERAS_HOME", os.path.join("~", ".keras")))


def _hasher(algorithm: str, file_hash=None):
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and len(file_hash) == 64):
        return hashlib.sha256()
    if algorithm in ("md5", "auto"):
        return hashlib.md5()
    raise ValueError(f"Unknown hash_algorithm {algorithm!r}: expected 'auto', 'sha256' or 'md5'")


def hash_file(fpath, algorithm: str = "sha256", chunk_size: int = 65535) -> str:
    hasher = _hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash: str, algorithm: str = "auto", chunk_size: int = 65535) -> bool:
    return str(hash_file(fpath, _hasher(algorithm, file_hash), chunk_size)) == str(file_hash)


def _inside(root: str, member: str) -> bool:
    target = os.path.realpath(os.path.join(root, member))
    return os.path.commonpath([os.path.realpath(root), target]) == os.path.realpath(root)


def extract_archive(file_path, path=".", archive_format="auto") -> bool:
    """Extracts a tar or zip archive into ``path``; members that would land outside it (absolute paths,
    ``..``, links out) are refused. False when the file is none of the formats asked for."""
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    file_path, path = os.fspath(file_path), os.fspath(path)
    for fmt in formats:
        if fmt == "tar":
            matches = tarfile.is_tarfile(file_path)
        elif fmt == "zip":
            matches = zipfile.is_zipfile(file_path)
        else:
            raise NotImplementedError(fmt)
        if not matches:
            continue
        try:
            if fmt == "tar":
                with tarfile.open(file_path) as archive:
                    if hasattr(tarfile, "data_filter"):  # refuses absolute paths, '..' and links out of path
                        archive.extractall(path, filter="data")
                    else:
                        for m in archive.getmembers():
                            if not _inside(path, m.name) or m.issym() or m.islnk():
                                raise tarfile.TarError(f"archive member {m.name!r} is a link or outside {path}")
                        archive.extractall(path)
            else:
                with zipfile.ZipFile(file_path) as archive:
                    for name in archive.namelist():
                        if not _inside(path, name):
                            raise RuntimeError(f"archive member {name!r} would be written outside {path}")
                    archive.extractall(path)
        except (tarfile.TarError, RuntimeError, KeyboardInterrupt):
            if os.path.isfile(path):
                os.remove(path)
            elif os.path.exists(path):
                shutil.rmtree(path)
            raise
        return True
    return False


class _DownloadProgbar:
    def __init__(self) -> None:
        self.progbar = None
        self.finished = False

    def __call__(self, block_num, block_size, total_size) -> None:
        total = None if total_size == -1 else total_size
        if self.progbar is None:
            self.progbar = Progbar(total)
        current = block_num * block_size
        if total is None or current < total:
            self.progbar.update(current)
        elif not self.finished:
            self.progbar.update(self.progbar.target)
            self.finished = True


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False):
    """The local path of ``origin``'s file: from the cache when it is there (and matches ``file_hash``), else
    downloaded into it. With ``extract`` the archive is unpacked and the extraction folder returned."""
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    base = os.path.expanduser(os.fspath(cache_dir)) if cache_dir is not None else keras_home()
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        pass
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, cache_subdir)
    os.makedirs(datadir, exist_ok=True)

    given = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'.Please specify the "
                             "`fname` argument.")
    elif os.sep in fname:
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify the file's parent "
                         f"directory, use the `cache_dir` argument. Received: fname={fname}")
    if extract or untar:
        if given and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[:fname.find('.')]}_extracted")
        else:
            extraction_dir = os.path.join(datadir, fname)
            target = os.path.join(datadir, f"{fname}_archive")
    else:
        target = os.path.join(datadir, fname)

    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        print_msg(f"A local file was found, but it seems to be incomplete or outdated because the {hash_algorithm} "
                  f"file hash does not match the original value of {file_hash} so we will re-download the data.")
        download = True
    if download:
        print_msg(f"Downloading data from {origin}")
        try:
            try:
                urllib.request.urlretrieve(origin, target, _DownloadProgbar())
            except urllib.error.HTTPError as e:
                raise ConnectionError(f"URL fetch failure on {origin}: {e.code} -- {e.msg}") from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                raise ConnectionError(f"URL fetch failure on {origin}: {getattr(e, 'errno', None)} -- {reason}. The "
                                      f"file is not in the cache either: to use it without a network, place it at "
                                      f"{target}") from None
        except (Exception, KeyboardInterrupt):
            if os.path.exists(target):
                os.remove(target)
            raise
        if file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
            raise ValueError(f"Incomplete or corrupted file detected. The {hash_algorithm} file hash does not match "
                             f"the provided value of {file_hash}.")
    if extract or untar:
        if not extract_archive(target, extraction_dir, "tar" if untar else archive_format):
            warnings.warn("Could not extract archive.", stacklevel=2)
        return extraction_dir
    return target


__all__ = ["get_file"]
