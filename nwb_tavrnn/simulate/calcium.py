"""Synthetic calcium imaging of the planted-regime network: the spikes seen through an indicator.

The spikes of :func:`nwb_tavrnn.simulate.simulate_network` (network bursts in the motor subregions
in ``"aligned"`` blocks, see :mod:`nwb_tavrnn.simulate.network`) are turned into the fluorescence a
two-photon microscope would record from one ROI per node, at 20 frames per second: the yardstick
for the calcium-imaging route (ROI traces → connectivity graphs → TAVRNN), whose answers can be
compared with those of the spike route on the very same spikes.

The model
---------
Each spike at time ``s`` adds a double-exponential ΔF/F transient

.. math::

    h(u) = \\frac{A}{c}\\,\\left(e^{-u/\\tau_d} - e^{-u/\\tau_r}\\right),\\quad u = t - s \\ge 0,
    \\qquad c = e^{-u^*/\\tau_d} - e^{-u^*/\\tau_r},\\quad
    u^* = \\frac{\\tau_r \\tau_d}{\\tau_d - \\tau_r} \\ln\\frac{\\tau_d}{\\tau_r},

so its peak (at ``u*``) is exactly ``A`` (:attr:`CalciumConfig.amplitude`); transients add
linearly (no indicator saturation). Frame ``k`` is a sample of the noiseless ΔF/F at
``t_k = t_start + k / rate``: no integration over the frame (a point-scanning microscope visits
each ROI for a small fraction of the frame). The recorded fluorescence of ROI ``i`` is

.. math::

    F_{k,i} = F_{0,i}\\,\\left(1 + d_{k,i} + \\Delta F/F_{k,i}\\right) + \\sigma F_{0,i}\\,\\varepsilon_{k,i},

with ``F0_i`` log-normal across ROIs (:attr:`CalciumConfig.f0_median`, ``f0_spread``), white
Gaussian noise ``ε`` of per-frame SD ``σ F0`` (:attr:`CalciumConfig.noise_std`, a fraction of
the baseline, i.e. the SD of ΔF/F per frame), and an optional slow baseline drift ``d`` (an
Ornstein-Uhlenbeck process of SD ``drift_std`` and time constant ``drift_tau`` per ROI; off by
default, because independent slow trends add chance correlations to every pair of ROIs).

The kernel sum is exact for spikes at their real times, without a time grid finer than the
frames: with the two exponential states ``D_k = Σ_{s <= t_k} exp(-(t_k - s)/τ_d)`` and ``R_k``
(the same with ``τ_r``), ``ΔF/F_k = A (D_k - R_k) / c``, and each state obeys the recursion
``D_k = D_{k-1} exp(-(t_k - t_{k-1})/τ_d) + Σ_{s ∈ (t_{k-1}, t_k]} exp(-(t_k - s)/τ_d)`` (spikes
before ``t_start`` enter ``D_0``). That is ``O(frames × rois + spikes)``, vectorised over ROIs
(a bincount of the spikes' contributions and one first-order IIR filter per state).

Defaults: GCaMP6f at 20 Hz
--------------------------
GCaMP6f (Chen et al. 2013, "Ultrasensitive fluorescent proteins for imaging neuronal activity",
Nature 499:295-300) is the fast indicator of the GCaMP6 family and the usual choice for imaging
at 20-30 Hz:

* ``tau_rise = 0.05 s``: Chen et al. resolve successive spikes of GCaMP6f 50-75 ms apart, i.e.
  a rise of that order; with ``tau_decay`` below the transient peaks ``u* ≈ 0.12 s`` after the
  spike, between the 2nd and 3rd frame.
* ``tau_decay = 0.4 s``: the ``decay_time`` CaImAn uses by default and documents as suited to
  GCaMP6f (suite2p's recommended ``tau`` for GCaMP6f is 0.7 s; single-spike transients in vivo
  decay faster, bursts slower). Short enough that the simulator's 2 Hz burst sources give
  separable transients.
* ``amplitude = 0.2`` ΔF/F per spike: the order of GCaMP6f's single-spike response in cortical
  pyramidal neurons in vivo (Chen et al. 2013).
* ``noise_std = 0.1``: per-frame SD of ΔF/F of 0.1 (SNR 2 for one spike at its peak; about 3-4 for
  a typical burst of this simulator, ~2 spikes per participating node), a moderate in-vivo
  two-photon ROI at 20 Hz. Single bursts are visible in a trace, but single spikes are not
  reliably so.
* ``f0_median = 300``, ``f0_spread = 0.3``: baselines of a few hundred arbitrary units varying
  by ~30 % across ROIs, like the raw traces of a suite2p segmentation.

The NWB file
------------
:func:`ophys_nwbfile` writes the session metadata, subject, epochs (``state``, ``session``) and
trials (``hit``, ``state``) exactly as the spike file of :mod:`~nwb_tavrnn.simulate.network`
does, no Units table and no electrodes, and a ``processing/ophys`` module (layout of
:func:`nwb_tavrnn.ophys.write.add_ophys_module`) with the raw fluorescence ``F``
(``Fluorescence/RoiResponseSeries``), disc-shaped ROI pixel masks (the ROIs of one planted group
side by side, like the electrodes of the spike file), PlaneSegmentation ids = node ids and columns
``group`` (the planted group of the node) and ``baseline_f0`` (its true ``F0``). The ground-truth
spikes are the DynamicTable ``processing/ophys/ground_truth_spikes`` (``roi`` → PlaneSegmentation
row, ragged ``spike_times``): not a Units table, so readers of spike data do not take this file for
one. The noiseless ΔF/F is not stored: it is :func:`calcium_traces` of those spikes.

Seeds: :func:`write_ophys_simulation` with ``seed`` simulates exactly the spikes of
``write_simulation(..., seed)``; the calcium part (baselines, noise, drift, ROI layout) draws from
its own stream derived from the same seed, independent of the network's streams.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from ..io.spike_trains import SpikeTrains
from .network import (
    SimulatedSession,
    SimulationConfig,
    SimulationConfigError,
    _electrode_positions,
    _session_nwbfile,
    simulate_network,
)

log = logging.getLogger(__name__)

#: Spawn key of the calcium streams of a seed: :func:`simulate_network` spawns keys 0..5 from the
#: same seed, so a key far above those keeps the two independent even if the network grows streams.
_CALCIUM_STREAM = 0xCA1C
#: Name of the ground-truth spike table in processing/ophys.
GROUND_TRUTH_SPIKES = "ground_truth_spikes"
#: Work arrays of the kernel sum are float64 (frames, chunk of ROIs); this bounds one chunk (bytes).
_CHUNK_BYTES = 32 << 20


class CalciumConfigError(SimulationConfigError):
    """A calcium-imaging parameter is out of range."""


@dataclass(frozen=True)
class CalciumConfig:
    """Parameters of :func:`calcium_traces` and :func:`ophys_nwbfile` (see the module docstring).

    Imaging
        ``rate`` frames per second (Hz); ``indicator`` and the two-photon ``excitation_lambda`` and
        ``emission_lambda`` (nm) written to the imaging plane.
    Kernel
        ``tau_rise``, ``tau_decay`` (s) of the double exponential; ``amplitude`` its peak, ΔF/F per
        spike.
    Fluorescence
        ``f0_median`` (a.u.) median baseline and ``f0_spread`` SD of log baselines across ROIs;
        ``noise_std`` per-frame SD of the additive Gaussian noise as a fraction of each ROI's F0
        (= SD of ΔF/F); ``drift_std`` (fraction of F0, 0: off) and ``drift_tau`` (s) of the slow
        baseline drift.
    ROIs
        ``roi_radius`` (px) of the disc masks, ``roi_pitch`` (px) between the centres of
        neighbouring ROIs of one group.
    """

    rate: float = 20.0
    tau_rise: float = 0.05
    tau_decay: float = 0.4
    amplitude: float = 0.2
    f0_median: float = 300.0
    f0_spread: float = 0.3
    noise_std: float = 0.1
    drift_std: float = 0.0
    drift_tau: float = 60.0
    indicator: str = "GCaMP6f"
    excitation_lambda: float = 920.0
    emission_lambda: float = 510.0
    roi_radius: int = 5
    roi_pitch: int = 14

    def validate(self) -> CalciumConfig:
        """Return self, or raise :class:`CalciumConfigError` naming the first bad parameter."""

        def bad(msg: str) -> CalciumConfigError:
            return CalciumConfigError(f"calcium config: {msg}")

        for name in ("rate", "tau_rise", "tau_decay", "amplitude", "f0_median", "drift_tau", "excitation_lambda",
                     "emission_lambda"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise bad(f"{name} must be a finite number > 0, got {value}")
        if not self.tau_rise < self.tau_decay:
            raise bad(f"tau_rise ({self.tau_rise}) must be shorter than tau_decay ({self.tau_decay})")
        for name in ("f0_spread", "noise_std", "drift_std"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise bad(f"{name} must be a finite number >= 0, got {value}")
        if int(self.roi_radius) != self.roi_radius or self.roi_radius < 1:
            raise bad(f"roi_radius must be a whole number of pixels >= 1, got {self.roi_radius}")
        if int(self.roi_pitch) != self.roi_pitch or self.roi_pitch < 2 * self.roi_radius + 3:
            # the centres are jittered by up to 1 px each: 2 r + 3 keeps neighbouring discs apart
            raise bad(f"roi_pitch must be a whole number >= 2 * roi_radius + 3 = {2 * self.roi_radius + 3} px, "
                      f"got {self.roi_pitch}")
        if not self.indicator:
            raise bad("indicator must name the calcium indicator")
        return self

    @property
    def peak_time(self) -> float:
        """Time (s) from a spike to the peak of its transient."""
        tr, td = self.tau_rise, self.tau_decay
        return tr * td / (td - tr) * np.log(td / tr)

    @property
    def kernel_scale(self) -> float:
        """``amplitude / c``: the factor of ``exp(-u/τ_d) - exp(-u/τ_r)`` that puts the peak at ``amplitude``."""
        u = self.peak_time
        return self.amplitude / (np.exp(-u / self.tau_decay) - np.exp(-u / self.tau_rise))


@dataclass
class CalciumTraces:
    """The output of :func:`calcium_traces`.

    Attributes
    ----------
    starting_time, rate
        Frame ``k`` is the sample at ``starting_time + k / rate`` (s, Hz).
    F
        Recorded fluorescence (a.u.).
    dff_true
        Noiseless ΔF/F of the spikes (no baseline, drift or noise).
    F0
        True baseline of each ROI (a.u.).
    roi_ids
        Node id of each ROI (the spike trains' ids).

    Shapes
    ------
    F, dff_true : (frames, rois) float32
    F0, roi_ids : (rois,)
    timestamps : (frames,) float64
    """

    starting_time: float
    rate: float
    F: np.ndarray
    dff_true: np.ndarray
    F0: np.ndarray
    roi_ids: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.F.shape[0])

    @property
    def n_rois(self) -> int:
        return int(self.F.shape[1])

    @property
    def timestamps(self) -> np.ndarray:
        """Time of each frame (s)."""
        return frame_times(self.starting_time, self.n_frames, self.rate)

    @property
    def dff(self) -> np.ndarray:
        """Observed ΔF/F with the true baselines, ``F / F0 - 1`` (float32, (frames, rois))."""
        return (self.F / self.F0.astype(np.float32)[None, :] - np.float32(1.0)).astype(np.float32)


def frame_times(t_start: float, n_frames: int, rate: float) -> np.ndarray:
    """``t_start + k / rate`` for k = 0..n_frames-1, each computed directly (no accumulated rounding).

    Shapes
    ------
    return : (n_frames,) float64
    """
    return float(t_start) + np.arange(int(n_frames), dtype=np.float64) / float(rate)


def n_frames_between(t_start: float, t_stop: float, rate: float) -> int:
    """Number of frames ``t_start + k / rate`` before ``t_stop``."""
    # the 1e-9 keeps a product like 6000.000000001 (rounding) from adding a frame at t_stop itself
    return max(0, int(np.ceil((float(t_stop) - float(t_start)) * float(rate) - 1e-9)))


def calcium_kernel(u: np.ndarray, config: CalciumConfig | None = None) -> np.ndarray:
    """The ΔF/F transient of one spike, ``u`` seconds after it (0 before it); its peak is ``amplitude``.

    Shapes
    ------
    u : any ; return : same, float64
    """
    cfg = (config or CalciumConfig()).validate()
    u = np.asarray(u, dtype=np.float64)
    pos = np.maximum(u, 0.0)
    return np.where(u >= 0, cfg.kernel_scale * (np.exp(-pos / cfg.tau_decay) - np.exp(-pos / cfg.tau_rise)), 0.0)


def _exp_state(times: np.ndarray, cols: np.ndarray, frame_t: np.ndarray, n_cols: int, tau: float,
               rate: float) -> np.ndarray:
    """``Σ_{s <= t_k} exp(-(t_k - s)/τ)`` per frame and column, by the exact recursion.

    Shapes
    ------
    times, cols : (spikes,) spike times and their column ; frame_t : (frames,) ; return : (frames, n_cols) float64
    """
    n_frames = frame_t.size
    # first frame at or after each spike: the spike's contribution enters that frame's state
    k = np.searchsorted(frame_t, times, side="left")
    inside = k < n_frames  # spikes after the last frame are never sampled
    k, times, cols = k[inside], times[inside], cols[inside]
    weights = np.exp(-(frame_t[k] - times) / tau)
    inc = np.bincount(k * n_cols + cols, weights=weights, minlength=n_frames * n_cols).reshape(n_frames, n_cols)
    decay = np.exp(-1.0 / (rate * tau))  # frames are 1/rate apart
    return lfilter([1.0], [1.0, -decay], inc, axis=0)


def calcium_traces(spikes: SpikeTrains, t_start: float, t_stop: float, config: CalciumConfig | None = None,
                   rng: np.random.Generator | None = None) -> CalciumTraces:
    """Fluorescence of one ROI per spike train, sampled at ``config.rate`` from ``t_start`` to ``t_stop``.

    Parameters
    ----------
    spikes
        Spike trains; spikes before ``t_start`` contribute their decaying transients, spikes at or
        after the last frame are not seen.
    t_start, t_stop
        Frames are at ``t_start + k / rate`` for every ``k >= 0`` with a time before ``t_stop``.
    config
        :class:`CalciumConfig` (default GCaMP6f at 20 Hz).
    rng
        Source of the baselines, drift and noise (default ``numpy.random.default_rng(0)``); three
        independent streams are derived from it, so switching the drift on does not change the noise.

    Returns
    -------
    CalciumTraces

    Raises
    ------
    CalciumConfigError
        If a parameter is out of range or ``t_stop <= t_start``.

    Shapes
    ------
    spikes : rois x (spikes_i,)
    return.F, return.dff_true : (frames, rois) float32
    """
    cfg = (config or CalciumConfig()).validate()
    if not (np.isfinite(t_start) and np.isfinite(t_stop) and t_stop > t_start):
        raise CalciumConfigError(f"calcium traces: need t_start < t_stop, got {t_start} and {t_stop}")
    rng = np.random.default_rng(0) if rng is None else rng
    rng_f0, rng_drift, rng_noise = (np.random.default_rng(s)
                                    for s in np.random.SeedSequence(rng.integers(0, 2**63, size=4)).spawn(3))
    n_rois = len(spikes)
    n_frames = n_frames_between(t_start, t_stop, cfg.rate)
    frame_t = frame_times(t_start, n_frames, cfg.rate)

    f0 = cfg.f0_median * np.exp(cfg.f0_spread * rng_f0.standard_normal(n_rois))
    # F starts as the noise (drawn for all ROIs at once: the stream does not depend on the chunking)
    F = np.empty((n_frames, n_rois), dtype=np.float32)
    rng_noise.standard_normal(dtype=np.float32, out=F)
    F *= (cfg.noise_std * f0).astype(np.float32)[None, :]
    drift_innov = None
    if cfg.drift_std > 0:
        drift_innov = np.empty((n_frames, n_rois), dtype=np.float32)
        rng_drift.standard_normal(dtype=np.float32, out=drift_innov)
    dff = np.empty((n_frames, n_rois), dtype=np.float32)

    chunk = max(1, min(n_rois, _CHUNK_BYTES // (8 * max(n_frames, 1))))
    scale = cfg.kernel_scale
    for lo in range(0, n_rois, chunk):
        hi = min(n_rois, lo + chunk)
        trains = spikes.times[lo:hi]
        times = np.concatenate(trains) if trains else np.zeros(0)
        cols = np.repeat(np.arange(hi - lo), [t.size for t in trains])
        d = _exp_state(times, cols, frame_t, hi - lo, cfg.tau_decay, cfg.rate)
        d -= _exp_state(times, cols, frame_t, hi - lo, cfg.tau_rise, cfg.rate)
        d *= scale
        dff[:, lo:hi] = d
        signal = 1.0 + d
        if drift_innov is not None:
            signal += cfg.drift_std * _ou(drift_innov[:, lo:hi].astype(np.float64), cfg.drift_tau, cfg.rate)
        F[:, lo:hi] += (signal * f0[None, lo:hi]).astype(np.float32)
    log.info("calcium traces: %d ROIs x %d frames at %g Hz (%s, noise SD %g of F0)", n_rois, n_frames, cfg.rate,
             cfg.indicator, cfg.noise_std)
    return CalciumTraces(starting_time=float(t_start), rate=float(cfg.rate), F=F, dff_true=dff, F0=f0,
                         roi_ids=np.asarray(spikes.ids, dtype=np.int64).copy())


def _ou(innovations: np.ndarray, tau: float, rate: float) -> np.ndarray:
    """Stationary unit-variance Ornstein-Uhlenbeck samples on the frame grid from standard normals.

    ``x_0 = e_0``, ``x_k = a x_{k-1} + sqrt(1 - a²) e_k`` with ``a = exp(-1/(rate τ))``: the exact
    discretisation, stationary from the first frame.

    Shapes
    ------
    innovations : (frames, rois) ; return : (frames, rois) float64
    """
    a = np.exp(-1.0 / (rate * tau))
    u = innovations * np.sqrt(1.0 - a * a)
    u[:1] = innovations[:1]
    return lfilter([1.0], [1.0, -a], u, axis=0)


# ----------------------------------------------------------------------------------------------
# NWB
# ----------------------------------------------------------------------------------------------


def calcium_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The calcium part's generators for ``seed``: (traces, ROI layout), independent of the network's.

    :func:`simulate_network` spawns its streams from ``SeedSequence(seed)`` with spawn keys 0..5;
    these come from spawn key :data:`_CALCIUM_STREAM` of the same seed.
    """
    base = np.random.SeedSequence(int(seed), spawn_key=(_CALCIUM_STREAM,))
    traces, layout = (np.random.default_rng(s) for s in base.spawn(2))
    return traces, layout


def roi_layout(group_sizes: tuple[int, ...], config: CalciumConfig | None = None,
               rng: np.random.Generator | None = None) -> tuple[list[np.ndarray], tuple[int, int]]:
    """Disc-shaped pixel masks, one per node, the nodes of a group side by side on a square grid.

    The groups are arranged like the electrode patches of the spike file (the first group in the
    middle, the next four around it); each centre is jittered by up to 1 px, so the field of view
    looks less like a grid while neighbouring discs never overlap.

    Returns
    -------
    pixel_masks
        Per ROI, NWB pixel-mask rows (x, y, weight = 1).
    image_shape
        (height, width) of the field of view in pixels.

    Shapes
    ------
    pixel_masks : rois x (pixels, 3) ; image_shape : (2,)
    """
    cfg = (config or CalciumConfig()).validate()
    rng = np.random.default_rng(0) if rng is None else rng
    r = int(cfg.roi_radius)
    centres = _electrode_positions(tuple(group_sizes), pitch=float(cfg.roi_pitch))
    centres = centres + rng.uniform(-1.0, 1.0, centres.shape)
    margin = r + 2
    centres = np.rint(centres - centres.min(axis=0) + margin).astype(np.int64)  # (x, y) >= margin
    width, height = (centres.max(axis=0) + margin + 1).tolist()
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    inside = dx**2 + dy**2 <= r * r
    disc = np.column_stack([dx[inside], dy[inside]])
    masks = [np.column_stack([disc + c, np.ones(len(disc))]).astype(np.float64) for c in centres]
    return masks, (int(height), int(width))


def _ground_truth_spikes(spikes: SpikeTrains, segmentation):
    """The simulated spikes of each ROI as a plain DynamicTable (not a Units table: no reader of
    spike data should take this imaging file for a spike recording)."""
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.common import DynamicTable, DynamicTableRegion, VectorData, VectorIndex

    n = len(spikes)
    flat = np.concatenate(spikes.times) if n else np.zeros(0)
    ends = np.cumsum([t.size for t in spikes.times]).astype(np.uint64)
    times = VectorData(name="spike_times", description="Simulated spike times of the ROI's node (s).",
                       data=H5DataIO(flat, compression="gzip", shuffle=True) if flat.size > 100_000 else flat)
    index = VectorIndex(name="spike_times_index", data=ends, target=times)
    roi = DynamicTableRegion(name="roi", description="The ROI (PlaneSegmentation row) the spikes belong to.",
                             data=np.arange(n, dtype=np.int64), table=segmentation)
    return DynamicTable(
        name=GROUND_TRUTH_SPIKES,
        description=("Ground truth of the simulation: the spike times of the node each ROI images, from which its "
                     "fluorescence was computed (nwb_tavrnn.simulate.calcium). Not a recording."),
        id=[int(i) for i in spikes.ids], columns=[roi, times, index])


def ophys_nwbfile(sim: SimulatedSession, config: CalciumConfig | None = None, seed: int | None = None):
    """The simulated session as a calcium-imaging NWB file (see the module docstring).

    Parameters
    ----------
    sim
        A :class:`~nwb_tavrnn.simulate.SimulatedSession`: its spikes become one ROI each.
    config
        :class:`CalciumConfig` (default GCaMP6f at 20 Hz).
    seed
        Seed of the calcium part (baselines, noise, drift, ROI layout); default ``sim.seed``.

    Returns
    -------
    pynwb.NWBFile
        Epochs and trials as in the spike file, ``processing/ophys`` with the raw fluorescence, no
        Units and no electrodes.

    Shapes
    ------
    processing/ophys/Fluorescence/RoiResponseSeries.data : (frames, nodes) float32
    """
    from ..ophys.write import add_ophys_module

    cfg = (config or CalciumConfig()).validate()
    seed = sim.seed if seed is None else int(seed)
    rng_traces, rng_layout = calcium_streams(seed)
    net = sim.config
    traces = calcium_traces(sim.spikes, 0.0, sim.duration, cfg, rng_traces)
    masks, image_shape = roi_layout(net.group_sizes, cfg, rng_layout)
    groups = [str(g) for g in sim.spikes.groups]

    nwbfile = _session_nwbfile(
        sim,
        session_description=(
            f"Simulated {cfg.indicator} calcium imaging at {cfg.rate:g} Hz of a network of {sim.n_nodes} nodes "
            f"({', '.join(net.group_names)}), one ROI per node, with planted, time-varying coupling: "
            f"{net.gameplay_minutes:g} min gameplay in {net.block_minutes:g}-min blocks alternating aligned/unaligned "
            f"regimes, then {net.rest_minutes:g} min rest."
        ),
        experiment_description=(
            "Synthetic data modelled on DishBrain (cortical cultures playing Pong): the spikes of the planted-regime "
            "network simulation (network bursts on top of a linear multivariate Hawkes process, "
            "nwb_tavrnn.simulate.network) convolved with a double-exponential calcium kernel, plus baseline and "
            "Gaussian noise (nwb_tavrnn.simulate.calcium). The planted group of each ROI is the 'group' column of "
            "its PlaneSegmentation, the spikes are processing/ophys/ground_truth_spikes, and the regime of each "
            "period is in the epochs table."
        ),
        keywords=["simulation", "ground truth", "dynamic connectivity", "calcium imaging", "two-photon",
                  cfg.indicator],
        source_script=f"nwb_tavrnn.simulate.ophys_nwbfile(simulate_network(seed={sim.seed}), seed={seed})",
        source_script_file_name="nwb_tavrnn/simulate/calcium.py",
        notes={"seed": sim.seed, "calcium_seed": seed, "config": net.to_dict(), "calcium": asdict(cfg)},
    )
    seg = add_ophys_module(
        nwbfile,
        traces={"raw": traces.F},
        image_shape=image_shape,
        rate=cfg.rate,
        starting_time=traces.starting_time,
        pixel_masks=masks,
        roi_ids=traces.roi_ids,
        columns={
            "group": ("Planted group of the ROI's node: 'sensory' or a motor subregion.", groups),
            "baseline_f0": ("True baseline fluorescence F0 of the ROI (arbitrary units) in the simulation.",
                            np.asarray(traces.F0, dtype=np.float64)),
        },
        location=net.location,
        indicator=cfg.indicator,
        excitation_lambda=cfg.excitation_lambda,
        emission_lambda=cfg.emission_lambda,
        device_name="simulated_microscope",
        description=(f"Simulated two-photon imaging of the network, one disc-shaped ROI (radius {cfg.roi_radius} px) "
                     "per node; the ROIs of a group lie side by side."),
    )
    nwbfile.processing["ophys"].add(_ground_truth_spikes(sim.spikes, seg))
    return nwbfile


def write_ophys_simulation(path: str | Path, config: SimulationConfig | None = None,
                           calcium: CalciumConfig | None = None, seed: int = 0, overwrite: bool = False) -> Path:
    """Simulate the network, image it, and write the calcium-imaging NWB file atomically; return its path.

    ``seed`` gives the spikes of ``write_simulation(path, config, seed)``; the calcium part draws
    from its own stream of the same seed (:func:`calcium_streams`).

    Raises
    ------
    OutputFileError
        If ``path`` exists (and not ``overwrite``) or its folder is not writable (checked first).
    SimulationConfigError
        If a network or calcium parameter (:class:`CalciumConfigError`) is out of range.
    """
    from ..errors import require
    from ..io.files import check_writable, write_nwbfile

    require(int(seed) >= 0, f"seed must be >= 0, got {seed}")
    calcium = (calcium or CalciumConfig()).validate()
    (config or SimulationConfig()).validate()
    check_writable(path, overwrite=overwrite)
    sim = simulate_network(config, seed=seed)
    return write_nwbfile(ophys_nwbfile(sim, calcium, seed=seed), path, overwrite=overwrite)


__all__ = [
    "GROUND_TRUTH_SPIKES",
    "CalciumConfig",
    "CalciumConfigError",
    "CalciumTraces",
    "calcium_kernel",
    "calcium_streams",
    "calcium_traces",
    "frame_times",
    "ophys_nwbfile",
    "roi_layout",
    "write_ophys_simulation",
]
