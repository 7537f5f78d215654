"""Copy one ROI series, with the PlaneSegmentation and imaging plane it refers to, into another file.

A derived file must carry what its graphs' nodes stand for (DANDI refuses external links), as
spike-based results carry the Units: the device, the ImagingPlane, the whole PlaneSegmentation
(masks and every column of plain values) and the series the graphs were computed on. Everything
keeps its name and path, so ``processing/ophys/Fluorescence/RoiResponseSeries`` in the source is
the same path in the derived file. The series' data are streamed across in blocks of frames, and
large columns (image masks) are compressed. The PlaneSegmentation's columns are read whole: a
table of image masks for a large field of view takes their size in memory while it is copied.
"""

from __future__ import annotations

import logging

import numpy as np
from pynwb import NWBFile

from ..errors import InputFileError
from .roi_series import roi_series_at

log = logging.getLogger(__name__)

__all__ = ["copy_roi_series"]

#: Frames copied per block (bounded memory for long series).
_BLOCK_FRAMES = 4096
#: Columns larger than this (bytes) are stored gzip-compressed, as in the source.
_COMPRESS_ABOVE = 1 << 20


def _maybe_compressed(values: np.ndarray):
    from hdmf.backends.hdf5 import H5DataIO

    if values.nbytes > _COMPRESS_ABOVE:
        return H5DataIO(values, compression="gzip", compression_opts=4, shuffle=True)
    return values


def _series_iterator(dataset):
    """The series' frames in blocks, read from the source while the derived file is written."""
    from hdmf.data_utils import GenericDataChunkIterator

    class _Frames(GenericDataChunkIterator):
        def __init__(self, data, **kwargs):
            self._data = data
            super().__init__(**kwargs)

        def _get_data(self, selection):
            return np.asarray(self._data[selection])

        def _get_maxshape(self):
            return tuple(self._data.shape)

        def _get_dtype(self):
            return np.dtype(self._data.dtype)

    rows = int(min(dataset.shape[0], _BLOCK_FRAMES))
    shape = (rows, *dataset.shape[1:])
    return _Frames(dataset, buffer_shape=shape, chunk_shape=(min(rows, 1024), *dataset.shape[1:]))


def _copy_plane(plane, derived: NWBFile):
    from pynwb.ophys import OpticalChannel

    if plane.name in derived.imaging_planes:
        return derived.imaging_planes[plane.name]
    dev = plane.device
    if dev.name in derived.devices:
        device = derived.devices[dev.name]
    else:
        extra = {"manufacturer": dev.manufacturer} if getattr(dev, "manufacturer", None) else {}
        device = derived.create_device(name=dev.name, description=dev.description or "imaging device", **extra)
    channels = [OpticalChannel(name=c.name, description=c.description or c.name,
                               emission_lambda=float(c.emission_lambda)) for c in plane.optical_channel]
    optional = {k: getattr(plane, k) for k in ("imaging_rate", "reference_frame", "grid_spacing",
                                                 "grid_spacing_unit", "origin_coords", "origin_coords_unit",
                                                 "conversion", "unit") if getattr(plane, k, None) is not None}
    for k in ("grid_spacing", "origin_coords"):
        if k in optional:
            optional[k] = np.asarray(optional[k][()] if hasattr(optional[k], "shape") else optional[k])
    return derived.create_imaging_plane(
        name=plane.name, optical_channel=channels, description=plane.description or "imaging plane",
        device=device, excitation_lambda=float(plane.excitation_lambda), indicator=plane.indicator,
        location=plane.location, **optional)


def _copy_table(table, plane):
    from hdmf.common import VectorData, VectorIndex
    from pynwb.ophys import PlaneSegmentation

    ids = np.asarray(table.id.data[:])
    columns: list = []
    for name in table.colnames:
        column = table[name]
        if hasattr(column, "table") or hasattr(getattr(column, "target", None), "table"):
            log.info("PlaneSegmentation column %r not copied (a reference to another table)", name)
            continue
        if hasattr(column, "target"):  # ragged (pixel or voxel masks): the flat values and their index
            flat = VectorData(name=name, description=column.target.description or name,
                              data=_maybe_compressed(np.asarray(column.target.data[()])))
            columns += [flat, VectorIndex(name=f"{name}_index", data=np.asarray(column.data[()]), target=flat)]
        else:
            columns.append(VectorData(name=name, description=column.description or name,
                                      data=_maybe_compressed(np.asarray(column.data[()]))))
    return PlaneSegmentation(name=table.name, description=table.description or "segmented ROIs",
                             imaging_plane=plane, id=ids.tolist(), columns=columns,
                             colnames=[c.name for c in columns if not isinstance(c, VectorIndex)])


def _container(module, kind, name: str):
    if name in module.data_interfaces:
        return module.data_interfaces[name]
    container = kind(name=name)
    module.add(container)
    return container


def copy_roi_series(source: NWBFile, derived: NWBFile, path: str) -> None:
    """Copy the series at ``path`` (``MODULE/CONTAINER/SERIES``) and what it refers to into ``derived``.

    Raises
    ------
    InputFileError
        If the source has no series at ``path``.
    """
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb.ophys import ImageSegmentation, RoiResponseSeries

    series = roi_series_at(source, path)
    if series is None:
        raise InputFileError(f"no ROI series at {path!r} to copy")
    parts = path.split("/")
    table = series.rois.table
    plane = _copy_plane(table.imaging_plane, derived)
    mod_name = parts[0] if parts[0] != "acquisition" else "ophys"
    src_module = source.processing.get(mod_name) if parts[0] != "acquisition" else None
    module = derived.processing.get(mod_name) or derived.create_processing_module(
        mod_name, getattr(src_module, "description", None) or "optical physiology")
    seg_parent = table.parent if isinstance(table.parent, ImageSegmentation) else None
    segmentation = _container(module, ImageSegmentation, seg_parent.name if seg_parent else "ImageSegmentation")
    if table.name in segmentation.plane_segmentations:
        new_table = segmentation.plane_segmentations[table.name]
    else:
        new_table = _copy_table(table, plane)
        segmentation.add_plane_segmentation(new_table)
    rows = np.asarray(series.rois.data[:], dtype=np.int64)
    region = new_table.create_roi_table_region(description=series.rois.description or "ROIs of this series",
                                               region=rows.tolist())
    data = H5DataIO(_series_iterator(series.data), compression="gzip", compression_opts=4)
    timing = ({"timestamps": np.asarray(series.timestamps[:])} if series.timestamps is not None
              else {"rate": float(series.rate), "starting_time": float(series.starting_time or 0.0)})
    new_series = RoiResponseSeries(
        name=series.name, data=data, rois=region, unit=series.unit or "n.a.",
        description=series.description or series.name, comments=series.comments or "no comments",
        conversion=float(series.conversion), offset=float(getattr(series, "offset", 0.0) or 0.0),
        resolution=float(series.resolution), **timing)
    if parts[0] == "acquisition":  # the same path in the derived file: results refer to it by path
        derived.add_acquisition(new_series)
    elif len(parts) == 3:  # MODULE/CONTAINER/SERIES: inside a Fluorescence / DfOverF container
        parent = series.parent
        _container(module, type(parent), parent.name).add_roi_response_series(new_series)
    else:
        module.add(new_series)
