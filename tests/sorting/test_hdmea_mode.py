"""HD-MEA mode on a synthetic recording whose events are known per channel."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_tavrnn.io.files import open_nwb
from nwb_tavrnn.io.read import ragged_rows
from nwb_tavrnn.sorting import DetectionParams, detect_events, params_from_description
from nwb_tavrnn.sorting.adapter import generate_channel_events


def _match(truth: np.ndarray, found: np.ndarray, tol: float = 1e-3) -> tuple[int, int]:
    """(true events with a detection within tol, detections with no true event within tol)."""
    if len(found) == 0:
        return 0, 0
    if len(truth) == 0:
        return 0, len(found)
    idx = np.clip(np.searchsorted(found, truth), 1, len(found) - 1)
    d = np.minimum(np.abs(found[idx - 1] - truth), np.abs(found[idx] - truth))
    jdx = np.clip(np.searchsorted(truth, found), 1, len(truth) - 1)
    e = np.minimum(np.abs(truth[jdx - 1] - found), np.abs(truth[jdx] - found))
    return int((d <= tol).sum()), int((e > tol).sum())


@pytest.fixture(scope="module")
def synthetic():
    return generate_channel_events(num_channels=25, duration=10.0, rate=5.0, amplitude=60.0, noise_level=5.0, seed=3)


def test_recovers_injected_events_per_channel(synthetic, tmp_path):
    recording, truth = synthetic
    result = detect_events(recording, tmp_path / "events.nwb")
    hits = fps = total = 0
    for c in range(len(truth)):
        h, f = _match(truth[c], result.event_times[c])
        hits, fps, total = hits + h, fps + f, total + len(truth[c])
        assert h >= 0.9 * len(truth[c]), f"channel {c}: {h}/{len(truth[c])} events recovered"
    n_found = sum(len(t) for t in result.event_times)
    print(f"HD-MEA synthetic: recall {hits / total:.3f} within 1 ms, {fps} false positives of {n_found} events")
    assert fps <= 0.05 * n_found
    with open_nwb(result.output) as nwbfile:
        units = nwbfile.units
        assert len(units) == 25
        stored = ragged_rows(units, "spike_times")
        for c in range(25):
            np.testing.assert_allclose(stored[c], result.event_times[c])
        assert params_from_description(units.description)["detect_threshold"] == 5.0
        assert "NOT sorted units" in units.description
        assert np.all(np.asarray(units["detection_threshold"].data[:]) > 0)


def test_threshold_is_configurable(synthetic):
    recording, truth = synthetic
    strict = detect_events(recording, params=DetectionParams(detect_threshold=40.0))
    assert sum(len(t) for t in strict.event_times) < 0.05 * sum(len(t) for t in truth)
