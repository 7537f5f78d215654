"""Import the Kemere-lab rat linear-track example (MatClust ``spikes.mat`` + Trodes position) to NWB.

The recording (nelpy example data, MIT licence) holds CA1 tetrode units sorted with MatClust and the
position of one LED tracked by Trodes at a 30 kHz clock: about 15 min of running on a linear track,
then 15 min of rest. Times in both files are seconds on the same clock.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
from pynwb import NWBFile, TimeSeries
from pynwb.file import Subject

from ..errors import InputFileError
from ..io.segments import add_position_segments
from ..io.units import build_units_table

#: Trodes position records: <time uint32><xloc uint16><yloc uint16><xloc2 uint16><yloc2 uint16>.
TRODES_RECORD = np.dtype([("time", "<u4"), ("x", "<u2"), ("y", "<u2"), ("x2", "<u2"), ("y2", "<u2")])
CLOCK_RATE = 30000.0
RUN_SECONDS = 15 * 60.0


def read_matclust_spikes(path: str | Path) -> list[tuple[int, np.ndarray]]:
    """(tetrode index, sorted spike times) of every non-empty MatClust unit, in file order."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path), squeeze_me=True, struct_as_record=False)
    except (OSError, ValueError) as err:
        raise InputFileError(f"{path}: not a readable MatClust spikes.mat ({err})") from None
    if "spikes" not in mat:
        raise InputFileError(f"{path}: no 'spikes' variable; expected MatClust output")
    units = []
    for tetrode, cells in enumerate(np.atleast_1d(mat["spikes"])):
        for cell in np.atleast_1d(cells):
            times = np.atleast_1d(getattr(cell, "time", np.zeros(0))).astype(np.float64)
            if times.size:
                units.append((tetrode, np.sort(times)))
    return units


def read_trodes_position(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (s) and LED position (pixels) from a ``.videoPositionTracking`` file.

    Shapes
    ------
    return : (samples,), (samples, 2)
    """
    raw = Path(path).read_bytes()
    marker = b"<End settings>\n"
    if marker not in raw:
        raise InputFileError(f"{path}: no Trodes settings header; not a .videoPositionTracking file")
    body = raw[raw.index(marker) + len(marker):]
    records = np.frombuffer(body, dtype=TRODES_RECORD, count=len(body) // TRODES_RECORD.itemsize)
    xy = np.stack([records["x"], records["y"]], axis=1).astype(np.float64)
    return records["time"] / CLOCK_RATE, xy


def linear_track_nwbfile(folder: str | Path, n_segments: int = 3) -> NWBFile:
    """Build an NWBFile from the example folder: Units (one electrode group per tetrode), position
    and speed in a 'behavior' module, epochs 'run' (first 15 min) and 'rest', and the stays of at
    least 1 s in each of ``n_segments`` track segments while running ('position_segments')."""
    folder = Path(folder)
    units = read_matclust_spikes(folder / "spikes.mat")
    stamps, xy = read_trodes_position(folder / "trajectory.videoPositionTracking")
    nwbfile = NWBFile(
        session_description="Rat CA1 tetrode units on a linear track (15 min running, then 15 min rest); "
        "nelpy example data (Kemere lab), imported by nwb_tavrnn",
        identifier="kemere-linear-track-example",
        session_start_time=datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc),
        lab="Kemere lab", institution="Rice University", experimenter=["Kemere, Caleb"],
        keywords=["hippocampus", "CA1", "linear track"],
    )
    nwbfile.subject = Subject(subject_id="rat", species="Rattus norvegicus", sex="U", age="P90D/",
                              description="age and sex not given with the example data")
    device = nwbfile.create_device(name="tetrode_drive", description="tetrode microdrive")
    tetrodes = sorted({t for t, _ in units})
    groups = {t: nwbfile.create_electrode_group(name=f"tetrode{t}", description=f"tetrode {t}", location="CA1",
                                                device=device) for t in tetrodes}
    for t in tetrodes:
        nwbfile.add_electrode(group=groups[t], location="CA1")
    row = {t: i for i, t in enumerate(tetrodes)}
    nwbfile.units = build_units_table(
        [times for _, times in units], range(len(units)),
        description="MatClust-sorted units (spike times in seconds on the Trodes clock)",
        resolution=1.0 / CLOCK_RATE,
        electrodes=[[row[t]] for t, _ in units], electrode_table=nwbfile.electrodes,
        electrode_groups=[groups[t] for t, _ in units],
    )
    behavior = nwbfile.create_processing_module("behavior", "LED position and running speed")
    behavior.add(TimeSeries(name="position", data=xy, timestamps=stamps, unit="pixels",
                            description="LED position in camera pixels (no pixel scale was recorded)"))
    dt = np.gradient(stamps)
    speed = np.hypot(*np.gradient(xy, axis=0).T) / np.where(dt > 0, dt, np.nan)
    behavior.add(TimeSeries(name="speed", data=np.nan_to_num(speed), timestamps=stamps, unit="pixels/s",
                            description="LED speed from the position's gradient"))
    start = float(min(stamps[0], min(t[0] for _, t in units)))
    stop = float(max(stamps[-1], max(t[-1] for _, t in units)))
    nwbfile.add_epoch_column("state", "'run' (the first 15 min, on the track) or 'rest'")
    nwbfile.add_epoch(start_time=start, stop_time=start + RUN_SECONDS, state="run")
    nwbfile.add_epoch(start_time=start + RUN_SECONDS, stop_time=stop, state="rest")
    add_position_segments(nwbfile, stamps, xy, n_segments, min_duration=1.0, ranges=[(start, start + RUN_SECONDS)])
    return nwbfile
