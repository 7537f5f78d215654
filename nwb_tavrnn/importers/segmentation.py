"""A roiextractors SegmentationExtractor → ROIs and traces in an NWBFile (shared by suite2p and CaImAn).

roiextractors (0.10) hands pixel masks as rows (row, column, weight) — its docstrings say (x, y) but
its code indexes ``dense[pixel[:, 0], pixel[:, 1]]`` on a (height, width) frame — and image masks as
(height, width, rois) of float32. Both are turned here into our layout: NWB pixel masks (x = column, y = row,
weight) and image masks (rois, height, width); see :mod:`nwb_tavrnn.ophys.write`.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, NwbTavrnnError, ParameterError

log = logging.getLogger(__name__)

#: Traces of a roiextractors extractor that have a place in our layout (background and baseline
#: components are not ROIs: they are left out).
TRACE_NAMES = ("raw", "neuropil", "deconvolved", "denoised", "dff")

#: The subject when the segmentation output carries none (nwbinspector's DANDI configuration wants
#: one); the NCBI taxonomy root says "organism not given" without inventing a species.
PLACEHOLDER_SUBJECT = {
    "subject_id": "unknown",
    "species": "http://purl.obolibrary.org/obo/NCBITaxon_1",
    "sex": "U",
    "age": "P0D/",
    "description": "Placeholder written by nwb_tavrnn import: the segmentation output carried no subject "
                   "metadata; replace it with the real subject.",
}


def check_rate(rate: float | None) -> None:
    """A frame rate given to an importer: None (use the stored one) or a finite number > 0."""
    if rate is not None and not (np.isfinite(rate) and rate > 0):
        raise ParameterError(f"rate must be > 0 Hz, got {rate}")


def require_roiextractors():
    """The roiextractors module, or one line saying how to install it."""
    try:
        import roiextractors
    except ImportError:
        raise NwbTavrnnError("reading suite2p or CaImAn output needs roiextractors: pip install 'nwb-tavrnn[ophys]'") from None
    return roiextractors


def _version() -> str:
    from .. import __version__

    return __version__


def segmentation_nwbfile(source: str | Path, fmt: str, what: str, notes: str = ""):
    """A new NWBFile for ROIs imported from ``source`` (``fmt``: "suite2p", "CaImAn").

    The session start time is the modification time (UTC, whole seconds) of ``source``, the main
    data file: segmentation outputs record no acquisition time. The identifier is a fresh uuid4;
    everything else follows from the input alone.
    """
    from pynwb import NWBFile
    from pynwb.file import Subject

    source = Path(source)
    start = datetime.datetime.fromtimestamp(source.stat().st_mtime, tz=datetime.timezone.utc).replace(microsecond=0)
    when = (f"The session start time is the modification time of {source.name} ({start.isoformat()}), "
            "as the segmentation output records no acquisition time.")
    nwbfile = NWBFile(
        session_description=f"{what}, imported from {fmt} output ({source.name}) by nwb_tavrnn. {when}",
        identifier=str(uuid.uuid4()),
        session_start_time=start,
        source_script=f"nwb_tavrnn {_version()} (nwb-tavrnn import {fmt.lower()})",
        source_script_file_name="nwb_tavrnn",
        notes=f"Imported by nwb_tavrnn from {source.resolve()} ({fmt}). {when} {notes}".strip(),
    )
    nwbfile.subject = Subject(**PLACEHOLDER_SUBJECT)
    return nwbfile


def nwb_pixel_masks(extractor) -> list[np.ndarray]:
    """Pixel masks of all ROIs as NWB rows (x = column, y = row, weight).

    Shapes
    ------
    return : rois × (pixels, 3)
    """
    return [np.asarray(m, dtype=np.float64).reshape(-1, 3)[:, [1, 0, 2]] for m in extractor.get_roi_pixel_masks()]


def dense_image_masks(extractor, height: int, width: int) -> np.ndarray:
    """Image masks of all ROIs from the extractor's pixel masks, keeping their float64 weights
    (roiextractors' own ``get_roi_image_masks`` rounds them to float32).

    Shapes
    ------
    return : (rois, height, width) float64
    """
    pixel = extractor.get_roi_pixel_masks()
    dense = np.zeros((len(pixel), height, width), dtype=np.float64)
    for k, m in enumerate(pixel):
        m = np.asarray(m, dtype=np.float64).reshape(-1, 3)
        dense[k, m[:, 0].astype(int), m[:, 1].astype(int)] = m[:, 2]
    return dense


def add_segmentation(
    nwbfile,
    extractor,
    *,
    source: str | Path,
    masks: str = "pixel",
    rate: float | None = None,
    accepted: np.ndarray | None = None,
    columns: Mapping[str, tuple[str, Any]] | None = None,
    suffix: str = "",
    description: str,
) -> Any:
    """Write one plane of ``extractor`` into ``nwbfile`` with :func:`~nwb_tavrnn.ophys.write.add_ophys_module`.

    Parameters
    ----------
    extractor
        A roiextractors SegmentationExtractor of one plane.
    source
        What the data came from, for error messages.
    masks
        "pixel" (sparse NWB pixel masks) or "image" (dense image masks).
    rate
        Frame rate (Hz); None takes the extractor's.
    accepted, columns
        As in ``add_ophys_module``.
    suffix
        Of the containers' names; the imaging plane is ``ImagingPlane{suffix}``.

    Returns
    -------
    The PlaneSegmentation.

    Raises
    ------
    InputFileError
        When the data are inconsistent (traces of different shapes, masks not matching the ROIs).

    Shapes
    ------
    accepted : (rois,)
    """
    from ..ophys.write import add_ophys_module

    traces = {name: extractor.get_traces(name=name) for name in TRACE_NAMES
              if extractor.get_traces_dict().get(name) is not None}
    rate = extractor.get_sampling_frequency() if rate is None else rate
    height, width = (int(n) for n in extractor.get_frame_shape()[:2])
    if masks == "pixel":
        mask_kwargs = {"pixel_masks": nwb_pixel_masks(extractor)}
    else:
        mask_kwargs = {"image_masks": dense_image_masks(extractor, height, width)}
    try:
        return add_ophys_module(
            nwbfile, traces=traces, image_shape=(height, width), rate=rate,
            roi_ids=[int(i) for i in extractor.get_roi_ids()], accepted=accepted, columns=columns,
            plane_name=f"ImagingPlane{suffix}", suffix=suffix, description=description, **mask_kwargs)
    except ParameterError as err:
        raise InputFileError(f"{source}: {err}") from None
