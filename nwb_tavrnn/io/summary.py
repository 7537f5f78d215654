"""What a file holds, as a plain dictionary (for ``nwb-tavrnn inspect`` and notebooks)."""

from __future__ import annotations

from collections import Counter

import numpy as np
from pynwb import NWBFile

from ..schema import DynamicConnectivity, EvaluationScores, ModelProvenance, NodeEmbeddings, TemporalAttention
from .read import _path, _text, find_objects, ragged_rows, read_behavior, unit_groups_and_locations

_OUR_TYPES = (DynamicConnectivity, NodeEmbeddings, TemporalAttention, ModelProvenance, EvaluationScores)
_SHAPED_FIELDS = ("data", "edge_index", "correlation", "inactive_mask", "mean", "log_variance", "sample",
                  "training_loss", "weights", "node_ids")


def summarize(nwbfile: NWBFile) -> dict:
    """Summarise the units, electrodes, intervals, behaviour and our own objects of a file."""
    out: dict = {
        "identifier": nwbfile.identifier,
        "session_description": nwbfile.session_description,
        "session_start_time": nwbfile.session_start_time.isoformat(),
        "subject": getattr(nwbfile.subject, "subject_id", None),
    }
    units = nwbfile.units
    if units is not None and len(units):
        info = {"count": len(units), "columns": list(units.colnames)}
        if "spike_times" in units.colnames:
            times = ragged_rows(units, "spike_times")
            info["spikes"] = int(sum(len(t) for t in times))
            nonempty = [t for t in times if len(t)]
            if nonempty:
                info["span_s"] = [float(min(t[0] for t in nonempty)), float(max(t[-1] for t in nonempty))]
            info["silent_units"] = int(sum(len(t) == 0 for t in times))
        groups, locations = unit_groups_and_locations(units, len(units))
        if any(groups):
            info["groups"] = dict(Counter(str(g) for g in groups))
        if any(locations):  # the brain areas: what region specs (location:NAME) and node groups select by
            info["locations"] = dict(Counter(str(v) or "(none)" for v in locations))
        if "region" in units.colnames:
            info["regions"] = dict(Counter(_text(v) or "(none)" for v in units["region"].data[:]))
        out["units"] = info
    else:
        out["units"] = None
    out["electrodes"] = len(nwbfile.electrodes) if nwbfile.electrodes is not None else 0
    out["intervals"] = {
        name: {"rows": len(table), "columns": [c for c in table.colnames]}
        for name, table in sorted(_intervals(nwbfile).items())
    }
    out["behavior"] = {path: list(np.shape(s.data)) for path, s in read_behavior(nwbfile).items()}
    out["roi_series"] = _roi_series(nwbfile)
    ours = {}
    for kind in _OUR_TYPES:
        for obj in find_objects(nwbfile, kind):
            if isinstance(obj, EvaluationScores):  # a table: its rows and what they score
                methods = sorted({str(m) for m in obj["method"][:]}) if len(obj) else []
                ours[_path(obj)] = {"type": kind.__name__, "shapes": {"rows": [len(obj)]}, "methods": methods}
                continue
            shapes = {f: list(np.shape(getattr(obj, f))) for f in _SHAPED_FIELDS if getattr(obj, f, None) is not None}
            ours[_path(obj)] = {"type": kind.__name__, "shapes": shapes}
    out["nwb_tavrnn"] = ours
    return out


def _roi_series(nwbfile: NWBFile) -> dict:
    """Each ROI series (the names ``--series`` takes): shape, rate, plane, and the ROIs accepted."""
    from .roi_series import ACCEPTED_COLUMNS, column_of, find_roi_series

    out = {}
    for info in find_roi_series(nwbfile):
        series, table = info.series, info.series.rois.table
        accepted = column_of(table, ACCEPTED_COLUMNS)
        out[info.path] = {
            "shape": list(series.data.shape),
            "rate": float(series.rate) if series.rate is not None else None,
            "plane": getattr(getattr(table, "imaging_plane", None), "name", None),
            "accepted": int(np.asarray(table[accepted].data[:]).astype(bool).sum()) if accepted else None,
        }
    return out


def _intervals(nwbfile: NWBFile) -> dict:
    from pynwb.epoch import TimeIntervals

    return {_path(o): o for o in nwbfile.objects.values() if isinstance(o, TimeIntervals)}


def format_summary(summary: dict) -> str:
    """Render :func:`summarize`'s output as readable text."""
    lines = [
        f"identifier: {summary['identifier']}",
        f"session: {summary['session_description']} (start {summary['session_start_time']})",
        f"subject: {summary['subject']}",
    ]
    units = summary["units"]
    if units:
        span = units.get("span_s")
        span_text = f", {span[0]:.1f}-{span[1]:.1f} s" if span else ""
        lines.append(f"units: {units['count']} ({units.get('spikes', 0)} spikes{span_text}, "
                     f"{units.get('silent_units', 0)} silent)")
        for key, title in (("regions", "regions (Units column 'region')"), ("locations", "locations (electrodes)"),
                           ("groups", "electrode groups")):
            if units.get(key):
                lines.append(f"  {title}: " + ", ".join(f"{k} ({v})" for k, v in units[key].items()))
    else:
        lines.append("units: none")
    lines.append(f"electrodes: {summary['electrodes']}")
    lines.append(f"intervals: {len(summary['intervals']) or 'none'}")
    for name, info in summary["intervals"].items():
        lines.append(f"  {name}: {info['rows']} rows; columns {', '.join(info['columns'])}")
    lines.append(f"behavior series: {len(summary['behavior']) or 'none'}")
    for path, shape in summary["behavior"].items():
        lines.append(f"  {path}: {tuple(shape)}")
    roi_series = summary.get("roi_series") or {}
    lines.append(f"ROI series (calcium imaging): {len(roi_series) or 'none'}")
    for path, info in roi_series.items():
        rate = f"{info['rate']:g} Hz" if info.get("rate") else "timestamps"
        accepted = f", {info['accepted']} accepted" if info.get("accepted") is not None else ""
        lines.append(f"  {path}: {tuple(info['shape'])} frames x ROIs, {rate}, plane {info['plane']}{accepted}")
    lines.append(f"nwb_tavrnn objects: {len(summary['nwb_tavrnn']) or 'none'}")
    for path, info in summary["nwb_tavrnn"].items():
        shapes = ", ".join(f"{k} {tuple(v)}" for k, v in info["shapes"].items())
        methods = f"; methods {', '.join(info['methods'])}" if info.get("methods") else ""
        lines.append(f"  {path} ({info['type']}): {shapes}{methods}")
    return "\n".join(lines)
