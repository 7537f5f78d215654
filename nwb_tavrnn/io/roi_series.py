"""Where a file's ROI traces are: every RoiResponseSeries by path, and the columns of its ROI table
that say which ROIs were accepted. NWB lookups only (pynwb): what the writer, the file summary and
the ophys reader share.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynwb import NWBFile

#: Columns of a PlaneSegmentation that mark accepted ROIs (suite2p's ``iscell``, CaImAn's ``accepted``).
ACCEPTED_COLUMNS = ("accepted", "iscell", "is_cell")


@dataclass
class SeriesInfo:
    """One RoiResponseSeries of a file: where it is and what it holds."""

    path: str
    series: object

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.series.data.shape)

    def describe(self) -> str:
        table = getattr(getattr(self.series, "rois", None), "table", None)
        plane = getattr(getattr(table, "imaging_plane", None), "name", "?")
        return f"{self.path} {'x'.join(map(str, self.shape))} (plane {plane})"


def find_roi_series(nwbfile: NWBFile) -> list[SeriesInfo]:
    """Every RoiResponseSeries in the file's processing modules (and acquisition), by path."""
    from pynwb.ophys import RoiResponseSeries

    found: list[SeriesInfo] = []
    for mod_name, module in nwbfile.processing.items():
        for name, obj in module.data_interfaces.items():
            if isinstance(obj, RoiResponseSeries):
                found.append(SeriesInfo(f"{mod_name}/{name}", obj))
            for sname, series in (getattr(obj, "roi_response_series", None) or {}).items():
                found.append(SeriesInfo(f"{mod_name}/{name}/{sname}", series))
    for name, obj in nwbfile.acquisition.items():
        if isinstance(obj, RoiResponseSeries):
            found.append(SeriesInfo(f"acquisition/{name}", obj))
    return found


def roi_series_at(nwbfile: NWBFile, path: str):
    """The RoiResponseSeries at ``path`` (as :func:`find_roi_series` names it), or None."""
    return next((s.series for s in find_roi_series(nwbfile) if s.path == path), None)


def has_roi_series(nwbfile: NWBFile) -> bool:
    return bool(find_roi_series(nwbfile))


def column_of(table, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` that is a column of ``table`` (case-insensitive), or None."""
    lower = {c.lower(): c for c in table.colnames}
    for n in names:
        if n in lower:
            return lower[n]
    return None


__all__ = ["ACCEPTED_COLUMNS", "SeriesInfo", "column_of", "find_roi_series", "has_roi_series", "roi_series_at"]
