"""Configuration of the whole pipeline (``nwb-tavrnn run``/``batch``/``demo``), from YAML or TOML.

A configuration file has up to four sections; every key is optional and the defaults are those of
the step itself. Command-line options override the file, and the file overrides the defaults.
Unknown sections or keys are an error naming the key and the keys that are allowed (a misspelt key
must not be silently ignored: the run would quietly use a default).

Example (YAML; the same keys work in TOML as ``[connectivity]`` tables, where ``null`` is written by
leaving the key out)::

    sorting:                 # used only when INPUT has no Units table (raw voltage)
      method: sort           # sort (spike sorting) or hdmea (per-electrode threshold crossings)
      sorter: lupin
      n_jobs: 4
    connectivity:
      preset: dishbrain      # default | dishbrain | hippocampus; the keys below override it
      window: 120.0
      step: 60.0
      windows_from: null     # e.g. "trials" or "epochs:state": one window per interval / run of labels
    model:
      preset: improved       # faithful | improved | null (the estimator's defaults)
      epochs: 300
      seed: 0
    evaluation:
      labels: "epochs:state" # no labels, no evaluation
      split: blocked         # contiguous folds, purged of windows that overlap a test window
      null: block_permutation  # labels permuted across whole label blocks
      n_permutations: 200
      baselines: [raw_correlation, population_rates, vgae, vgrnn]  # + cebra, if installed

Sections
--------
``sorting``
    ``method`` (``sort`` | ``hdmea``), how the recording is read (``format``, ``reader_options``,
    ``electrical_series``, ``segment_index``), execution (``n_jobs``, ``chunk_duration``,
    ``work_folder``), and the fields of :class:`nwb_tavrnn.sorting.SortingParams` (``sorter``,
    ``sorter_params``, ``preprocessing``, ``curation``, ...) or, with ``method: hdmea``, of
    :class:`nwb_tavrnn.sorting.DetectionParams` (``detect_threshold``, ``peak_sign``,
    ``exclude_sweep_ms``, ``preprocessing``).
``importer``
    For inputs that are not NWB yet (a suite2p folder, a CaImAn HDF5 file, the linear-track
    folder): ``rate`` (imaging frame rate, Hz), ``plane`` (suite2p) and ``segments`` (linear-track).
``connectivity``
    ``preset`` and the fields of :class:`nwb_tavrnn.connectivity.ConnectivityParams` (``bin_size``,
    ``binary``, ``window``, ``step``, ``threshold_mode``, ``threshold``, ``density``, ...), and how
    windows and nodes are chosen (``windows_from``, ``restrict_to``, ``groups``, ``locations``,
    ``time_range``), the result's ``name``, ``store_correlation`` and ``chunk_windows``.
``model``
    ``name`` (``tavrnn`` or ``vgrnn``), ``preset`` (``faithful`` | ``improved``), the arguments of
    :class:`nwb_tavrnn.models.TAVRNN` (``epochs``, ``patience``, ``seed``, ``h_dim``, ``z_dim``,
    ``lr``, ``attention``, ``device``, ...), checkpoints (``checkpoint_dir``, ``checkpoint_every``)
    and ``name_prefix``.
``evaluation``
    ``labels`` (a label spec such as ``epochs:state`` or ``trials:hit:top_bottom=3``; evaluation runs
    only when it is set), ``report_dir`` (default: ``<OUTPUT stem>_report`` beside the output) and the
    fields of :class:`nwb_tavrnn.evaluation.report.EvaluationConfig` (``split``, ``purge_gap``,
    ``classifier``, ``null``, ``n_permutations``, ``baselines``, ``time_shuffle``, ``n_jobs``,
    ``figures``, ...).

This module is light: it imports no step; :meth:`PipelineConfig.resolve` builds the step objects
(and so checks the values) before any work starts.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputFileError, NwbTavrnnError, require

log = logging.getLogger(__name__)


class ConfigError(InputFileError):
    """A configuration file or override is unreadable, or names an unknown key or a bad value."""


#: Keys of each section (the source of truth for validation; tests check them against the steps).
SORTING_KEYS: dict[str, str] = {
    "method": "'sort' (spike sorting) or 'hdmea' (per-electrode threshold crossings, no sorting)",
    "format": "reader for non-NWB recordings (biocam, maxwell, spikeglx, openephys, intan, binary...)",
    "reader_options": "other reader arguments (mapping)",
    "electrical_series": "NWB input: path of the ElectricalSeries (default: the first)",
    "segment_index": "multi-segment recordings: the segment to use",
    "n_jobs": "parallel workers of the sorting step",
    "chunk_duration": "chunk length of the sorting step, e.g. '1s'",
    "work_folder": "where sorter files go (default: system temp)",
    "preprocessing": "bandpass, common_reference, bad_channels, ... (mapping)",
}
#: SortingParams fields (``method: sort``).
SORT_FIELDS = ("sorter", "sorter_params", "ms_before", "ms_after", "max_spikes_per_unit", "waveform_channels",
               "metrics", "curation", "curation_action", "seed")
#: DetectionParams fields (``method: hdmea``).
DETECT_FIELDS = ("detect_threshold", "peak_sign", "exclude_sweep_ms")

#: ConnectivityParams fields (``preset_name`` is set from ``preset``).
CONNECTIVITY_FIELDS = ("bin_size", "binary", "window", "step", "absolute", "threshold_mode", "threshold", "top_k",
                       "density", "mp_null", "n_surrogates", "mp_band", "mp_sides", "mp_edge_tol", "seed")
#: The connectivity keys that say which nodes a graph has (NodeOptions fields).
NODE_KEYS = ("nodes", "series", "rois", "signal", "event_threshold", "baseline_window", "neuropil")
CONNECTIVITY_KEYS: dict[str, str] = {
    "preset": "default | dishbrain | hippocampus | ophys (other keys override it; default: ophys for ROI traces, "
              "default for spike trains)",
    "nodes": "auto | units | rois: spike trains or ROI traces (auto: the units when the file has any)",
    "series": "ROIs: the RoiResponseSeries, e.g. Fluorescence/RoiResponseSeries (default: the only plane's raw "
              "fluorescence)",
    "rois": "ROIs: accepted (the segmentation's accepted cells, where it says) or all",
    "signal": "ROIs: raw (as stored), dff (dF/F on suite2p's maximin baseline) or events (0/1)",
    "event_threshold": "ROIs, events: noise levels above the baseline (2.5)",
    "baseline_window": "ROIs, dff/events: seconds of the baseline filters (60)",
    "neuropil": "ROIs: k of the neuropil correction F - k*Fneu with the plane's Neuropil series (0: none; "
                "suite2p uses 0.7)",
    "windows_from": "TABLE or TABLE:COLUMN: one window per interval, or per run of equal labels",
    "restrict_to": "TABLE or TABLE:COLUMN=VALUE: slide windows only inside these intervals",
    "groups": "keep nodes of these electrode groups (list)",
    "locations": "keep nodes at these locations (list)",
    "time_range": "[start, stop] seconds of the recording to use",
    "name": "name of the DynamicConnectivity written",
    "store_correlation": "also store the unthresholded correlation (the model's features need it)",
    "chunk_windows": "windows computed per chunk (memory)",
}

#: TAVRNN.__init__ arguments.
MODEL_FIELDS = ("h_dim", "z_dim", "epochs", "lr", "seed", "device", "features", "attention", "edge_weights",
                "decoder", "negative_ratio", "clip_grad_norm", "patience", "min_delta", "embeddings", "gcn_norm",
                "history_in_loss", "encoder_bias", "recurrence_trainable", "attention_memory", "kl_scale",
                "loss_reduction", "training_z")
MODEL_KEYS: dict[str, str] = {
    "name": "tavrnn (default) or vgrnn (no attention)",
    "preset": "faithful | improved (other keys override it)",
    "checkpoint_dir": "write checkpoints here every checkpoint_every epochs",
    "checkpoint_every": "epochs between checkpoints",
    "resume": "continue from the checkpoint in checkpoint_dir",
    "name_prefix": "prefix of the names of the objects written",
}

#: EvaluationConfig fields.
EVALUATION_FIELDS = ("split", "n_splits", "purge_gap", "classifier", "null", "n_permutations", "alpha", "seeds",
                     "baselines", "time_shuffle", "time_shuffle_repeats", "time_shuffle_mode", "n_jobs",
                     "feature_mode", "pca", "min_purity", "baseline_epochs", "n_boot", "alignment_exclude",
                     "figures", "seed")
EVALUATION_KEYS: dict[str, str] = {
    "labels": "label spec, e.g. 'epochs:state' or 'trials:hit:top_bottom=3'; no labels, no evaluation",
    "report_dir": "folder of the scores (CSV/JSON) and figures (default: <OUTPUT stem>_report)",
}

#: TrialOptions fields (how trials are read) of the ``nnpoisson`` section.
NNPOISSON_TRIAL_FIELDS = ("stimulus", "choice", "rt", "response_time", "trials", "onset", "rt_reference", "regions",
                          "keep_regions", "window", "no_response", "late", "invalid")
#: NNPoisson.__init__ arguments.
NNPOISSON_MODEL_FIELDS = ("stimulus_sizes", "time_size", "neural_size", "behaviour_size", "rt_layer", "readout",
                          "components", "warp",
                          "compensator", "behaviour_likelihood", "neural_weight", "behaviour_weight", "objective",
                          "standardize", "count_scale", "epochs", "lr", "n_batches", "validation_fraction", "patience",
                          "min_delta", "clip_grad_norm", "seed", "device", "threads")
NNPOISSON_KEYS: dict[str, str] = {
    "preset": "corrected (default) | faithful (other keys override it)",
    "test_fraction": "share of trials held out (0.2)",
    "baselines": "also fit the PSTH and GLM baselines (true)",
    "compare_objectives": "also fit a behaviour-only model (false; the neural-only fit is always made)",
    "name_prefix": "prefix of the names of the objects written",
}

#: SegmentOptions fields (which regions and segments) of the ``seq2seq`` section.
SEQ2SEQ_SEGMENT_FIELDS = ("source", "target", "bin_size", "trials", "event", "window", "segment_duration", "labels",
                          "exclude_labels")
#: Seq2seq.__init__ arguments.
SEQ2SEQ_MODEL_FIELDS = ("latent_dim", "hidden", "lag", "bidirectional", "epochs", "lr", "batch_size",
                        "validation_fraction", "patience", "min_delta", "clip_grad_norm", "seed", "device", "threads")
SEQ2SEQ_KEYS: dict[str, str] = {
    "test_fraction": "share of segments held out for the target's prediction (0.2)",
    "n_splits": "blocked folds of the behaviour decoding (5)",
    "chunks": "stretches per segment whose mean latents / rates the decoders read (5)",
    "latent_features": "what the decoders read of the latents: means, covariances, dynamics, spectrum (means, dynamics)",
    "null": "label null of every decoder: circular_shift (default), block_permutation or iid",
    "n_permutations": "labellings of the label null (100; 0 = no test)",
    "n_jobs": "threads refitting the label null's labellings (default: one per core)",
    "name_prefix": "prefix of the names of the objects written",
}

#: Options of the importers that turn a dataset-specific layout (a suite2p folder, a CaImAn HDF5
#: file, the linear-track folder) into NWB before the steps run.
IMPORTER_KEYS: dict[str, str] = {
    "rate": "suite2p / CaImAn: imaging frame rate in Hz (suite2p without ops.npy needs it; CaImAn's stored "
            "rate is often its default 30)",
    "plane": "suite2p: the plane folder to read (default: every plane)",
    "segments": "linear-track: track segments of the stays table (3)",
}

SECTIONS: dict[str, tuple[str, ...]] = {
    "importer": tuple(IMPORTER_KEYS),
    "sorting": (*SORTING_KEYS, *SORT_FIELDS, *DETECT_FIELDS),
    "connectivity": (*CONNECTIVITY_KEYS, *CONNECTIVITY_FIELDS),
    "model": (*MODEL_KEYS, *MODEL_FIELDS),
    "evaluation": (*EVALUATION_KEYS, *EVALUATION_FIELDS),
    "nnpoisson": (*NNPOISSON_KEYS, *NNPOISSON_TRIAL_FIELDS, *NNPOISSON_MODEL_FIELDS),
    "seq2seq": (*SEQ2SEQ_KEYS, *SEQ2SEQ_SEGMENT_FIELDS, *SEQ2SEQ_MODEL_FIELDS),
}


@dataclass
class NNPoissonStep:
    """The ``nnpoisson`` section resolved: how to read trials, the estimator and the evaluation."""

    options: Any
    preset: str
    model: dict[str, Any]
    test_fraction: float = 0.2
    baselines: bool = True
    compare_objectives: bool = False
    name_prefix: str = ""

    def make_model(self) -> Any:
        from .models.nnpoisson.step import make_estimator

        return make_estimator(self.preset, **self.model)


@dataclass
class Seq2seqStep:
    """The ``seq2seq`` section resolved: regions and segments, the estimator, the evaluation."""

    options: Any
    model: dict[str, Any]
    test_fraction: float = 0.2
    decoding: Any = None
    name_prefix: str = ""

    def make_model(self) -> Any:
        from .models.seq2seq.step import make_estimator

        return make_estimator(drop_none=False, **self.model)


@dataclass
class ResolvedConfig:
    """The step objects a configuration stands for (built, hence checked, before any work)."""

    sorting_method: str
    sorting_params: Any
    sorting_options: dict[str, Any]
    job: Any
    connectivity_params: Any
    connectivity_options: dict[str, Any]
    model_factory: Any
    model_options: dict[str, Any]
    labels: str | None
    report_dir: str | None
    evaluation: Any | None
    nnpoisson: Any | None = None
    seq2seq: Any | None = None
    #: The parameters for ROI traces (the ``ophys`` preset unless one was named) and which nodes.
    connectivity_params_rois: Any | None = None
    nodes: Any | None = None
    importer_options: dict[str, Any] = field(default_factory=dict)

    def importer_options_for(self, kind: str) -> dict[str, Any]:
        """The importer options for the layout ``kind``; one it does not take is refused."""
        from .importers import IMPORTERS

        accepted = IMPORTERS[kind].options
        other = sorted(set(self.importer_options) - set(accepted))
        if other:
            raise ConfigError(f"importer: {', '.join(other)} do(es) not apply to {kind} input; its options: "
                              f"{', '.join(accepted) or 'none'}")
        return dict(self.importer_options)

    def connectivity_params_for(self, rois: bool) -> Any:
        """The connectivity parameters for spike trains or (``rois``) ROI traces."""
        return self.connectivity_params_rois if rois and self.connectivity_params_rois is not None \
            else self.connectivity_params

    def make_model(self) -> Any:
        """A fresh, unfitted estimator (one per run: a fitted model is not reusable across files)."""
        return self.model_factory()


@dataclass
class PipelineConfig:
    """The four sections of a pipeline configuration, as plain, validated mappings.

    Build it with :meth:`from_mapping` or :func:`load_config`; override values with
    :meth:`with_overrides`; turn it into step objects with :meth:`resolve`. Plain mappings make it
    easy to pickle (batch workers), to print and to store beside the results.
    """

    importer: dict[str, Any] = field(default_factory=dict)
    sorting: dict[str, Any] = field(default_factory=dict)
    connectivity: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    nnpoisson: dict[str, Any] = field(default_factory=dict)
    seq2seq: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, where: str = "configuration") -> PipelineConfig:
        """Check the sections and keys of ``values`` (a parsed YAML/TOML document).

        Raises
        ------
        ConfigError
            On an unknown section or key, or a section that is not a mapping.
        """
        values = {} if values is None else values
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where}: expected sections ({', '.join(SECTIONS)}), got a {type(values).__name__}")
        unknown = [k for k in values if k not in SECTIONS]
        if unknown:
            raise ConfigError(f"{where}: unknown section {unknown[0]!r}; sections are: {', '.join(SECTIONS)}")
        sections = {}
        for name, allowed in SECTIONS.items():
            section = values.get(name) or {}
            if not isinstance(section, Mapping):
                raise ConfigError(f"{where}: section {name!r} must be a mapping of keys to values")
            for key in section:
                if key not in allowed:
                    raise ConfigError(f"{where}: unknown key {key!r} in section {name!r}{_suggest(key, allowed)}; "
                                      f"allowed: {', '.join(allowed)}")
            sections[name] = copy.deepcopy(dict(section))
        return cls(**sections)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The non-empty sections (what a config file with these values would hold)."""
        return {name: dict(getattr(self, name)) for name in SECTIONS if getattr(self, name)}

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]] | None,
                       where: str = "command-line options") -> PipelineConfig:
        """A copy with ``overrides`` (section -> key -> value) taking precedence over these values."""
        checked = PipelineConfig.from_mapping(overrides or {}, where)
        merged = {name: {**getattr(self, name), **getattr(checked, name)} for name in SECTIONS}
        return PipelineConfig(**merged)

    # -- building the steps -----------------------------------------------------------------------
    def resolve(self) -> ResolvedConfig:
        """Build every step's parameter object, so a bad value fails before any work.

        Raises
        ------
        ConfigError
            Naming the section, and the step's own message.
        """
        sort_method, sort_params, sort_options, job = self._sorting()
        conn_params, conn_options, conn_params_rois, nodes = self._connectivity()
        factory, model_options = self._model()
        labels, report_dir, evaluation = self._evaluation()
        return ResolvedConfig(sort_method, sort_params, sort_options, job, conn_params, conn_options, factory,
                              model_options, labels, report_dir, evaluation, self._nnpoisson(), self._seq2seq(),
                              conn_params_rois, nodes, self._importer())

    def _importer(self) -> dict[str, Any]:
        options = dict(self.importer)
        try:
            if options.get("rate") is not None:
                options["rate"] = float(options["rate"])
                require(options["rate"] > 0 and options["rate"] < float("inf"),
                        f"rate must be a positive frame rate in Hz, got {options['rate']}")
            if options.get("segments") is not None:
                options["segments"] = int(options["segments"])
                require(options["segments"] >= 2, f"segments must be >= 2, got {options['segments']}")
        except (ValueError, TypeError) as err:
            raise ConfigError(f"importer: {err}") from None
        return {k: v for k, v in options.items() if v is not None}

    def _sorting(self):
        from .sorting import DetectionParams, JobParams, SortingParams

        s = dict(self.sorting)
        method = s.pop("method", "sort")
        if method not in ("sort", "hdmea"):
            raise ConfigError(f"sorting.method must be 'sort' or 'hdmea', got {method!r}")
        wrong = [k for k in (DETECT_FIELDS if method == "sort" else SORT_FIELDS) if k in s]
        if wrong:
            other = "hdmea" if method == "sort" else "sort"
            raise ConfigError(f"sorting.{wrong[0]} applies only with sorting.method: {other}")
        options = {k: s.pop(k) for k in ("format", "reader_options", "electrical_series", "segment_index",
                                          "work_folder") if k in s}
        from .sorting.params import check_reader_options

        try:
            check_reader_options(dict(options.get("reader_options") or {}))
        except ValueError as err:
            raise ConfigError(f"sorting: {err}") from None
        job_values = {k: s.pop(k) for k in ("n_jobs", "chunk_duration") if k in s}
        try:
            job = JobParams.from_dict(job_values)
            params = (SortingParams if method == "sort" else DetectionParams).from_dict(s)
        except (ValueError, TypeError) as err:
            raise ConfigError(f"sorting: {err}") from None
        return method, params, options, job

    def _connectivity(self):
        from .connectivity import ConnectivityParams

        from .connectivity.nodes import NodeOptions

        c = dict(self.connectivity)
        preset = c.pop("preset", None)
        options = {k: c.pop(k) for k in CONNECTIVITY_KEYS if k in c}
        try:
            nodes = NodeOptions.from_mapping({k: options.pop(k) for k in NODE_KEYS if k in options})
        except (ValueError, TypeError, InputFileError) as err:
            raise ConfigError(f"connectivity: {err}") from None
        if options.get("time_range") is not None:
            time_range = options["time_range"]
            if not isinstance(time_range, (list, tuple)) or len(time_range) != 2:
                raise ConfigError(f"connectivity.time_range must be [start, stop], got {time_range!r}")
            options["time_range"] = (float(time_range[0]), float(time_range[1]))
            if not options["time_range"][1] > options["time_range"][0]:
                raise ConfigError(f"connectivity.time_range: stop must be after start, got {list(time_range)}")
        for key in ("groups", "locations"):
            if isinstance(options.get(key), str):  # one name given without a list
                options[key] = [options[key]]
        try:
            params = ConnectivityParams.preset(preset or "default", **c)
            params_rois = ConnectivityParams.preset(preset or "ophys", **c)
        except (ValueError, TypeError) as err:
            raise ConfigError(f"connectivity: {err}") from None
        return params, options, params_rois, nodes

    def _model(self):
        m = dict(self.model)
        name = m.pop("name", "tavrnn")
        preset = m.pop("preset", None)
        options = {k: m.pop(k) for k in MODEL_KEYS if k in m and k not in ("name", "preset")}
        try:
            from .models import get_model

            cls = get_model(str(name))
        except KeyError as err:
            raise ConfigError(f"model.name: {err.args[0]}") from None
        except ImportError as err:
            raise ConfigError(f"the model needs the 'model' extra (pip install 'nwb-tavrnn[model]'): {err}") from None

        def factory():
            estimator = cls.preset(preset, **m) if preset else cls(**m)
            estimator.check_params()
            return estimator

        try:
            factory()  # fail now, not after the graphs were computed
        except (ValueError, TypeError) as err:
            raise ConfigError(f"model: {err}") from None
        return factory, options

    def _nnpoisson(self):
        """The NNPoisson step (:class:`NNPoissonStep`), or None when the section is empty."""
        if not self.nnpoisson:
            return None
        n = dict(self.nnpoisson)
        try:
            from .models.nnpoisson.step import make_estimator
            from .models.nnpoisson.step import TrialOptions
        except ImportError as err:
            raise ConfigError(f"nnpoisson needs the 'model' extra (pip install 'nwb-tavrnn[model]'): {err}") from None
        trial = {k: n.pop(k) for k in NNPOISSON_TRIAL_FIELDS if k in n}
        options = {k: n.pop(k) for k in NNPOISSON_KEYS if k in n}
        preset = options.pop("preset", "corrected")
        try:
            trial_options = TrialOptions(**trial).validate()
            model = dict(n)
            make_estimator(preset, **model)  # fail now, not after the other steps
            step = NNPoissonStep(trial_options, preset, model, float(options.get("test_fraction", 0.2)),
                                 bool(options.get("baselines", True)), bool(options.get("compare_objectives", False)),
                                 str(options.get("name_prefix", "")))
            require(0 < step.test_fraction < 1, f"test_fraction must be in (0, 1), got {step.test_fraction}")
        except (ValueError, TypeError, NwbTavrnnError) as err:
            raise ConfigError(f"nnpoisson: {err}") from None
        return step

    def _seq2seq(self):
        """The Seq2seq step (:class:`Seq2seqStep`), or None when the section is empty."""
        if not self.seq2seq:
            return None
        n = dict(self.seq2seq)
        try:
            from .models.seq2seq.step import make_estimator
            from .models.seq2seq.step import DecodingOptions, SegmentOptions
        except ImportError as err:
            raise ConfigError(f"seq2seq needs the 'model' extra (pip install 'nwb-tavrnn[model]'): {err}") from None
        segment = {k: n.pop(k) for k in SEQ2SEQ_SEGMENT_FIELDS if k in n}
        options = {k: n.pop(k) for k in SEQ2SEQ_KEYS if k in n}
        try:
            if "window" in segment:
                segment["window"] = tuple(segment["window"])
            segment_options = SegmentOptions(**segment).validate()
            make_estimator(drop_none=False, **n).lag_bins(segment_options.bin_size)
            decoding = DecodingOptions(**{k: options[k] for k in ("n_splits", "chunks", "latent_features", "null",
                                                                    "n_permutations", "n_jobs") if k in options}).validate()
            step = Seq2seqStep(segment_options, dict(n), float(options.get("test_fraction", 0.2)), decoding,
                               str(options.get("name_prefix", "")))
            require(0 < step.test_fraction < 1, f"test_fraction must be in (0, 1), got {step.test_fraction}")
        except (ValueError, TypeError, NwbTavrnnError) as err:
            raise ConfigError(f"seq2seq: {err}") from None
        return step

    def _evaluation(self):
        e = dict(self.evaluation)
        labels = e.pop("labels", None)
        report_dir = e.pop("report_dir", None)
        if labels is not None and not isinstance(labels, str):
            raise ConfigError(f"evaluation.labels must be a spec string such as 'epochs:state', got {labels!r}")
        try:
            from .evaluation.report import EvaluationConfig
        except ImportError as err:
            if not labels:
                return None, report_dir, None
            raise ConfigError(f"evaluation needs the 'evaluation' extra "
                              f"(pip install 'nwb-tavrnn[evaluation]'): {err}") from None
        for key in ("baselines", "alignment_exclude"):
            if isinstance(e.get(key), str):
                e[key] = [e[key]]
        try:
            evaluation = EvaluationConfig(**e)  # checked even when unused: nonsense is refused either way
        except (ValueError, TypeError, NwbTavrnnError) as err:  # EvaluationConfig raises NwbTavrnnError
            raise ConfigError(f"evaluation: {err}") from None
        if not labels and e:
            log.info("no evaluation.labels: evaluation settings %s are unused", sorted(e))
        return labels or None, report_dir, evaluation


def _suggest(key: str, allowed) -> str:
    import difflib

    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file into a mapping.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable, of another type, or not valid YAML/TOML.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the configuration file ({err})") from None
    if suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML ({err})") from None
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as err:
            where = getattr(err, "problem_mark", None)
            at = f" at line {where.line + 1}" if where is not None else ""
            raise ConfigError(f"{path}: not valid YAML{at} ({getattr(err, 'problem', None) or err})") from None
        return {} if values is None else values
    raise ConfigError(f"{path}: unknown configuration format {suffix or '(no suffix)'!r}; use .yaml, .yml or .toml")


def load_config(path: str | os.PathLike | None = None,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> PipelineConfig:
    """The configuration in ``path`` (YAML or TOML; none: all defaults), with ``overrides`` on top.

    Raises
    ------
    ConfigError
        If the file cannot be read or names an unknown section or key.
    """
    config = PipelineConfig() if path is None else PipelineConfig.from_mapping(read_config_file(path), str(path))
    return config.with_overrides(overrides)


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """``SECTION.KEY=VALUE`` (VALUE read as YAML, so ``60``, ``true``, ``[a, b]`` and ``null`` work)."""
    import yaml

    target, sep, raw = text.partition("=")
    section, dot, key = target.strip().partition(".")
    if not sep or not dot or not key:
        raise ConfigError(f"--set {text!r}: expected SECTION.KEY=VALUE, e.g. connectivity.window=60")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return section, key, value


def demo_config() -> PipelineConfig:
    """What ``nwb-tavrnn demo`` runs: the paper's DishBrain recipe on the simulated culture, with
    60 s windows that do not overlap.

    The paper's 120 s windows every 60 s straddle the simulator's 2-min regime blocks every other
    window (a third of them then carry no clear label) and share spikes with their neighbours, so a
    test window is half made of training data. Non-overlapping 60 s windows give every window one
    regime and no shared spikes. The model and evaluation are trimmed (fewer epochs, seeds,
    permutations; the cheap baselines and a short time-shuffle refit) so the whole demo runs in a
    few minutes on two CPU cores; a full evaluation is ``nwb-tavrnn run`` with the defaults.
    """
    return PipelineConfig(
        connectivity={"preset": "dishbrain", "window": 60.0, "step": 60.0},
        model={"epochs": 150, "patience": 30, "seed": 0},
        evaluation={"labels": "epochs:state", "seeds": 5, "n_permutations": 50,
                    "baselines": ["raw_correlation", "population_rates"], "time_shuffle": True,
                    "time_shuffle_repeats": 2, "baseline_epochs": 40},
    )


def effective_config(config: PipelineConfig) -> dict[str, dict[str, Any]]:
    """Every setting in effect, defaults included: what each step would run with (a valid config
    file: feeding it back gives the same run).

    Raises
    ------
    ConfigError
        As :meth:`PipelineConfig.resolve`.
    """
    import dataclasses

    resolved = config.resolve()

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value.item() if hasattr(value, "item") else value

    sorting = {"method": resolved.sorting_method, **resolved.sorting_params.to_dict(),
               **{k: v for k, v in dataclasses.asdict(resolved.job).items() if k in ("n_jobs", "chunk_duration")},
               **resolved.sorting_options}
    from .connectivity.compute import MODE_FIELDS

    params = resolved.connectivity_params.to_dict()
    params = {k: v for k, v in params.items()  # another threshold mode's settings do not apply (and are refused)
              if k not in MODE_FIELDS or params["threshold_mode"] in MODE_FIELDS[k]}
    connectivity = {"preset": params.pop("preset_name") or "default", **params, **resolved.connectivity_options}
    estimator = resolved.make_model()
    model = {"name": estimator.model_name,
             **{k: v for k, v in estimator.get_params().items() if k != "warm_start"}, **resolved.model_options}
    evaluation: dict[str, Any] = {"labels": resolved.labels, "report_dir": resolved.report_dir}
    try:
        from .evaluation.report import EvaluationConfig

        evaluation.update(dataclasses.asdict(resolved.evaluation or EvaluationConfig()))
    except ImportError:  # without the evaluation extra: what the file gave
        evaluation.update(config.evaluation)
    out = {"sorting": sorting, "connectivity": connectivity, "model": model, "evaluation": evaluation}
    if resolved.importer_options:
        out = {"importer": dict(resolved.importer_options), **out}
    if resolved.nnpoisson is not None:
        step = resolved.nnpoisson
        out["nnpoisson"] = {**dataclasses.asdict(step.options), "preset": step.preset,
                            "test_fraction": step.test_fraction, "baselines": step.baselines,
                            "compare_objectives": step.compare_objectives, "name_prefix": step.name_prefix,
                            **step.make_model().get_params()}
    if resolved.seq2seq is not None:
        step = resolved.seq2seq
        out["seq2seq"] = {**dataclasses.asdict(step.options), "test_fraction": step.test_fraction,
                          **dataclasses.asdict(step.decoding), "name_prefix": step.name_prefix,
                          **step.make_model().get_params()}
    return plain(out)


def dump_config(config: PipelineConfig, full: bool = True) -> str:
    """The configuration as YAML text (what ``--show-config`` prints): every setting in effect
    (:func:`effective_config`), or with ``full=False`` only what was set."""
    import yaml

    values = effective_config(config) if full else config.to_dict()
    return yaml.safe_dump(values, sort_keys=False, default_flow_style=False)


__all__ = [
    "SECTIONS",
    "ConfigError",
    "PipelineConfig",
    "ResolvedConfig",
    "demo_config",
    "dump_config",
    "load_config",
    "parse_assignment",
    "read_config_file",
]
