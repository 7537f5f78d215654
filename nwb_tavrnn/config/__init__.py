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

Loading a file imports the registered steps' declarations (light: no torch);
:meth:`PipelineConfig.resolve` builds the step objects (and so checks the values) before any work
starts.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputFileError, NwbTavrnnError
from ..params import check, names, suggest
from .files import ConfigError, parse_assignment, read_config_file, section_error
from .sections import (
    CORE_SECTIONS,
    ConnectivitySection,
    EvaluationSection,
    ImporterOptions,
    ModelSection,
    SortingSection,
    options_reference,
    section_keys,
    sections,
)
from .sections import _dataclass_names

log = logging.getLogger(__name__)


def _check_section(name: str, values: Mapping[str, Any], where: str) -> None:
    """Refuse an unknown key of section ``name``, naming the closest valid one. A section that
    gives only its own keys is checked without importing its step (nor torch)."""
    if name in CORE_SECTIONS:
        own = names(CORE_SECTIONS[name])
    else:
        from ..steps import get_step

        own = names(get_step(name).Params)
    try:
        allowed = own if all(k in own for k in values) else section_keys(name)
    except KeyError as err:  # a step naming a model that is not registered
        raise ConfigError(f"{where}: section {name!r}: {err.args[0]}") from None
    for key in values:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} in section {name!r}{suggest(key, allowed)}; "
                              f"allowed: {', '.join(allowed)}")


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
    #: The registered steps the configuration asks for (:class:`nwb_tavrnn.steps.Step`), in order.
    steps: list[Any] = field(default_factory=list)
    #: The parameters for ROI traces (the ``ophys`` preset unless one was named) and which nodes.
    connectivity_params_rois: Any | None = None
    nodes: Any | None = None
    importer_options: dict[str, Any] = field(default_factory=dict)

    def importer_options_for(self, kind: str) -> dict[str, Any]:
        """The importer options for the layout ``kind``; one it does not take is refused."""
        from ..importers import IMPORTERS

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
    #: Sections of the registered steps (:mod:`nwb_tavrnn.steps`), by name.
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        """The values of section ``name`` (a core section or a registered step's)."""
        return getattr(self, name) if name in CORE_SECTIONS else self.steps.get(name, {})

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, where: str = "configuration") -> PipelineConfig:
        """Check the sections and keys of ``values`` (a parsed YAML/TOML document).

        Raises
        ------
        ConfigError
            On an unknown section or key, or a section that is not a mapping.
        """
        values = {} if values is None else values
        known = sections()
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where}: expected sections ({', '.join(known)}), got a {type(values).__name__}")
        unknown = [k for k in values if k not in known]
        if unknown:
            raise ConfigError(f"{where}: unknown section {unknown[0]!r}; sections are: {', '.join(known)}")
        core, steps = {}, {}
        for name in known:
            section = values.get(name) or {}
            if not isinstance(section, Mapping):
                raise ConfigError(f"{where}: section {name!r} must be a mapping of keys to values")
            _check_section(name, section, where)
            (core if name in CORE_SECTIONS else steps)[name] = copy.deepcopy(dict(section))
        return cls(**core, steps={k: v for k, v in steps.items() if v})

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The non-empty sections (what a config file with these values would hold)."""
        return {name: dict(self.section(name)) for name in sections() if self.section(name)}

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]] | None,
                       where: str = "command-line options") -> PipelineConfig:
        """A copy with ``overrides`` (section -> key -> value) taking precedence over these values."""
        checked = PipelineConfig.from_mapping(overrides or {}, where)
        merged = {name: {**self.section(name), **checked.section(name)} for name in sections()}
        return PipelineConfig.from_mapping(merged, where)

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
                              model_options, labels, report_dir, evaluation, self._steps(),
                              conn_params_rois, nodes, self._importer())

    def _importer(self) -> dict[str, Any]:
        options = dict(self.importer)
        try:
            if options.get("rate") is not None:
                options["rate"] = float(options["rate"])
            if options.get("segments") is not None:
                options["segments"] = int(options["segments"])
            check(ImporterOptions(**options))
        except (ValueError, TypeError) as err:
            raise section_error("importer", err) from None
        return {k: v for k, v in options.items() if v is not None}

    def _sorting(self):
        from ..sorting import DetectionParams, JobParams, SortingParams

        s = dict(self.sorting)
        method = s.pop("method", "sort")
        if method not in ("sort", "hdmea"):
            raise ConfigError(f"sorting.method must be 'sort' or 'hdmea', got {method!r}")
        sort_only, detect_only = (set(_dataclass_names(a)) - set(_dataclass_names(b))
                                  for a, b in ((SortingParams, DetectionParams), (DetectionParams, SortingParams)))
        wrong = [k for k in s if k in (detect_only if method == "sort" else sort_only)]
        if wrong:
            other = "hdmea" if method == "sort" else "sort"
            raise ConfigError(f"sorting.{wrong[0]} applies only with sorting.method: {other}")
        options = {k: s.pop(k) for k in ("format", "reader_options", "electrical_series", "segment_index",
                                          "work_folder") if k in s}
        from ..sorting.params import check_reader_options

        try:
            check_reader_options(dict(options.get("reader_options") or {}))
        except ValueError as err:
            raise section_error("sorting", err) from None
        job_values = {k: s.pop(k) for k in ("n_jobs", "chunk_duration") if k in s}
        try:
            job = JobParams.from_dict(job_values)
            params = (SortingParams if method == "sort" else DetectionParams).from_dict(s)
        except (ValueError, TypeError) as err:
            raise section_error("sorting", err) from None
        return method, params, options, job

    def _connectivity(self):
        from ..connectivity import ConnectivityParams
        from ..connectivity.nodes import NodeOptions
        from ..connectivity.step import ConnectivityOptions

        c = dict(self.connectivity)
        preset = c.pop("preset", None)
        try:
            nodes = NodeOptions.from_mapping({k: c.pop(k) for k in names(NodeOptions) if k in c})
            given = {k: c.pop(k) for k in names(ConnectivityOptions) if k in c}
            checked = ConnectivityOptions(**given)  # the options given, checked (and a lone group made a list)
            options = {k: getattr(checked, k) for k in given}
            params = ConnectivityParams.preset(preset or "default", **c)
            params_rois = ConnectivityParams.preset(preset or "ophys", **c)
        except (ValueError, TypeError, InputFileError) as err:
            raise section_error("connectivity", err) from None
        return params, options, params_rois, nodes

    def _model(self):
        m = dict(self.model)
        name = m.pop("name", "tavrnn")
        preset = m.pop("preset", None)
        options = {k: m.pop(k) for k in names(ModelSection) if k in m}
        try:
            from ..models import get_model

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
            check(ModelSection(name=name, preset=preset, **options))
            factory()  # fail now, not after the graphs were computed
        except (ValueError, TypeError) as err:
            raise section_error("model", err) from None
        return factory, options

    def _steps(self) -> list[Any]:
        """The registered steps the configuration has a section for, built (hence checked)."""
        from ..steps import load_steps

        out = []
        for name, step in load_steps().items():
            if not self.steps.get(name):
                continue
            try:
                out.append(step.from_mapping(self.steps[name]))
            except ImportError as err:
                raise ConfigError(f"{name} needs the 'model' extra (pip install 'nwb-tavrnn[model]'): {err}") from None
            except (ValueError, TypeError, NwbTavrnnError) as err:
                raise section_error(name, err) from None
        return out

    def _evaluation(self):
        e = dict(self.evaluation)
        labels = e.pop("labels", None)
        report_dir = e.pop("report_dir", None)
        if labels is not None and not isinstance(labels, str):
            raise ConfigError(f"evaluation.labels must be a spec string such as 'epochs:state', got {labels!r}")
        try:
            from ..evaluation.settings import EvaluationConfig
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
            raise section_error("evaluation", err) from None
        if not labels and e:
            log.info("no evaluation.labels: evaluation settings %s are unused", sorted(e))
        return labels or None, report_dir, evaluation


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
    from ..connectivity.compute import MODE_FIELDS

    params = resolved.connectivity_params.to_dict()
    params = {k: v for k, v in params.items()  # another threshold mode's settings do not apply (and are refused)
              if k not in MODE_FIELDS or params["threshold_mode"] in MODE_FIELDS[k]}
    connectivity = {"preset": params.pop("preset_name") or "default", **params, **resolved.connectivity_options}
    estimator = resolved.make_model()
    model = {"name": estimator.model_name,
             **{k: v for k, v in estimator.get_params().items() if k != "warm_start"}, **resolved.model_options}
    evaluation: dict[str, Any] = {"labels": resolved.labels, "report_dir": resolved.report_dir}
    try:
        from ..evaluation.settings import EvaluationConfig

        evaluation.update(dataclasses.asdict(resolved.evaluation or EvaluationConfig()))
    except ImportError:  # without the evaluation extra: what the file gave
        evaluation.update(config.evaluation)
    out = {"sorting": sorting, "connectivity": connectivity, "model": model, "evaluation": evaluation}
    if resolved.importer_options:
        out = {"importer": dict(resolved.importer_options), **out}
    for step in resolved.steps:
        out[step.name] = step.settings()
    return plain(out)


def dump_config(config: PipelineConfig, full: bool = True) -> str:
    """The configuration as YAML text (what ``--show-config`` prints): every setting in effect
    (:func:`effective_config`), or with ``full=False`` only what was set."""
    import yaml

    values = effective_config(config) if full else config.to_dict()
    return yaml.safe_dump(values, sort_keys=False, default_flow_style=False)


__all__ = [
    "CORE_SECTIONS",
    "ConfigError",
    "ConnectivitySection",
    "EvaluationSection",
    "ImporterOptions",
    "ModelSection",
    "PipelineConfig",
    "ResolvedConfig",
    "SortingSection",
    "demo_config",
    "dump_config",
    "effective_config",
    "load_config",
    "options_reference",
    "parse_assignment",
    "read_config_file",
    "section_keys",
    "sections",
]
