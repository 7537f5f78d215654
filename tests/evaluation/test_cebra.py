"""CEBRA-Time window features on synthetic spikes with two known alternating states."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("cebra")

from nwb_tavrnn.errors import InputFileError
from nwb_tavrnn.evaluation.cebra_baseline import cebra_available, cebra_window_features
from nwb_tavrnn.evaluation.metrics import classify
from nwb_tavrnn.evaluation.splits import make_folds
from nwb_tavrnn.io.spike_trains import SpikeTrains

N_NODES, DURATION, EPOCH, WINDOW, DIM = 20, 200.0, 20.0, 10.0, 4
KWARGS = {"output_dimension": DIM, "max_iterations": 150, "batch_size": 256, "seed": 3}

#: Two fits of a small network: one torch thread is as fast on an idle machine and several times
#: faster on a busy one.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def two_state_trains(seed: int = 0) -> SpikeTrains:
    """Poisson spikes; in state 0 the first half of the nodes fire at 8 Hz and the rest at 2 Hz, in
    state 1 the other way round. States alternate every EPOCH seconds."""
    rng = np.random.default_rng(seed)
    high = np.arange(N_NODES) < N_NODES // 2
    times = [[] for _ in range(N_NODES)]
    for k, t0 in enumerate(np.arange(0.0, DURATION, EPOCH)):
        rates = np.where(high == (k % 2 == 0), 8.0, 2.0)
        for i, rate in enumerate(rates):
            times[i].append(np.sort(rng.uniform(t0, t0 + EPOCH, rng.poisson(rate * EPOCH))))
    return SpikeTrains([np.concatenate(t) for t in times], ids=np.arange(N_NODES), t_start=0.0, t_stop=DURATION)


@pytest.fixture(scope="module")
def windows():
    starts = np.arange(0.0, DURATION, WINDOW)
    labels = np.where((starts // EPOCH) % 2 == 0, "a", "b")
    return two_state_trains(), starts, starts + WINDOW, labels


@pytest.fixture(scope="module")
def features(windows, one_torch_thread):
    trains, starts, stops, _ = windows
    return cebra_window_features(trains, starts, stops, **KWARGS)


def test_shape_and_finite(windows, features):
    assert cebra_available()
    assert features.shape == (len(windows[1]), 2 * DIM)
    assert np.isfinite(features).all()


def test_classifies_the_known_state(windows, features):
    _, starts, stops, labels = windows
    accuracy = classify(features, labels, make_folds(starts, stops, labels)).scores["accuracy"]
    assert accuracy >= 0.8, accuracy


def test_same_seed_same_output(windows, features):
    trains, starts, stops, _ = windows
    np.testing.assert_array_equal(cebra_window_features(trains, starts, stops, **KWARGS), features)


def test_window_without_bins_is_an_error(windows):
    trains = windows[0]
    with pytest.raises(InputFileError, match="hold no"):
        cebra_window_features(trains, [DURATION + 5.0], [DURATION + 10.0], **{**KWARGS, "max_iterations": 1})


def test_missing_package_message(windows, monkeypatch):
    # A None entry in sys.modules makes find_spec report the package as absent; cebra is hidden, not mocked.
    monkeypatch.setitem(sys.modules, "cebra", None)
    assert not cebra_available()
    with pytest.raises(ImportError, match="pip install cebra"):
        cebra_window_features(*windows[:3])
