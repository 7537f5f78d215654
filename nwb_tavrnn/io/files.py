"""Open NWB files for reading and write them atomically.

Every read in the package goes through :func:`open_nwb`, which turns the many ways a file can be
wrong (missing, not HDF5, truncated, not NWB) into one-line :class:`InputFileError` messages. Every
write goes through :func:`atomic_destination`: data is written to a temporary file in the
destination's folder and moved into place only once complete, so a failed write never leaves a
half-written file at the destination, and a source file is never touched unless asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import h5py
from pynwb import NWBHDF5IO, NWBFile

from ..errors import InputFileError, OutputFileError, UsageError

log = logging.getLogger(__name__)

PathLike = str | os.PathLike


def is_url(source: object) -> bool:
    return isinstance(source, str) and source.split("://", 1)[0].lower() in ("http", "https", "dandi", "s3")


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether two local paths name the same file: the same path, a symbolic link to it, or a hard
    link (same device and inode). A path that does not exist yet is compared by its resolved name."""
    if is_url(a) or is_url(b):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def refuse_source_as_destination(source: PathLike | None, destination: PathLike | None, in_place_hint: bool = True) -> None:
    """Refuse to write results over the file they are computed from (``--in-place``, where a
    command has it, is the way).

    Raises
    ------
    UsageError
        ``destination`` is ``source`` (same path, symbolic or hard link).
    """
    if source is None or destination is None or not Path(str(source)).exists():
        return
    if same_file(source, destination):
        raise UsageError(f"{destination}: is the input file {source} (the same file); the input is never overwritten: "
                         "choose another output" + (", or pass --in-place to add the results to it atomically"
                                                    if in_place_hint else ""))


def check_readable_nwb(path: PathLike) -> Path:
    """Raise :class:`InputFileError` unless ``path`` is an existing, complete HDF5 file."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, expected an NWB (.nwb, HDF5) file")
    if not os.access(path, os.R_OK):
        raise InputFileError(f"{path}: permission denied; check the file's permissions")
    if path.stat().st_size == 0:
        raise InputFileError(f"{path}: the file is empty")
    if not h5py.is_hdf5(path):
        raise InputFileError(
            f"{path}: not an HDF5 file, so not an NWB 2.x file (Zarr-backed NWB is not supported yet)"
        )
    try:
        with h5py.File(path, "r") as f:
            if "nwb_version" not in f.attrs:
                raise InputFileError(f"{path}: an HDF5 file but not an NWB file (no 'nwb_version' attribute)")
    except OSError as err:
        raise InputFileError(f"{path}: unreadable HDF5 file, probably truncated or corrupt ({_short(err)})") from None
    return path


def _short(err: BaseException) -> str:
    return str(err).splitlines()[0][:200] if str(err) else type(err).__name__


@contextlib.contextmanager
def open_nwb(source: PathLike, mode: str = "r") -> Iterator[NWBFile]:
    """Open an NWB file and yield its :class:`~pynwb.NWBFile`; lazily read data dies on exit.

    ``source`` is a local path; http(s) URLs and DANDI assets are resolved by
    :mod:`nwb_tavrnn.io.remote` (needs the ``dandi`` extra).

    Raises
    ------
    InputFileError
        If the file is missing, not HDF5, truncated or not readable as NWB.
    """
    from ..schema import load_namespace

    load_namespace()  # our classes must be registered before pynwb builds the objects
    if is_url(source):
        from .remote import open_remote_nwb

        with open_remote_nwb(str(source)) as nwbfile:
            yield nwbfile
        return
    path = check_readable_nwb(source)
    try:
        io = NWBHDF5IO(str(path), mode=mode, load_namespaces=True)
    except OSError as err:
        raise InputFileError(f"{path}: cannot open ({_short(err)})") from None
    try:
        try:
            nwbfile = io.read()
        except Exception as err:  # pynwb/hdmf raise many types for malformed files
            raise InputFileError(f"{path}: not readable as NWB ({type(err).__name__}: {_short(err)})") from None
        yield nwbfile
    finally:
        io.close()


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial.nwb")


def _writable(path: Path) -> bool:
    """Writable by us, and not marked read-only for everyone (root passes os.access regardless,
    but a file or folder its owner made read-only is one the user meant to protect)."""
    mode = path.stat().st_mode
    return os.access(path, os.W_OK) and bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def check_writable(destination: PathLike, overwrite: bool = False) -> Path:
    """Check, before any work is done, that ``destination`` can be created.

    Raises
    ------
    OutputFileError
        If it exists (and ``overwrite`` is false), or its folder is missing or not writable.
    """
    destination = Path(destination)
    if destination.exists() and destination.is_dir():
        raise OutputFileError(f"{destination}: is a folder; give a file name such as {destination / 'result.nwb'}")
    if destination.exists() and not overwrite:
        raise OutputFileError(f"{destination}: already exists; choose another name or pass --overwrite")
    if destination.exists() and not _writable(destination):
        raise OutputFileError(f"{destination}: is read-only; make it writable or choose another output path")
    folder = destination.parent
    if not folder.is_dir():
        raise OutputFileError(f"{folder}: folder does not exist; create it first")
    if not _writable(folder):
        raise OutputFileError(f"{folder}: folder is not writable; choose another output location")
    return destination


def check_report_folder(folder: PathLike, overwrite: bool = False, protect: tuple = ()) -> Path:
    """Check, before any work, that a report folder can be written: its parent exists (it is not
    created silently) and is writable; an existing folder is written into only with ``overwrite``
    (and then only the report's own files are replaced).

    Parameters
    ----------
    protect
        Paths that must not be the folder or lie inside it (the input, the output): a report
        folder of ``.`` next to them would otherwise mix with, or clear, the data.

    Raises
    ------
    UsageError
        The folder is, or holds, a protected path.
    OutputFileError
        It cannot be written.
    """
    folder = Path(folder)
    for path in protect:
        if path is None or is_url(path):
            continue
        target, root = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
        if target == root or root in target.parents:
            raise UsageError(f"{folder}: the report folder would hold {path}; choose a folder of its own "
                             "(the default is OUTPUT's name + _report)")
    parent = folder.parent
    if not parent.is_dir():
        raise OutputFileError(f"{parent}: folder does not exist; create it first (for the report folder {folder})")
    if not _writable(parent):
        raise OutputFileError(f"{parent}: folder is not writable; choose another report location")
    if folder.exists():
        if not folder.is_dir():
            raise OutputFileError(f"{folder}: exists and is not a folder; choose another report folder")
        if not overwrite and any(folder.iterdir()):
            raise OutputFileError(f"{folder}: report folder already exists; choose another or pass --overwrite")
        if not _writable(folder):
            raise OutputFileError(f"{folder}: report folder is not writable; choose another")
    return folder


@contextlib.contextmanager
def atomic_destination(destination: PathLike, overwrite: bool = False, copy_from: PathLike | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; move it into place only if the block succeeds.

    With ``copy_from``, the temporary file starts as a byte copy of that file (for appending).
    On any error the temporary file is removed and the destination is left as it was.
    """
    destination = check_writable(destination, overwrite=overwrite)
    tmp = _temporary_sibling(destination)
    try:
        if copy_from is not None:
            shutil.copyfile(copy_from, tmp)
        yield tmp
        with open(tmp, "rb+") as fh:  # data must be on disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp, destination)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OutputFileError(f"{destination}: could not be written ({_short(err)}); nothing was left there") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_nwbfile(nwbfile: NWBFile, destination: PathLike, overwrite: bool = False) -> Path:
    """Write an in-memory NWBFile atomically (the spec is always cached in the file)."""
    from ..schema import load_namespace

    load_namespace()
    with atomic_destination(destination, overwrite=overwrite) as tmp:
        with NWBHDF5IO(str(tmp), mode="w") as io:
            io.write(nwbfile, cache_spec=True)
    log.info("wrote %s", destination)
    return Path(destination)
