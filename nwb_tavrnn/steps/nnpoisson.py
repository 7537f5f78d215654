"""The NNPoisson step NWB to NWB: read trials from a file, fit on the training trials, score on
held-out ones against baselines, write the results to ``processing/nnpoisson`` of a copy.

Written: the ModelProvenance (weights, settings, training and validation loss), the fitted
intensities per stimulus condition and region, per-trial predictions of every trial aligned to the
trials table (with its split), and the EvaluationScores of every method; optionally a report folder
with the scores as CSV and the figures.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, TrainingError, as_input_error, require
from ..io.files import PathLike, check_destinations, open_nwb
from ..params import between, check, names, param, patience, positive
from .base import ModelStep, register_step, require_split

log = logging.getLogger(__name__)

#: Fewer test trials give scores that say nothing (accuracy in steps of 1/n, a KS test on a handful).
MIN_TEST_TRIALS = 10

MODULE_NAME = "nnpoisson"
MODULE_DESCRIPTION = ("NNPoisson: neural-network Poisson model of stimulus, regional spiking, choice and reaction "
                      "time (nwb_tavrnn)")


def columns(value: str | tuple[str, ...]) -> tuple[str, ...]:
    """``"a, b"`` → ``("a", "b")``: comma-separated names, as the command line and config give them."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)


def components_value(value: str) -> int | str:
    """``--components``: a whole number, or ``auto``."""
    import argparse

    if value.strip().lower() == "auto":
        return "auto"
    try:
        return int(value)  # the estimator checks the range, in one line
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or 'auto', got {value!r}") from None


@dataclass
class TrialOptions:
    """How trials are read (:func:`~nwb_tavrnn.io.trials.read_trial_spikes`)."""

    stimulus: tuple[str, ...] = param((), help="stimulus feature columns (numbers used as given, text one-hot "
                                      "encoded)", parse=columns, metavar="COL[,COL]", required=True, group="trials")
    choice: str = param("", help="response column; its values are the actions", metavar="COL", required=True,
                        group="trials")
    rt: str | None = param(None, help="reaction time column (s, from the onset or rt_reference); or response_time",
                           metavar="COL", group="trials")
    response_time: str | None = param(None, help="session time of the response (s), instead of a reaction time",
                                      metavar="COL",
                                      group="trials")
    trials: str = param("trials", help="intervals table of the trials", metavar="TABLE", group="trials")
    onset: str = param("start_time", help="stimulus onset column: time zero of each trial", metavar="COL",
                       group="trials")
    rt_reference: str | None = param(None, help="the column rt is measured from, when not the onset",
                                     flag="--rt-from", metavar="COL", group="trials")
    regions: str = param("auto", help="where a unit's region comes from: auto (a Units 'region' column, else the "
                         "electrodes' location), location, group, or a Units column name", metavar="SPEC",
                         group="trials")
    keep_regions: tuple[str, ...] | None = param(None, help="only these regions, in this order", parse=columns,
                                                 metavar="A[,B]", group="trials")
    window: float = param(1.0, help="response window after onset, s: spikes and responses in [0, W) are modelled",
                          check=positive(), metavar="W", group="trials", flag="--response-window",
                          renamed=("--window",))
    no_response: tuple[str, ...] | None = param(None, help="choice values meaning no response (default: none, "
                                                "nan, timeout, -1, empty)", parse=columns, metavar="VALUES",
                                                group="trials")
    late: str = param("error", help="responses after the window: an error, or (censor) no response within it",
                      choices=("error", "censor"), group="trials")
    invalid: str = param("error", help="trials with a negative or missing RT, or no spike at all: an error, or "
                         "(drop) left out", choices=("error", "drop"), group="trials")

    def validate(self) -> TrialOptions:
        self.stimulus = columns(self.stimulus)
        for name in ("keep_regions", "no_response"):
            if isinstance(getattr(self, name), str):
                setattr(self, name, tuple(v.strip() for v in getattr(self, name).split(",")))
        check(self)
        require((self.rt is None) != (self.response_time is None),
                "give exactly one of rt (reaction time column) and response_time (session time of the response)",
                ("rt", "response_time"))
        return self

    def read(self, nwbfile: Any):
        from ..io.trials import read_trial_spikes

        return read_trial_spikes(nwbfile, list(self.stimulus), self.choice, self.rt,
                                 response_time=self.response_time, trials=self.trials, onset=self.onset,
                                 rt_reference=self.rt_reference, regions=self.regions,
                                 keep_regions=self.keep_regions, window=float(self.window),
                                 no_response=self.no_response, late=self.late, invalid=self.invalid)


@dataclass
class NNPoissonResult:
    """What the step produced."""

    path: Path
    model: Any
    scores: Any
    split: Any
    data: Any
    seconds: float
    report_dir: Path | None = None
    figures: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        s = self.scores
        lines = []
        for method in s["method"].unique():
            mine = s[s["method"] == method]

            def get(analysis: str, metric: str) -> float:
                hit = mine[(mine["analysis"] == analysis) & (mine["metric"] == metric)]["value"]
                return float(hit.iloc[0]) if len(hit) else np.nan

            if method == "ceiling":
                lines.append(f"  per-condition ceiling (test trials' own majority per stimulus): choice accuracy "
                             f"{get('behaviour_heldout', 'choice_accuracy'):.3f}")
                continue
            parts = [f"{get('neural_heldout', 'bits_per_spike'):.3f} bits/spike pooled, "
                     f"{get('neural_heldout_unit', 'bits_per_spike'):.3f} per unit"]
            accuracy = get("behaviour_heldout", "choice_accuracy")
            if np.isfinite(accuracy):
                text = (f"choice accuracy {accuracy:.3f} [{get('behaviour_heldout', 'choice_accuracy_low'):.3f}, "
                        f"{get('behaviour_heldout', 'choice_accuracy_high'):.3f}]")
                p = mine[mine["metric"].str.startswith("choice_accuracy_p_vs_")]
                if len(p):
                    text += f" (p {float(p['value'].iloc[0]):.3g} vs {p['metric'].iloc[0].rsplit('_vs_', 1)[1]})"
                parts.append(text)
                parts.append(f"RT KS {get('behaviour_heldout', 'rt_ks_statistic'):.3f}")
            lines.append(f"  {method}: " + ", ".join(parts))
        return "\n".join(lines)


PRESETS = ("corrected", "faithful")


@dataclass
class NNPoissonParams(TrialOptions):
    """The ``nnpoisson`` step's parameters: how trials are read (:class:`TrialOptions`), the
    model's preset, the held-out evaluation and the output's names. Its configuration section also
    takes every argument of :class:`~nwb_tavrnn.models.nnpoisson.NNPoisson` (:class:`ModelOptions`
    lists those the command line offers)."""

    preset: str = param("corrected", flag="--model-preset", choices=PRESETS, group="model",
                        help="'faithful': the reference's network, time warp and loss; 'corrected': no warp, "
                             "exact likelihood, competing risks for choice and RT")
    test_fraction: float = param(0.2, check=between(0, 1), group="evaluation",
                                 help="share of trials held out, as contiguous blocks spread over the session")
    baselines: bool = param(True, negate=True, group="evaluation",
                            help="skip the PSTH and raised-cosine GLM baselines (per region and per unit)")
    compare_objectives: bool = param(False, group="evaluation",
                                     help="also fit a behaviour-only model and score it (the neural-only fit is "
                                          "always made)")
    name_prefix: str = param("", group="output", help="prefix for the names of the objects written")

    @property
    def trial_options(self) -> TrialOptions:
        """The options of the trials' reading alone."""
        return TrialOptions(**{k: getattr(self, k) for k in names(TrialOptions)})


@dataclass
class ModelOptions:
    """The NNPoisson arguments the command line offers (None: the preset's)."""

    readout: str | None = param(None, metavar="{unit,region}", group="model",
                                help="'unit' (corrected default): each unit's intensity a non-negative mix of its "
                                     "region's components, with its own gain; 'region' (faithful): one intensity "
                                     "shared by a region's units")
    components: int | str | None = param(None, parse=components_value, metavar="J|auto", group="model",
                                         help="components per region of the per-unit read-out (2), or 'auto': "
                                              "chosen by the likelihood of the validation block among 1-4")
    objective: str | None = param(None, choices=("joint", "neural", "behaviour"), group="model",
                                  help="fit both terms (joint, default), the neural term only, or behaviour only")
    epochs: int | None = param(None, parse=int, group="model", help="maximum epochs (corrected 400, faithful 2000)")
    lr: float | None = param(None, parse=float, group="model",
                             help="Adam learning rate (corrected 0.01, faithful 1e-4)")
    patience: int | None = param(None, parse=patience, metavar="EPOCHS", group="model",
                                 help="epochs without validation improvement before stopping (40; 0 = never stop "
                                      "early)")
    seed: int | None = param(None, parse=int, group="model", help="random seed (default 0)")
    device: str | None = param(None, group="model", help="auto (default), cpu, cuda, cuda:N")


def make_estimator(preset: str = "corrected", **overrides: Any) -> Any:
    """The NNPoisson of a preset with overrides (None values ignored), checked."""
    from ..models.nnpoisson.estimator import NNPoisson

    overrides = {k: v for k, v in overrides.items() if v is not None or k == "patience"}
    if overrides.get("readout") == "region" and "components" not in overrides:
        overrides["components"] = 1  # the pooled read-out has one component per region
    model = NNPoisson.preset(preset, **{k: v for k, v in overrides.items() if k != "patience"})
    if "patience" in overrides:  # None (never stop early) is a value here, not "unset"
        model.patience = overrides["patience"]
    model.check_params()
    return model


def checked_split(data: Any, test_fraction: float):
    """The held-out trial blocks (:func:`~nwb_tavrnn.evaluation.nnpoisson.split_trials`), refused
    when either side is too small to fit or to score.

    Raises
    ------
    ParameterError
        Naming ``test_fraction``.
    """
    from ..evaluation.nnpoisson import split_trials

    split = split_trials(data, test_fraction=test_fraction)
    require_split(len(split.train), len(split.test), data.n_trials, "trials", MIN_TEST_TRIALS,
                  "a choice accuracy on 2 trials is 0, 0.5 or 1")
    return split


def nnpoisson_file(
    source: PathLike, destination: PathLike | None, model: Any, options: TrialOptions, *,
    test_fraction: float = 0.2, baselines: bool = True, objectives: bool = False,
    report_dir: PathLike | None = None, in_place: bool = False, overwrite: bool = False,
    checkpoint_dir: PathLike | None = None, resume: bool = False, name_prefix: str = "",
    callback: Callable[[int, float], None] | None = None, on_step: Callable[[str], None] | None = None,
) -> NNPoissonResult:
    """Fit NNPoisson on a file's trials and write the results (see the module docstring).

    Parameters
    ----------
    model
        An unfitted :class:`~nwb_tavrnn.models.nnpoisson.NNPoisson`.
    test_fraction
        Share of trials held out (contiguous blocks spread over the session,
        :func:`~nwb_tavrnn.models.nnpoisson.splits.split_trials`).
    baselines, objectives
        Also fit the PSTH and GLM baselines (per region and per unit); also fit the behaviour-only
        model (the neural-only fit is always made beside a joint corrected one).
    report_dir
        Write ``scores.csv`` and the figures there.
    """
    from ..io.write import append_results
    from ..schema import EvaluationScores
    from ..evaluation.nnpoisson import fit_methods, score_methods

    options.validate()
    if resume and not checkpoint_dir:
        raise InputFileError("resuming needs the checkpoint folder of the interrupted run (`checkpoint_dir`)",
                             "checkpoint_dir")
    check_destinations(source, destination, report_dir, in_place=in_place, overwrite=overwrite)
    model.check_params()
    if objectives:  # the comparison fits must be possible too: refused now, not after the main fit
        for objective in ("neural", "behaviour"):
            type(model)(**{**model.get_params(), "objective": objective}).check_params()
    if baselines:
        try:
            import nemos  # noqa: F401 - the GLM baseline's; checked before any work
        except ImportError:
            from ..errors import UsageError

            raise UsageError("the Poisson GLM baseline needs nemos: pip install 'nwb-tavrnn[nnpoisson]' "
                             "(or leave the baselines out: `baselines` false)", "baselines") from None
    started = time.perf_counter()
    with open_nwb(source) as nwbfile:
        data = options.read(nwbfile)
    split = checked_split(data, test_fraction)
    train, test = data.subset(split.train), data.subset(split.test)
    silent = [r for r, n in zip(data.regions, train.spike_counts().sum(0)) if n == 0]
    if silent:
        raise InputFileError(f"region(s) {', '.join(silent)} have no spike in the training trials; leave them out "
                             "(`keep_regions`)", "keep_regions")
    log.info("%d training and %d test trials (%d left out between them)", len(split.train), len(split.test),
             len(split.gap))
    try:
        methods = fit_methods(model, train, baselines=baselines, objectives=objectives, callback=callback,
                              on_step=on_step, checkpoint_dir=checkpoint_dir, resume=resume)
    except FloatingPointError as err:

        raise TrainingError(str(err)) from None
    except ValueError as err:  # data the model cannot use, or a checkpoint of another run
        raise as_input_error(err) from None
    evaluation = score_methods(methods, train, test, on_step=on_step)
    seconds = time.perf_counter() - started
    validation_ids = set(model.meta_.get("validation_trial_ids", []))
    validation = np.array([i for i in split.train if data.trial_ids[i] in validation_ids], dtype=np.int64)
    labels = split.labels(data.n_trials, validation)
    # training trials held back beside the validation block were not fitted on
    held_back = set(model.meta_.get("gap_trial_ids", []))
    labels[[i for i in split.train if data.trial_ids[i] in held_back]] = "excluded"
    predictions = model.predict(data)
    parameters = {"trials": asdict(options), "test_fraction": test_fraction, "n_train": int(len(split.train)),
                  "n_test": int(len(split.test)), "n_gap": int(len(split.gap)),
                  "regions": list(data.regions), "actions": list(data.actions)}

    def build(copy):
        table = None
        if options.trials in copy.intervals:
            table = copy.intervals[options.trials]
        elif options.trials == "trials":
            table = copy.trials
        containers = model.to_nwb(data, predictions, split=labels, trials_table=table, name_prefix=name_prefix)
        scores = EvaluationScores.from_frame(
            evaluation.scores, name=f"{name_prefix}EvaluationScores",
            description="held-out scores of NNPoisson and its baselines on the test trials",
            labels=f"{options.trials}: choice={options.choice}, stimulus={','.join(options.stimulus)}",
            parameters=json.loads(json.dumps(parameters, default=str)))
        return [*containers, scores]

    path = append_results(source, build, None if in_place else destination, in_place=in_place,
                          overwrite=overwrite, module_name=MODULE_NAME, module_description=MODULE_DESCRIPTION)
    figures: list[Path] = []
    if report_dir is not None:
        figures = write_report(Path(report_dir), evaluation, data)
    return NNPoissonResult(Path(path), model, evaluation.scores, split, data, seconds,
                           Path(report_dir) if report_dir is not None else None, figures)


def write_report(folder: Path, evaluation: Any, data: Any) -> list[Path]:
    """``scores.csv`` and the figures: intensities per condition against the PSTH, RT distributions
    predicted and observed, the time-rescaling KS plot."""
    from ..evaluation import point_process as pp

    folder.mkdir(parents=True, exist_ok=True)
    evaluation.scores.to_csv(folder / "scores.csv", index=False)
    paths = [folder / "scores.csv"]
    test = evaluation.test
    stimuli, _ = data.conditions()
    grid = np.linspace(0.0, data.window, 200)
    curves = {name: m.intensity_curves(stimuli, grid) for name, m in evaluation.models.items()
              if not name.startswith("psth")}
    psth = evaluation.models.get("psth")
    paths += pp.plot_intensities(curves, grid, list(data.regions), data.condition_labels(), folder,
                                 psth=psth.intensity_curves(stimuli, grid) if psth is not None else None)
    observed = test.rt[test.choice >= 0]
    cdfs = {}
    for name, m in evaluation.models.items():
        if hasattr(m, "rt_cdf"):
            cdf = m.rt_cdf(test, grid)
            cdfs[name] = (cdf / np.maximum(cdf[:, -1:], 1e-12))[test.choice >= 0].mean(0)
    paths += pp.plot_rt_distributions(observed, cdfs, grid, folder)
    paths += pp.plot_ks(evaluation.ks, list(data.regions), folder)
    return paths


@register_step
class NNPoissonStep(ModelStep):
    """NNPoisson on a file's trials, scored on held-out trials against baselines (the ``nnpoisson``
    section of ``run``, and ``nwb-tavrnn nnpoisson``)."""

    name = "nnpoisson"
    Params = NNPoissonParams
    Flags = ModelOptions
    help = "fit NNPoisson (stimulus -> regional spiking -> choice and RT) on trials; score it against baselines"

    def make_model(self) -> Any:
        return make_estimator(self.params.preset, **self.model_params)

    def check(self, nwbfile: Any) -> None:
        """Its trials, columns and regions exist, and the test split is large enough to score
        (in ``run``, before any model trains)."""
        checked_split(self.options().read(nwbfile), self.params.test_fraction)

    def options(self) -> TrialOptions:
        return self.params.trial_options

    def write(self, source: Any, destination: Any, model: Any, **common: Any) -> NNPoissonResult:
        p = self.params
        return nnpoisson_file(source, destination, model, p.trial_options, test_fraction=p.test_fraction,
                              baselines=p.baselines, objectives=p.compare_objectives, name_prefix=p.name_prefix,
                              **common)


__all__ = ["MODULE_NAME", "ModelOptions", "NNPoissonParams", "NNPoissonResult", "NNPoissonStep", "TrialOptions",
           "make_estimator", "nnpoisson_file", "write_report"]
