"""Write ROIs and their traces into an NWB ``processing/ophys`` module, in the one layout we read.

Layout (``{suffix}`` tells the planes of a multi-plane recording apart, e.g. ``"_plane1"``)::

    processing/<module_name>/                       ProcessingModule (default "ophys")
        ImageSegmentation/PlaneSegmentation{suffix} ROIs of ImagingPlane <plane_name>: pixel_mask or
                                                    image_mask, RoiCentroid, [Accepted], [extra columns]
        Fluorescence/RoiResponseSeries{suffix}      "raw" fluorescence
        Fluorescence/Neuropil{suffix}               "neuropil"
        Fluorescence/Deconvolved{suffix}            "deconvolved" (e.g. suite2p spks, CaImAn S)
        Fluorescence/Denoised{suffix}               "denoised" (e.g. CaImAn C)
        DfOverF/RoiResponseSeries{suffix}           "dff"

Every series is (frames, rois) float32 and its ``rois`` region covers all rows of its
PlaneSegmentation, in order. Units are "n.a.": fluorescence of segmentation outputs is in the
arbitrary units of the microscope, deconvolved activity in the arbitrary units of the deconvolution,
and ΔF/F is a ratio (a dimensionless fraction, not percent), for which NWB has no unit string.

The ImagingPlane's description starts with the field of view's size, "Field of view of H x W pixels
(height x width)": NWB has no field for it, and pixel masks alone do not give it.

``RoiCentroid`` is the weight-averaged centre of each mask as (row, column) pixel coordinates, i.e.
(y, x) with the origin at the top-left pixel's centre; an ROI whose weights sum to zero gets the
unweighted mean of its pixels, an empty ROI NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pynwb
from hdmf.common import VectorData
from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel, PlaneSegmentation, RoiResponseSeries

from ..errors import ParameterError

log = logging.getLogger(__name__)

#: roiextractors trace name → (container, series name without suffix, what it holds).
TRACES: dict[str, tuple[str, str, str]] = {
    "raw": ("Fluorescence", "RoiResponseSeries", "Raw fluorescence of each ROI (arbitrary units)."),
    "neuropil": ("Fluorescence", "Neuropil", "Neuropil fluorescence around each ROI (arbitrary units)."),
    "deconvolved": ("Fluorescence", "Deconvolved", "Deconvolved activity of each ROI (arbitrary units)."),
    "denoised": ("Fluorescence", "Denoised", "Denoised fluorescence of each ROI (arbitrary units)."),
    "dff": ("DfOverF", "RoiResponseSeries", "ΔF/F of each ROI (a dimensionless ratio, not percent)."),
}

#: Arrays larger than this (bytes) are stored gzip-compressed.
COMPRESS_ABOVE = 1 << 20


def _traces(traces: Mapping[str, np.ndarray | None]) -> dict[str, np.ndarray]:
    unknown = sorted(set(traces) - set(TRACES))
    if unknown:
        raise ParameterError(f"unknown trace name(s) {unknown}; expected some of {sorted(TRACES)}")
    out = {k: np.asarray(v) for k, v in traces.items() if v is not None}
    if not out:
        raise ParameterError("no traces given; expected at least one of " + ", ".join(sorted(TRACES)))
    shapes = {k: v.shape for k, v in out.items()}
    if any(len(s) != 2 for s in shapes.values()) or len(set(shapes.values())) != 1:
        raise ParameterError(f"traces must all be (frames, rois) arrays of one shape, got {shapes}")
    return out


def _timing(frames: int, rate, timestamps) -> tuple[dict, float]:
    """The TimeSeries timing keywords and the imaging rate (Hz)."""
    if (rate is None) == (timestamps is None):
        raise ParameterError("give exactly one of rate and timestamps")
    if rate is not None:
        if not np.isfinite(rate) or rate <= 0:
            raise ParameterError(f"rate must be a finite number > 0 Hz, got {rate}")
        return {"rate": float(rate)}, float(rate)
    stamps = np.asarray(timestamps, dtype=np.float64)
    if stamps.shape != (frames,):
        raise ParameterError(f"timestamps must be ({frames},) like the traces' frames, got {stamps.shape}")
    if not np.all(np.isfinite(stamps)):
        raise ParameterError("timestamps must be finite; found NaN or infinity")
    if frames > 1 and np.any(np.diff(stamps) <= 0):
        raise ParameterError("timestamps must be strictly increasing")
    if frames < 2:
        raise ParameterError("with timestamps, at least 2 frames are needed to know the imaging rate")
    steps = np.diff(stamps)
    if np.unique(np.round(steps, 9)).size == 1:
        # Regular frames: nwbinspector (check_regular_timestamps, same 1 ns criterion) asks for
        # starting_time + rate instead of timestamps.
        return {"starting_time": float(stamps[0]), "rate": float(1.0 / steps[0])}, float(1.0 / steps[0])
    return {"timestamps": stamps}, float(1.0 / np.median(steps))


def _check_masks(pixel_masks, image_masks, n_rois: int, image_shape: tuple[int, int]):
    height, width = image_shape
    if (pixel_masks is None) == (image_masks is None):
        raise ParameterError("give exactly one of pixel_masks and image_masks")
    if pixel_masks is not None:
        masks = [np.asarray(m, dtype=np.float64).reshape(-1, 3) if np.size(m) else np.zeros((0, 3))
                 for m in pixel_masks]
        if len(masks) != n_rois:
            raise ParameterError(f"{len(masks)} pixel masks for {n_rois} ROIs in the traces")
        for i, m in enumerate(masks):
            if m.size and (m[:, 0].min() < 0 or m[:, 1].min() < 0 or m[:, 0].max() >= width
                           or m[:, 1].max() >= height):
                raise ParameterError(f"pixel mask of ROI {i} lies outside the {height}x{width} field of view")
        return masks, None
    masks = np.asarray(image_masks)
    if masks.ndim != 3 or masks.shape[0] != n_rois:
        raise ParameterError(f"image_masks must be ({n_rois}, height, width) for {n_rois} ROIs, got {masks.shape}")
    if masks.shape[1:] != (height, width):
        raise ParameterError(f"image masks are {masks.shape[1]}x{masks.shape[2]}, the field of view {height}x{width}")
    return None, masks


def weighted_centre(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """(row, column) of one mask's pixels weighted by ``weights``: NaN for an empty mask, the pixels'
    plain mean where the weights sum to zero (or are not finite)."""
    if rows.size == 0:
        return float("nan"), float("nan")
    total = weights.sum()
    if not np.isfinite(total) or total == 0:  # weights carry no location: take the pixels' mean
        return float(rows.mean()), float(cols.mean())
    return float((rows * weights).sum() / total), float((cols * weights).sum() / total)


def roi_centroids(pixel_masks: Sequence[np.ndarray] | None = None, image_masks: np.ndarray | None = None) -> np.ndarray:
    """Weight-averaged (row, column) centre of each ROI's mask.

    Shapes
    ------
    pixel_masks : per ROI (pixels, 3), rows (x, y, weight)
    image_masks : (rois, height, width)
    return : (rois, 2) float64, (row, column) = (y, x)
    """
    out = []
    if pixel_masks is not None:
        for m in pixel_masks:
            m = np.asarray(m, dtype=np.float64).reshape(-1, 3)
            out.append(weighted_centre(m[:, 1], m[:, 0], m[:, 2]))
    else:
        for mask in np.asarray(image_masks):
            rows, cols = np.nonzero(mask)
            out.append(weighted_centre(rows.astype(np.float64), cols.astype(np.float64),
                                        np.asarray(mask[rows, cols], dtype=np.float64)))
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)


def _stored(data: np.ndarray, dtype=np.float32):
    """``data`` as stored: ``dtype`` (None keeps it), gzip-compressed above :data:`COMPRESS_ABOVE`."""
    from hdmf.backends.hdf5 import H5DataIO

    data = np.array(data, dtype=dtype, order="C")  # a copy: never a view of a caller's memory map
    return H5DataIO(data, compression="gzip", shuffle=True) if data.nbytes > COMPRESS_ABOVE else data


def _imaging_plane(nwbfile, plane_name, device_name, rate, description, location, indicator,
                   excitation_lambda, emission_lambda, image_shape):
    if plane_name in nwbfile.imaging_planes:  # a second segmentation of the same plane links to it
        return nwbfile.imaging_planes[plane_name]
    device = nwbfile.devices.get(device_name) or nwbfile.create_device(
        name=device_name, description="The microscope that recorded the imaging data.")
    channel = OpticalChannel(name="OpticalChannel", description="The channel the ROIs' fluorescence was imaged in.",
                             emission_lambda=float(emission_lambda))
    return nwbfile.create_imaging_plane(
        name=plane_name, optical_channel=channel, device=device, description=(
            f"Field of view of {image_shape[0]} x {image_shape[1]} pixels (height x width). {description}"),
        excitation_lambda=float(excitation_lambda), imaging_rate=float(rate), indicator=indicator, location=location)


def _check_free(module, module_name: str, suffix: str, data: Mapping[str, np.ndarray]) -> None:
    """Refuse, before anything is added, names this call would write that the module already holds."""
    if module is None:
        return
    taken = [f"ImageSegmentation/PlaneSegmentation{suffix}"] + [f"{TRACES[k][0]}/{TRACES[k][1]}{suffix}" for k in data]
    for path in taken:
        container, name = path.split("/")
        holder = module.data_interfaces.get(container)
        if holder is not None and name in [child.name for child in holder.children]:
            raise ParameterError(f"{module_name} already holds {path}; give each plane its own suffix")


def _container(module, cls):
    name = cls.__name__
    if name not in module.data_interfaces:
        module.add(cls(name=name))
    return module.data_interfaces[name]


def add_ophys_module(
    nwbfile: pynwb.NWBFile, *,
    traces: Mapping[str, np.ndarray | None],
    image_shape: tuple[int, int],
    rate: float | None = None, timestamps: np.ndarray | None = None, starting_time: float = 0.0,
    pixel_masks: Sequence[np.ndarray] | None = None,
    image_masks: np.ndarray | None = None,
    roi_ids: Sequence[int] | None = None,
    accepted: np.ndarray | None = None,
    columns: Mapping[str, tuple[str, Sequence]] | None = None,
    plane_name: str = "ImagingPlane", location: str = "unknown", indicator: str = "unknown",
    excitation_lambda: float = float("nan"), emission_lambda: float = float("nan"), device_name: str = "Microscope",
    description: str = "Regions of interest from a calcium-imaging segmentation.",
    module_name: str = "ophys", suffix: str = "",
) -> PlaneSegmentation:
    """Add one imaging plane's ROIs and traces to ``nwbfile`` (layout in the module docstring).

    Call once per plane, with a different ``suffix`` and ``plane_name`` each time; later calls add to
    the module and containers the first call created. A ``plane_name`` already in the file is
    reused (its device, indicator and rate are kept).

    Parameters
    ----------
    traces
        roiextractors names ("raw", "neuropil", "deconvolved", "denoised", "dff") → arrays; None
        values are skipped. At least one is needed.
    image_shape
        (height, width) of the field of view in pixels.
    rate, timestamps, starting_time
        Exactly one of ``rate`` (Hz, with ``starting_time`` in s) or ``timestamps`` (s). The imaging
        plane's ``imaging_rate`` is ``rate`` or 1 / the median frame interval. Timestamps on a
        regular grid (intervals equal to 1 ns) are stored as starting_time + rate, as nwbinspector
        asks; ``starting_time`` is then ignored.
    pixel_masks, image_masks
        Exactly one: per ROI NWB pixel-mask rows (x, y, weight), or dense weights per pixel.
    roi_ids
        PlaneSegmentation ids (default 0..R-1).
    accepted
        Per ROI bool, written as the bool column "Accepted".
    columns
        Extra PlaneSegmentation columns: name → (description, one value per ROI).
    location, indicator, excitation_lambda, emission_lambda
        Of the ImagingPlane / OpticalChannel; unknown wavelengths stay NaN. When the file's subject
        is a mouse, nwbinspector wants ``location`` to be an Allen CCF term (e.g. "VISp"; "root"
        when the area is unknown): "unknown" then fails validation.

    Returns
    -------
    The new PlaneSegmentation.

    Raises
    ------
    ParameterError
        One line naming what is inconsistent: traces of different shapes, a mask or id count other
        than the ROIs', timestamps not finite / not strictly increasing, rate <= 0, an existing
        PlaneSegmentation of that name.

    Shapes
    ------
    traces[name] : (frames, rois)
    timestamps : (frames,)
    pixel_masks : rois × (pixels, 3)
    image_masks : (rois, height, width)
    roi_ids, accepted, columns[name][1] : (rois,) (a column may have trailing dimensions)
    """
    data = _traces(traces)
    frames, n_rois = next(iter(data.values())).shape
    timing, imaging_rate = _timing(frames, rate, timestamps)
    if "timestamps" not in timing and "starting_time" not in timing:
        timing["starting_time"] = float(starting_time)
    if len(image_shape) != 2 or min(image_shape) < 1:
        raise ParameterError(f"image_shape must be (height, width) in pixels, got {tuple(image_shape)}")
    image_shape = (int(image_shape[0]), int(image_shape[1]))
    pix, img = _check_masks(pixel_masks, image_masks, n_rois, image_shape)
    ids = list(range(n_rois)) if roi_ids is None else [int(i) for i in roi_ids]
    if len(ids) != n_rois or len(set(ids)) != n_rois:
        raise ParameterError(f"roi_ids must be {n_rois} distinct integers, got {len(ids)} ({len(set(ids))} distinct)")
    extra = dict(columns or {})
    if accepted is not None:
        extra["Accepted"] = ("Whether the segmentation accepted the ROI as a cell (True) or rejected it.",
                             np.asarray(accepted, dtype=bool))
    for name, (_, values) in extra.items():
        if name in ("RoiCentroid", "pixel_mask", "image_mask", "voxel_mask"):
            raise ParameterError(f"column {name!r} is written by add_ophys_module itself; rename it")
        if len(values) != n_rois:
            raise ParameterError(f"column {name!r} has {len(values)} values for {n_rois} ROIs")
    _check_free(nwbfile.processing.get(module_name), module_name, suffix, data)

    module = nwbfile.processing.get(module_name) or nwbfile.create_processing_module(
        module_name, "Optical physiology: regions of interest and their fluorescence traces.")
    segmentation = _container(module, ImageSegmentation)
    plane = _imaging_plane(nwbfile, plane_name, device_name, imaging_rate, description, location, indicator,
                           excitation_lambda, emission_lambda, image_shape)
    if pix is not None:
        seg = PlaneSegmentation(name=f"PlaneSegmentation{suffix}", description=description, imaging_plane=plane)
        for roi_id, m in zip(ids, pix):
            seg.add_roi(id=roi_id, pixel_mask=[(int(x), int(y), float(w)) for x, y, w in m])
    else:  # one dense column at once: add_roi would copy mask by mask, and large stacks compress well
        masks = VectorData(name="image_mask", description="Weight of each pixel in the ROI, (rois, height, width).",
                           data=_stored(img, dtype=None))
        seg = PlaneSegmentation(name=f"PlaneSegmentation{suffix}", description=description, imaging_plane=plane,
                                id=ids, columns=[masks])
    segmentation.add_plane_segmentation(seg)
    seg.add_column("RoiCentroid", "Weight-averaged centre of the ROI's mask as (row, column) pixel coordinates "
                   "(y, x; origin at the top-left pixel).", data=roi_centroids(pix, img))
    for name, (text, values) in extra.items():
        seg.add_column(name, text, data=values if isinstance(values, np.ndarray) else list(values))

    for key, values in data.items():
        container, base, text = TRACES[key]
        holder = _container(module, Fluorescence if container == "Fluorescence" else DfOverF)
        rois = seg.create_roi_table_region(description=f"All ROIs of PlaneSegmentation{suffix}, in order.",
                                           region=list(range(n_rois)))
        holder.add_roi_response_series(RoiResponseSeries(
            name=f"{base}{suffix}", data=_stored(values), rois=rois, unit="n.a.", description=text, **timing))
    log.info("ophys: %d ROIs x %d frames of %s in PlaneSegmentation%s", n_rois, frames, sorted(data), suffix)
    return seg
