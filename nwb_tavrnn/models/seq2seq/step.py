"""The Seq2seq step NWB to NWB: read two regions, fit on the training segments, score the target's
prediction on held-out segments against baselines, decode behaviour from the latents against the
seed's competitors, and write everything to ``processing/seq2seq`` of a copy.

Behaviour decoding refits the model in every fold: the latents a decoder is tested on come from a
Seq2seq that never saw those segments' spikes (nor any label), so nothing of a test segment reaches
its training. The competitors (random forest, MLP on source+target rates, the majority class) use
the same folds (:func:`~nwb_tavrnn.evaluation.decoding.compare_decoders`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import InputFileError, OutputFileError, require
from ...io.files import PathLike, check_report_folder, check_writable, open_nwb, refuse_source_as_destination

log = logging.getLogger(__name__)

MODULE_NAME = "seq2seq"
MODULE_DESCRIPTION = "Seq2seq: one region's spiking translated into another's through latents (nwb_tavrnn)"


@dataclass
class SegmentOptions:
    """Which regions and segments (:func:`~nwb_tavrnn.io.region_pairs.read_region_pair`)."""

    source: str = ""
    target: str = ""
    bin_size: float = 0.02
    trials: str | None = None
    event: str = "start_time"
    window: tuple[float, float] = (0.0, 1.0)
    segment_duration: float = 2.0
    labels: str | None = None
    exclude_labels: tuple[str, ...] = ()

    def validate(self) -> SegmentOptions:
        require(bool(self.source) and bool(self.target), "give the source and target regions (--source, --target)")
        require(float(self.bin_size) > 0, f"bin_size must be positive seconds, got {self.bin_size}")
        window = tuple(float(v) for v in self.window)
        require(len(window) == 2 and window[1] > window[0], f"window must be START STOP with STOP > START, got "
                f"{self.window}")
        self.window = window
        if isinstance(self.exclude_labels, str):
            self.exclude_labels = tuple(v.strip() for v in self.exclude_labels.split(","))
        self.exclude_labels = tuple(str(v) for v in (self.exclude_labels or ()))
        require(float(self.segment_duration) > float(self.bin_size), "segment_duration must exceed one bin")
        return self

    def read(self, nwbfile: Any):
        from ...io.region_pairs import read_region_pair

        return read_region_pair(nwbfile, self.source, self.target, bin_size=float(self.bin_size), trials=self.trials,
                                event=self.event, window=self.window, segment_duration=float(self.segment_duration),
                                labels=self.labels, exclude_labels=self.exclude_labels)


def chunk_means(values: np.ndarray, chunks: int) -> np.ndarray:
    """Per segment, the mean of ``values`` in ``chunks`` consecutive stretches of bins, flattened.

    Shapes
    ------
    values : (segments, bins, k) -> (segments, chunks · k)
    """
    parts = np.array_split(np.arange(values.shape[1]), min(chunks, values.shape[1]))
    return np.concatenate([values[:, p].mean(1) for p in parts], axis=1)


def rate_features(data: Any, chunks: int) -> np.ndarray:
    """Source and target rates (spikes/s) in ``chunks`` stretches of every segment: the seed's
    competitors' inputs. Shape (segments, chunks · (n_source + n_target))."""
    out = []
    for part in np.array_split(np.arange(data.n_segments), max(1, data.n_segments // 128)):
        src, tgt = data.batch(part)
        out.append(chunk_means(np.concatenate([src, tgt], axis=2), chunks) / data.bin_size)
    return np.concatenate(out)


class Shared:
    """A reference that scikit-learn's ``clone`` keeps as is (the segments are not copied per fold)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __deepcopy__(self, memo: dict) -> Shared:
        return self


def _latent_decoder_base():
    from sklearn.base import BaseEstimator, ClassifierMixin

    return BaseEstimator, ClassifierMixin


class LatentDecoder(*_latent_decoder_base()):
    """A scikit-learn classifier over segment indices: ``fit`` trains a Seq2seq on those segments'
    spikes (no labels), then a logistic regression on their latent features; ``predict`` takes the
    latents of other segments from that same model. One fold, one model."""

    def __init__(self, data: Shared | None = None, params: dict | None = None, chunks: int = 5, seed: int = 0) -> None:
        self.data, self.params, self.chunks, self.seed = data, params, chunks, seed

    @property
    def segments(self) -> Any:
        return self.data.value

    def _features(self, idx: np.ndarray) -> np.ndarray:
        return chunk_means(self.model_.transform(self.segments.subset(idx)), self.chunks)

    def fit(self, x: np.ndarray, y: np.ndarray) -> LatentDecoder:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from .estimator import Seq2seq

        idx = np.asarray(x)[:, 0].astype(np.int64)
        self.model_ = Seq2seq(**self.params).fit(self.segments.subset(idx))
        self.classifier_ = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(
            self._features(idx), y)
        self.classes_ = self.classifier_.classes_
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classifier_.predict(self._features(np.asarray(x)[:, 0].astype(np.int64)))


@dataclass
class Seq2seqResult:
    path: Path
    model: Any
    scores: pd.DataFrame
    data: Any
    split: tuple
    seconds: float
    decoding: Any = None
    report_dir: Path | None = None
    figures: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        s = self.scores
        lines = []
        neural = s[s["metric"] == "bits_per_spike"]
        for row in neural.itertuples():
            lines.append(f"  target prediction, {row.method}: {row.value:.3f} bits/spike")
        if self.decoding is not None:
            for method in self.decoding.methods:
                acc = self.decoding.metric(method, "accuracy")
                p = self.decoding.metric(method, "binomial_p_value")
                lines.append(f"  behaviour, {method}: accuracy {acc:.3f} (NIR {self.decoding.metric(method, 'nir'):.3f},"
                             f" binomial p = {p:.2g})")
        return "\n".join(lines)


def neural_scores(model: Any, train: Any, test: Any, labels: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Held-out bits/spike of the target for the model and the baselines (long format)."""
    from ...evaluation.region_prediction import ConditionPSTH, HistoryGLM, MeanRate, bits_per_spike

    lag = int(model.meta_["lag_bins"])
    reference = MeanRate(lag).fit(train)
    ll_ref = reference.log_likelihood(test)
    baselines: dict[str, Any] = {"mean_rate": reference, "history_glm": HistoryGLM(lag).fit(train)}
    if labels:
        baselines["condition_psth"] = ConditionPSTH(lag).fit(train)
    rows = [{"method": "seq2seq", "analysis": "target_prediction", "metric": "bits_per_spike", "seed": -1,
             "value": bits_per_spike(model.log_likelihood(test), ll_ref, test, lag)}]
    for name, m in baselines.items():
        rows.append({"method": name, "analysis": "target_prediction", "metric": "bits_per_spike", "seed": -1,
                     "value": bits_per_spike(m.log_likelihood(test), ll_ref, test, lag)})
    return pd.DataFrame(rows), baselines


def seq2seq_file(
    source: PathLike, destination: PathLike | None, model: Any, options: SegmentOptions, *,
    test_fraction: float = 0.2, n_splits: int = 5, chunks: int = 5, report_dir: PathLike | None = None,
    in_place: bool = False, overwrite: bool = False, name_prefix: str = "",
    callback: Callable[[int, float], None] | None = None, on_step: Callable[[str], None] | None = None,
) -> Seq2seqResult:
    """Fit Seq2seq on a file's two regions and write the results (see the module docstring)."""
    from ...evaluation.decoding import DECODERS, Decoder, compare_decoders
    from ...evaluation.splits import holdout_blocks
    from ...io.write import append_results
    from ...schema import EvaluationScores

    options.validate()
    if not in_place:
        if destination is None:
            raise OutputFileError("give an output path, or ask for in-place writing")
        refuse_source_as_destination(source, destination)
        check_writable(destination, overwrite=overwrite)
    if report_dir is not None:
        check_report_folder(report_dir, overwrite=overwrite, protect=(source,) if in_place else (source, destination))
    model._validate()
    started = time.perf_counter()
    with open_nwb(source) as nwbfile:
        data = options.read(nwbfile)
    train_idx, test_idx, gap = holdout_blocks(data.starts, data.stops, test_fraction)
    require(len(train_idx) >= 4, f"only {len(train_idx)} training segments; lower --test-fraction or use more data")
    train, test = data.subset(train_idx), data.subset(test_idx)
    if on_step:
        on_step("fitting seq2seq")
    try:
        model.fit(train, callback=callback)
    except FloatingPointError as err:
        from ..step import TrainingError

        raise TrainingError(str(err)) from None
    except ValueError as err:
        raise InputFileError(str(err)) from None
    if on_step:
        on_step("scoring the target's prediction")
    scores, baselines = neural_scores(model, train, test, data.labels is not None and options.trials is not None)
    decoding = None
    if data.labels is not None and len(set(data.labels)) < 2:
        log.warning("every segment has the label %r: nothing to decode", data.labels[0])
    elif data.labels is not None:
        if on_step:
            on_step(f"decoding behaviour ({n_splits} folds, a Seq2seq fitted in each)")
        params = {**model.get_params()}
        shared = Shared(data)
        methods = {"latent_logistic": Decoder("segments", lambda seed: LatentDecoder(shared, params, chunks, seed)),
                   **{k: DECODERS[k] for k in ("random_forest", "mlp", "majority")}}
        features = {"segments": np.arange(data.n_segments, dtype=float)[:, None],
                    "rates": rate_features(data, chunks)}
        try:
            decoding = compare_decoders(features, data.labels, data.starts, data.stops, n_splits=n_splits,
                                        seed=int(model.seed or 0), methods=methods)
        except FloatingPointError as err:  # a fold's Seq2seq diverged
            from ..step import TrainingError

            raise TrainingError(f"behaviour decoding: {err}") from None
        scores = pd.concat([scores, decoding.to_scores()], ignore_index=True)
    seconds = time.perf_counter() - started
    latents = model.transform(data)
    parameters = {"segments": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.__dict__.items()},
                  "test_fraction": test_fraction, "n_splits": n_splits, "chunks": chunks,
                  "n_train": int(len(train_idx)), "n_test": int(len(test_idx)), "n_gap": int(len(gap))}

    def build(copy):
        provenance, latent_series, rate_series = model.to_nwb(data, latents=latents, name_prefix=name_prefix)
        table = EvaluationScores.from_frame(
            scores, name=f"{name_prefix}EvaluationScores",
            description="held-out target prediction (bits/spike) and behaviour decoding of Seq2seq and baselines",
            labels=options.labels, parameters=json.loads(json.dumps(parameters, default=str)))
        return [provenance, latent_series, rate_series, table]

    path = append_results(source, build, None if in_place else destination, in_place=in_place,
                          overwrite=overwrite, module_name=MODULE_NAME, module_description=MODULE_DESCRIPTION)
    figures: list[Path] = []
    if report_dir is not None:
        figures = write_report(Path(report_dir), scores, model, data, test, latents, baselines, decoding)
    return Seq2seqResult(Path(path), model, scores, data, (train_idx, test_idx, gap), seconds, decoding,
                         Path(report_dir) if report_dir is not None else None, figures)


def write_report(folder: Path, scores: pd.DataFrame, model: Any, data: Any, test: Any, latents: np.ndarray,
                 baselines: dict[str, Any], decoding: Any) -> list[Path]:
    """``scores.csv`` and the figures: latent trajectories coloured by behaviour, predicted vs observed
    target PSTHs on the test segments, and the decoding comparison."""
    from ...plots import _pyplot, _save

    folder.mkdir(parents=True, exist_ok=True)
    scores.to_csv(folder / "scores.csv", index=False)
    paths = [folder / "scores.csv"]
    plt = _pyplot()
    # latent trajectories
    fig, ax = plt.subplots(figsize=(5, 4.5))
    labels = data.labels if data.labels is not None else np.array(["segment"] * data.n_segments)
    for k, label in enumerate(sorted(set(labels))):
        sel = np.flatnonzero(labels == label)
        colour = plt.cm.tab10(k % 10)
        for i in sel[:30]:
            ax.plot(latents[i, :, 0], latents[i, :, 1] if latents.shape[2] > 1 else np.zeros(data.n_bins),
                    color=colour, alpha=0.25, lw=0.8)
        mean = latents[sel].mean(0)
        ax.plot(mean[:, 0], mean[:, 1] if latents.shape[2] > 1 else np.zeros(data.n_bins), color=colour, lw=2.5,
                label=f"{label} (mean of {len(sel)})")
    ax.set(xlabel="latent 1", ylabel="latent 2", title="Seq2seq latent trajectories")
    ax.legend(fontsize=8)
    paths += _save(fig, folder, "latents")
    # predicted vs observed target PSTH on the test segments
    observed = np.concatenate([test.batch(p)[1] for p in np.array_split(np.arange(test.n_segments), 1)]) / test.bin_size
    predicted = model.predict(test)
    glm = baselines["history_glm"].predict(test) / test.bin_size
    top = np.argsort(observed.mean((0, 1)))[::-1][:4]
    t = (np.arange(test.n_bins) + 0.5) * test.bin_size
    fig, axes = plt.subplots(1, len(top), figsize=(3.2 * len(top), 3), squeeze=False)
    for ax, j in zip(axes[0], top):
        ax.plot(t, observed[:, :, j].mean(0), color="0.3", lw=1, label="observed")
        ax.plot(t, np.nanmean(predicted[:, :, j], 0), color="C3", lw=2, label="seq2seq")
        ax.plot(t, glm[:, :, j].mean(0), color="C0", lw=1, ls="--", label="history GLM")
        ax.set(title=f"target unit {model.meta_['target_ids'][j]}", xlabel="time in segment (s)")
    axes[0][0].set_ylabel("rate (spikes/s), test segments")
    axes[0][0].legend(fontsize=7)
    paths += _save(fig, folder, "target_psth")
    if decoding is not None:
        from ...evaluation.decoding import plot_decoding

        paths += plot_decoding(decoding, folder)
    return paths


__all__ = ["MODULE_NAME", "LatentDecoder", "Seq2seqResult", "SegmentOptions", "chunk_means", "rate_features",
           "seq2seq_file"]
