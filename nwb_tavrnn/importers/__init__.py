"""Dataset-specific importers: a lab's own files → an NWB file the pipeline reads.

Each entry of :data:`IMPORTERS` names a dataset layout, the function that builds the NWBFile from
its folder, and what it expects there; ``nwb-tavrnn import NAME FOLDER OUTPUT`` runs it. General
NWB reading and writing lives in :mod:`nwb_tavrnn.io`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Importer:
    """One dataset layout: ``build(folder, **options)`` returns an in-memory NWBFile."""

    name: str
    description: str
    expects: str
    build: Callable[..., Any]
    files: tuple[str, ...] = ()


def _linear_track(folder, segments: int = 3):
    from .linear_track import linear_track_nwbfile

    return linear_track_nwbfile(folder, n_segments=segments)


IMPORTERS: dict[str, Importer] = {
    "linear-track": Importer(
        "linear-track", "Kemere-lab rat CA1 tetrodes on a linear track (nelpy example data): units, position, "
        "speed, run/rest epochs and track-segment stays",
        "spikes.mat (MatClust) and trajectory.videoPositionTracking (Trodes)", _linear_track,
        ("spikes.mat", "trajectory.videoPositionTracking")),
}


def recognise(folder) -> str | None:
    """The name of the importer whose files ``folder`` holds, or None."""
    from pathlib import Path

    folder = Path(folder)
    if not folder.is_dir():
        return None
    return next((name for name, imp in IMPORTERS.items()
                 if imp.files and all((folder / f).exists() for f in imp.files)), None)


__all__ = ["IMPORTERS", "Importer", "recognise"]
