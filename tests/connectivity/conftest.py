"""Seeded synthetic spike trains for the connectivity tests."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_tavrnn.io.spike_trains import SpikeTrains


def poisson_trains(n_nodes: int, duration: float, rate: float, seed: int, t_start: float = 0.0) -> SpikeTrains:
    rng = np.random.default_rng(seed)
    times = [np.sort(rng.uniform(t_start, t_start + duration, rng.poisson(rate * duration))) for _ in range(n_nodes)]
    return SpikeTrains(times, np.arange(n_nodes) + 100, t_start=t_start, t_stop=t_start + duration)


def block_trains(blocks: list[int], duration: float, seed: int, driver_rate: float = 4.0, copy_p: float = 0.8,
                 background: float = 2.0, jitter: float = 0.005) -> SpikeTrains:
    """Nodes in blocks; each block shares a Poisson driver whose spikes each member copies with prob copy_p."""
    rng = np.random.default_rng(seed)
    times, groups = [], []
    for b, size in enumerate(blocks):
        driver = rng.uniform(0, duration, rng.poisson(driver_rate * duration))
        for _ in range(size):
            own = driver[rng.random(driver.size) < copy_p]
            own = own + rng.uniform(-jitter, jitter, own.size)
            bg = rng.uniform(0, duration, rng.poisson(background * duration))
            t = np.sort(np.concatenate([own, bg]))
            times.append(t[(t >= 0) & (t < duration)])
            groups.append(f"block{b}")
    n = len(times)
    return SpikeTrains(times, np.arange(n), groups=groups, t_start=0.0, t_stop=duration)


@pytest.fixture
def random_trains() -> SpikeTrains:
    return poisson_trains(12, 300.0, 4.0, seed=1)
