"""The step contract and the registry that ``run``, configuration files, ``--show-config`` and the
command line loop over.

A step declares its parameters once, as a dataclass of :func:`~nwb_tavrnn.params.param` fields
(:attr:`Step.Params`). From the registry the pipeline learns which configuration sections exist
and their keys, which command-line options a subcommand has, what ``--show-config`` prints and
which steps ``run`` runs, in what order; none of them names a step.

Adding a step::

    @register_step
    class MyStep(Step):
        name = "mystep"
        Params = MyParams            # a dataclass of param() fields
        help = "one line for --help"

        def check(self, nwbfile): ...            # pre-flight against the open input
        def run(self, work, report_dir, progress): ...  # adds its results to the work file

and ``nwb-tavrnn run`` accepts a ``mystep:`` section, runs it when the section is given, and
``nwb-tavrnn mystep`` exists.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from .. import params as P

log = logging.getLogger(__name__)

#: Progress reporter a step's ``run`` receives: ``progress(done_fraction, note)``.
Progress = Callable[[float, str], None]


class Step:
    """One optional analysis step of ``run`` (see the module docstring).

    Attributes
    ----------
    name
        The step's configuration section, subcommand and processing-module name.
    Params
        The dataclass declaring its parameters (:mod:`nwb_tavrnn.params`).
    help
        One line: the subcommand's summary.
    weight
        Its share of the one progress bar of ``run``, relative to the connectivity step's 1.
    """

    name: ClassVar[str]
    Params: ClassVar[type]
    help: ClassVar[str] = ""
    weight: ClassVar[float] = 1.0
    #: The registered estimator (:func:`nwb_tavrnn.models.get_model`) whose arguments the section
    #: also takes as keys, or None.
    model: ClassVar[str | None] = None

    def __init__(self, params: Any, model_params: Mapping[str, Any] | None = None) -> None:
        self.params = params
        self.model_params = dict(model_params or {})

    # -- parameters ---------------------------------------------------------------------------------
    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The keys of the step's configuration section (the estimator's arguments last)."""
        return P.names(cls.Params) + tuple(k for k in cls.model_keys() if k not in P.names(cls.Params))

    @classmethod
    def model_keys(cls) -> tuple[str, ...]:
        """The estimator's arguments (imports the model's module: call only when a section is given)."""
        if cls.model is None:
            return ()
        import inspect

        from ..models import get_model

        return tuple(p for p in inspect.signature(get_model(cls.model)).parameters if p != "self")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Step:
        """The step for a configuration section, checked: every bad value fails here, the model's
        included.

        Raises
        ------
        ParameterError
            Naming the parameter.
        """
        own = P.names(cls.Params)
        rest = {k: v for k, v in values.items() if k not in own}
        if rest:
            P.unknown_keys(rest, cls.model_keys(), cls.name)
        step = cls(cls.Params(**{k: v for k, v in values.items() if k in own}), rest)
        step.validate()
        return step

    def validate(self) -> Step:
        """Check the parameters and build the estimator once (so a bad value fails before any work)."""
        check = getattr(self.params, "validate", None)
        P.check(self.params) if check is None else check()
        if self.model is not None:
            self.make_model()
        return self

    def make_model(self) -> Any:
        """A fresh, unfitted estimator with this step's settings."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """Every setting in effect, defaults included (``--show-config``): a valid section."""
        import dataclasses

        out = {f.name: getattr(self.params, f.name) for f in dataclasses.fields(self.params)}
        if self.model is not None:
            out.update(self.make_model().get_params())
        return out

    # -- work ---------------------------------------------------------------------------------------
    def check(self, nwbfile: Any) -> None:
        """Pre-flight against the open input: what it reads exists (tables, columns, regions).

        Raises
        ------
        InputFileError
            What is missing, in one line.
        """

    def run(self, work: Path, report_dir: Path | None, progress: Progress) -> Any:
        """Add the step's results to the NWB file ``work`` (in place) and its report to
        ``report_dir`` (None: no report); returns the step's result object."""
        raise NotImplementedError

    def run_in(self, ctx: Any) -> Any:
        """Run inside a whole run (``run``; ``ctx`` is its :class:`~nwb_tavrnn.steps.chain.RunContext`):
        by default :meth:`run` on the run's work file, with its report in the run's report folder
        under the step's name."""
        ctx.report.mkdir(exist_ok=True)
        return self.run(ctx.work, ctx.report / self.name, ctx.progress_of(self.name))

    def run_file(self, source: str | os.PathLike, destination: str | os.PathLike, *,
                 report_dir: str | os.PathLike | None = None, overwrite: bool = False,
                 progress: Progress | None = None) -> Any:
        """The step alone, NWB to NWB: ``destination`` is a copy of ``source`` with the step's
        results, and ``report_dir`` (if given) its report; both are moved into place only once
        complete (nothing is left there on failure).

        Raises
        ------
        OutputFileError
            If ``destination`` or ``report_dir`` is the source, exists (without ``overwrite``) or
            cannot be written.
        """
        from ..io.files import (
            check_readable_nwb,
            check_report_folder,
            check_writable,
            place_results,
            refuse_source_as_destination,
            temporary_work_folder,
        )
        from ..io.write import working_file

        destination = Path(destination)
        refuse_source_as_destination(source, destination)
        check_writable(destination, overwrite)
        if report_dir is not None:
            check_report_folder(report_dir, overwrite, protect=(source, destination))
        check_readable_nwb(source)
        workdir = temporary_work_folder(destination.stem, destination.parent)
        try:
            work, tmp_report = workdir / "result.nwb", workdir / "report"
            shutil.copyfile(source, work)
            with working_file(work):  # the copy is the run's own: the step adds to it directly
                result = self.run(work, tmp_report if report_dir is not None else None,
                                  progress or (lambda done, note: None))
            check_writable(destination, overwrite)  # it may have appeared while we worked
            place_results(work, destination, tmp_report, report_dir)
            relocate(result, destination, Path(report_dir) if report_dir is not None else None)
            return result
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def relocate(result: Any, path: Path, report_dir: Path | None) -> None:
    """Point a step's result at where its file and report were moved (a result without such
    attributes is left as it is)."""
    if hasattr(result, "path"):
        result.path = path
    if getattr(result, "report_dir", None) is not None:
        result.figures = [report_dir / Path(p).name for p in result.figures] if report_dir is not None else []
        result.report_dir = report_dir


class ModelStep(Step):
    """A step that reads its data from the file (:meth:`options`), fits a registered estimator on
    it and writes the model's results and scores (:meth:`write`). Its estimator is the model
    registered under the step's name unless ``model`` says otherwise; training one weighs as much as
    TAVRNN's on ``run``'s progress bar."""

    weight: ClassVar[float] = 4.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("model") is None and "name" in cls.__dict__:
            cls.model = cls.name

    def options(self) -> Any:
        """What the step reads from a file (an object with ``read(nwbfile)``)."""
        raise NotImplementedError

    def write(self, source: Any, destination: Any, model: Any, **common: Any) -> Any:
        """The step's file function on ``source`` (in place when ``destination`` is None), with
        ``common`` (report_dir, overwrite, in_place, callback, on_step...)."""
        raise NotImplementedError

    def check(self, nwbfile: Any) -> None:
        self.options().read(nwbfile)  # its tables, columns and regions exist

    def run(self, work: Path, report_dir: Path | None, progress: Progress) -> Any:
        model = self.make_model()
        return self.write(work, None, model, report_dir=report_dir, in_place=True,
                          callback=epoch_progress(progress, model))


def require_split(n_train: int, n_test: int, total: int, unit: str, min_test: int, why: str,
                  min_train: int = 4) -> None:
    """Refuse a held-out split too small to fit on or to score, naming ``test_fraction`` and the fix.

    Raises
    ------
    ParameterError
        Naming ``test_fraction``.
    """
    from ..errors import require

    require(n_train >= min_train, f"test_fraction leaves only {n_train} training {unit} ({min_train} needed); lower "
            f"it or use more {unit}", "test_fraction")
    require(n_test >= min_test, f"test_fraction gives {n_test} test {unit} of {total}; scores need at least "
            f"{min_test} ({why}): raise it or use more {unit}", "test_fraction")


def epoch_progress(progress: Progress, model: Any) -> Callable[[int, float], None]:
    """A training callback moving ``progress`` through the model's epochs."""
    epochs = int(model.epochs)

    def callback(epoch: int, loss: float) -> None:
        progress(epoch / epochs, f"epoch {epoch}/{epochs}, loss {loss:.4f}")

    return callback


#: The registered steps, in the order ``run`` runs them.
STEPS: dict[str, type[Step]] = {}


#: Names a step's parameter may not take: its command's own arguments and options.
RESERVED = frozenset({"input", "output", "report", "overwrite", "func", "command", "quiet", "log_level"})


def register_step(cls: type[Step]) -> type[Step]:
    """Class decorator: make ``cls`` a step of ``run``, of configuration files and of the CLI.

    Raises
    ------
    TypeError
        If the step has no name or Params, or a parameter takes a name its command reserves.
    """
    if not getattr(cls, "name", None) or not hasattr(cls, "Params"):
        raise TypeError(f"{cls.__name__}: a step needs a name and a Params dataclass")
    taken = sorted(n for c in (cls.Params, getattr(cls, "Flags", None)) if c is not None for n in P.names(c)
                   if n in RESERVED or n.startswith("_"))
    if taken:
        raise TypeError(f"{cls.__name__}: parameter name(s) {', '.join(taken)} are reserved for its command")
    STEPS[cls.name] = cls
    return cls


def load_steps() -> dict[str, type[Step]]:
    """The registry, after importing the package's own steps (light: no torch is imported)."""
    from . import nnpoisson, seq2seq  # noqa: F401 - registering

    return STEPS


def get_step(name: str) -> type[Step]:
    """The registered step ``name``.

    Raises
    ------
    KeyError
        Naming the registered steps.
    """
    steps = load_steps()
    if name not in steps:
        raise KeyError(f"unknown step {name!r}; registered: {', '.join(steps)}")
    return steps[name]


__all__ = ["STEPS", "ModelStep", "Progress", "Step", "epoch_progress", "get_step", "load_steps", "register_step",
           "relocate"]
