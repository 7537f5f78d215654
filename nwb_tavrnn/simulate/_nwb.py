"""The NWBFile header every simulator writes: who made the data, how, and with what settings."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any


def simulated_nwbfile(name: str, description: str, seed: int, config: Any):
    """An NWBFile for ``nwb_tavrnn.simulate.simulate_<name>(seed=seed)``; ``config`` (a dataclass)
    goes into the notes as JSON, so the file says how to make it again."""
    from pynwb import NWBFile

    return NWBFile(
        session_description=description,
        identifier=str(uuid.uuid4()),
        session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
        session_id=f"{name}-seed-{seed}",
        lab="nwb_tavrnn",
        institution="nwb_tavrnn (simulated data)",
        source_script=f"nwb_tavrnn.simulate.simulate_{name}(seed={seed})",
        source_script_file_name=f"nwb_tavrnn/simulate/{name}.py",
        notes=json.dumps({"seed": seed, "config": asdict(config)}, sort_keys=True),
    )


#: Resolution declared for continuous-time simulated spike times (s): they are drawn by thinning and
#: stored as float64, on no acquisition grid; 1 µs is a safe bound (nwbinspector asks for one).
SPIKE_RESOLUTION = 1e-6


def add_regional_units(nwbfile, spikes, unit_region, regions, noun: str = "unit") -> None:
    """Units of simulated regions: one electrode group per region whose ``location`` is the region,
    one electrode per unit, continuous-time spike times (:data:`SPIKE_RESOLUTION`) observed over the
    whole session, and a ``region`` column.

    Shapes
    ------
    unit_region : (units,) str, in the order of ``spikes``
    """
    import numpy as np

    from ..io.units import build_units_table

    device = nwbfile.create_device(name="simulated_probe", description=f"One simulated electrode per {noun}.")
    groups = {r: nwbfile.create_electrode_group(name=r, description=f"{noun.capitalize()}s of the {r} region.",
                                                location=r, device=device) for r in regions}
    for r in unit_region:
        nwbfile.add_electrode(group=groups[r], location=str(r))
    n = len(spikes)
    nwbfile.units = build_units_table(
        spikes.times, spikes.ids, description="Simulated spike trains (inhomogeneous Poisson).",
        resolution=SPIKE_RESOLUTION, obs_intervals=[np.array([[0.0, spikes.t_stop]])] * n,
        electrodes=[[i] for i in range(n)], electrode_table=nwbfile.electrodes,
        electrode_groups=[groups[r] for r in unit_region],
        extra_columns={"region": (f"Brain region of the {noun}.", [str(r) for r in unit_region])},
    )
