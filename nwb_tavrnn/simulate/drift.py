"""Sessions whose network drifts slowly while a block-wise label changes nothing (or, on request, something).

The yardstick for the evaluation's calibration. Units in ``n_groups`` groups share a fast common
input per group (which makes them correlate); the strength of that input and every unit's baseline
rate wander slowly (Ornstein-Uhlenbeck processes with time constant ``drift_timescale``), so
correlations and rates drift over minutes as real recordings do. The session is cut into
``n_blocks`` equal blocks carrying a label (``condition``: ``A``/``B``), in a random balanced order
(``design="random"``, a randomised block design) or strictly alternating (``design="alternating"``,
random first label). With ``effect = 0`` the label changes nothing: any "decoding" of it is a false
positive. With ``effect > 0`` the shared input of group 0 is ``effect`` stronger (in log-rate
units) in ``B`` blocks and that of group 1 in ``A`` blocks: the label changes which units
coordinate, not the mean rates.

Spikes come from an inhomogeneous Poisson process per unit on a ``dt`` grid (rate
``base_i(t) * exp(c_g(t) s_g(t) - c_g(t)^2 / 2)``, where ``s_g`` is unit white noise per bin, so the
shared input changes correlations while keeping the expected rate).

Written to NWB: Units (one electrode group per group), a ``blocks`` intervals table with the
``condition`` of every block, and the planted drift in the session notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import NwbTavrnnError
from ..io.spike_trains import SpikeTrains

DESIGNS = ("random", "alternating")


@dataclass
class DriftConfig:
    """Parameters of a drifting session (see the module docstring).

    Parameters
    ----------
    n_units, n_groups
        Units, split into equal groups (each group shares one common input).
    minutes, n_blocks, design
        Session length, label blocks and their order (``random`` balanced or ``alternating``).
    rate
        Mean firing rate (Hz).
    coupling, drift_coupling, drift_rate, drift_timescale
        Mean strength of the shared input (log-rate units per unit of noise), its slow OU wander
        (standard deviation), the baseline log-rate wander (standard deviation) and their time
        constant (s).
    effect
        Extra shared-input strength of group 0 in ``B`` blocks and of group 1 in ``A`` blocks (0: the
        label changes nothing).
    dt
        Simulation grid (s); spike times fall uniformly inside their bin.
    """

    n_units: int = 16
    n_groups: int = 2
    minutes: float = 48.0
    n_blocks: int = 12
    design: str = "random"
    rate: float = 5.0
    coupling: float = 0.6
    drift_coupling: float = 0.35
    drift_rate: float = 0.3
    drift_timescale: float = 600.0
    effect: float = 0.0
    dt: float = 0.05

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise NwbTavrnnError(f"design must be one of {', '.join(DESIGNS)}, got {self.design!r}")
        if self.n_units < self.n_groups or self.n_groups < 1 or self.n_blocks < 2 or self.n_blocks % 2:
            raise NwbTavrnnError("need n_units >= n_groups >= 1 and an even n_blocks >= 2")
        if self.minutes <= 0 or self.rate <= 0 or self.dt <= 0 or self.drift_timescale <= 0:
            raise NwbTavrnnError("minutes, rate, dt and drift_timescale must be positive")

    @property
    def duration(self) -> float:
        return 60.0 * self.minutes


@dataclass
class DriftSession:
    """Spike trains, the label blocks and the planted slow processes.

    Shapes
    ------
    block_start, block_stop : (blocks,) seconds; condition : (blocks,) "A" | "B"
    coupling : (bins, groups) shared-input strength; base_rate : (bins, units) Hz
    """

    spikes: SpikeTrains
    block_start: np.ndarray
    block_stop: np.ndarray
    condition: np.ndarray
    coupling: np.ndarray
    base_rate: np.ndarray
    config: DriftConfig
    seed: int


def _ou(n_steps: int, n: int, sd: float, tau: float, dt: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary Ornstein-Uhlenbeck paths of standard deviation ``sd`` (n_steps, n)."""
    from scipy.signal import lfilter

    a = np.exp(-dt / tau)
    noise = rng.normal(size=(n_steps, n)) * sd * np.sqrt(1 - a * a)
    noise[0] = rng.normal(size=n) * sd  # start in the stationary distribution
    return lfilter([1.0], [1.0, -a], noise, axis=0)


def simulate_drift(config: DriftConfig | None = None, seed: int = 0) -> DriftSession:
    """Simulate one drifting session (see the module docstring)."""
    cfg = config or DriftConfig()
    rng = np.random.default_rng(seed)
    n_steps = int(round(cfg.duration / cfg.dt))
    edges = np.linspace(0.0, cfg.duration, cfg.n_blocks + 1)
    if cfg.design == "alternating":
        first = rng.integers(2)
        condition = np.array(["AB"[(first + b) % 2] for b in range(cfg.n_blocks)])
    else:
        condition = rng.permutation(np.repeat(np.array(["A", "B"]), cfg.n_blocks // 2))
    t = (np.arange(n_steps) + 0.5) * cfg.dt
    block_of_bin = np.minimum(np.searchsorted(edges, t, side="right") - 1, cfg.n_blocks - 1)
    is_b = condition[block_of_bin] == "B"
    coupling = np.clip(cfg.coupling + _ou(n_steps, cfg.n_groups, cfg.drift_coupling, cfg.drift_timescale, cfg.dt,
                                          rng), 0.0, None)
    # the planted effect moves shared input from group 1 (A blocks) to group 0 (B blocks): the
    # graph's strongest edges change sides, the mean rates do not
    coupling[:, 0] += cfg.effect * is_b
    if cfg.n_groups > 1:
        coupling[:, 1] += cfg.effect * ~is_b
    group_of = np.arange(cfg.n_units) % cfg.n_groups
    log_base = np.log(cfg.rate) + _ou(n_steps, cfg.n_units, cfg.drift_rate, cfg.drift_timescale, cfg.dt, rng)
    shared = rng.normal(size=(n_steps, cfg.n_groups))
    c = coupling[:, group_of]
    rate = np.exp(log_base + c * shared[:, group_of] - 0.5 * c * c)
    counts = rng.poisson(np.minimum(rate * cfg.dt, 5.0))
    times = []
    for i in range(cfg.n_units):
        bins = np.repeat(np.arange(n_steps), counts[:, i])
        times.append(np.sort((bins + rng.uniform(size=bins.size)) * cfg.dt))
    groups = np.array([f"group{g}" for g in group_of])
    spikes = SpikeTrains(times, np.arange(cfg.n_units), groups, np.array(["simulated"] * cfg.n_units), 0.0,
                         cfg.duration)
    return DriftSession(spikes, edges[:-1], edges[1:], condition, coupling.astype(np.float32),
                        np.exp(log_base).astype(np.float32), cfg, seed)


def drift_nwbfile(session: DriftSession):
    """The session as an in-memory NWBFile (Units, electrode groups, the ``blocks`` table)."""
    from pynwb.epoch import TimeIntervals
    from pynwb.file import Subject

    from ..io.units import build_units_table
    from ._nwb import simulated_nwbfile

    cfg = session.config
    nwbfile = simulated_nwbfile(
        "drift", f"Simulated drifting network: {cfg.n_units} units in {cfg.n_groups} groups, {cfg.minutes:g} min in "
        f"{cfg.n_blocks} label blocks ({cfg.design} order); the label "
        + ("changes nothing." if cfg.effect == 0 else
           f"strengthens group 0's shared input by {cfg.effect:g} in B blocks, group 1's in A blocks."),
        session.seed, cfg)
    nwbfile.subject = Subject(subject_id=f"simulated-drift-{session.seed}", species="Rattus norvegicus",
                              sex="U", age="P90D", description="A simulated network (no animal).")
    device = nwbfile.create_device(name="simulated_probe", description="One simulated electrode per unit.")
    egroups = {g: nwbfile.create_electrode_group(name=g, description=f"Units sharing the input of {g}.",
                                                 location="simulated", device=device)
               for g in dict.fromkeys(session.spikes.groups)}
    for g in session.spikes.groups:
        nwbfile.add_electrode(group=egroups[g], location="simulated")
    n = len(session.spikes)
    nwbfile.units = build_units_table(
        session.spikes.times, session.spikes.ids, description="Simulated spike trains (inhomogeneous Poisson).",
        obs_intervals=[np.array([[0.0, cfg.duration]])] * n, electrodes=[[i] for i in range(n)],
        electrode_table=nwbfile.electrodes, electrode_groups=[egroups[g] for g in session.spikes.groups],
    )
    blocks = TimeIntervals(name="blocks", description="Label blocks of the session (the condition of each).")
    blocks.add_column("condition", "Label of the block: A or B.")
    for start, stop, cond in zip(session.block_start, session.block_stop, session.condition):
        blocks.add_row(start_time=float(start), stop_time=float(stop), condition=str(cond))
    nwbfile.add_time_intervals(blocks)
    return nwbfile


def write_drift_session(path: str | Path, config: DriftConfig | None = None, seed: int = 0,
                        overwrite: bool = False) -> Path:
    """Simulate a drifting session and write it atomically as NWB; return the path."""
    from ..io.files import check_writable, write_nwbfile

    check_writable(path, overwrite=overwrite)
    return write_nwbfile(drift_nwbfile(simulate_drift(config, seed)), path, overwrite=overwrite)


__all__ = ["DESIGNS", "DriftConfig", "DriftSession", "drift_nwbfile", "simulate_drift", "write_drift_session"]
