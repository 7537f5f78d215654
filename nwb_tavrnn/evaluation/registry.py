"""The baselines the evaluation scores beside the model, by name: how each computes its window
features from one recording, how those are reduced inside folds, and, for a learned baseline, the
training its features come from (run with the time-shuffle refits, in parallel where cores allow).

The names are :data:`~nwb_tavrnn.evaluation.settings.BASELINES` and
:data:`~nwb_tavrnn.evaluation.settings.OPTIONAL_BASELINES`; a baseline is added here and named there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..io.spike_trains import is_traces
from . import features as feats
from .baselines import GraphArrays, ablation_embeddings, vgae_embeddings
from .jobs import Job
from .settings import EvaluationConfig

log = logging.getLogger(__name__)


@dataclass
class BaselineInputs:
    """What the baselines are computed from: one recording's windows, graphs and node signals, the
    evaluated model's embedding size and settings, and the trainings' results once they have run.

    Shapes
    ------
    starts, stops : (windows,) seconds
    trained : each (windows, nodes, latent), by job name
    """

    starts: np.ndarray
    stops: np.ndarray
    graphs: GraphArrays
    #: The graphs' nodes (spike trains or ROI traces), read when first called.
    trains: Callable[[], Any]
    #: The evaluated embeddings' size (the learned baselines embed to the same).
    latent: int
    #: The evaluated model's hyperparameters (its provenance); None without a provenance.
    hyperparameters: dict | None
    config: EvaluationConfig
    #: Names the embeddings in messages.
    source: str = "the embeddings"
    trained: dict[str, Any] = field(default_factory=dict)

    @property
    def correlation(self) -> np.ndarray:
        """The unthresholded correlation as the edges weigh it (|r| under every preset), or the
        graphs where the file kept no correlation."""
        return self.graphs.correlation if self.graphs.correlation is not None else self.graphs.adjacency


@dataclass(frozen=True)
class Baseline:
    """One baseline.

    Attributes
    ----------
    features
        Its window features, every window (None: it cannot run here; a warning says why).
    kind
        How they are reduced inside folds (:data:`~nwb_tavrnn.evaluation.protocol.KINDS`).
    training
        For a learned baseline: the function and arguments of its training (a job of
        :func:`~nwb_tavrnn.evaluation.jobs.run_jobs`), or None when it cannot run here.
    """

    features: Callable[[BaselineInputs], np.ndarray | None]
    kind: str | None
    training: Callable[[BaselineInputs], tuple[Callable[..., Any], dict] | None] | None = None


def _raw_correlation(inputs: BaselineInputs) -> np.ndarray:
    return feats.correlation_features(inputs.correlation)


def _population_rates(inputs: BaselineInputs) -> np.ndarray:
    return feats.rate_features(inputs.trains(), inputs.starts, inputs.stops)


def _trained(name: str) -> Callable[[BaselineInputs], np.ndarray | None]:
    """The window features of the embeddings a learned baseline's training returned (None when it
    did not run)."""
    def features(inputs: BaselineInputs) -> np.ndarray | None:
        found = inputs.trained.get(name)
        return None if found is None else feats.embedding_features(found, inputs.config.feature_mode)

    return features


def _vgae_training(inputs: BaselineInputs) -> tuple[Callable[..., Any], dict]:
    return vgae_embeddings, {"adjacency": inputs.graphs.adjacency, "features": inputs.correlation,
                             "latent": inputs.latent, "epochs": inputs.config.baseline_epochs or 100,
                             "seed": inputs.config.seed}


def _vgrnn_training(inputs: BaselineInputs) -> tuple[Callable[..., Any], dict] | None:
    if inputs.hyperparameters is None:
        log.warning("no ModelProvenance linked to %s: skipping the VGRNN baseline", inputs.source)
        return None
    return ablation_embeddings, {"connectivity": inputs.graphs, "hyperparameters": inputs.hyperparameters,
                                 "epochs": inputs.config.baseline_epochs}


def _cebra(inputs: BaselineInputs) -> np.ndarray | None:
    from .cebra_baseline import cebra_available, cebra_window_features

    if is_traces(inputs.trains()):
        log.warning("the CEBRA baseline reads spike trains; skipped for ROI traces")
        return None
    if not cebra_available():
        log.warning("the 'cebra' package is not installed: skipping the CEBRA baseline (pip install cebra)")
        return None
    return cebra_window_features(inputs.trains(), inputs.starts, inputs.stops, output_dimension=inputs.latent,
                                 seed=inputs.config.seed)


#: Every baseline by name, in the order their trainings are queued.
REGISTRY: dict[str, Baseline] = {
    "raw_correlation": Baseline(_raw_correlation, "wide"),
    "population_rates": Baseline(_population_rates, "wide"),
    "vgae": Baseline(_trained("vgae"), "embedding", _vgae_training),
    "vgrnn": Baseline(_trained("vgrnn"), "embedding", _vgrnn_training),
    "cebra": Baseline(_cebra, None),  # already low-dimensional: no PCA
}


def baseline_jobs(names: Iterable[str], inputs: BaselineInputs) -> list[Job]:
    """The trainings of the learned baselines among ``names`` (those that can run here), in the
    registry's order."""
    wanted = set(names)
    jobs: list[Job] = []
    for name, baseline in REGISTRY.items():
        if name in wanted and baseline.training is not None:
            made = baseline.training(inputs)
            if made is not None:
                jobs.append((name, *made))
    return jobs


__all__ = ["REGISTRY", "Baseline", "BaselineInputs", "baseline_jobs"]
