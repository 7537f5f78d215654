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
