"""Monitoring a stream: spike sources, a fitted model from an NWB file, and an NWB output written
window by window.

* Sources yield ``(times, unit_ids)`` batches in time order: :func:`replay_nwb` (a file's Units,
  at real time, a multiple of it, or as fast as possible) or any Python iterator of batches.
* :func:`load_fitted` rebuilds the model, the connectivity parameters and the node ids from a file
  that ``fit`` or ``run`` wrote.
* :class:`ProgressiveWriter` creates the output once (a derived NWB file with a DynamicConnectivity,
  NodeEmbeddings, TemporalAttention and the ModelProvenance, all with growable datasets) and appends
  each window with h5py, flushing after it: a crash loses at most the window in progress, and the
  file reads like any derived file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputFileError, require
from ..io.files import PathLike, open_nwb
from .embedder import OnlineEmbedder, WindowResult

log = logging.getLogger(__name__)

MODULE = "ecephys"


def replay_nwb(path: PathLike, speed: float | None = None,
               batch_seconds: float = 1.0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Spike batches of ``batch_seconds`` from a file's Units, in time order.

    Parameters
    ----------
    speed
        None: as fast as possible; else a multiple of real time (1 = real time): each batch is
        released when its end has been reached on the wall clock.
    """
    from ..io.read import read_spike_trains

    with open_nwb(path) as nwbfile:
        trains = read_spike_trains(nwbfile)
    return replay_spikes(trains, speed, batch_seconds)


def replay_spikes(trains: Any, speed: float | None = None,
                  batch_seconds: float = 1.0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """:func:`replay_nwb` of spike trains already read (:class:`~nwb_tavrnn.io.spike_trains.SpikeTrains`)."""
    require(batch_seconds > 0, "batch_seconds must be positive")
    require(speed is None or speed > 0, "speed must be positive")
    times = np.concatenate(trains.times) if len(trains) else np.zeros(0)
    ids = np.concatenate([np.full(len(t), u, dtype=np.int64) for t, u in zip(trains.times, trains.ids)])
    order = np.argsort(times, kind="stable")
    times, ids = times[order], ids[order]
    start = float(trains.t_start if trains.t_start is not None else (times[0] if len(times) else 0.0))
    stop = float(trains.t_stop if trains.t_stop is not None else (times[-1] if len(times) else 0.0))
    clock = time.monotonic()
    edge = start
    while edge < stop + batch_seconds:
        hi = edge + batch_seconds
        a, b = np.searchsorted(times, [edge, hi])
        if speed is not None:
            wait = clock + (hi - start) / speed - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        yield times[a:b], ids[a:b]
        edge = hi


def recording_source(recording, params: Any = None, chunk_seconds: float = 1.0,
                     ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Threshold crossings per electrode (the HD-MEA mode) of a SpikeInterface recording, read chunk
    by chunk as a rig's stream would arrive: ``(times, channel index)`` batches.

    The channels' noise levels are estimated once, from the recording's first 10 s, so thresholds
    stay put from chunk to chunk. A crossing within ``exclude_sweep_ms`` of a chunk border can be
    missed or counted on both sides. The recording is used as given: preprocess it as the offline
    HD-MEA mode does (bandpass, common reference, bad channels) before streaming it, and map the
    yielded channel indices to the electrode ids the model's nodes carry.
    """
    from ..sorting.adapter import channel_noise, detect_events
    from ..sorting.params import DetectionParams

    params = params or DetectionParams()
    fs = float(recording.get_sampling_frequency())
    n = int(recording.get_num_frames(0))
    head = recording.frame_slice(0, min(n, int(10 * fs)))  # the first 10 s set the noise
    quiet = {"progress_bar": False}
    noise = channel_noise(head, quiet)
    step = max(1, int(round(chunk_seconds * fs)))
    t0 = float(recording.get_start_time(0))
    for start in range(0, n, step):
        chunk = recording.frame_slice(start, min(n, start + step))
        events = detect_events(chunk, params, quiet, noise=noise)
        # the chunk's own clock may or may not carry the slice's offset: put it on the recording's
        times = np.concatenate(events.event_times) - float(chunk.get_start_time(0)) + start / fs + t0
        channels = np.concatenate([np.full(len(t), c, dtype=np.int64) for c, t in enumerate(events.event_times)])
        order = np.argsort(times, kind="stable")
        yield times[order], channels[order]


@dataclass
class Fitted:
    """What monitoring needs from a fitted file."""

    model: Any
    params: Any
    node_ids: np.ndarray
    node_groups: np.ndarray
    node_locations: np.ndarray
    t_start: float
    provenance_name: str
    correlation_features: bool = True

    def embedder(self, t_start: float | None = None) -> OnlineEmbedder:
        """An embedder for this model; ``t_start``: the monitored recording's start (the window
        grid's origin, as offline), default the fitted graphs' first window."""
        from types import SimpleNamespace

        from ..evaluation.report import node_grouping

        # grouped as the offline evaluation groups them (brain areas before electrode groups)
        groups = node_grouping(SimpleNamespace(node_groups=self.node_groups, node_locations=self.node_locations))
        return OnlineEmbedder(self.model, self.params, self.node_ids,
                              t_start=self.t_start if t_start is None else float(t_start), groups=groups,
                              correlation_features=self.correlation_features)


def load_fitted(path: PathLike, device: str | None = "auto", provenance: str | None = None) -> Fitted:
    """The model (from its ModelProvenance), the connectivity parameters and nodes (from the
    DynamicConnectivity it was trained on) of a file written by ``fit`` or ``run``.

    Parameters
    ----------
    provenance
        Name of the ModelProvenance when the file holds several graph models.

    Raises
    ------
    InputFileError
        When the file holds no graph model (TAVRNN / VGRNN ModelProvenance with weights), several
        without ``provenance``, or its graphs were not sliding windows over the whole recording.
    """
    from ..connectivity.compute import ConnectivityParams
    from ..io.read import find_objects
    from ..models import get_model
    from ..schema import DynamicConnectivity, ModelProvenance, load_namespace

    load_namespace()
    with open_nwb(path) as nwbfile:
        provenances = [p for p in find_objects(nwbfile, ModelProvenance)
                       if p.weights is not None and p.model_name in ("tavrnn", "vgrnn")]
        if provenance is not None:
            provenances = [p for p in provenances if p.name == provenance]
        graphs = find_objects(nwbfile, DynamicConnectivity)
        if not provenances or not graphs:
            raise InputFileError(f"{path} holds no fitted graph model{f' named {provenance!r}' if provenance else ''} "
                                 "(a TAVRNN/VGRNN ModelProvenance with weights and the DynamicConnectivity it was "
                                 "trained on): fit one with `nwb-tavrnn fit` or `run`")
        if len(provenances) > 1:
            raise InputFileError(f"{path} holds several graph models ({', '.join(p.name for p in provenances)}); "
                                 "choose one (`provenance`)", "provenance")
        provenance = provenances[0]
        conn = provenance.connectivity if getattr(provenance, "connectivity", None) is not None else graphs[0]
        model = get_model(provenance.model_name).from_provenance(provenance, device=device)
        stored = dict(conn.parameters_dict)
        fields = set(ConnectivityParams.__dataclass_fields__)
        params = ConnectivityParams.from_dict({k: v for k, v in stored.items() if k in fields})
        if stored.get("nodes") == "rois":
            raise InputFileError("the model's nodes are ROIs of calcium imaging; online monitoring replays spike "
                                 "trains (a Units table or a raw recording), so it cannot feed this model")
        if conn.window_duration is None or stored.get("windows_from") or stored.get("restrict_to"):
            raise InputFileError("the model's graphs were not sliding windows over the whole recording (windows_from "
                                 "or restrict_to): online monitoring needs graphs of a `window` every `step`",
                                 ("window", "step"))
        text = (lambda a: np.array([v.decode() if isinstance(v, bytes) else str(v) for v in a[()]])
                if a is not None else None)
        starts = np.asarray(conn.window_start_times[()], dtype=np.float64)
        return Fitted(model, params, np.asarray(conn.node_ids[()], dtype=np.int64), text(conn.node_groups),
                      text(conn.node_locations), float(starts[0]) if len(starts) else 0.0, provenance.name,
                      correlation_features=conn.correlation is not None)


#: Filters of the small growing datasets (times, embeddings); the graphs use the offline step's.
_SMALL = {"compression": "gzip", "compression_opts": 4}


def _growable(shape: tuple[int, ...], dtype, storage: dict[str, Any] | None = None) -> Any:
    """An empty dataset that grows along its first axis, one chunk per window; ``storage`` gives its
    filters (the connectivity step's :data:`~nwb_tavrnn.connectivity.step.STORAGE` for the graphs)."""
    from hdmf.backends.hdf5 import H5DataIO

    return H5DataIO(data=np.zeros((0, *shape[1:]), dtype=dtype), maxshape=(None, *shape[1:]),
                    chunks=(1, *shape[1:]) if len(shape) > 1 else (256,), **(_SMALL if storage is None else storage))


class ProgressiveWriter:
    """An NWB file that grows by one window at a time (see the module docstring).

    The file is a derived file of ``source`` (its Units copied, so node links resolve) holding a
    DynamicConnectivity, NodeEmbeddings, TemporalAttention and the model's ModelProvenance.
    """

    def __init__(self, destination: PathLike, source: PathLike, fitted: Fitted, overwrite: bool = False) -> None:
        from ..connectivity.step import STORAGE
        from ..io.files import check_writable
        from ..io.write import build_derived_nwbfile
        from ..schema import DynamicConnectivity, NodeEmbeddings, TemporalAttention, load_namespace

        load_namespace()
        self.path = check_writable(destination, overwrite)
        if self.path.exists():
            self.path.unlink()
        model, params = fitted.model, fitted.params
        n, zd = len(fitted.node_ids), int(model.z_dim)
        optional = {k: v for k, v in (("node_groups", fitted.node_groups), ("node_locations", fitted.node_locations))
                    if v is not None}
        conn = DynamicConnectivity(
            name="OnlineConnectivity", description="Graphs computed online, one window as its spikes arrived "
            f"({params.window:g} s windows every {params.step:g} s, {params.bin_size * 1e3:g} ms bins).",
            method="pearson", directed=False, bin_size=float(params.bin_size),
            window_start_times=_growable((0,), np.float64), window_stop_times=_growable((0,), np.float64),
            node_ids=fitted.node_ids, data=_growable((0, n, n), np.float32, STORAGE["data"]),
            correlation=_growable((0, n, n), np.float32, STORAGE["correlation"]),
            inactive_mask=_growable((0, n), bool, STORAGE["inactive_mask"]),
            threshold_mode=params.threshold_mode, threshold=params.threshold_value,
            window_duration=float(params.window), window_step=float(params.step), parameters=params.to_dict(),
            **optional)
        prov = _provenance(model)
        emb = NodeEmbeddings(
            name="OnlineNodeEmbeddings", description="Posterior means of every node, each window embedded online "
            "as it completed (the recurrent state carried over).", model_name=model.model_name,
            mean=_growable((0, n, zd), np.float32), log_variance=_growable((0, n, zd), np.float32),
            window_start_times=_growable((0,), np.float64), window_stop_times=_growable((0,), np.float64),
            node_ids=fitted.node_ids, connectivity=conn, model=prov, **optional)
        objects = [conn, prov, emb]
        if model.attention is not None:
            from hdmf.backends.hdf5 import H5DataIO

            objects.append(TemporalAttention(
                name="OnlineTemporalAttention", description="Attention row of every window, computed online",
                data=H5DataIO(data=np.zeros((0, 0), dtype=np.float32), maxshape=(None, None), chunks=(1, 64)),
                window_width=0 if model.attention == "full" else int(model.attention), embeddings=emb))
        from pynwb import NWBHDF5IO

        with open_nwb(source) as nwbfile:
            derived = build_derived_nwbfile(nwbfile, objects, source_path=str(source))
            with NWBHDF5IO(str(self.path), "w") as io:
                io.write(derived, cache_spec=True)
        import h5py

        self._file = h5py.File(self.path, "r+")
        base = f"processing/{MODULE}"
        self._conn = self._file[f"{base}/OnlineConnectivity"]
        self._emb = self._file[f"{base}/OnlineNodeEmbeddings"]
        self._att = self._file[f"{base}/OnlineTemporalAttention"] if model.attention is not None else None
        self.windows = 0
        self._conn.attrs[COMPLETE] = 0
        self._file.flush()

    @staticmethod
    def _append(dataset, value) -> None:
        value = np.asarray(value)
        dataset.resize(dataset.shape[0] + 1, axis=0)
        dataset[-1] = value

    def write(self, result: WindowResult) -> None:
        """Append one window and flush it to disk."""
        for group in (self._conn, self._emb):
            self._append(group["window_start_times"], result.start)
            self._append(group["window_stop_times"], result.stop)
        self._append(self._conn["data"], result.adjacency)
        self._append(self._conn["correlation"], result.correlation)
        self._append(self._conn["inactive_mask"], result.inactive)
        self._append(self._emb["mean"], result.mean)
        self._append(self._emb["log_variance"], result.log_variance)
        if self._att is not None:
            data = self._att["data"]
            w = self.windows + 1
            data.resize((w, w))
            row = np.zeros(w, dtype=np.float32)
            row[w - len(result.attention):] = result.attention
            data[w - 1] = row
        self.windows += 1
        self._conn.attrs[COMPLETE] = self.windows  # last: a window counts once all of it is written
        self._file.flush()

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None


class LiveFigure:
    """A PNG redrawn after every window (atomically: a viewer never reads a half-written file): edges
    and subregion alignment per window, and the latest window's attention row."""

    def __init__(self, path: PathLike) -> None:
        from pathlib import Path

        self.path = Path(path)
        self.times: list[float] = []
        self.edges: list[int] = []
        self.alignment: list[float] = []
        self.moved: list[bool] = []

    def update(self, result: WindowResult, moved: bool) -> None:
        import os

        from ..plots import pyplot

        plt = pyplot()
        self.times.append(result.stop)
        self.edges.append(result.n_edges)
        self.alignment.append(np.nan if result.alignment is None else result.alignment)
        self.moved.append(moved)
        fig, axes = plt.subplots(1, 3, figsize=(12, 3))
        axes[0].plot(self.times, self.edges, marker=".")
        axes[0].set(xlabel="window end (s)", ylabel="edges", title="graph size")
        axes[1].plot(self.times, self.alignment, marker=".")
        flagged = [t for t, m in zip(self.times, self.moved) if m]
        for t in flagged:
            axes[1].axvline(t, color="C3", alpha=0.4)
        axes[1].set(xlabel="window end (s)", ylabel="alignment", title="subregion alignment (red: embedding moved)")
        axes[2].bar(np.arange(len(result.attention)) - len(result.attention) + 1, result.attention)
        axes[2].set(xlabel="window (relative)", ylabel="weight", title=f"attention of window {result.index}")
        fig.tight_layout()
        tmp = self.path.with_name(self.path.name + ".tmp.png")
        fig.savefig(tmp, dpi=100)
        plt.close(fig)
        os.replace(tmp, self.path)


#: The datasets that grow by one row per window.
WINDOW_DATASETS = ("window_start_times", "window_stop_times", "data", "correlation", "inactive_mask", "mean",
                   "log_variance")

#: Attribute of the output's connectivity group: windows completely written (see :func:`repair`).
COMPLETE = "nwb_tavrnn_complete_windows"


def repair(path: PathLike) -> int:
    """Trim a progressively written file to its completely written windows (after a crash in the
    middle of a window's write, some datasets hold one window more than others); returns their
    number. Files without the counter are left alone."""
    import h5py

    with h5py.File(path, "r+") as f:
        base = f"processing/{MODULE}"
        conn = f.get(f"{base}/OnlineConnectivity")
        if conn is None or COMPLETE not in conn.attrs:
            raise InputFileError(f"{path} was not written by nwb-tavrnn monitor (no window counter to repair by)")
        n = int(conn.attrs[COMPLETE])
        for group in (conn, f[f"{base}/OnlineNodeEmbeddings"]):
            for name in WINDOW_DATASETS:  # the per-window datasets only (node_region grows too, by nodes)
                dataset = group.get(name)
                if dataset is not None and dataset.shape[0] > n:
                    dataset.resize(n, axis=0)
        att = f.get(f"{base}/OnlineTemporalAttention/data")
        if att is not None and att.shape[0] > n:
            att.resize((n, n))
    return n


def _provenance(model: Any):
    from ..schema import ModelProvenance

    return ModelProvenance(name="ModelProvenance", description=f"the fitted {model.model_name} that embedded the "
                           "windows online (as read from the model file)", **model._provenance_fields())


def monitor(source: Iterable[tuple[np.ndarray, np.ndarray]], fitted: Fitted, *, writer: ProgressiveWriter | None = None,
            until: float | None = None, t_start: float | None = None,
            drift_sigma: float = 3.0) -> Iterator[tuple[WindowResult, bool]]:
    """Run the embedder over a source; yield each window and whether its embedding moved far from the
    recent ones (its distance to the previous window's embedding above ``drift_sigma`` standard
    deviations of the recent distances)."""
    embedder = fitted.embedder(t_start)
    previous, distances = None, []

    def flagged(result: WindowResult) -> bool:
        nonlocal previous
        flag = False
        if previous is not None:
            d = float(np.linalg.norm(result.mean - previous))
            recent = distances[-10:]
            flag = len(recent) >= 3 and d > np.mean(recent) + drift_sigma * (np.std(recent) + 1e-12)
            distances.append(d)
        previous = result.mean
        return flag

    def emit(results):
        for result in results:
            if writer is not None:
                writer.write(result)
            yield result, flagged(result)

    for times, ids in source:
        yield from emit(embedder.push(times, ids))
    if until is not None:
        yield from emit(embedder.flush(until))


__all__ = ["COMPLETE", "Fitted", "LiveFigure", "ProgressiveWriter", "load_fitted", "monitor", "recording_source",
           "repair", "replay_nwb", "replay_spikes"]
