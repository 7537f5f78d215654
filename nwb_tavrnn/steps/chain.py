"""The core chain of ``run`` as steps: import → sorting → connectivity → model → evaluation.

Each is a :class:`~nwb_tavrnn.steps.Step` that runs inside a whole run (:meth:`Step.run_in`): it
reads what the run context (:class:`RunContext`) holds — the input, the open reader, the work file,
the resolved settings, the results of the steps before it — and adds its results to the work file.
:data:`CHAIN` lists them in order; :func:`plan` gives the steps a run will take (the chain, then the
registered steps the configuration has a section for), which ``run`` loops over.

Their settings are the configuration's core sections (:mod:`nwb_tavrnn.config`), resolved there
(presets, node options, the estimator); the steps here only run them.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import InputFileError, NwbTavrnnError, in_section
from .base import Progress, Step

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    """What the steps of one run share.

    Attributes
    ----------
    source
        The input as the next step reads it: the user's file or URL, or the NWB file an importer
        wrote (the import step replaces it).
    label
        The input as the user gave it (what derived files name as their source).
    work
        The run's work file, which every step adds its results to.
    workdir
        The run's temporary folder (the work file, the import's output and ``report/``).
    resolved
        The resolved configuration (:class:`~nwb_tavrnn.config.ResolvedConfig`).
    imported
        The importer's layout name, or None for an NWB input or raw voltage.
    sort_first
        The input is raw voltage: the sorting step writes the units into the work file.
    in_place
        The results go into the (local NWB) input itself.
    reader
        The input opened once (None when a step must open it itself): the checks and the
        connectivity step read it; :meth:`release_input` closes it.
    results
        Each finished step's result, by step name, in memory.
    progress_of
        ``progress_of(step_name)``: the progress callback of that step's share of the bar.
    """

    source: Any
    label: str
    work: Path | None
    workdir: Path | None
    resolved: Any
    imported: str | None = None
    sort_first: bool = False
    in_place: bool = False
    reader: Any = None
    results: dict[str, Any] = field(default_factory=dict)
    progress_of: Callable[[str], Progress] = lambda name: (lambda done, note: None)
    release: Callable[[], None] = lambda: None

    @property
    def report(self) -> Path:
        """The run's temporary report folder (moved into place with the file)."""
        return self.workdir / "report"

    def release_input(self) -> None:
        """Close the input's reader: nothing of it is held while the models train."""
        self.release()
        self.reader = None


def check_inputs(nwbfile: Any, resolved: Any) -> None:
    """Pre-flight of a run against its open input (``resolved``: the
    :class:`~nwb_tavrnn.config.ResolvedConfig`). Plan the windows the connectivity step will compute and label them as the evaluation will:
    an unknown table or column, a time range without spikes, or labels that give fewer than two
    classes on these windows fail here, in seconds, instead of after the model has trained; each
    registered step checks what it reads (:meth:`~nwb_tavrnn.steps.Step.check`).

    Raises
    ------
    InputFileError
        Naming the settings at fault as ``SECTION.KEY``.
    """
    from ..connectivity.step import params_for_nodes, plan_step_windows, restrict_to_range, select_nodes
    from ..evaluation.label_specs import check_window_labels
    from ..evaluation.settings import EvaluationConfig
    from ..io.read import read_intervals

    options = resolved.connectivity_options
    try:
        trains = select_nodes(resolved.nodes.read(nwbfile), options.get("groups"), options.get("locations"))
        params = params_for_nodes(resolved.connectivity_params_for, trains)
        if options.get("time_range") is not None:
            trains = restrict_to_range(trains, options["time_range"])
        windows = plan_step_windows(trains, params, read_intervals(nwbfile),
                                    options.get("windows_from"), options.get("restrict_to")).windows
        needed = getattr(resolved.make_model(), "min_windows", 1)
        if len(windows.start_times) < needed:  # a model fitted on one graph would finish, having learnt nothing
            spec = options.get("windows_from")
            raise InputFileError(
                f"{len(windows.start_times)} window(s) "
                + (f"from the intervals of {spec!r}" if spec else f"of {params.window:g} s every {params.step:g} s")
                + f" on this input; the model needs at least {needed}: "
                + ("take windows from a table with more intervals, or slide them (`windows_from`)" if spec
                   else "use a shorter `window` or `step`"), ("windows_from",) if spec else ("window", "step"))
        if resolved.labels:  # a label that cannot be scored is fixed with the connectivity's windows
            check_window_labels(nwbfile, resolved.labels, windows.start_times, windows.stop_times,
                                (resolved.evaluation or EvaluationConfig()).min_purity)
    except NwbTavrnnError as err:
        raise in_section(err, "connectivity")
    for step in resolved.steps:
        try:
            step.check(nwbfile)  # its tables, columns and regions
        except NwbTavrnnError as err:
            raise in_section(err, step.name)


class ChainStep(Step):
    """A step of the core chain: its settings are a core configuration section (``section``),
    resolved by :mod:`nwb_tavrnn.config`; it runs only inside a run (:meth:`run_in`)."""

    #: The configuration section its settings come from (default: the step's name).
    section: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "section" not in cls.__dict__:
            cls.section = cls.name

    @classmethod
    def applies(cls, ctx: RunContext) -> bool:
        """Whether this run takes the step."""
        return True

    def __init__(self) -> None:
        super().__init__(None)


class ImportStep(ChainStep):
    """A dataset-specific layout (suite2p, CaImAn, linear-track) → an NWB file the steps read."""

    name = "import"
    section = "importer"
    weight = 0.5

    @classmethod
    def applies(cls, ctx: RunContext) -> bool:
        return ctx.imported is not None

    def run_in(self, ctx: RunContext) -> Path:
        from ..importers import import_to_nwb

        from ..io.files import open_nwb

        path = import_to_nwb(ctx.imported, ctx.source, ctx.workdir / "imported.nwb",
                             **ctx.resolved.importer_options_for(ctx.imported))
        log.info("imported %s as %s", ctx.source, ctx.imported)
        with open_nwb(path) as nwbfile:  # checked as an NWB input is, before the work that reads it
            check_inputs(nwbfile, ctx.resolved)
        ctx.source = path
        return path


class SortingStep(ChainStep):
    """Raw voltage → Units in the work file (a derived file, or a copy of the NWB input when in
    place): spike sorting, or per-electrode events (``method: hdmea``)."""

    name = "sorting"
    weight = 3.0

    @classmethod
    def applies(cls, ctx: RunContext) -> bool:
        return ctx.sort_first

    def run_in(self, ctx: RunContext) -> Path:
        from ..sorting import detect_events, sort

        resolved = ctx.resolved
        common = dict(mode="append" if ctx.in_place else "derived", name="units", job=resolved.job, **{
            k: v for k, v in resolved.sorting_options.items() if k != "work_folder"})
        if resolved.sorting_method == "hdmea":
            result = detect_events(str(ctx.source), ctx.work, resolved.sorting_params, **common)
            log.info("%d electrodes with threshold-crossing events", len(result.event_times))
        else:
            result = sort(str(ctx.source), ctx.work, resolved.sorting_params,
                          work_folder=resolved.sorting_options.get("work_folder"), **common)
            log.info("%d units kept after sorting", result.num_units)
            if result.num_units < 2:
                raise InputFileError(f"{ctx.source}: sorting kept {result.num_units} unit(s); a graph needs at least "
                                     "2 (loosen the `curation`, or detect events instead: `method='hdmea'`)",
                                     ("curation", "method='hdmea'"))
        return ctx.work


class ConnectivityStep(ChainStep):
    """Spike trains or ROI traces → the DynamicConnectivity, into the work file: derived from the
    input (maybe streamed) unless the work file already holds the units (sorted, or in place)."""

    name = "connectivity"
    weight = 1.0

    def run_in(self, ctx: RunContext) -> Path:
        from ..connectivity.step import run_connectivity

        resolved = ctx.resolved
        if ctx.in_place and not ctx.sort_first:
            shutil.copyfile(ctx.source, ctx.work)  # the input's copy the results are added to
        options = dict(resolved.connectivity_options, nodes=resolved.nodes)
        params = resolved.connectivity_params_for  # the ophys preset for ROI traces unless a preset was named
        try:
            if ctx.sort_first or ctx.in_place:
                return run_connectivity(ctx.work, None, params, mode="in_place", **options)
            return run_connectivity(ctx.source, ctx.work, params, mode="derived", source_label=ctx.label,
                                    nwbfile=ctx.reader, **options)
        finally:
            ctx.release_input()


class ModelFitStep(ChainStep):
    """TAVRNN (or the configured graph model) trained on the work file's graphs, its embeddings,
    attention and provenance added to it."""

    name = "model"
    weight = 4.0

    def run_in(self, ctx: RunContext):
        from .model import fit_file

        resolved = ctx.resolved
        model = resolved.make_model()
        opts = resolved.model_options
        epochs = int(model.epochs)
        progress = ctx.progress_of(self.name)

        def callback(epoch: int, loss: float) -> None:
            progress(epoch / epochs, f"epoch {epoch}/{epochs}, loss {loss:.4f}")

        return fit_file(ctx.work, None, model,
                        connectivity=resolved.connectivity_options.get("name", "DynamicConnectivity"), in_place=True,
                        checkpoint_dir=opts.get("checkpoint_dir"), checkpoint_every=int(opts.get("checkpoint_every", 25)),
                        resume=bool(opts.get("resume", False)), name_prefix=str(opts.get("name_prefix", "")),
                        callback=callback)


class EvaluationStep(ChainStep):
    """The embeddings (and the baselines) scored against the labels, in place, with its report;
    without labels, when a report folder is asked for, the report's figures alone."""

    name = "evaluation"
    weight = 3.0

    @classmethod
    def applies(cls, ctx: RunContext) -> bool:
        return bool(ctx.resolved.labels or ctx.resolved.report_dir)

    def run_in(self, ctx: RunContext):
        from ..evaluation.report import describe, evaluate_file, write_report
        from ..io.files import open_nwb

        resolved = ctx.resolved
        prefix = str(resolved.model_options.get("name_prefix", ""))
        if not resolved.labels:  # figures of the graphs and embeddings; nothing to score
            with open_nwb(ctx.work) as nwbfile:
                report = describe(nwbfile, embeddings=f"{prefix}NodeEmbeddings", config=resolved.evaluation)
            write_report(report, ctx.report)
            return report
        progress = ctx.progress_of(self.name)
        return evaluate_file(ctx.work, resolved.labels, in_place=True, report_dir=ctx.report,
                             embeddings=f"{prefix}NodeEmbeddings", config=resolved.evaluation, progress=False,
                             name=f"{prefix}EvaluationScores",
                             on_step=lambda done, total, what: progress(done / total, what))


#: The core chain, in the order ``run`` takes it.
CHAIN: tuple[type[ChainStep], ...] = (ImportStep, SortingStep, ConnectivityStep, ModelFitStep, EvaluationStep)


def plan(ctx: RunContext) -> list[Step]:
    """The steps this run takes, in order: the core chain's that apply, then the registered steps
    the configuration has a section for (:attr:`~nwb_tavrnn.config.ResolvedConfig.steps`)."""
    return [cls() for cls in CHAIN if cls.applies(ctx)] + list(ctx.resolved.steps)


__all__ = ["CHAIN", "ChainStep", "ConnectivityStep", "EvaluationStep", "ImportStep", "ModelFitStep", "RunContext",
           "SortingStep", "check_inputs", "plan"]
