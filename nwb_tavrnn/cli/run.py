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

from ._options import add_patience, patience_value

#: option dest -> (section, key) of the configuration it overrides.
OPTION_KEYS: dict[str, tuple[str, str]] = {
    "preset": ("connectivity", "preset"),
    "bin_size": ("connectivity", "bin_size"),
    "window": ("connectivity", "window"),
    "step": ("connectivity", "step"),
    "threshold_mode": ("connectivity", "threshold_mode"),
    "threshold": ("connectivity", "threshold"),
    "density": ("connectivity", "density"),
    "windows_from": ("connectivity", "windows_from"),
    "restrict_to": ("connectivity", "restrict_to"),
    "groups": ("connectivity", "groups"),
    "time_range": ("connectivity", "time_range"),
    "rate": ("importer", "rate"),
    "nodes": ("connectivity", "nodes"),
    "series": ("connectivity", "series"),
    "rois": ("connectivity", "rois"),
    "signal": ("connectivity", "signal"),
    "neuropil": ("connectivity", "neuropil"),
    "model_preset": ("model", "preset"),
    "epochs": ("model", "epochs"),
    "patience": ("model", "patience"),
    "seed": ("model", "seed"),
    "device": ("model", "device"),
    "labels": ("evaluation", "labels"),
    "seeds": ("evaluation", "seeds"),
    "n_permutations": ("evaluation", "n_permutations"),
    "baselines": ("evaluation", "baselines"),
    "report_dir": ("evaluation", "report_dir"),
    "sorter": ("sorting", "sorter"),
    "format": ("sorting", "format"),
    "electrical_series": ("sorting", "electrical_series"),
    "n_jobs": ("sorting", "n_jobs"),
}


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """The configuration options shared by ``run`` and ``batch``."""
    c = parser.add_argument_group("configuration")
    c.add_argument("--config", metavar="FILE", help="YAML (.yaml/.yml) or TOML (.toml) configuration file")
    c.add_argument("--set", dest="assignments", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one setting (repeatable), e.g. --set model.h_dim=64 --set connectivity.binary=true")
    c.add_argument("--show-config", action="store_true", help="print the settings that would be used, and exit")
    i = parser.add_argument_group("import (suite2p folders, CaImAn HDF5 files, the linear-track folder)")
    i.add_argument("--rate", type=float, help="imaging frame rate in Hz (suite2p without ops.npy needs it)")
    g = parser.add_argument_group("connectivity")
    g.add_argument("--preset", choices=["default", "dishbrain", "hippocampus", "ophys"],
                   help="connectivity preset (default: ophys for ROI traces, default for spike trains)")
    g.add_argument("--bin-size", type=float, help="bin width in seconds")
    g.add_argument("--window", type=float, help="window length in seconds")
    g.add_argument("--step", type=float, help="step between window starts in seconds")
    g.add_argument("--threshold-mode", choices=["fixed", "top_k", "density", "mp", "none"],
                   help="how edges are kept: |r| >= --threshold, top-k partners, a fixed density, the "
                        "Marchenko-Pastur null, or every pair")
    g.add_argument("--threshold", type=float, help="fixed: keep |r| >= this")
    g.add_argument("--density", type=float, help="density: fraction of pairs kept per window")
    g.add_argument("--windows-from", metavar="TABLE[:COLUMN]", help="one window per interval or per run of labels")
    g.add_argument("--restrict-to", metavar="TABLE[:COLUMN=VALUE]", help="slide windows only inside these intervals")
    g.add_argument("--groups", nargs="+", help="keep nodes of these electrode groups")
    g.add_argument("--time-range", type=float, nargs=2, metavar=("START", "STOP"), help="seconds")
    g.add_argument("--nodes", choices=["auto", "units", "rois"],
                   help="units' spike trains or ROI traces (auto: the units when the file has any, else the ROIs)")
    g.add_argument("--series", metavar="PATH", help="ROIs: the RoiResponseSeries (default: the only plane's raw "
                                                    "fluorescence)")
    g.add_argument("--rois", choices=["accepted", "all"], help="ROIs: the segmentation's accepted cells or all")
    g.add_argument("--signal", choices=["raw", "dff", "events"], help="ROIs: as stored, dF/F, or 0/1 events")
    g.add_argument("--neuropil", type=float, metavar="K",
                   help="ROIs: subtract K x the plane's Neuropil series (suite2p uses 0.7; default 0: none)")
    m = parser.add_argument_group("model")
    m.add_argument("--model-preset", choices=["faithful", "improved"], help="TAVRNN preset")
    m.add_argument("--epochs", type=int, help="maximum epochs")
    add_patience(m)
    m.add_argument("--seed", type=int, help="model seed")
    m.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    e = parser.add_argument_group("evaluation")
    e.add_argument("--labels", metavar="SPEC",
                   help="window labels, e.g. epochs:state or trials:hit:top_bottom=3 (enables evaluation)")
    e.add_argument("--seeds", type=int, help="k-means restarts of the clustering scores (10)")
    e.add_argument("--permutations", dest="n_permutations", type=int, help="labellings of the label null (200)")
    e.add_argument("--n-permutations", dest="n_permutations", type=int, help=argparse.SUPPRESS)  # older spelling
    e.add_argument("--baselines", nargs="*", metavar="NAME",
                   help="raw_correlation population_rates vgae vgrnn (none: give the option alone)")
    e.add_argument("--no-time-shuffle", action="store_true", help="skip the time-shuffle null (it refits the model)")
    e.add_argument("--no-figures", action="store_true", help="scores only, no figures")
    e.add_argument("--report", dest="report_dir", metavar="DIR",
                   help="folder of scores and figures (default OUTPUT stem + _report)")
    e.add_argument("--report-dir", dest="report_dir", help=argparse.SUPPRESS)  # older spelling
    s = parser.add_argument_group("sorting (raw voltage input only)")
    from .sort import add_reader_options

    add_reader_options(s)
    s.add_argument("--sorter", help="SpikeInterface sorter (default lupin)")
    s.add_argument("--hdmea", action="store_true", help="per-electrode threshold crossings instead of sorting")
    s.add_argument("--sort-jobs", dest="n_jobs", type=int, help="parallel jobs of the sorting step")
    s.add_argument("--n-jobs", dest="n_jobs", type=int, help=argparse.SUPPRESS)  # older spelling


def overrides_from_args(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Section -> key -> value of everything given on the command line (--set first, options last)."""
    from ..config import parse_assignment

    overrides: dict[str, dict[str, Any]] = {}
    for text in getattr(args, "assignments", []) or []:
        section, key, value = parse_assignment(text)
        overrides.setdefault(section, {})[key] = value
    for dest, (section, key) in OPTION_KEYS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if dest == "patience":
            value = patience_value(value)
        if dest == "time_range":
            value = list(value)
        overrides.setdefault(section, {})[key] = value
    if getattr(args, "no_time_shuffle", False):
        overrides.setdefault("evaluation", {})["time_shuffle"] = False
    if getattr(args, "no_figures", False):
        overrides.setdefault("evaluation", {})["figures"] = False
    if getattr(args, "hdmea", False):
        overrides.setdefault("sorting", {})["method"] = "hdmea"
    if hasattr(args, "reader_option"):
        from .sort import reader_options

        options = reader_options(args)
        if options:
            section = overrides.setdefault("sorting", {})
            section["reader_options"] = {**(section.get("reader_options") or {}), **options}
    return overrides


def config_from_args(args: argparse.Namespace):
    """The merged configuration: file, then --set, then the options (later wins)."""
    from ..config import load_config

    return load_config(args.config, overrides_from_args(args))


def show_progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("run", help="the whole pipeline: (sorting →) connectivity → TAVRNN → evaluation",
                              description=__doc__.split(":", 1)[1].strip(),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", nargs="?", help="NWB file, http(s) URL, DANDI asset, or raw recording")
    p.add_argument("output", nargs="?", help="derived NWB file to create (omit with --in-place)")
    p.add_argument("--in-place", action="store_true", help="add the results to INPUT itself (local NWB, atomic)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT and its report folder if they exist")
    add_pipeline_options(p)
    p.set_defaults(func=run)
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
