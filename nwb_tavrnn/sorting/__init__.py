"""Sorting front end: raw voltage (NWB, MEA, Neuropixels, HD-MEA) → NWB Units, via SpikeInterface.

Two modes, both writing a Units table (see :mod:`.nwb` for the layout):

- :func:`sort`: preprocess, run a spike sorter (default ``lupin``, pure Python; any installed
  SpikeInterface sorter by name), analyse (mean waveforms, quality metrics) and curate by metric
  thresholds (:data:`DEFAULT_CURATION`).
- :func:`detect_events`: HD-MEA mode, per-electrode threshold crossings as nodes, no sorting.

Importing this package is light; SpikeInterface is imported by :mod:`.adapter` (and
:mod:`.recording`, which opens the recordings) when a function runs.
"""

from __future__ import annotations

from .params import (
    DEFAULT_CURATION,
    DEFAULT_METRICS,
    DEFAULT_SORTER,
    DetectionParams,
    JobParams,
    ParamsError,
    PreprocessingParams,
    SortingParams,
)

_LAZY = {
    "sort": "step", "detect_events": "step", "write_recording_nwb": "step", "SortingResult": "step",
    "EventsResult": "step", "SortingFailed": "adapter", "FORMATS": "adapter",
    "compare_to_ground_truth": "adapter", "sorting_from_times": "adapter",
    "generate_ground_truth": "adapter", "params_from_description": "nwb",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_CURATION",
    "DEFAULT_METRICS",
    "DEFAULT_SORTER",
    "DetectionParams",
    "JobParams",
    "ParamsError",
    "PreprocessingParams",
    "SortingParams",
    *_LAZY,
]
