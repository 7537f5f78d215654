"""Fixtures of the sorting tests: the shared real recordings (skipped when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("spikeinterface")

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
LOCUST = SHARED_DATA / "raw_locust_tetrode"
BIOCAM = SHARED_DATA / "hdmea_biocam" / "biocam_hw3.0_fw1.6.brw"


@pytest.fixture(scope="session")
def locust() -> tuple[Path, dict]:
    """The locust tetrode recording and its reader options (from info.json)."""
    info_path = LOCUST / "info.json"
    if not info_path.is_file():
        pytest.skip("shared data folder with the locust tetrode recording is absent")
    info = json.loads(info_path.read_text())
    options = {"sampling_frequency": float(info["sample_rate"]), "num_channels": int(info["shape"][1]),
               "dtype": info["dtype"]}
    return LOCUST / "locust_trial_01.raw", options


@pytest.fixture(scope="session")
def biocam() -> Path:
    if not BIOCAM.is_file():
        pytest.skip("shared data folder with the BioCam recording is absent")
    return BIOCAM
