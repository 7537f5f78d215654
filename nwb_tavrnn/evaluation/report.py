"""The evaluation step: score a file's embeddings against window labels, beside baselines and nulls.

For the labelled windows of a NodeEmbeddings object it reports, per method (the model, and the
baselines computed on the same windows), cross-validated classification and clustering scores
over several seeds; a label-permutation null and a time-shuffle null (spike trains rotated in time,
then the whole pipeline re-run); and how strongly nodes cluster by their group in each window
(subregion alignment) as behaviour changes. Scores go into the NWB file (EvaluationScores), and
into CSV/JSON and figures in a report folder.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..connectivity.compute import edge_density
from ..errors import InputFileError, NwbTavrnnError
from ..io.files import PathLike, check_writable, open_nwb
from . import features as feats
from .labels import (
    classes_from_values,
    labelled,
    labels_from_intervals,
    labels_from_table_spans,
    values_from_intervals,
    values_from_series,
)
from .metrics import (
    classify,
    cluster,
    correlate,
    permutation_test,
    principal_components,
    subregion_alignment,
    summarize,
)

log = logging.getLogger(__name__)

BASELINES = ("raw_correlation", "population_rates", "vgae", "vgrnn")
#: Run only when asked for, and only where the user has installed the package.
OPTIONAL_BASELINES = ("cebra",)
TIME_SHUFFLE_MODES = ("within_windows", "whole_recording")
#: Pieces of a within-window shuffle shorter than this many bins keep coordination at their own scale.
MIN_SHUFFLE_BINS = 20


@dataclass
class EvaluationConfig:
    """Parameters of the evaluation step (stored with its results).

    Parameters
    ----------
    seeds
        Repetitions of every cross-validated score (different fold splits and k-means starts).
    n_splits
        Folds of the stratified cross-validation (fewer when a class is small).
    n_permutations
        Label permutations of the null.
    baselines
        Any of ``raw_correlation``, ``population_rates``, ``vgae``, ``vgrnn`` (the default: all four),
        and ``cebra`` (CEBRA-Time on binned spikes, self-supervised; only when asked for, and only
        with the ``cebra`` package installed: skipped with a warning otherwise).
    time_shuffle
        Run the time-shuffle null (rotate each spike train, recompute graphs, refit the model).
    time_shuffle_repeats
        Independent shuffles (each refits the model, so a few suffice).
    time_shuffle_mode
        ``within_windows`` (default): each spike train is rotated separately inside every piece
        between window edges, so every node keeps its spike count in every window (a rate-matched
        null: what survives it is carried by rates, not coordination); ``whole_recording``: one
        rotation over the whole recording (rates are kept per node, not per window).
    feature_mode
        Window features from node embeddings: ``node_mean`` (the paper's), ``node_mean_sd``, ``flatten``.
    pca
        Components kept (inside each fold) for high-dimensional features (correlations, rates, flatten).
    min_purity
        A window takes a categorical label only if that label covers at least this share of it.
    baseline_epochs
        Epochs for the learned baselines and the time-shuffle refit (None: the model's own).
    alignment_exclude
        Node groups left out of the alignment score.
    figures
        Write figures (PNG and PDF) into the report folder.
    """

    seeds: int = 10
    n_splits: int = 5
    n_permutations: int = 200
    baselines: tuple[str, ...] = BASELINES
    time_shuffle: bool = True
    time_shuffle_repeats: int = 3
    time_shuffle_mode: str = "within_windows"
    feature_mode: str = "flatten"
    pca: int = 10
    min_purity: float = 0.75
    baseline_epochs: int | None = None
    alignment_exclude: tuple[str, ...] = ()
    figures: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.baselines) - set(BASELINES) - set(OPTIONAL_BASELINES)
        if unknown:
            raise NwbTavrnnError(f"unknown baselines {sorted(unknown)}; known: "
                                 f"{', '.join(BASELINES + OPTIONAL_BASELINES)}")
        if self.seeds < 1 or self.n_permutations < 0 or self.time_shuffle_repeats < 1:
            raise NwbTavrnnError("seeds and time_shuffle_repeats must be >= 1, n_permutations >= 0")
        if self.time_shuffle_mode not in TIME_SHUFFLE_MODES:
            raise NwbTavrnnError(f"time_shuffle_mode must be one of {', '.join(TIME_SHUFFLE_MODES)}, "
                                 f"got {self.time_shuffle_mode!r}")
        self.baselines = tuple(self.baselines)
        self.alignment_exclude = tuple(self.alignment_exclude)


@dataclass
class WindowLabels:
    """Labels of every window (None = unlabelled), the per-window values they came from (if
    numeric), and the spec that produced them."""

    labels: list
    values: np.ndarray | None
    spec: str


@dataclass
class EvaluationReport:
    """Everything the step computed."""

    scores: pd.DataFrame
    summary: pd.DataFrame
    labels: WindowLabels
    alignment: np.ndarray
    config: EvaluationConfig
    path: Path | None = None
    report_dir: Path | None = None
    figures: list[Path] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def headline(self) -> pd.DataFrame:
        """Mean accuracy (with CI) per method and control."""
        s = self.summary
        rows = s[(s.metric == "accuracy") & s.analysis.isin(["classification", "time_shuffle"])]
        rows = rows[["method", "analysis", "mean", "ci_low", "ci_high", "n"]].reset_index(drop=True)
        # A t interval over 2-3 time-shuffle refits can reach past [0, 1]; an accuracy cannot.
        rows[["ci_low", "ci_high"]] = rows[["ci_low", "ci_high"]].clip(0.0, 1.0)
        return rows


_RULE = re.compile(r"^(top_bottom|quantile)(?:=(\d+))?$")


def window_labels(nwbfile, spec: str, starts: np.ndarray, stops: np.ndarray, min_purity: float = 0.75) -> WindowLabels:
    """Labels per window from a spec.

    ``TABLE:COLUMN`` (majority label by overlap), ``TABLE:COLUMN:top_bottom=K`` or
    ``TABLE:COLUMN:quantile=Q`` (a numeric column averaged per window, then classes),
    ``behavior:SERIES[:quantile=Q]`` (a behavioural series averaged per window; SERIES is its path
    or name as ``nwb-tavrnn inspect`` lists it), or ``spans:TABLE1,TABLE2[,...]`` (the table whose
    span, first start to last stop, covers most of the window: task periods kept as trial tables).
    """
    from ..io.read import read_behavior_series, read_intervals

    if spec.startswith("spans:"):
        intervals = read_intervals(nwbfile)
        names = [n for n in spec[len("spans:"):].split(",") if n]
        missing = [n for n in names if n not in intervals]
        if len(names) < 2 or missing:
            raise InputFileError(f"labels {spec!r}: give at least two intervals tables; "
                                 f"{'no table ' + ', '.join(map(repr, missing)) + '; ' if missing else ''}"
                                 f"the file has: {', '.join(intervals) or 'none'}")
        return WindowLabels(labels_from_table_spans({n: intervals[n] for n in names}, starts, stops,
                                                    min_purity=min_purity), None, spec)
    parts = spec.split(":")
    if len(parts) < 2:
        raise InputFileError(f"labels {spec!r}: expected TABLE:COLUMN[:RULE] or behavior:SERIES[:RULE]")
    rule = parts[2] if len(parts) > 2 else None
    match = _RULE.match(rule) if rule else None
    if rule and not match:
        raise InputFileError(f"labels {spec!r}: unknown rule {rule!r}; use top_bottom=K or quantile=Q")
    if parts[0] == "behavior":
        found = read_behavior_series(nwbfile, parts[1])
        values = values_from_series(found.timestamps, found.data, starts, stops)
    else:
        intervals = read_intervals(nwbfile)
        if parts[0] not in intervals:
            raise InputFileError(f"no intervals table {parts[0]!r}; the file has: {', '.join(intervals) or 'none'}")
        df = intervals[parts[0]]
        if match is None:
            return WindowLabels(labels_from_intervals(df, parts[1], starts, stops, min_purity=min_purity), None, spec)
        values = values_from_intervals(df, parts[1], starts, stops)
    if match is None:
        match = _RULE.match("quantile=2")
    kind, number = match.group(1), int(match.group(2) or (3 if match.group(1) == "top_bottom" else 2))
    labels = (classes_from_values(values, "top_bottom", k=number) if kind == "top_bottom"
              else classes_from_values(values, "quantile", n_classes=number))
    return WindowLabels(labels, values, spec)


def _rows(frame: pd.DataFrame, method: str, analysis: str) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, "analysis", analysis)
    frame.insert(0, "method", method)
    return frame


def _score(x: np.ndarray, y: np.ndarray, method: str, cfg: EvaluationConfig, pca: int | None) -> list[pd.DataFrame]:
    seeds = range(cfg.seed, cfg.seed + cfg.seeds)
    out = [_rows(classify(x, y, seeds, cfg.n_splits, pca=pca), method, "classification")]
    reduced = x if not pca or x.shape[1] <= pca else _pca(x, pca)
    out.append(_rows(cluster(reduced, y, seeds), method, "clustering"))
    return out


def _pca(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.preprocessing import StandardScaler

    k = min(k, x.shape[0] - 1, x.shape[1])
    return principal_components(k, *x.shape).fit_transform(StandardScaler().fit_transform(x))


def _time_shuffle(trains, conn, prov, idx, y, cfg: EvaluationConfig) -> pd.DataFrame:
    """Rotate every spike train in time (within window pieces or over the whole recording),
    recompute the graphs with the same parameters and windows, refit the model with the same
    hyperparameters, and score it like the real data."""
    from ..connectivity import ConnectivityParams, compute_dynamic_connectivity
    from .baselines import refit_embeddings

    stored = conn.parameters_dict
    known = set(ConnectivityParams.__dataclass_fields__)
    params = ConnectivityParams.from_dict({k: v for k, v in stored.items() if k in known})
    windows = (np.asarray(conn.window_start_times[:]), np.asarray(conn.window_stop_times[:]))
    boundaries = None
    if cfg.time_shuffle_mode == "within_windows":
        boundaries = np.concatenate(windows)
        pieces = np.diff(feats.shuffle_pieces(trains.t_start, trains.t_stop, boundaries))
        if pieces.size and pieces.min() < MIN_SHUFFLE_BINS * params.bin_size:
            log.warning("the shortest piece between window edges is %.3g s (< %d bins): the within-window "
                        "shuffle keeps coordination at that scale; consider time_shuffle_mode='whole_recording'",
                        pieces.min(), MIN_SHUFFLE_BINS)
    frames = []
    for rep in range(cfg.time_shuffle_repeats):  # each one retrains a model
        shuffled = feats.circular_shift(trains, seed=cfg.seed + 1000 + rep, boundaries=boundaries)
        # Shuffled data may well give empty graphs: that is the point, not a problem to warn about.
        result = compute_dynamic_connectivity(shuffled, params, windows=windows, warn_if_empty=False)
        mean = refit_embeddings(result.adjacency, result.correlation, prov.model_name, prov.hyperparameters_dict,
                                epochs=cfg.baseline_epochs)
        x = feats.embedding_features(mean, cfg.feature_mode)[idx]
        scores = classify(x, y, [cfg.seed + rep], cfg.n_splits,
                          pca=cfg.pca if cfg.feature_mode == "flatten" else None)
        frames.append(_rows(scores, prov.model_name, "time_shuffle"))
    return pd.concat(frames, ignore_index=True)


def evaluate(nwbfile, labels: str | list, *, embeddings: str | None = None, config: EvaluationConfig | None = None,
             progress: bool = False) -> EvaluationReport:
    """Evaluate the NodeEmbeddings of an open file (see the module docstring).

    Parameters
    ----------
    labels
        A label spec (see :func:`window_labels`) or one label per window (None = unlabelled).
    embeddings
        Name of the NodeEmbeddings when the file holds several.
    """
    from ..io.read import read_one, read_spike_trains
    from ..schema import NodeEmbeddings

    cfg = config or EvaluationConfig()
    emb = read_one(nwbfile, NodeEmbeddings, embeddings)
    conn, prov = emb.connectivity, emb.model
    if conn is None:
        raise InputFileError(f"{emb.name} is not linked to its DynamicConnectivity; baselines need the graphs")
    starts, stops = np.asarray(emb.window_start_times[:]), np.asarray(emb.window_stop_times[:])
    if isinstance(labels, str):
        wl = window_labels(nwbfile, labels, starts, stops, cfg.min_purity)
    else:
        from .labels import labels_from_array

        wl = WindowLabels(labels_from_array(labels, len(starts)), None, "given by the caller")
    idx, y = labelled(wl.labels)
    log.info("%d of %d windows labelled: %s", len(idx), len(starts), dict(zip(*np.unique(y, return_counts=True))))
    mean = np.asarray(emb.mean[()])
    model_name = emb.model_name
    frames: list[pd.DataFrame] = []
    steps = [model_name, *cfg.baselines] + (["time_shuffle"] if cfg.time_shuffle and prov is not None else [])
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(steps) + 1, desc="evaluate", unit="step")

    def tick(what: str) -> None:
        log.info("evaluation: %s done", what)
        if bar is not None:
            bar.update(1)

    x_model = feats.embedding_features(mean, cfg.feature_mode)[idx]
    frames += _score(x_model, y, model_name, cfg, cfg.pca if cfg.feature_mode == "flatten" else None)
    tick(model_name)
    extras: dict[str, Any] = {}
    adjacency = conn.to_dense()
    correlation = conn.correlation[()] if conn.correlation is not None else adjacency
    node_trains: list = []

    def trains():
        """The graphs' nodes' spike trains, read from the file once, when first needed."""
        if not node_trains:
            node_trains.append(read_spike_trains(nwbfile).select(ids=np.asarray(conn.node_ids[:]).tolist()))
        return node_trains[0]

    for name in cfg.baselines:
        if name == "raw_correlation":
            x = feats.correlation_features(correlation)[idx]
            frames += _score(x, y, name, cfg, cfg.pca)
        elif name == "population_rates":
            x = feats.rate_features(trains(), starts, stops)[idx]
            frames += _score(x, y, name, cfg, cfg.pca)
        elif name == "vgae":
            from .baselines import vgae_embeddings

            z = vgae_embeddings(adjacency, correlation, latent=mean.shape[2],
                                epochs=cfg.baseline_epochs or 100, seed=cfg.seed)
            frames += _score(feats.embedding_features(z, cfg.feature_mode)[idx], y, name, cfg,
                             cfg.pca if cfg.feature_mode == "flatten" else None)
        elif name == "vgrnn":
            if prov is None:
                log.warning("no ModelProvenance linked to %s: skipping the VGRNN baseline", emb.name)
                continue
            from .baselines import ablation_embeddings

            z = ablation_embeddings(conn, prov.hyperparameters_dict, epochs=cfg.baseline_epochs)
            frames += _score(feats.embedding_features(z, cfg.feature_mode)[idx], y, name, cfg,
                             cfg.pca if cfg.feature_mode == "flatten" else None)
        elif name == "cebra":
            from .cebra_baseline import cebra_available, cebra_window_features

            if not cebra_available():
                log.warning("the 'cebra' package is not installed: skipping the CEBRA baseline (pip install cebra)")
                continue
            x = cebra_window_features(trains(), starts, stops, output_dimension=mean.shape[2], seed=cfg.seed)
            frames += _score(x[idx], y, name, cfg, None)
        tick(name)
    # Label-permutation null on the model's features.
    if cfg.n_permutations:
        perm = permutation_test(x_model, y, cfg.n_permutations, cfg.seed, cfg.n_splits,
                                pca=cfg.pca if cfg.feature_mode == "flatten" else None)
        frames.append(pd.DataFrame([
            {"method": model_name, "analysis": "label_permutation", "metric": "accuracy", "seed": -1, "value": perm.observed},
            {"method": model_name, "analysis": "label_permutation", "metric": "null_accuracy_mean", "seed": -1,
             "value": float(perm.null.mean())},
            {"method": model_name, "analysis": "label_permutation", "metric": "null_accuracy_95", "seed": -1,
             "value": float(np.quantile(perm.null, 0.95))},
            {"method": model_name, "analysis": "label_permutation", "metric": "p_value", "seed": -1, "value": perm.p_value},
        ]))
        extras["permutation_null"] = perm.null
    if cfg.time_shuffle and prov is not None:
        frames.append(_time_shuffle(trains(), conn, prov, idx, y, cfg))
        tick("time_shuffle")
    # Subregion alignment per window, and its relation to behaviour.
    groups = np.asarray(emb.node_groups[:]).astype(str) if emb.node_groups is not None else None
    alignment = np.full(len(starts), np.nan)
    if groups is not None and len(set(groups) - set(cfg.alignment_exclude)) >= 2:
        alignment = subregion_alignment(mean, groups, cfg.alignment_exclude)
        rows = [{"method": model_name, "analysis": "alignment", "metric": f"mean_alignment[{c}]", "seed": -1,
                 "value": float(np.nanmean(alignment[idx][y == c]))} for c in np.unique(y)]
        if wl.values is not None:
            corr = correlate(alignment, wl.values)
            rows += [{"method": model_name, "analysis": "alignment", "metric": f"spearman_{k}", "seed": -1,
                      "value": float(v)} for k, v in corr.items()]
        frames.append(pd.DataFrame(rows))
    if bar is not None:
        bar.update(1)
        bar.close()
    scores = pd.concat(frames, ignore_index=True)
    summary = summarize(scores)
    extras.update(window_index=idx, window_classes=y, starts=starts, stops=stops, mean=mean,
                  groups=groups, attention=_attention_of(nwbfile, emb), adjacency_density=edge_density(adjacency))
    return EvaluationReport(scores, summary, wl, alignment, cfg, extras=extras)


def _attention_of(nwbfile, emb) -> np.ndarray | None:
    from ..io.read import find_objects
    from ..schema import TemporalAttention

    for att in find_objects(nwbfile, TemporalAttention):
        if att.embeddings is emb:
            return np.asarray(att.data[()])
    return None


def write_report(report: EvaluationReport, folder: PathLike) -> list[Path]:
    """Scores as CSV and JSON, and figures, in ``folder``; returns the files written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "scores.csv", folder / "summary.csv", folder / "summary.json"]
    report.scores.to_csv(written[0], index=False)
    report.summary.to_csv(written[1], index=False)
    payload = {"labels": report.labels.spec, "config": asdict(report.config),
               "summary": report.summary.to_dict(orient="records"),
               "window_labels": report.labels.labels, "alignment": [None if not np.isfinite(a) else float(a)
                                                                     for a in report.alignment]}
    written[2].write_text(json.dumps(payload, indent=2, default=_json))
    if report.config.figures:
        from .. import plots

        written += plots.report_figures(report, folder)
    report.report_dir = folder
    report.figures = [p for p in written if p.suffix in (".png", ".pdf")]
    return written


def _json(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(type(obj).__name__)


def evaluate_file(source: PathLike, labels: str | list, output: PathLike | None = None, *, in_place: bool = False,
                  overwrite: bool = False, report_dir: PathLike | None = None, embeddings: str | None = None,
                  config: EvaluationConfig | None = None, progress: bool = False,
                  name: str = "EvaluationScores") -> EvaluationReport:
    """Evaluate the embeddings of ``source``; write the scores into ``output`` (a copy of the
    source with an EvaluationScores table added), or into the source with ``in_place``, and the
    report (CSV, JSON, figures) into ``report_dir``. With neither, nothing is written."""
    from ..io.write import append_results
    from ..schema import EvaluationScores

    cfg = config or EvaluationConfig()
    if output is not None and not in_place:
        check_writable(output, overwrite)
    with open_nwb(source) as nwbfile:
        report = evaluate(nwbfile, labels, embeddings=embeddings, config=cfg, progress=progress)
    if report_dir is not None:
        write_report(report, report_dir)
    if output is not None or in_place:
        table = EvaluationScores.from_frame(
            report.scores, name=name,
            description="Scores of the embeddings and baselines against window labels (see parameters).",
            labels=report.labels.spec, parameters=asdict(cfg),
        )
        report.path = append_results(source, [table], None if in_place else output, in_place=in_place,
                                     overwrite=overwrite)
    return report
