"""The evaluation's parameters, declared once (:mod:`nwb_tavrnn.params`): each field carries its
default, constraint, help and ``nwb-tavrnn evaluate`` flag; the command line, configuration files
and the Python API all read them from here.

Light on purpose (numpy, no scikit-learn): the command line builds its options from this module
every time it starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import require
from ..params import Check, at_least, between, check, optional, param
from .nulls import NULLS
from .splits import SPLITS

BASELINES = ("raw_correlation", "population_rates", "vgae", "vgrnn")
#: Run only when asked for, and only where the user has installed the package.
OPTIONAL_BASELINES = ("cebra",)
TIME_SHUFFLE_MODES = ("within_windows", "whole_recording")
#: The classifiers of :func:`nwb_tavrnn.evaluation.metrics.classify` (``metrics.CLASSIFIERS``),
#: spelt out here because importing that module imports scikit-learn.
CLASSIFIERS = ("ridge", "logistic")
#: Window features from node embeddings (:func:`nwb_tavrnn.evaluation.features.embedding_features`).
FEATURE_MODES = ("flatten", "node_mean", "node_mean_sd")
#: Pieces of a within-window shuffle shorter than this many bins keep coordination at their own scale.
MIN_SHUFFLE_BINS = 20


#: How nodes are grouped for the alignment score and figures (:func:`node_grouping`).
NODE_GROUPINGS = ("auto", "location", "group")


@dataclass
class EvaluationConfig:
    """Parameters of the evaluation step (stored with its results).

    Each field's help, constraint and command-line flag are declared with it; ``split``,
    ``null`` and ``classifier`` are described further in :mod:`~nwb_tavrnn.evaluation.splits`,
    :mod:`~nwb_tavrnn.evaluation.nulls` and :func:`~nwb_tavrnn.evaluation.metrics.classify`.
    Learned baselines are fitted without labels on all windows (transductive).

    Raises
    ------
    ParameterError
        A value out of its constraint, an unknown baseline, or ``split='label_blocks'`` with a
        null other than ``block_permutation`` (naming the parameter or parameters at fault).
    """

    split: str = param("blocked", choices=SPLITS,
                       help="cross-validation folds: blocked (contiguous runs of windows in time order), "
                            "label_blocks (whole label blocks held out) or stratified (shuffled: neighbouring "
                            "windows then sit in training)")
    n_splits: int = param(5, check=at_least(2), help="folds (fewer when there are fewer windows or label blocks)")
    purge_gap: float = param(0.0, check=at_least(0), metavar="S",
                             help="seconds around each test window inside which training windows are dropped "
                                  "(windows overlapping a test window always are)")
    classifier: str = param("ridge", choices=CLASSIFIERS,
                            help="linear classifier on standardised window features, balanced class weights: "
                                 "ridge (nulls computed for every permutation at once) or logistic (L2; slower "
                                 "nulls)")
    null: str = param("block_permutation", choices=NULLS,
                      help="label null: block_permutation (labels permuted across label blocks), circular_shift, "
                           "or iid (single windows shuffled; ignores blocks)")
    n_permutations: int = param(200, check=at_least(0), flag="--permutations",
                                help="labellings of the label null (every distinct one when there are no more)")
    alpha: float = param(0.05, check=between(0, 1), flag=None,
                         help="level at which a label test must be able to reject for a p-value to be reported")
    seeds: int = param(10, check=at_least(1), flag="--kmeans-restarts", renamed=("--seeds",),
                       help="k-means restarts of the clustering scores (classification is deterministic)")
    baselines: tuple[str, ...] = param(BASELINES, nargs="*", metavar="NAME",
                                       help="any of raw_correlation population_rates vgae vgrnn (the default) and "
                                            "cebra (CEBRA-Time, needs the cebra package; skipped with a warning "
                                            "without it); none: give the option alone")
    time_shuffle: bool = param(True, negate=True,
                               help="skip the time-shuffle null (spike trains shuffled in time, graphs recomputed, "
                                    "the model refitted)")
    time_shuffle_repeats: int = param(3, check=at_least(1),
                                      help="independent time shuffles, each refitting the model")
    time_shuffle_mode: str = param("within_windows", choices=TIME_SHUFFLE_MODES,
                                   help="within_windows: each spike train rotated inside every piece between "
                                        "window edges (spike counts kept per window: a rate-matched null); "
                                        "whole_recording: one rotation over the recording")
    n_jobs: int | None = param(None, check=optional(at_least(1)), parse=int, metavar="N",
                               help="processes for the learned baselines and time-shuffle refits (default: one per "
                                    "core); each training runs on one torch thread either way")
    feature_mode: str = param("flatten", choices=FEATURE_MODES, flag="--window-features",
                              help="window features from node embeddings: flatten (every node's vector, PCA inside "
                                   "folds), node_mean (the paper's) or node_mean_sd")
    pca: int = param(10, check=at_least(0), flag=None,
                     help="components kept inside each fold for high-dimensional features (correlations, rates, "
                          "flattened embeddings); 0: none")
    min_purity: float = param(0.75, check=Check(lambda v: 0.5 < v <= 1, "must be in (0.5, 1]"), flag=None,
                              help="share of a window one label must cover for the window to take that label")
    baseline_epochs: int | None = param(None, check=optional(at_least(1)), parse=int, metavar="EPOCHS",
                                        help="epochs for the learned baselines and the time-shuffle refits (default: "
                                             "the model's own)")
    n_boot: int = param(2000, check=at_least(1), flag=None,
                        help="circular block bootstrap resamples of the accuracy interval")
    node_groups: str = param("auto", choices=NODE_GROUPINGS,
                             help="how nodes are grouped for the alignment score and the figures: auto (the brain "
                                  "locations when they name two or more areas, else the electrode groups), "
                                  "location or group")
    alignment_exclude: tuple[str, ...] = param((), flag=None, help="node groups left out of the alignment score")
    figures: bool = param(True, negate=True, help="scores only, no figures (PNG and PDF) in the report folder")
    seed: int = param(0, flag=None,
                      help="seed of the folds, label null, bootstrap, clustering and learned baselines")

    def __post_init__(self) -> None:
        self.baselines = tuple(self.baselines)
        self.alignment_exclude = tuple(self.alignment_exclude)
        # Not a declared check: the message names the unknown baselines themselves.
        unknown = set(self.baselines) - set(BASELINES) - set(OPTIONAL_BASELINES)
        require(not unknown, f"unknown baselines {sorted(unknown)}; known: {', '.join(BASELINES + OPTIONAL_BASELINES)}",
                "baselines")
        check(self)
        require(self.split != "label_blocks" or self.null == "block_permutation",
                "split='label_blocks' holds out the observed label blocks; only null='block_permutation' keeps them, "
                "so pair it with that null", ("split", "null"))


__all__ = ["BASELINES", "CLASSIFIERS", "FEATURE_MODES", "MIN_SHUFFLE_BINS", "OPTIONAL_BASELINES", "TIME_SHUFFLE_MODES",
           "EvaluationConfig"]
