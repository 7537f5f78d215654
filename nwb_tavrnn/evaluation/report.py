"""The evaluation step: score a file's embeddings against window labels, beside baselines and nulls.

For the labelled windows of a NodeEmbeddings object it reports, per method (the model, and the
baselines computed on the same windows), cross-validated classification and clustering scores
over several seeds; a label-permutation null and a time-shuffle null (spike trains rotated in time,
then the whole pipeline re-run); and how strongly nodes cluster by their group in each window
(subregion alignment) as behaviour changes. Scores go into the NWB file (EvaluationScores), and
into CSV/JSON and figures in a report folder.

This module reads the file and hands the window features to the protocol; each other job has its
module in this package:

- :mod:`~nwb_tavrnn.evaluation.settings`: the parameters (:class:`EvaluationConfig`);
- :mod:`~nwb_tavrnn.evaluation.label_specs`: window labels from a label spec;
- :mod:`~nwb_tavrnn.evaluation.protocol`: folds, label null and scoring of window features held as
  arrays (:func:`~nwb_tavrnn.evaluation.protocol.evaluate_features`, no NWB file needed);
- :mod:`~nwb_tavrnn.evaluation.registry`: the baselines by name;
- :mod:`~nwb_tavrnn.evaluation.jobs`: the model trainings and their process pool;
- :mod:`~nwb_tavrnn.evaluation.result` and :mod:`~nwb_tavrnn.evaluation.writing`: the report and
  its folder.

Their public names are importable from here too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from ..connectivity.compute import edge_density, edge_strength, edge_turnover
from ..errors import InputFileError
from ..io.files import PathLike, check_report_folder, check_writable, open_nwb
from . import features as feats
from .jobs import run_jobs, time_shuffle_jobs
from .label_specs import WindowLabels, as_window_labels, check_window_labels, table_labels, window_labels
from .metrics import correlate, subregion_alignment, summarize
from .protocol import TRANSDUCTIVE_NOTE, evaluate_features, score_features, score_rows
from .registry import REGISTRY, BaselineInputs, baseline_jobs
from .result import EvaluationReport
from .settings import BASELINES, MIN_SHUFFLE_BINS, OPTIONAL_BASELINES, TIME_SHUFFLE_MODES, EvaluationConfig
from .writing import write_report

log = logging.getLogger(__name__)


def node_grouping(embeddings: Any, how: str = "auto") -> np.ndarray | None:
    """The node labels the alignment score and the figures group by: the nodes' brain locations
    (``location``), their electrode groups (``group``), or (``auto``) the locations when they name
    two or more areas, else the groups: on a probe or tetrode recording the groups are wires,
    each holding a few units, and the areas are what a reader means by subregions.

    Shapes
    ------
    return : (nodes,) str, or None when the file records neither
    """
    def labels(name: str) -> np.ndarray | None:
        values = getattr(embeddings, name, None)
        return None if values is None else np.asarray(values[:]).astype(str)

    locations, groups = labels("node_locations"), labels("node_groups")
    if how == "location" or (how == "auto" and locations is not None
                             and len({v for v in locations if v}) >= 2):
        return locations
    return groups


def evaluate(nwbfile, labels: str | Sequence, *, embeddings: str | None = None,
             config: EvaluationConfig | None = None, progress: bool = False,
             on_step: Callable[[int, int, str], None] | None = None) -> EvaluationReport:
    """Evaluate the NodeEmbeddings of an open file (see the module docstring): their window
    features and the baselines' go through :func:`~nwb_tavrnn.evaluation.protocol.evaluate_features`;
    the subregion alignment and the figures' data are added here.

    Parameters
    ----------
    labels
        A label spec (see :func:`window_labels`) or one label per window (None = unlabelled).
    embeddings
        Name of the NodeEmbeddings when the file holds several.
    progress
        A progress bar on a terminal; log lines (INFO) report every step either way.
    on_step
        ``on_step(done, total, what)`` after each step (an outer progress display's sub-progress).
    """
    from .baselines import GraphArrays

    cfg = config or EvaluationConfig()
    emb, starts, stops, mean = _linked_embeddings(nwbfile, embeddings, "baselines need the graphs")
    conn, prov = emb.connectivity, emb.model
    wl = (check_window_labels(nwbfile, labels, starts, stops, cfg.min_purity) if isinstance(labels, str)
          else as_window_labels(labels, len(starts)))
    model_name = emb.model_name
    node_trains: list = []

    def trains():
        """The graphs' nodes (spike trains, or ROI traces in memory), read from the file once, when first needed."""
        if not node_trains:
            from ..connectivity.nodes import read_graph_nodes

            nodes = read_graph_nodes(nwbfile, conn)
            # ROI traces are held in memory here: the shuffled refits run in other processes
            node_trains.append(nodes.materialise() if hasattr(nodes, "materialise") else nodes)
        return node_trains[0]

    # the graphs are read once: the baselines, the VGRNN refit and the figures share them
    inputs = BaselineInputs(starts, stops, GraphArrays.of(conn), trains, mean.shape[2],
                            None if prov is None else prov.hyperparameters_dict, cfg, emb.name)
    # Every model training (learned baselines, time-shuffle refits) runs together, in parallel where cores allow.
    jobs = baseline_jobs(cfg.baselines, inputs)
    shuffle = cfg.time_shuffle and prov is not None
    if shuffle:
        jobs += time_shuffle_jobs(trains(), conn, prov, cfg)
    total = 1 + len(cfg.baselines) + len(jobs) + int(shuffle)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="evaluate", unit="step")
    done = [0]

    def tick(what: str) -> None:
        done[0] += 1
        log.info("evaluation: %s (%d of %d steps)", what, done[0], total)
        if bar is not None:
            bar.update(1)
        if on_step is not None:
            on_step(done[0], total, what)

    ran: list[bool] = []

    def trained() -> dict[str, Any]:
        """The trainings' embeddings, all trained together when first needed (after the model is scored)."""
        if not ran:
            ran.append(True)
            inputs.trained.update(run_jobs(jobs, cfg.n_jobs, tick))
        return inputs.trained

    def baseline(name: str) -> Callable[[], np.ndarray | None]:
        def features() -> np.ndarray | None:
            trained()
            return REGISTRY[name].features(inputs)

        return features

    def shuffled() -> list[np.ndarray]:
        return [feats.embedding_features(trained()[f"time_shuffle[{rep}]"], cfg.feature_mode)
                for rep in range(cfg.time_shuffle_repeats)]

    methods = [(model_name, lambda: feats.embedding_features(mean, cfg.feature_mode))]
    methods += [(name, baseline(name)) for name in cfg.baselines]
    kinds = {model_name: "embedding", **{name: REGISTRY[name].kind for name in cfg.baselines}}
    report = evaluate_features(methods, wl, starts, stops, cfg, kinds=kinds,
                               shuffled={model_name: shuffled} if shuffle else None, on_scored=tick)
    idx, y = report.extras["window_index"], report.extras["window_classes"]
    # Subregion alignment per window, and its relation to behaviour.
    report.alignment, drawn = _drawn(nwbfile, emb, mean, inputs.graphs.adjacency, cfg)
    if np.isfinite(report.alignment).any():
        rows = {f"mean_alignment[{c}]": float(np.nanmean(report.alignment[idx][y == c])) for c in np.unique(y)}
        if wl.values is not None:
            rows.update({f"spearman_{k}": float(v) for k, v in correlate(report.alignment, wl.values).items()})
        report.scores = pd.concat([report.scores, score_rows(model_name, "alignment", rows)], ignore_index=True)
        report.summary = summarize(report.scores)
    if bar is not None:
        bar.close()
    report.extras.update(drawn)
    return report


def _linked_embeddings(nwbfile, embeddings: str | None, why: str) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """The NodeEmbeddings (linked to their graphs), their window starts and stops, and their means.

    Raises
    ------
    InputFileError
        When the embeddings are not linked to their DynamicConnectivity (``why`` says what needs it).
    """
    from ..io.read import read_one
    from ..schema import NodeEmbeddings

    emb = read_one(nwbfile, NodeEmbeddings, embeddings)
    if emb.connectivity is None:
        raise InputFileError(f"{emb.name} is not linked to its DynamicConnectivity; {why}")
    starts, stops = np.asarray(emb.window_start_times[:]), np.asarray(emb.window_stop_times[:])
    return emb, starts, stops, np.asarray(emb.mean[()])


def _drawn(nwbfile, emb, mean: np.ndarray, adjacency: np.ndarray, cfg: EvaluationConfig) -> tuple[np.ndarray, dict]:
    """What the figures draw besides the scores: each window's subregion alignment (NaN where the
    nodes do not form 2 or more groups with a node to spare), and the embeddings, node groups,
    attention and graph summaries."""
    groups = node_grouping(emb, cfg.node_groups)
    alignment = np.full(mean.shape[0], np.nan)
    excluded = set(cfg.alignment_exclude)
    kept = [g for g in groups if g not in excluded] if groups is not None else []
    # a silhouette needs more nodes than groups (2 <= groups <= nodes - 1)
    if len(set(kept)) >= 2 and len(kept) > len(set(kept)):
        alignment = subregion_alignment(mean, groups, cfg.alignment_exclude)
    return alignment, dict(mean=mean, groups=groups, attention=_attention_of(nwbfile, emb),
                           adjacency_density=edge_density(adjacency), edge_strength=edge_strength(adjacency),
                           edge_similarity=edge_turnover(adjacency))


def describe(nwbfile, *, embeddings: str | None = None, config: EvaluationConfig | None = None) -> EvaluationReport:
    """The report of a file's embeddings without labels: no scores, but the figures' material (the
    graphs over time, the node embeddings, the attention, the subregion alignment per window).

    Raises
    ------
    InputFileError
        When the embeddings are not linked to their graphs.
    """
    cfg = config or EvaluationConfig()
    emb, starts, stops, mean = _linked_embeddings(nwbfile, embeddings, "the figures draw the graphs")
    alignment, drawn = _drawn(nwbfile, emb, mean, np.asarray(emb.connectivity.to_dense(), dtype=np.float32), cfg)
    empty = pd.DataFrame(columns=["method", "analysis", "metric", "value"])
    return EvaluationReport(scores=empty, summary=pd.DataFrame(), alignment=alignment, config=cfg,
                            labels=WindowLabels([None] * len(starts), None, None),
                            protocol={"labels": "none given: figures only, nothing scored"},
                            extras={"window_index": np.arange(0), "window_classes": np.arange(0), "starts": starts,
                                    "stops": stops, **drawn})


def _attention_of(nwbfile, emb) -> np.ndarray | None:
    from ..io.read import find_objects
    from ..schema import TemporalAttention

    for att in find_objects(nwbfile, TemporalAttention):
        if att.embeddings is emb:
            return np.asarray(att.data[()])
    return None



def evaluate_file(source: PathLike, labels: str | Sequence, output: PathLike | None = None, *, in_place: bool = False,
                  overwrite: bool = False, report_dir: PathLike | None = None, embeddings: str | None = None,
                  config: EvaluationConfig | None = None, progress: bool = False,
                  name: str = "EvaluationScores",
                  on_step: Callable[[int, int, str], None] | None = None) -> EvaluationReport:
    """Evaluate the embeddings of ``source``; write the scores into ``output`` (a copy of the
    source with an EvaluationScores table added), or into the source with ``in_place``, and the
    report (CSV, JSON, figures) into ``report_dir``. With neither, nothing is written."""
    from ..io.write import append_results
    from ..schema import EvaluationScores

    cfg = config or EvaluationConfig()
    if output is not None and not in_place:
        check_writable(output, overwrite)
    if report_dir is not None:
        check_report_folder(report_dir, overwrite, protect=(source, output))  # before the work
    from ..io.read import read_one
    from ..io.write import module_of
    from ..schema import NodeEmbeddings

    with open_nwb(source) as nwbfile:
        report = evaluate(nwbfile, labels, embeddings=embeddings, config=cfg, progress=progress, on_step=on_step)
        module = module_of(read_one(nwbfile, NodeEmbeddings, embeddings))
    if report_dir is not None:
        write_report(report, report_dir)
    if output is not None or in_place:
        table = EvaluationScores.from_frame(
            report.scores, name=name,
            description=("Scores of the embeddings and baselines against window labels (see parameters). "
                         + "; ".join(f"{k}: {v}" for k, v in report.protocol.items())),
            labels=report.labels.spec, parameters={**asdict(cfg), "protocol": report.protocol},
        )
        report.path = append_results(source, [table], None if in_place else output, in_place=in_place,
                                     overwrite=overwrite, module_name=module)
    return report


__all__ = ["BASELINES", "MIN_SHUFFLE_BINS", "OPTIONAL_BASELINES", "TIME_SHUFFLE_MODES", "TRANSDUCTIVE_NOTE",
           "EvaluationConfig", "EvaluationReport", "WindowLabels", "check_window_labels", "describe", "evaluate",
           "evaluate_features", "evaluate_file", "score_features", "table_labels", "window_labels", "write_report"]
