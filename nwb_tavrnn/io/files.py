"""Open NWB files for reading and write them atomically.

Every read in the package goes through :func:`open_nwb`, which turns the many ways a file can be
wrong (missing, not HDF5, truncated, not NWB) into one-line :class:`InputFileError` messages. Every
write goes through :func:`atomic_destination`: data is written to a temporary file in the
destination's folder and moved into place only once complete, so a failed write never leaves a
half-written file at the destination, and a source file is never touched unless asked for.

Temporaries are named ``.<stem>.<host>-<pid>-<random>.partial[.nwb]`` (:func:`temporary_name`), so
the writer's host and process can be read off the name: a process killed without a chance to clean
up (SIGKILL, power loss) leaves one behind, and the next write to the same destination removes it
once its writer is known to be dead (:func:`sweep_temporaries`). Temporaries whose writer cannot be
told (another host, an older naming) are reported, never removed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
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
                         "choose another output" + (", or add the results to it atomically (`in_place`)"
                                                    if in_place_hint else ""), "in_place")


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
            # hdmf's ConstructError starts with a dump of the stored object: its cause says what is wrong
            cause = err.__cause__ if type(err).__name__ == "ConstructError" and err.__cause__ else err
            raise InputFileError(f"{path}: not readable as NWB ({type(cause).__name__}: {_short(cause)})") from None
        yield nwbfile
    finally:
        io.close()


#: Write failures that mean "the disk (or the quota, or a file-size limit) is full".
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


#: How HDF5 (through h5py's OSError or RuntimeError texts) spells those errors.
NO_SPACE_TEXTS = tuple(f"errno = {code}," for code in sorted(NO_SPACE_ERRNOS)) + tuple(
    os.strerror(code) for code in sorted(NO_SPACE_ERRNOS))


class NoSpaceError(OutputFileError):
    """The disk (or quota, or file-size limit) filled up while writing ``path``; nothing was left there."""

    def __init__(self, message: str, path: PathLike):
        super().__init__(message)
        self.path = Path(path)


def no_space(err: BaseException | None) -> bool:
    """Whether ``err`` (or what it was raised from) is a full disk, quota or file-size limit."""
    seen = 0
    while err is not None and seen < 8:
        if isinstance(err, NoSpaceError) or (isinstance(err, OSError) and err.errno in NO_SPACE_ERRNOS):
            return True
        if isinstance(err, (OSError, RuntimeError)) and any(text in str(err) for text in NO_SPACE_TEXTS):
            return True  # h5py wraps the OS error in its own message
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


def no_space_message(destination: PathLike) -> str:
    return (f"no space left on device while writing {destination} (disk full, quota or file-size limit); "
            "nothing was written; free some space or choose another output location")


def _host_tag() -> str:
    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def temporary_name(name: str, suffix: str = "") -> str:
    """A hidden temporary name for a file or folder called ``name``, with this host and process in it.

    ``name`` is usually a destination's stem; ``suffix`` (e.g. ``".nwb"``) is appended after
    ``.partial``. :func:`sweep_temporaries` recognises the name and reads its writer off it.
    """
    return f".{name}.{_host_tag()}-{os.getpid()}-{uuid.uuid4().hex[:6]}.partial{suffix}"


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(temporary_name(path.stem, ".nwb"))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and has not ended (a zombie, ended but not yet
    reaped by its parent, has ended: it writes nothing more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (macOS): existence is all there is to go on
        return True


def _temporaries(folder: Path, name: str) -> Iterator[tuple[Path, str | None, int | None]]:
    """Temporaries of ``name`` in ``folder``: (path, writer's host tag, writer's pid); host and pid
    are None for names of older versions (``.<name>.<8 random>.partial[.nwb]``), whose writer is unknown."""
    ours = re.compile(rf"^\.{re.escape(name)}\.(?P<host>[0-9a-f]{{6}})-(?P<pid>\d+)-[0-9a-f]{{6}}\.partial(\.nwb)?$")
    older = re.compile(rf"^\.{re.escape(name)}\.[A-Za-z0-9_]{{8}}\.partial(\.nwb)?$")
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if (m := ours.match(entry.name)) is not None:
            yield Path(entry.path), m["host"], int(m["pid"])
        elif older.match(entry.name):
            yield Path(entry.path), None, None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sweep_temporaries(destination: PathLike, name: str | None = None) -> tuple[list[Path], list[Path]]:
    """Remove what interrupted writes of ``destination`` left beside it; report what cannot be judged.

    A temporary (see :func:`temporary_name`) is removed when its writer ran on this host and its
    process no longer exists: a killed run's leftover. One of a live process (a concurrent write)
    is left alone; one from another host (a shared folder) or of an older naming, whose writer
    cannot be checked, is logged as a warning with the command that removes it.

    Parameters
    ----------
    destination
        The file about to be written (its folder is searched).
    name
        The stem the temporaries carry; default ``destination``'s stem.

    Returns
    -------
    removed, reported : list of Path
    """
    destination = Path(destination)
    name = destination.stem if name is None else name
    host = _host_tag()
    removed, reported = [], []
    for path, writer_host, pid in _temporaries(destination.parent, name):
        if writer_host == host and pid is not None:
            if pid == os.getpid() or process_alive(pid):
                continue  # a write in progress (ours or a concurrent one)
            _remove(path)
            if not path.exists():
                removed.append(path)
                log.info("removed %s, left by an interrupted run (process %d)", path, pid)
                continue
        reported.append(path)
    if reported:
        log.warning("left by an interrupted run whose process cannot be checked here (another host or an older "
                    "version): %s; remove it once no other run writes %s (rm -r %s)",
                    ", ".join(map(str, reported)), destination, " ".join(map(str, reported)))
    return removed, reported


def temporary_work_folder(prefix: str, parent: PathLike | None = None, name: str | None = None) -> Path:
    """A working folder ``<parent>/.<prefix>.<host>-<pid>-<random>.partial`` (parent: the system's
    temporary folder), after removing those of dead processes; the caller removes it. ``name``: the
    folder's name chosen beforehand (:func:`temporary_name`), so that a caller's cleanup knows it
    even when an interrupt arrives before this returns."""
    parent = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    sweep_temporaries(parent / prefix, prefix)
    folder = parent / (name or temporary_name(prefix))
    folder.mkdir()
    return folder


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
        raise OutputFileError(f"{destination}: already exists; choose another name, or replace it (`overwrite`)",
                              "overwrite")
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
            raise OutputFileError(f"{folder}: report folder already exists; choose another, or replace it "
                                  "(`overwrite`)", "overwrite")
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
    sweep_temporaries(destination)  # what a killed earlier write of this destination left
    tmp = _temporary_sibling(destination)
    try:
        if copy_from is not None:
            shutil.copyfile(copy_from, tmp)
        yield tmp
        with open(tmp, "rb+") as fh:  # data must be on disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.replace(tmp, destination)
    except BaseException as err:
        full = no_space(err)
        tmp.unlink(missing_ok=True)
        if full:  # h5py reports a full disk as its own OSError, or as a RuntimeError from a flush
            raise NoSpaceError(no_space_message(destination), destination) from None
        if isinstance(err, OSError):
            raise OutputFileError(f"{destination}: could not be written ({_short(err)}); "
                                  "nothing was left there") from None
        raise


def check_destinations(source: PathLike, destination: PathLike | None, report_dir: PathLike | None = None, *,
                       in_place: bool = False, overwrite: bool = False) -> None:
    """Before any work: a step writing ``destination`` (a copy of ``source``), or ``source`` itself
    ``in_place``, and its report folder, can do so without touching what it must not.

    Raises
    ------
    OutputFileError
        No destination without ``in_place``; the destination is the source, or exists without
        ``overwrite``, or cannot be written; the report folder is unusable or would hold the files.
    """
    if not in_place:
        if destination is None:
            raise OutputFileError("give an output path, or ask for in-place writing")
        refuse_source_as_destination(source, destination)
        check_writable(destination, overwrite=overwrite)
    if report_dir is not None:
        check_report_folder(report_dir, overwrite=overwrite, protect=(source,) if in_place else (source, destination))


def place_results(work: PathLike, final: PathLike, tmp_report: PathLike | None = None,
                  report_dir: PathLike | None = None) -> list[Path]:
    """Move a finished work file to ``final`` (one atomic rename, after its data are on disk) and
    the files of its report folder into ``report_dir`` first (one by one: a folder's other files
    stay). Returns the report files placed; none is left if the rename fails.

    Raises
    ------
    OutputFileError
        If the file cannot be moved into place.
    """
    work, final = Path(work), Path(final)
    with open(work, "rb+") as fh:  # data on disk before the rename makes it visible
        os.fsync(fh.fileno())
    placed: list[Path] = []
    if report_dir is not None and tmp_report is not None and Path(tmp_report).is_dir():
        tmp_report, report_dir = Path(tmp_report), Path(report_dir)
        report_dir.mkdir(exist_ok=True)
        for item in sorted(tmp_report.rglob("*")):
            if item.is_dir():  # e.g. nnpoisson/: its files are moved one by one, a user's other files stay
                (report_dir / item.relative_to(tmp_report)).mkdir(parents=True, exist_ok=True)
                continue
            os.replace(item, report_dir / item.relative_to(tmp_report))
            placed.append(report_dir / item.relative_to(tmp_report))
    try:
        os.replace(work, final)
    except OSError as err:
        for path in placed:
            path.unlink(missing_ok=True)
        raise OutputFileError(f"{final}: could not be written ({err}); nothing was left there") from None
    return placed


def write_nwbfile(nwbfile: NWBFile, destination: PathLike, overwrite: bool = False) -> Path:
    """Write an in-memory NWBFile atomically (the spec is always cached in the file)."""
    from ..schema import load_namespace

    load_namespace()
    with atomic_destination(destination, overwrite=overwrite) as tmp, NWBHDF5IO(str(tmp), mode="w") as io:
        io.write(nwbfile, cache_spec=True)
    log.info("wrote %s", destination)
    return Path(destination)
