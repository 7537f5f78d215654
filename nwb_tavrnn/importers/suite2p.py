"""Import a suite2p output folder (a root with ``plane*/`` folders, or one bare plane folder) to NWB.

roiextractors' ``Suite2pSegmentationExtractor`` reads only the layout ``root/planeN/`` and requires
``ops.npy`` (for ``fs``, ``nframes``, ``Ly``, ``Lx``). Outputs shared without it, or as a bare plane
folder, are read through a temporary root of symbolic links (copies where links are refused); a
missing ``ops.npy`` is written there (never in the source folder) with ``fs`` = the given rate,
``nframes`` from ``F.npy`` and ``Ly``/``Lx`` = 1 + the largest ``ypix``/``xpix`` of ``stat.npy``: the
smallest field of view that holds every ROI (the true one may be larger; only masks depend on it).

Every ROI is kept; suite2p's classifier goes into the columns ``Accepted`` (``iscell[:, 0]``) and
``iscell_probability`` (``iscell[:, 1]``). Several planes each get their own imaging plane and
containers, suffixed ``_planeN``; a single plane gets no suffix.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import InputFileError, ParameterError

log = logging.getLogger(__name__)

#: Files that make a folder a suite2p plane folder.
PLANE_FILES = ("F.npy", "stat.npy")


def plane_folders(folder: str | Path) -> dict[str, Path]:
    """The plane folders of a suite2p output, by plane name ("plane0", ...), in natural order.

    A bare plane folder (holding ``F.npy`` and ``stat.npy`` itself) is one plane named after its
    ``planeN`` prefix, or "plane0".
    """
    folder = Path(folder)
    if all((folder / f).is_file() for f in PLANE_FILES):
        match = re.match(r"plane\d+", folder.name)
        return {match.group(0) if match else "plane0": folder}
    planes = [p for p in folder.glob("plane*") if p.is_dir() and re.fullmatch(r"plane\d+", p.name)
              and all((p / f).is_file() for f in PLANE_FILES)]
    return {p.name: p for p in sorted(planes, key=lambda p: int(p.name[5:]))}


def _link(source: Path, target: Path) -> None:
    try:
        target.symlink_to(source.resolve())
    except OSError:  # file systems (or Windows accounts) without symbolic links
        shutil.copy2(source, target)


def _synthetic_ops(plane: Path, rate: float) -> dict:
    traces = np.load(plane / "F.npy", mmap_mode="r")
    stat = np.load(plane / "stat.npy", allow_pickle=True)
    if len(stat) == 0:
        raise InputFileError(f"{plane}: stat.npy holds no ROIs")
    return {"fs": float(rate), "nframes": int(traces.shape[1]),
            "Ly": int(max(np.max(s["ypix"]) for s in stat)) + 1, "Lx": int(max(np.max(s["xpix"]) for s in stat)) + 1}


@contextlib.contextmanager
def staged_root(planes: dict[str, Path], rate: float | None) -> Iterator[Path]:
    """A temporary suite2p root ``<tmp>/planeN/`` linking to each plane's ``.npy`` files, with a
    synthetic ``ops.npy`` where a plane lacks one; removed on exit."""
    with tempfile.TemporaryDirectory(prefix="nwb_tavrnn_suite2p_") as tmp:
        root = Path(tmp)
        for name, plane in planes.items():
            (root / name).mkdir()
            for npy in plane.glob("*.npy"):
                _link(npy, root / name / npy.name)
            if not (plane / "ops.npy").is_file():
                if rate is None:
                    raise InputFileError(f"{plane} has no ops.npy, so its frame rate is unknown; give the `rate` (Hz)",
                                         "rate")
                np.save(root / name / "ops.npy", np.array(_synthetic_ops(plane, rate), dtype=object))
                log.info("%s: no ops.npy; using fs=%g Hz and the field of view spanned by the ROIs", plane, rate)
        yield root


def _iscell_columns(extractor, n_rois: int, plane: Path):
    iscell = getattr(extractor, "iscell", None)
    if iscell is None:
        return None, None
    iscell = np.asarray(iscell)
    if iscell.ndim != 2 or iscell.shape[0] != n_rois:
        raise InputFileError(f"{plane}: iscell.npy is {iscell.shape}, expected ({n_rois}, 2)")
    columns = None
    if iscell.shape[1] > 1:
        text = "suite2p classifier's probability that the ROI is a cell (iscell.npy, second column)."
        columns = {"iscell_probability": (text, iscell[:, 1].astype(np.float64))}
    return iscell[:, 0].astype(bool), columns


def suite2p_nwbfile(folder: str | Path, rate: float | None = None, plane: str | int | None = None):
    """Build an NWBFile from a suite2p output folder.

    Parameters
    ----------
    folder
        A suite2p root (holding ``plane*/F.npy``) or a bare plane folder (``F.npy``, ``stat.npy``).
        Only read.
    rate
        Frame rate (Hz). Required when a plane has no ``ops.npy``; overrides ``ops["fs"]`` otherwise.
    plane
        One plane to import ("plane1" or 1); None imports all.

    Raises
    ------
    InputFileError
        No plane folder, no ``ops.npy`` and no rate, unreadable or inconsistent files.
    ParameterError
        ``rate`` <= 0 or an unknown ``plane``.
    """
    from .segmentation import add_segmentation, check_rate, require_roiextractors, segmentation_nwbfile

    folder = Path(folder)
    check_rate(rate)
    if not folder.is_dir():
        raise InputFileError(f"{folder}: not a folder; expected suite2p output (plane*/F.npy, or F.npy and stat.npy)")
    planes = plane_folders(folder)
    if not planes:
        raise InputFileError(f"{folder}: no suite2p plane here; expected plane*/F.npy and stat.npy, or F.npy "
                             "and stat.npy in the folder itself")
    if plane is not None:
        name = f"plane{plane}" if isinstance(plane, int) or str(plane).isdigit() else str(plane)
        if name not in planes:
            raise ParameterError(f"no {name} in {folder}; planes: {', '.join(planes)}")
        planes = {name: planes[name]}
    if rate is not None and any((p / "ops.npy").is_file() for p in planes.values()):
        log.warning("the rate given (%g Hz) overrides the frame rate in ops.npy", rate)
    main_file = next(iter(planes.values())) / "F.npy"
    nwbfile = segmentation_nwbfile(
        main_file, "suite2p", f"Calcium-imaging ROIs of {len(planes)} plane(s)",
        notes="All ROIs are kept; suite2p's classifier is in the Accepted and iscell_probability columns.")
    Suite2pSegmentationExtractor = require_roiextractors().Suite2pSegmentationExtractor
    with staged_root(planes, rate) as root:
        for name, source in planes.items():
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)  # a chan2 notice: we read chan1 by choice
                    extractor = Suite2pSegmentationExtractor(root, channel_name="chan1", plane_name=name)
                n_rois = extractor.get_num_rois()
            except (OSError, ValueError, KeyError, AssertionError) as err:
                raise InputFileError(f"{source}: not readable as suite2p output ({type(err).__name__}: {err})") from None
            accepted, columns = _iscell_columns(extractor, n_rois, source)
            add_segmentation(nwbfile, extractor, source=source, masks="pixel", rate=rate, accepted=accepted,
                             columns=columns, suffix=f"_{name}" if len(planes) > 1 else "",
                             description=f"ROIs segmented by suite2p ({name}, {source.name}).")
            del extractor  # drop its memory maps before the staged links go
    return nwbfile
