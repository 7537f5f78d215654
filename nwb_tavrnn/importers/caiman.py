"""Import a CaImAn analysis HDF5 file (``cnmf.save(...)``: groups ``estimates`` and ``params``) to NWB.

Read with roiextractors' ``CaimanSegmentationExtractor``: traces "raw" = ``C + YrA`` (denoised plus
residual), "dff" = ``F_dff``, "denoised" = ``C``, "deconvolved" = ``S``; the background components
(``b``, ``f``) are not ROIs and are left out. Masks are the dense columns of the sparse ``A``
(pixels × components, each column flattened in Fortran order: pixel index = row + column × height),
written as image masks (rois, height, width). ``Accepted`` is roiextractors' ``is_accepted``
(``idx_components``; every component when CaImAn's evaluation did not run), and SNR, spatial
correlation and CNN scores become columns when the file has them.

The frame rate is ``params/data/fr``, which CaImAn leaves at its default of 30 Hz unless the user set
it: a warning says so when no rate is given.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import InputFileError

log = logging.getLogger(__name__)

#: roiextractors property → (column name, description).
QUALITY_COLUMNS = {
    "snr": ("snr", "CaImAn's signal-to-noise ratio of the component (SNR_comp)."),
    "r_values": ("r_values", "CaImAn's spatial correlation of the component with the data (r_values)."),
    "cnn_preds": ("cnn_preds", "CaImAn's CNN classifier probability that the component is a neuron (cnn_preds)."),
}


def is_caiman_file(path: str | Path) -> bool:
    """Whether ``path`` is an HDF5 file with an ``estimates`` group (cheap: h5py only)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return isinstance(f.get("estimates"), h5py.Group)
    except (OSError, ValueError):
        return False


def caiman_nwbfile(path: str | Path, rate: float | None = None):
    """Build an NWBFile from a CaImAn HDF5 file.

    Parameters
    ----------
    path
        The ``.hdf5`` file CaImAn saved. Only read.
    rate
        Frame rate (Hz); None uses the file's ``params/data/fr`` (with a warning).

    Raises
    ------
    InputFileError
        Not a CaImAn HDF5 file, or one without components.
    ParameterError
        ``rate`` <= 0.
    """
    from .segmentation import add_segmentation, check_rate, require_roiextractors, segmentation_nwbfile

    path = Path(path)
    check_rate(rate)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file; expected a CaImAn analysis HDF5 file")
    if not is_caiman_file(path):
        raise InputFileError(f"{path}: not a CaImAn HDF5 file (no 'estimates' group)")
    CaimanSegmentationExtractor = require_roiextractors().CaimanSegmentationExtractor

    try:
        extractor = CaimanSegmentationExtractor(file_path=str(path))
        ids = extractor.get_roi_ids()
        keys = extractor.get_property_keys()
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise InputFileError(f"{path}: not readable as CaImAn output ({type(err).__name__}: {err})") from None
    if not ids:
        raise InputFileError(f"{path}: no components (estimates/C and estimates/A are empty)")
    if rate is None:
        log.warning("%s: using the stored frame rate %g Hz (params/data/fr; CaImAn's default is 30); "
                    "give the importer's rate if that is not the imaging rate", path.name,
                    extractor.get_sampling_frequency())
    accepted = extractor.get_property("is_accepted", ids) if "is_accepted" in keys else None
    columns = {name: (text, np.asarray(extractor.get_property(key, ids), dtype=np.float64))
               for key, (name, text) in QUALITY_COLUMNS.items() if key in keys}
    nwbfile = segmentation_nwbfile(
        path, "CaImAn", "Calcium-imaging components (ROIs)",
        notes="Raw fluorescence is C + YrA; background components are left out.")
    try:
        add_segmentation(nwbfile, extractor, source=path, masks="image", rate=rate, accepted=accepted,
                         columns=columns or None, description=f"Components found by CaImAn ({path.name}).")
    finally:  # everything is read into memory by now; the extractor would hold the file open
        extractor._dataset_file.close()
    return nwbfile
