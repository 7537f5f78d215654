"""The sections of a configuration: the dataclasses declaring each core section's own keys, the
keys of every section (its own and those of the objects it builds), and the options reference
generated from them."""

from __future__ import annotations

from dataclasses import dataclass

from ..params import Check, at_least, names, param


@dataclass
class ImporterOptions:
    """The ``importer`` section: options of the importers that turn a dataset-specific layout (a
    suite2p folder, a CaImAn HDF5 file, the linear-track folder) into NWB before the steps run."""

    rate: float | None = param(None, parse=float, metavar="HZ", check=Check(lambda v: 0 < v < float("inf"),
                                                              "must be a positive frame rate in Hz"),
                               group="import (suite2p folders, CaImAn HDF5 files, the linear-track folder)",
                               help="suite2p / CaImAn: imaging frame rate in Hz (suite2p without ops.npy needs it; "
                                    "CaImAn's stored rate is often its default 30)")
    plane: str | None = param(None, flag=None, help="suite2p: the plane folder to read (default: every plane)")
    segments: int | None = param(None, flag=None, check=at_least(2),
                                 help="linear-track: track segments of the stays table (3)")


@dataclass
class SortingSection:
    """The ``sorting`` section's own keys (used only when INPUT has no Units table); the fields of
    :class:`~nwb_tavrnn.sorting.SortingParams` (``method: sort``) or
    :class:`~nwb_tavrnn.sorting.DetectionParams` (``method: hdmea``) are keys too."""

    method: str = param("sort", flag=None, choices=("sort", "hdmea"),
                        help="'sort' (spike sorting) or 'hdmea' (per-electrode threshold crossings, no sorting)")
    format: str | None = param(None, flag=None, help="reader for non-NWB recordings (biocam, maxwell, spikeglx, "
                                                   "openephys, intan, binary...)")
    reader_options: dict | None = param(None, flag=None, help="other reader arguments (mapping)")
    electrical_series: str | None = param(None, flag=None,
                                          help="NWB input: path of the ElectricalSeries (default: the first)")
    segment_index: int | None = param(None, flag=None, help="multi-segment recordings: the segment to use")
    n_jobs: int | None = param(None, flag="--sort-jobs", parse=int,
                               check=Check(lambda v: v == -1 or v >= 1, "must be >= 1, or -1 for every core"),
                               group="sorting (raw voltage input only)", help="parallel jobs of the sorting step")
    chunk_duration: str | None = param(None, flag=None, help="chunk length of the sorting step, e.g. '1s'")
    work_folder: str | None = param(None, flag=None, help="where sorter files go (default: system temp)")
    preprocessing: dict | None = param(None, flag=None, help="bandpass, common_reference, bad_channels, ... "
                                                           "(mapping)")


@dataclass
class ConnectivitySection:
    """The ``connectivity`` section's own key; the fields of
    :class:`~nwb_tavrnn.connectivity.ConnectivityParams`, of
    :class:`~nwb_tavrnn.connectivity.nodes.NodeOptions` and of
    :class:`~nwb_tavrnn.connectivity.step.ConnectivityOptions` are keys too."""

    preset: str | None = param(None, metavar="{default,dishbrain,hippocampus,ophys}", group="connectivity",
                               help="connectivity preset, which the other keys override (default: ophys for ROI "
                                    "traces, default for spike trains)")


@dataclass
class ModelSection:
    """The ``model`` section's own keys; the arguments of the model (:class:`~nwb_tavrnn.models.TAVRNN`
    by default) are keys too."""

    name: str = param("tavrnn", flag=None, help="tavrnn (default) or vgrnn (no attention)")
    preset: str | None = param(None, flag="--model-preset", choices=("faithful", "improved"), group="model",
                               help="'faithful': the reference notebook's computation (its GCN normalisation, "
                                    "history node in the loss, frozen recurrence weights, attention over attended "
                                    "states, 500 epochs, no early stopping or clipping, sampled embeddings); "
                                    "'improved' (the default settings) fixes these; other options override")
    checkpoint_dir: str | None = param(None, metavar="DIR", group="output",
                                       help="write DIR/checkpoint.pt every checkpoint_every epochs")
    checkpoint_every: int = param(25, metavar="K", check=at_least(1), group="output",
                                  help="epochs between checkpoints")
    resume: bool = param(False, group="output", help="continue from the checkpoint in checkpoint_dir")
    name_prefix: str = param("", group="output", help="prefix for the names of the objects written")


@dataclass
class EvaluationSection:
    """The ``evaluation`` section's own keys; the fields of
    :class:`~nwb_tavrnn.evaluation.report.EvaluationConfig` are keys too."""

    labels: str | None = param(None, metavar="SPEC", group="evaluation",
                               help="window labels, e.g. epochs:state or trials:hit:top_bottom=3 (enables "
                                    "evaluation)")
    report_dir: str | None = param(None, flag="--report", metavar="DIR", group="evaluation",
                                   help="folder of scores and figures (default OUTPUT stem + _report)")


#: The sections every run has, and the dataclass declaring each one's own keys. The sections of
#: the registered steps (:mod:`nwb_tavrnn.steps`: ``nnpoisson``, ``seq2seq``, ...) follow them.
CORE_SECTIONS: dict[str, type] = {"importer": ImporterOptions, "sorting": SortingSection,
                                  "connectivity": ConnectivitySection, "model": ModelSection,
                                  "evaluation": EvaluationSection}


def _dataclass_names(*classes: type) -> tuple[str, ...]:
    import dataclasses

    return tuple(dict.fromkeys(f.name for cls in classes for f in dataclasses.fields(cls)))


def section_keys(name: str) -> tuple[str, ...]:
    """Every key of section ``name``: its own, then those of the objects it builds (this imports
    the step's module; the model's imports torch).

    Raises
    ------
    KeyError
        For an unknown section.
    """
    if name == "importer":
        return names(ImporterOptions)
    if name == "sorting":
        from ..sorting import DetectionParams, SortingParams

        return tuple(dict.fromkeys((*names(SortingSection), *_dataclass_names(SortingParams, DetectionParams))))
    if name == "connectivity":
        from ..connectivity import ConnectivityParams
        from ..connectivity.nodes import NodeOptions
        from ..connectivity.step import ConnectivityOptions

        return (*names(ConnectivitySection), *names(NodeOptions), *names(ConnectivityOptions),
                *names(ConnectivityParams))
    if name == "model":
        return (*names(ModelSection), *_estimator_keys("tavrnn"))
    if name == "evaluation":
        from ..evaluation.settings import EvaluationConfig

        return (*names(EvaluationSection), *names(EvaluationConfig))
    from ..steps import get_step

    return get_step(name).keys()


def _estimator_keys(model: str) -> tuple[str, ...]:
    import inspect

    from ..models import get_model

    return tuple(p for p in inspect.signature(get_model(model)).parameters if p not in ("self", "warm_start"))


def sections() -> tuple[str, ...]:
    """Every section a configuration may have: the core ones, then one per registered step."""
    from ..steps import load_steps

    return (*CORE_SECTIONS, *load_steps())


def options_reference() -> str:
    """Every configuration key and command-line flag, as Markdown tables generated from the
    declarations (what ``docs/options.md`` holds; ``python -m nwb_tavrnn.config`` prints it)."""
    from ..connectivity import ConnectivityParams
    from ..connectivity.nodes import NodeOptions
    from ..connectivity.step import ConnectivityOptions
    from ..evaluation.settings import EvaluationConfig
    from ..params import options_table
    from ..sorting import DetectionParams, SortingParams
    from ..steps import load_steps
    from ..steps.model import TAVRNNOptions

    blocks = [("importer", [ImporterOptions]), ("sorting", [SortingSection, SortingParams, DetectionParams]),
              ("connectivity", [ConnectivitySection, ConnectivityParams, NodeOptions, ConnectivityOptions]),
              ("model", [ModelSection, TAVRNNOptions]), ("evaluation", [EvaluationSection, EvaluationConfig])]
    blocks += [(name, [step.Params, *([step.Flags] if getattr(step, "Flags", None) else [])])
               for name, step in load_steps().items()]
    out = ["# Options", "",
           "Generated from the parameters' declarations (`python docs/build_reference.py`, or",
           "`python -m nwb_tavrnn.config`). Each key is a key of its section in a configuration file and of",
           "`--set SECTION.KEY=VALUE`; the flag is its option where a command offers it (`run` offers a",
           "subset, the step's own command more). A key of a model (`model`, `nnpoisson`, `seq2seq`) that is",
           "not listed is an argument of the estimator (see its docstring); `--show-config` prints them all.", ""]
    from ..sorting.params import PreprocessingParams

    for name, classes in blocks:
        out += [f"## `{name}`", ""]
        for cls in classes:
            out += [f"{cls.__name__}:", "", options_table(cls, name), ""]
        if name == "sorting":  # the keys of its `preprocessing` mapping
            out += ["PreprocessingParams (`sorting.preprocessing` is a mapping of these keys):", "",
                    options_table(PreprocessingParams, "sorting.preprocessing"), ""]
    return "\n".join(out)


__all__ = ["CORE_SECTIONS", "ConnectivitySection", "EvaluationSection", "ImporterOptions", "ModelSection",
           "SortingSection", "options_reference", "section_keys", "sections"]
