"""``nwb-tavrnn run INPUT OUTPUT``: every step, from spike trains (or raw voltage) to evaluated embeddings.

INPUT is a local NWB file (spike trains or ROI traces), an http(s) URL or a DANDI asset
(dandi://DANDISET/path.nwb or a DANDI asset URL; streamed, only the bytes needed are read), a raw
recording (sorted first when it has no Units table), or a suite2p folder, a CaImAn HDF5 file or the
linear-track folder (imported to NWB first). OUTPUT is one self-contained derived NWB file holding
the connectivity, the model's embeddings, attention and provenance, and the evaluation scores; it
is written only when every step succeeded. With --in-place the results are added to INPUT itself
(local NWB files only, atomically). Evaluation runs when labels are given (--labels or
evaluation.labels in the config).

Settings come from the steps' defaults, then the --config file (YAML or TOML; sections importer, sorting,
connectivity, model, evaluation; see `--show-config` and the nwb_tavrnn.config documentation),
then --set SECTION.KEY=VALUE, then the options below.

Exit codes: 0 success; 1 unexpected error; 2 bad input or configuration; 3 output not writable.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._options import add_command



def _run_options() -> list[tuple[str, type, tuple[str, ...], bool]]:
    """What ``run`` and ``batch`` offer as options: (section, the class declaring them, which,
    whether ``--help`` shows the class's defaults). Everything else is a configuration key."""
    from ..config import ConnectivitySection, EvaluationSection, ImporterOptions, ModelSection, SortingSection
    from ..connectivity import ConnectivityParams
    from ..connectivity.nodes import NodeOptions
    from ..connectivity.step import ConnectivityOptions
    from ..evaluation.settings import EvaluationConfig
    from ..sorting import SortingParams
    from ..steps.model import TAVRNNOptions

    return [("importer", ImporterOptions, ("rate",), True),
            ("connectivity", ConnectivitySection, ("preset",), True),
            ("connectivity", ConnectivityParams, ("bin_size", "window", "step", "threshold_mode", "threshold",
                                                  "density"), False),  # the preset's defaults, not the class's
            ("connectivity", ConnectivityOptions, ("windows_from", "restrict_to", "groups", "time_range"), True),
            ("connectivity", NodeOptions, ("nodes", "series", "rois", "signal", "neuropil"), True),
            ("model", ModelSection, ("preset",), True),
            ("model", TAVRNNOptions, ("epochs", "patience", "seed", "device"), True),
            ("evaluation", EvaluationSection, ("labels", "report_dir"), True),
            ("evaluation", EvaluationConfig, ("seeds", "n_permutations", "baselines", "time_shuffle", "figures",
                                               "node_groups"), True),
            ("sorting", SortingSection, ("n_jobs",), True),
            ("sorting", SortingParams, ("sorter",), True)]


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """The configuration options shared by ``run`` and ``batch``, generated from the steps'
    declared parameters (:mod:`nwb_tavrnn.params`)."""
    from ..params import add_arguments

    c = parser.add_argument_group("configuration")
    c.add_argument("--config", metavar="FILE", help="YAML (.yaml/.yml) or TOML (.toml) configuration file")
    c.add_argument("--set", dest="assignments", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one setting (repeatable), e.g. --set model.h_dim=64 --set connectivity.binary=true")
    c.add_argument("--show-config", action="store_true", help="print the settings that would be used, and exit")
    groups: dict[str, argparse._ArgumentGroup] = {}
    flags: dict[str, str] = {}  # SECTION.KEY -> flag, for errors about a setting
    for section, cls, only, defaults in _run_options():
        title = {"importer": "import (suite2p folders, CaImAn HDF5 files, the linear-track folder)",
                 "sorting": "sorting (raw voltage input only)"}.get(section, section)
        if section not in groups:
            groups[section] = parser.add_argument_group(title)
        added = add_arguments(parser, cls, {"": groups[section], **{g: groups[section] for g in _group_names(cls)}},
                              only=only, prefix=f"{section}.", defaults=defaults)
        flags.update({f"{section}.{name}": flag for name, flag in added.items()})
    flags["sorting.method='hdmea'"] = "--hdmea"  # a flag that sets a value (see cli.main.command_flags)
    parser.set_defaults(_flags=flags)
    e = groups["evaluation"]
    e.add_argument("--report-dir", dest="evaluation.report_dir", default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # older spelling
    e.add_argument("--n-permutations", dest="evaluation.n_permutations", type=int, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # older spelling
    s = groups["sorting"]
    from .sort import add_reader_options

    add_reader_options(s)
    s.add_argument("--hdmea", action="store_true", help="per-electrode threshold crossings instead of sorting")
    s.add_argument("--n-jobs", dest="sorting.n_jobs", type=int, default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # older spelling


def _group_names(cls: type) -> set[str]:
    from ..params import parameters

    return {p.group for p in parameters(cls) if p.group}


#: option dest -> (section, key) of the options not generated from a declaration.
OPTION_KEYS: dict[str, tuple[str, str]] = {
    "format": ("sorting", "format"),
    "electrical_series": ("sorting", "electrical_series"),
}


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Section -> key -> value of everything given on the command line (--set first, options last)."""
    from ..config import parse_assignment
    from ..params import given

    overrides: dict[str, dict[str, Any]] = {}
    for text in getattr(args, "assignments", []) or []:
        section, key, value = parse_assignment(text)
        overrides.setdefault(section, {})[key] = value
    for section, cls, only, _ in _run_options():
        values = {k: v for k, v in given(args, cls, prefix=f"{section}.").items() if k in only}
        overrides.setdefault(section, {}).update(values)
    for dest, (section, key) in OPTION_KEYS.items():
        value = getattr(args, dest, None)
        if value is not None:
            overrides.setdefault(section, {})[key] = value
    if getattr(args, "hdmea", False):
        overrides.setdefault("sorting", {})["method"] = "hdmea"
    if hasattr(args, "reader_option"):
        from .sort import reader_options

        options = reader_options(args)
        if options:
            section = overrides.setdefault("sorting", {})
            section["reader_options"] = {**(section.get("reader_options") or {}), **options}
    return {k: v for k, v in overrides.items() if v}


def config_from_args(args: argparse.Namespace):
    """The merged configuration: file, then --set, then the options (later wins)."""
    from ..config import load_config

    return load_config(args.config, overrides_from_args(args))


def show_progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def register(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, "run",
                    "the whole pipeline: (sorting →) connectivity → TAVRNN → evaluation",
                    __doc__, run)
    p.add_argument("input", nargs="?", help="NWB file, http(s) URL, DANDI asset, or raw recording")
    p.add_argument("output", nargs="?", help="derived NWB file to create (omit with --in-place)")
    p.add_argument("--in-place", action="store_true", help="add the results to INPUT itself (local NWB, atomic)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT and its report folder if they exist")
    add_pipeline_options(p)
    return p


def print_result(result, out=None) -> None:
    """What was written, how long each step took, and the headline scores (CLI output)."""
    out = out or sys.stdout
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    print(f"wrote {result.output}: {result.n_windows} windows x {result.n_nodes} nodes"
          f"{' (spike-sorted first)' if result.sorted else ''}; {steps}", file=out)
    if result.report_dir is not None:
        print(f"report (scores and figures): {result.report_dir}", file=out)
    if result.report is not None:
        print(result.report.format_headline(), file=out)


def config_unless_shown(args: argparse.Namespace):
    """The configuration in effect, or None once ``--show-config`` has printed it (then exit 0)."""
    from ..config import dump_config

    config = config_from_args(args)
    if args.show_config:
        print(dump_config(config), end="")
        return None
    return config


def run(args: argparse.Namespace) -> int:
    from ..errors import InputFileError
    from ..pipeline import run_pipeline

    config = config_unless_shown(args)
    if config is None:
        return 0
    if not args.input:
        raise InputFileError("give an INPUT (and an OUTPUT, or --in-place)")
    if args.in_place and args.output:
        raise InputFileError("--in-place writes into INPUT; give no OUTPUT")
    if not args.in_place and not args.output:
        raise InputFileError("give an OUTPUT file, or --in-place to add the results to INPUT")
    result = run_pipeline(args.input, args.output, config, in_place=args.in_place, overwrite=args.overwrite,
                          progress=show_progress(args))
    print_result(result)
    return 0
