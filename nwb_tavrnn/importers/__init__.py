"""Dataset-specific importers: a lab's own files → an NWB file the pipeline reads.

Each entry of :data:`IMPORTERS` names a dataset layout, the function that builds the NWBFile from
its folder (or file), what it expects there and which command-line options it takes;
``nwb-tavrnn import NAME INPUT OUTPUT`` runs it. General NWB reading and writing lives in
:mod:`nwb_tavrnn.io`; calcium-imaging segmentations are written by :mod:`nwb_tavrnn.ophys.write`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Importer:
    """One dataset layout: ``build(path, **options)`` returns an in-memory NWBFile.

    ``options`` names the keyword arguments of ``build`` that the command line may pass (each the
    ``dest`` of an ``nwb-tavrnn import`` option); ``files`` are the files a folder of this layout holds.
    """

    name: str
    description: str
    expects: str
    build: Callable[..., Any]
    files: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


def _linear_track(folder, segments: int | None = None):
    from .linear_track import linear_track_nwbfile

    return linear_track_nwbfile(folder, n_segments=3 if segments is None else segments)


def _suite2p(path, rate: float | None = None, plane: str | None = None):
    from .suite2p import suite2p_nwbfile

    return suite2p_nwbfile(path, rate=rate, plane=plane)


def _caiman(path, rate: float | None = None):
    from .caiman import caiman_nwbfile

    return caiman_nwbfile(path, rate=rate)


IMPORTERS: dict[str, Importer] = {
    "linear-track": Importer(
        "linear-track", "Kemere-lab rat CA1 tetrodes on a linear track (nelpy example data): units, position, "
        "speed, run/rest epochs and track-segment stays",
        "spikes.mat (MatClust) and trajectory.videoPositionTracking (Trodes)", _linear_track,
        ("spikes.mat", "trajectory.videoPositionTracking"), ("segments",)),
    "suite2p": Importer(
        "suite2p", "suite2p calcium-imaging segmentation: every ROI with its masks, raw/neuropil/deconvolved "
        "traces and the iscell classification, one imaging plane per planeN folder",
        "a suite2p folder with planeN/ (F.npy, Fneu.npy, spks.npy, iscell.npy, stat.npy, ops.npy) or one plane "
        "folder; without ops.npy give the frame rate", _suite2p, (), ("rate", "plane")),
    "caiman": Importer(
        "caiman", "CaImAn calcium-imaging components: image masks, raw (C + YrA), dF/F, denoised and deconvolved "
        "traces, accepted flags", "a CaImAn analysis HDF5 file (cnmf.save) with 'estimates' and 'params'",
        _caiman, (), ("rate",)),
}


def _is_suite2p(folder) -> bool:
    def plane(p) -> bool:
        return (p / "F.npy").is_file() and (p / "stat.npy").is_file()

    return plane(folder) or any(p.is_dir() and plane(p) for p in folder.glob("plane*"))


def recognise(path) -> str | None:
    """The name of the importer whose layout ``path`` holds, or None.

    A folder: the linear-track files, or suite2p output (``plane*/F.npy`` and ``stat.npy``, or those
    two in the folder itself). A file: CaImAn when it is HDF5 with an ``estimates`` group (only h5py
    is used; NWB files are refused by name first).
    """
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        known = next((name for name, imp in IMPORTERS.items()
                      if imp.files and all((path / f).exists() for f in imp.files)), None)
        return known or ("suite2p" if _is_suite2p(path) else None)
    if path.is_file() and path.suffix.lower() != ".nwb":
        import h5py

        if h5py.is_hdf5(path):
            from .caiman import is_caiman_file

            return "caiman" if is_caiman_file(path) else None
    return None


def import_to_nwb(kind: str, source, destination, *, overwrite: bool = False, **options):
    """Build the NWBFile of ``source`` with the importer ``kind`` and write it atomically to
    ``destination``; a missing file of the layout is one line naming what the importer expects.

    Returns
    -------
    Path of the written file.
    """
    from ..errors import InputFileError
    from ..io.files import write_nwbfile

    importer = IMPORTERS[kind]
    try:
        nwbfile = importer.build(source, **options)
    except FileNotFoundError as err:
        raise InputFileError(f"{source}: {err.strerror or err}: {err.filename}; the {kind} importer expects "
                             f"{importer.expects}") from None
    return write_nwbfile(nwbfile, destination, overwrite=overwrite)


__all__ = ["IMPORTERS", "Importer", "import_to_nwb", "recognise"]
