"""Every step in one call: (raw voltage →) spike trains → connectivity → TAVRNN → evaluation, NWB to NWB.

:func:`run_pipeline` composes the steps; it adds no science of its own. The input is a local NWB
file, an http(s) URL or a DANDI asset (streamed: only the bytes the steps read are fetched), or a
raw recording, which is spike-sorted first when it has no Units table. The output is one
self-contained derived NWB file: the connectivity derived from the input, then the model's results
and the evaluation scores appended to it. Or, with ``in_place=True``, the results are added to the
(local) input itself.

All intermediate files live in a hidden temporary folder beside the output, and the finished file
is moved into place only at the end (an atomic rename within one folder), so a failure or an
interruption at any step leaves nothing at the output path and the input untouched.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import PipelineConfig, demo_config
from .errors import InputFileError, NwbTavrnnError, OutputFileError, in_section
from .importers import recognise
from .io.files import (
    PathLike,
    check_readable_nwb,
    check_report_folder,
    check_writable,
    is_url,
    open_nwb,
    place_results,
    refuse_source_as_destination,
    temporary_name,
    temporary_work_folder,
)
from .io.write import working_file
from .steps.base import relocate
from .steps.chain import RunContext, check_inputs, plan

log = logging.getLogger(__name__)



@dataclass
class PipelineResult:
    """What a pipeline run produced.

    Attributes
    ----------
    output
        The NWB file written (the input itself for in-place runs).
    sorted
        Whether the input was raw voltage and went through spike sorting.
    report
        The :class:`~nwb_tavrnn.evaluation.report.EvaluationReport`, or None without labels.
    report_dir
        Folder of the scores (CSV/JSON) and figures, or None.
    timings
        Seconds per step.
    """

    source: str
    output: Path
    sorted: bool
    connectivity_name: str
    n_windows: int
    n_nodes: int
    model: Any
    report: Any | None = None
    report_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: The result of each registered step the configuration asked for (``nnpoisson``, ``seq2seq``...).
    steps: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return float(sum(self.timings.values()))

    @property
    def figures(self) -> list[Path]:
        return list(self.report.figures) if self.report is not None else []

    def headline(self):
        """Mean accuracy (with 95% CI) of the model, the baselines and the time-shuffle null, or None."""
        if self.report is None:
            return None
        return self.report.headline()


class _Progress:
    """One progress bar over all steps; the model's epochs move it within the model's share."""

    def __init__(self, steps: list[str], enabled: bool, weights: dict[str, float]) -> None:
        self.steps = steps
        total = sum(weights[s] for s in steps)
        self.share = {s: 100.0 * weights[s] / total for s in steps}
        self.base = 0.0
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=100.0, unit="%", leave=False,
                            bar_format="{desc} {percentage:3.0f}%|{bar}| [{elapsed}]{postfix}")

    def start(self, step: str) -> None:
        log.info("step %d/%d: %s", self.steps.index(step) + 1, len(self.steps), step)
        if self.bar is not None:
            self.bar.set_description_str(f"[{self.steps.index(step) + 1}/{len(self.steps)}] {step}")
            self.bar.set_postfix_str("")

    def fraction(self, step: str, done: float, note: str = "") -> None:
        if self.bar is not None:
            self.bar.n = min(100.0, self.base + self.share[step] * min(max(done, 0.0), 1.0))
            self.bar.set_postfix_str(note, refresh=False)
            self.bar.refresh()

    def finish(self, step: str) -> None:
        self.base += self.share[step]
        if self.bar is not None:
            self.bar.n = min(100.0, self.base)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def needs_sorting(source: PathLike) -> bool:
    """True when ``source`` is raw voltage without spike trains: an NWB file with an ElectricalSeries
    but no (or an empty) Units table, or a recording in another format. URLs are never sorted here.

    Raises
    ------
    InputFileError
        If the input is missing, a broken NWB file, or an NWB file with neither units nor voltage.
    """
    if is_url(source):
        return False  # errors (no Units) come from the connectivity step, with its own message
    path = Path(source)
    if not path.exists():
        raise InputFileError(f"{path}: no such file or folder")
    if path.is_dir():
        return True  # SpikeGLX, Open Ephys...: a folder is a raw recording
    import h5py

    if path.suffix.lower() == ".nwb":
        check_readable_nwb(path)  # a truncated or non-HDF5 .nwb file: one clear line
    elif not (h5py.is_hdf5(path) and _is_nwb(path)):
        return True  # a raw recording in another format (Maxwell and BioCam files are HDF5 too)
    with h5py.File(path, "r") as f:
        if "units" in f and "id" in f["units"] and len(f["units/id"]) > 0:
            return False
        series: list[str] = []
        traces: list[str] = []

        def visit(name: str, obj: Any) -> None:
            kind = obj.attrs.get("neurodata_type") if isinstance(obj, h5py.Group) else None
            kind = kind.decode() if isinstance(kind, bytes) else kind
            if kind == "ElectricalSeries":
                series.append(name)
            elif kind == "RoiResponseSeries":
                traces.append(name)

        f.visititems(visit)
    if traces:
        return False  # ROI traces: graphs straight from them
    if series:
        return True
    raise InputFileError(f"{path}: has neither spike trains (a Units table with units), ROI traces (a "
                         "RoiResponseSeries) nor raw voltage (an ElectricalSeries); nothing to analyse")


def _is_nwb(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "nwb_version" in f.attrs
    except OSError:
        return False


def _default_report_dir(output: Path) -> Path:
    return output.with_name(f"{output.stem}_report")


def _check_outputs(source: PathLike, output: Path, report_dir: Path | None, in_place: bool, overwrite: bool) -> None:
    """Fail before any work when the results could not be written."""
    if in_place:
        if is_url(source):
            raise OutputFileError("in-place writing needs a local file; give an OUTPUT path for a streamed input")
        check_readable_nwb(source)  # in place needs an NWB file to add to
        check_writable(source, overwrite=True)  # also checks its folder, where the temporary copy goes
    else:
        refuse_source_as_destination(source, output)
        check_writable(output, overwrite)
    if report_dir is not None:
        check_report_folder(report_dir, overwrite, protect=(source, output))


def run_pipeline(
    source: PathLike, output: PathLike | None = None, config: PipelineConfig | None = None, *,
    in_place: bool = False, overwrite: bool = False, progress: bool = False,
    on_step: Callable[[str, float], None] | None = None,
) -> PipelineResult:
    """Run every step on ``source`` and write one NWB file with all the results.

    Parameters
    ----------
    source
        Local NWB file or raw recording, http(s) URL, or DANDI asset (``dandi://DANDISET/path.nwb``
        or a DANDI asset URL).
    output
        The derived NWB file to create; omit with ``in_place``.
    config
        Settings of the steps (:class:`~nwb_tavrnn.config.PipelineConfig`); default: every step's
        defaults, and no evaluation (it needs ``evaluation.labels``).
    in_place
        Add the results to the local NWB ``source`` itself (atomically) instead.
    overwrite
        Replace ``output`` (and its report folder) if they exist.
    progress
        Show one progress bar over all steps.
    on_step
        Called with each finished step's name and seconds.

    Returns
    -------
    PipelineResult

    Raises
    ------
    InputFileError, OutputFileError, ConfigError, TrainingError, SortingFailed
        One-line messages (:mod:`nwb_tavrnn.errors`); nothing is left at the output on any error.
    """
    config = config or PipelineConfig()
    opened, reader = nullcontext(), None  # the input's reader, when the steps read it as it is
    given = source  # an imported input is replaced by its NWB file; results name what the user gave
    resolved = config.resolve()  # every bad setting fails here, before any work
    if in_place == (output is not None):
        raise OutputFileError("give an OUTPUT file, or write in place (not both)")
    final = Path(os.path.realpath(source)) if in_place else Path(output)  # in place: the file a link names
    report_dir = None
    if resolved.labels or resolved.steps or resolved.report_dir:  # without labels: when asked for
        report_dir = Path(resolved.report_dir) if resolved.report_dir else _default_report_dir(final)
    _check_outputs(source, final, report_dir, in_place, overwrite)
    imported = None if is_url(source) else recognise(source)  # suite2p, CaImAn, linear-track: NWB first
    if imported is not None and in_place:
        raise OutputFileError(f"in-place writing needs an NWB input; give an OUTPUT path for this {imported} data")
    sort_first = imported is None and needs_sorting(source)
    if imported is not None:
        resolved.importer_options_for(imported)  # options of another layout: refused before any work
    elif resolved.importer_options:
        log.warning("the importer settings (%s) are unused: %s is not a suite2p, CaImAn or linear-track input",
                    ", ".join(sorted(resolved.importer_options)), source)
    if imported is None and not sort_first:
        if config.sorting:
            log.warning("the sorting settings (%s) are unused: %s already holds spike trains",
                        ", ".join(sorted(config.sorting)), source)
        opened = open_nwb(source)  # opened once: the checks and the connectivity step read this reader
        reader = opened.__enter__()
        try:
            check_inputs(reader, resolved)  # tables, columns, labels against the windows: before any work
        except BaseException:
            opened.__exit__(None, None, None)
            raise
    if sort_first and in_place and not str(source).lower().endswith(".nwb"):
        raise OutputFileError("in-place writing needs an NWB input; give an OUTPUT path for this recording")

    def release() -> None:  # the input is read: nothing of it is held while the models train
        nonlocal opened
        opened.__exit__(None, None, None)
        opened = nullcontext()

    # The work file and folder are set once the folder exists (below); the plan does not need them.
    ctx = RunContext(source, str(given), None, None, resolved, imported, sort_first, in_place, reader,
                     release=release)
    steps = plan(ctx)
    names = [step.name for step in steps]
    display = _Progress(names, progress, {step.name: step.weight for step in steps})
    ctx.progress_of = lambda name: (lambda done, note: display.fraction(name, done, note))
    timings: dict[str, float] = {}
    # The temporary folder is beside the final file, so the last move is a rename on one filesystem.
    # Named after this process, so a later sweep can judge it, and made (after removing what a killed
    # run of this output left: the CLI sweeps too, API callers here) inside the block whose `finally`
    # removes it: an interrupt at any moment leaves no folder behind.
    workdir = final.parent / temporary_name(final.stem)
    try:
        temporary_work_folder(final.stem, final.parent, name=workdir.name)
        ctx.workdir, ctx.work = workdir, workdir / "result.nwb"
        with working_file(ctx.work):  # the steps add to it directly: each result written once, no copy per step
            for step in steps:
                display.start(step.name)
                started = time.perf_counter()
                try:
                    ctx.results[step.name] = step.run_in(ctx)
                except NwbTavrnnError as err:  # the parameters it names are this step's settings
                    raise in_section(err, getattr(step, "section", step.name))
                timings[step.name] = time.perf_counter() - started
                display.finish(step.name)
                log.info("%s done in %.1f s", step.name, timings[step.name])
                if on_step is not None:
                    on_step(step.name, timings[step.name])
            display.close()
            fit = ctx.results["model"]
            n_windows, n_nodes = fit.embeddings.mean.shape[:2]
            result = PipelineResult(str(given), final, sort_first, fit.connectivity_name, int(n_windows),
                                    int(n_nodes), fit.model, ctx.results.get("evaluation"), None, timings,
                                    {step.name: ctx.results[step.name] for step in resolved.steps})
            _move_into_place(ctx.work, final, ctx.report, report_dir, result, in_place, overwrite)
            for name, step_result in result.steps.items():  # what the step wrote has moved with the file
                relocate(step_result, final, report_dir / name if report_dir is not None else None)
            return result
    finally:
        display.close()
        opened.__exit__(None, None, None)
        shutil.rmtree(workdir, ignore_errors=True)


def _move_into_place(work: Path, final: Path, tmp_report: Path, report_dir: Path | None, result: PipelineResult,
                     in_place: bool, overwrite: bool) -> None:
    """Move the report folder, then the file, into place; the file's rename is atomic."""
    if in_place:  # keep the input's permissions on the file that replaces it
        os.chmod(work, stat.S_IMODE(final.stat().st_mode))
    else:
        check_writable(final, overwrite)  # it may have appeared while we worked
    placed = place_results(work, final, tmp_report, report_dir)
    log.info("wrote %s", final)
    if result.report is not None:
        result.report.path = final
        if placed:
            result.report_dir = report_dir
            result.report.report_dir = report_dir
            result.report.figures = [report_dir / Path(p).relative_to(tmp_report) for p in result.report.figures]


# -- the demo ---------------------------------------------------------------------------------------
@dataclass
class DemoResult:
    """What :func:`run_demo` wrote: the simulated input, and the pipeline's result on it."""

    simulated: Path
    pipeline: PipelineResult
    simulate_seconds: float


DEMO_INPUT = "simulated_culture.nwb"
DEMO_OUTPUT = "demo_tavrnn.nwb"


def run_demo(folder: PathLike = "nwb_tavrnn_demo", *, overwrite: bool = False, progress: bool = False,
             config: PipelineConfig | None = None, simulation: Any = None, seed: int = 0) -> DemoResult:
    """Simulate the built-in dataset and run the whole pipeline on it.

    The simulated culture (default :class:`~nwb_tavrnn.simulate.SimulationConfig`: 900 electrodes,
    20 min of gameplay in aligned/unaligned blocks, then 10 min of rest) goes through the paper's
    DishBrain connectivity recipe, TAVRNN, and an evaluation against the epochs' ``state``
    (:func:`~nwb_tavrnn.config.demo_config`). ``folder`` receives ``simulated_culture.nwb``,
    ``demo_tavrnn.nwb`` and ``demo_tavrnn_report/`` (scores and figures).

    Parameters
    ----------
    simulation
        A :class:`~nwb_tavrnn.simulate.SimulationConfig` (e.g. ``SimulationConfig.small()`` for a
        quick look); default the full demo network.
    """
    from .simulate import write_simulation

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputFileError(f"{folder}: exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    config = config or demo_config()
    simulated, output = folder / DEMO_INPUT, folder / DEMO_OUTPUT
    # Check everything before simulating, so a second run without overwrite fails at once.
    check_writable(simulated, overwrite)
    check_writable(output, overwrite)
    config.resolve()
    started = time.perf_counter()
    write_simulation(simulated, simulation, seed=seed, overwrite=overwrite)
    simulate_seconds = time.perf_counter() - started
    result = run_pipeline(simulated, output, config, overwrite=overwrite, progress=progress)
    return DemoResult(simulated, result, simulate_seconds)


__all__ = ["DemoResult", "PipelineResult", "needs_sorting", "run_demo", "run_pipeline"]
