"""The Seq2seq step NWB to NWB: read two regions, fit on the training segments, score the target's
prediction on held-out segments against baselines, decode behaviour from the latents against the
seed's competitors, and write everything to ``processing/seq2seq`` of a copy.

Behaviour decoding refits the model once in every fold: the latents a decoder is tested on come
from a Seq2seq that never saw those segments' spikes (nor any label), so nothing of a test segment
reaches its training. The latents are summarised per segment by what they do, not only where they
are (:mod:`~nwb_tavrnn.evaluation.trajectory`). The same decoders (class-balanced linear, random
forest, MLP) read the latents, the source's rates and the source's and target's rates on the same
folds, and every decoder's balanced accuracy is tested against a label null that keeps the labels'
temporal structure (:func:`~nwb_tavrnn.evaluation.decoding.compare_decoders`); the fold's Seq2seq
is reused by every labelling of the null.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import TrainingError, as_input_error, require
from ..evaluation.nulls import NULLS
from ..evaluation.trajectory import DEFAULT_KINDS, KINDS
from ..io.files import PathLike, check_destinations, open_nwb
from ..params import Check, at_least, between, check, names, param, patience, positive
from .base import ModelStep, register_step, require_split
from .nnpoisson import columns

log = logging.getLogger(__name__)

MODULE_NAME = "seq2seq"
MODULE_DESCRIPTION = "Seq2seq: one region's spiking translated into another's through latents (nwb_tavrnn)"


@dataclass
class SegmentOptions:
    """Which regions and segments (:func:`~nwb_tavrnn.io.region_pairs.read_region_pair`)."""

    source: str = param("", help="the region whose spiking is the input", metavar="SPEC", required=True,
                        group="segments")
    target: str = param("", help="the region whose spiking is predicted", metavar="SPEC", required=True,
                        group="segments")
    bin_size: float = param(0.02, help="bin width in seconds", check=positive(), group="segments")
    trials: str | None = param(None, help="one segment per row of this intervals table (else continuous)",
                               metavar="TABLE", group="segments")
    event: str = param("start_time", help="the trials' alignment column", metavar="COL", group="segments")
    window: tuple[float, float] = param((0.0, 1.0), help="trial-aligned segments: seconds around the event",
                                        parse=float, nargs=2, metavar=("START", "STOP"), group="segments",
                                        flag="--trial-window", renamed=("--window",),
                                        check=Check(lambda w: len(w) == 2 and w[1] > w[0],
                                                    "must be START STOP with STOP > START"))
    segment_duration: float = param(2.0, help="continuous segments: their length in seconds", check=positive(),
                                    group="segments")
    labels: str | None = param(None, help="behaviour per segment: a column of the trials table, or TABLE:COLUMN "
                               "for continuous segments", metavar="SPEC", group="segments")
    exclude_labels: tuple[str, ...] = param((), help="label values whose segments are left out, e.g. a "
                                            "no-response code (missing labels always are)", parse=columns,
                                            metavar="VALUES", group="segments")

    def validate(self) -> SegmentOptions:
        self.window = tuple(float(v) for v in self.window)
        self.exclude_labels = tuple(str(v) for v in columns(self.exclude_labels or ()))
        check(self)
        require(float(self.segment_duration) > float(self.bin_size), "segment_duration must exceed one bin",
                "segment_duration")
        return self

    def read(self, nwbfile: Any):
        from ..io.region_pairs import read_region_pair

        return read_region_pair(nwbfile, self.source, self.target, bin_size=float(self.bin_size), trials=self.trials,
                                event=self.event, window=self.window, segment_duration=float(self.segment_duration),
                                labels=self.labels, exclude_labels=self.exclude_labels)


def rate_features(data: Any, chunks: int, regions: str = "source+target") -> np.ndarray:
    """Rates (spikes/s) in ``chunks`` stretches of every segment: the competitors' inputs, of the
    source alone (like for like with latents made from the source) or of both regions (the seed's).

    Shapes
    ------
    -> (segments, chunks · units): units = n_source, or n_source + n_target
    """
    from ..evaluation.trajectory import chunk_means

    out = []
    for part in np.array_split(np.arange(data.n_segments), max(1, data.n_segments // 128)):
        src, tgt = data.batch(part)
        counts = src if regions == "source" else np.concatenate([src, tgt], axis=2)
        out.append(chunk_means(counts, chunks) / data.bin_size)
    return np.concatenate(out)


def latent_input(data: Any, params: dict, kinds: Sequence[str], chunks: int,
                 on_fold: Callable[[int], None] | None = None) -> Callable[[np.ndarray, np.ndarray], tuple]:
    """A fold input of :func:`~nwb_tavrnn.evaluation.decoding.compare_decoders`: a Seq2seq with
    ``params`` fitted on the fold's training segments (spikes only, no label), then the trajectory
    summaries ``kinds`` (:func:`~nwb_tavrnn.evaluation.trajectory.trajectory_features`) of the
    training and the test segments under that model. Called once per fold, so every decoder and
    every labelling of the null reuse the fold's model."""
    from ..evaluation.trajectory import trajectory_features
    from ..models.seq2seq.estimator import Seq2seq

    fold = itertools.count()

    def features(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if on_fold:
            on_fold(next(fold))
        model = Seq2seq(**params).fit(data.subset(train))
        return tuple(trajectory_features(model.transform(data.subset(idx)), kinds, chunks) for idx in (train, test))

    return features


@dataclass
class DecodingOptions:
    """How behaviour is decoded from the latents and the competitors, and tested
    (:func:`~nwb_tavrnn.evaluation.decoding.compare_decoders`)."""

    n_splits: int = param(5, help="blocked folds of the behaviour decoding", check=at_least(2), group="evaluation")
    chunks: int = param(5, help="stretches per segment whose mean latents / rates the decoders read",
                        check=at_least(1), group="evaluation")
    latent_features: tuple[str, ...] = param(
        DEFAULT_KINDS, parse=str, metavar="KINDS", group="evaluation",
        help="what the decoders read of each segment's latents, comma-separated: means (chunk means), covariances "
             "(lagged auto/cross-covariances), dynamics (eigenvalues of a linear dynamics fit), spectrum (band "
             "power)")
    null: str = param("circular_shift", choices=NULLS, group="evaluation",
                      help="label null of every decoder: circular_shift (keeps the labels' autocorrelation), "
                           "block_permutation (label blocks permuted), iid (single trials permuted: only for a "
                           "randomised trial design)")
    n_permutations: int = param(100, flag="--permutations", check=at_least(0), group="evaluation",
                                help="labellings of the label null (0 = no test)")
    n_jobs: int | None = param(None, parse=int, metavar="N", group="evaluation",
                               check=Check(lambda v: v >= 1 or v == -1, "must be >= 1, or -1 for every core"),
                               help="threads refitting the label null's labellings (default: one per core)")

    def validate(self) -> DecodingOptions:
        if isinstance(self.latent_features, str):
            self.latent_features = columns(self.latent_features.replace("+", ","))
        self.latent_features = tuple(self.latent_features)
        check(self)
        unknown = [k for k in self.latent_features if k not in KINDS]
        require(bool(self.latent_features) and not unknown,
                f"latent_features must be one or more of {', '.join(KINDS)}, got {list(self.latent_features)}",
                "latent_features")
        return self


#: The inputs of the behaviour decoding, each read by every decoder family (like for like).
DECODING_INPUTS = ("latents", "source_rates", "source_target_rates")


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
                ba = self.decoding.metric(method, "balanced_accuracy")
                low, high = (self.decoding.metric(method, f"balanced_accuracy_ci_{k}") for k in ("low", "high"))
                p = self.decoding.metric(method, "p_value")
                test = f"label-null p = {p:.2g}" if np.isfinite(p) else "no label test"
                lines.append(f"  behaviour, {method}: balanced accuracy {ba:.3f} [{low:.3f}, {high:.3f}] ({test})")
        return "\n".join(lines)


def neural_scores(model: Any, train: Any, test: Any, trial_aligned: bool, labels: bool
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Held-out bits/spike of the target for the model and the baselines (long format).

    Baselines: the target's own past (``target_history_glm``) and both regions' past
    (``source_target_history_glm``) beside the source's (``history_glm``), so that shared slow state
    is not mistaken for source → target influence; on trial-aligned segments the PSTH of time in the
    trial (``psth``, no label) and, with labels, the per-condition PSTH that reads the *test*
    segment's label (``condition_psth_oracle``: an oracle, not a competitor).
    """
    from ..evaluation.region_prediction import ConditionPSTH, HistoryGLM, MeanRate, bits_per_spike

    lag = int(model.meta_["lag_bins"])
    reference = MeanRate(lag).fit(train)
    ll_ref = reference.log_likelihood(test)
    baselines: dict[str, Any] = {"mean_rate": reference, "history_glm": HistoryGLM(lag).fit(train),
                                 "target_history_glm": HistoryGLM(lag, inputs="target").fit(train),
                                 "source_target_history_glm": HistoryGLM(lag, inputs="source+target").fit(train)}
    if trial_aligned:
        baselines["psth"] = ConditionPSTH(lag, conditions=False).fit(train)
    if trial_aligned and labels:
        baselines["condition_psth_oracle"] = ConditionPSTH(lag).fit(train)
    rows = [{"method": "seq2seq", "analysis": "target_prediction", "metric": "bits_per_spike", "seed": -1,
             "value": bits_per_spike(model.log_likelihood(test), ll_ref, test, lag)}]
    for name, m in baselines.items():
        rows.append({"method": name, "analysis": "target_prediction", "metric": "bits_per_spike", "seed": -1,
                     "value": bits_per_spike(m.log_likelihood(test), ll_ref, test, lag)})
    return pd.DataFrame(rows), baselines


@dataclass
class Seq2seqParams(DecodingOptions, SegmentOptions):
    """The ``seq2seq`` step's parameters: regions and segments (:class:`SegmentOptions`), the
    behaviour decoding (:class:`DecodingOptions`), the held-out share and the output's names. Its
    configuration section also takes every argument of :class:`~nwb_tavrnn.models.seq2seq.Seq2seq`
    (:class:`ModelOptions` lists those the command line offers)."""

    test_fraction: float = param(0.2, check=between(0, 1), group="evaluation",
                                 help="share of segments held out for the target's prediction, as contiguous blocks")
    name_prefix: str = param("", group="output", help="prefix for the names of the objects written")

    def validate(self) -> Seq2seqParams:
        SegmentOptions.validate(self)
        DecodingOptions.validate(self)
        return check(self)

    @property
    def segment_options(self) -> SegmentOptions:
        return SegmentOptions(**{k: getattr(self, k) for k in names(SegmentOptions)})

    @property
    def decoding_options(self) -> DecodingOptions:
        return DecodingOptions(**{k: getattr(self, k) for k in names(DecodingOptions)})


@dataclass
class ModelOptions:
    """The Seq2seq arguments the command line offers (None: the estimator's default)."""

    latent_dim: int | None = param(None, parse=int, group="model", help="latent dimension (4)")
    hidden: int | None = param(None, parse=int, group="model", help="GRU state size (64)")
    lag: float | None = param(None, parse=float, group="model",
                              help="seconds the target lags the source, a whole number of bins (default: one bin, "
                                   "so the source precedes the target; 0 predicts a bin from the same bin: co-firing)")
    epochs: int | None = param(None, parse=int, group="model", help="maximum epochs (300)")
    lr: float | None = param(None, parse=float, group="model", help="Adam learning rate (0.005)")
    patience: int | None = param(None, parse=patience, metavar="EPOCHS", group="model",
                                 help="epochs without validation improvement before stopping (25; 0 = never stop "
                                      "early)")
    seed: int | None = param(None, parse=int, group="model", help="random seed (default 0)")
    device: str | None = param(None, group="model", help="auto (default), cpu, cuda, cuda:N")


def make_estimator(drop_none: bool = True, **overrides: Any) -> Any:
    """A Seq2seq with these settings, checked. ``drop_none``: None means "not given" (command-line
    flags), except patience, where None means never stop early; a configuration's values are taken
    as written (``drop_none=False``)."""
    from ..models.seq2seq.estimator import Seq2seq

    if drop_none:
        overrides = {k: v for k, v in overrides.items() if v is not None or k == "patience"}
    model = Seq2seq(**overrides)
    model.check_params()
    return model


#: Fewest held-out segments the neural scores are computed on.
MIN_TEST_SEGMENTS = 5


def checked_split(data: Any, test_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The held-out blocks of segments (train, test, gap), refused when either side is too small to
    fit or to score.

    Raises
    ------
    ParameterError
        Naming ``test_fraction``.
    """
    from ..evaluation.splits import holdout_blocks

    train, test, gap = holdout_blocks(data.starts, data.stops, test_fraction)
    require_split(len(train), len(test), len(data.starts), "segments", MIN_TEST_SEGMENTS,
                  "bits per spike on one or two segments say more about those segments than about the model")
    return train, test, gap


def seq2seq_file(
    source: PathLike, destination: PathLike | None, model: Any, options: SegmentOptions, *,
    test_fraction: float = 0.2, decoding: DecodingOptions | None = None, report_dir: PathLike | None = None,
    in_place: bool = False, overwrite: bool = False, name_prefix: str = "",
    callback: Callable[[int, float], None] | None = None, on_step: Callable[[str], None] | None = None,
) -> Seq2seqResult:
    """Fit Seq2seq on a file's two regions and write the results (see the module docstring)."""
    from ..evaluation.decoding import compare_decoders, decoder_grid
    from ..io.write import append_results
    from ..schema import EvaluationScores

    options.validate()
    decoding_options = (decoding or DecodingOptions()).validate()
    model.check_params()
    model.lag_bins(options.bin_size)  # a lag that is not a whole number of bins: refused before any work
    check_destinations(source, destination, report_dir, in_place=in_place, overwrite=overwrite)
    started = time.perf_counter()
    with open_nwb(source) as nwbfile:
        data = options.read(nwbfile)
    train_idx, test_idx, gap = checked_split(data, test_fraction)
    train, test = data.subset(train_idx), data.subset(test_idx)
    if on_step:
        on_step("fitting seq2seq")
    try:
        model.fit(train, callback=callback)
    except FloatingPointError as err:

        raise TrainingError(str(err)) from None
    except ValueError as err:
        raise as_input_error(err) from None
    if on_step:
        on_step("scoring the target's prediction")
    scores, baselines = neural_scores(model, train, test, options.trials is not None, data.labels is not None)
    decoding = None
    d = decoding_options
    if data.labels is not None and len(set(data.labels)) < 2:
        log.warning("every segment has the label %r: nothing to decode", data.labels[0])
    elif data.labels is not None:
        if on_step:
            on_step(f"decoding behaviour ({d.n_splits} folds, a Seq2seq fitted in each)")
        params = {**model.get_params()}
        features = {"latents": latent_input(data, params, d.latent_features, d.chunks,
                                            on_fold=(lambda k: on_step(f"decoding: Seq2seq of fold {k + 1}"))
                                            if on_step else None),
                    "source_rates": rate_features(data, d.chunks, "source"),
                    "source_target_rates": rate_features(data, d.chunks)}
        try:
            decoding = compare_decoders(features, data.labels, data.starts, data.stops, n_splits=d.n_splits,
                                        seed=int(model.seed or 0), methods=decoder_grid(DECODING_INPUTS),
                                        null=d.null, n_permutations=d.n_permutations, n_jobs=d.n_jobs)
        except FloatingPointError as err:  # a fold's Seq2seq diverged

            raise TrainingError(f"behaviour decoding: {err}") from None
        scores = pd.concat([scores, decoding.to_scores()], ignore_index=True)
    seconds = time.perf_counter() - started
    latents = model.transform(data)
    parameters = {"segments": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.__dict__.items()},
                  "test_fraction": test_fraction,
                  "decoding": {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.__dict__.items()},
                  "decoding_protocol": decoding.protocol if decoding is not None else {},
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
    from ..plots import pyplot, save_figure

    folder.mkdir(parents=True, exist_ok=True)
    scores.to_csv(folder / "scores.csv", index=False)
    paths = [folder / "scores.csv"]
    plt = pyplot()
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
    paths += save_figure(fig, folder, "latents")
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
    paths += save_figure(fig, folder, "target_psth")
    if decoding is not None:
        from ..evaluation.decoding import plot_decoding

        paths += plot_decoding(decoding, folder)
    return paths


@register_step
class Seq2seqStep(ModelStep):
    """Seq2seq between two regions of a file, scored on held-out segments, with behaviour decoded
    from its latents (the ``seq2seq`` section of ``run``, and ``nwb-tavrnn seq2seq``)."""

    name = "seq2seq"
    Params = Seq2seqParams
    Flags = ModelOptions
    help = "translate one region's spiking into another's through latents; decode behaviour from them"

    def make_model(self) -> Any:
        model = make_estimator(drop_none=False, **self.model_params)
        model.lag_bins(self.params.bin_size)  # a lag that is not a whole number of bins: refused before any work
        return model

    def options(self) -> SegmentOptions:
        return self.params.segment_options

    def check(self, nwbfile: Any) -> None:
        """Its segments, regions and labels exist, and the held-out split is large enough to score
        (in ``run``, before any model trains)."""
        checked_split(self.options().read(nwbfile), self.params.test_fraction)

    def write(self, source: Any, destination: Any, model: Any, **common: Any) -> Seq2seqResult:
        p = self.params
        return seq2seq_file(source, destination, model, p.segment_options, test_fraction=p.test_fraction,
                            decoding=p.decoding_options, name_prefix=p.name_prefix, **common)


__all__ = ["DECODING_INPUTS", "DecodingOptions", "MODULE_NAME", "ModelOptions", "SegmentOptions", "Seq2seqParams",
           "Seq2seqResult", "Seq2seqStep", "latent_input", "make_estimator", "rate_features", "seq2seq_file"]
