"""``nwb-tavrnn sort INPUT OUTPUT``: raw voltage → spike-sorted units (or per-electrode events) in NWB.

INPUT is an NWB file with an ElectricalSeries, or any recording SpikeInterface reads (``--format``:
biocam, maxwell, spikeglx, openephys, intan, binary, ...; guessed from the name when omitted).
Default: preprocess (bandpass 300-6000 Hz, median reference, noisy-channel removal), sort with
``lupin`` (pure Python), compute mean waveforms and quality metrics, keep units with snr >= 3,
isi_violations_ratio <= 0.5, presence_ratio >= 0.5, firing_rate >= 0.05 Hz. ``--hdmea``: no
sorting; each electrode's threshold crossings become one row (node) of the Units table.
"""

from __future__ import annotations

import argparse
import json
import sys

from ._options import add_command


def register(subparsers) -> argparse.ArgumentParser:
    p = add_command(subparsers, "sort",
                    "spike-sort raw voltage (or detect HD-MEA events) into an NWB Units table",
                    __doc__, run)
    p.add_argument("input", help="recording: NWB file with an ElectricalSeries, or a file/folder of --format")
    p.add_argument("output", help="NWB file to create")
    from ..params import add_arguments
    from ..sorting import DetectionParams, JobParams, SortingParams
    from ..sorting.params import PreprocessingParams

    groups = {name: p.add_argument_group(name)
              for name in ("reading", "preprocessing", "sorting", "HD-MEA mode (no sorting)", "execution")}
    add_reader_options(groups["reading"])
    groups["reading"].add_argument("--segment", type=int, help="multi-segment recordings: the segment to use")
    # The options come from the parameters' declarations (sorting.params); those below set a value
    # of a parameter rather than take one (--no-bandpass, --label-only, --hdmea).
    flags = add_arguments(p, PreprocessingParams, groups, only=("bandpass", "common_reference", "bad_channels"),
                          defaults=False)
    groups["preprocessing"].add_argument("--no-bandpass", action="store_true", help="no filtering")
    flags.update(add_arguments(p, SortingParams, groups, only=SORTING_FLAGS))
    groups["sorting"].add_argument("--label-only", action="store_true",
                                   help="keep failing units, marked passes_curation=False")
    groups["HD-MEA mode (no sorting)"].add_argument("--hdmea", action="store_true",
                                                    help="per-electrode threshold crossings as nodes")
    flags.update(add_arguments(p, DetectionParams, groups))
    groups["HD-MEA mode (no sorting)"].add_argument("--threshold", dest="detect_threshold", type=float,
                                                    default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # older
    flags.update(add_arguments(p, JobParams, groups))
    groups["execution"].add_argument("--work-folder", help="where sorter files go (default: system temp)")
    o = p.add_argument_group("output")
    o.add_argument("--append", action="store_true", help="NWB input: write a copy of INPUT with the units added")
    o.add_argument("--name", default="units", help="'units', or a name for processing/ecephys/<name>")
    o.add_argument("--metadata", metavar="JSON", help="NWBFile fields overriding the input's, e.g. lab, experimenter")
    o.add_argument("--subject-id", help="Subject id")
    o.add_argument("--species", help="Subject species (Latin binomial or NCBI taxonomy URL)")
    o.add_argument("--sex", help="Subject sex: M, F, U or O")
    o.add_argument("--age", help="Subject age, ISO 8601 duration (e.g. P90D)")
    o.add_argument("--electrode-location", help="brain area of the electrodes (non-NWB inputs)")
    o.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    # The library's names for what the hand-written flags set (its errors name them; cli.main.command_flags).
    p.set_defaults(_flags={**flags, "segment_index": "--segment", "curation_action='label'": "--label-only",
                           "method='hdmea'": "--hdmea"})
    return p


def add_reader_options(group) -> None:
    """How a raw recording is read: the options ``sort``, ``run`` and ``batch`` share."""
    group.add_argument("--format", help="reader: nwb, biocam, maxwell, spikeglx, openephys, intan, binary, ... "
                                        "(default: from the file name)")
    group.add_argument("--electrical-series", help="NWB input: path of the ElectricalSeries (default: the first)")
    group.add_argument("--sampling-frequency", type=float, help="binary: sampling rate in Hz")
    group.add_argument("--num-channels", type=int, help="binary: number of interleaved channels")
    group.add_argument("--dtype", help="binary: sample type, e.g. int16")
    group.add_argument("--gain-to-uv", type=float, help="binary: microvolts per raw unit")
    group.add_argument("--offset-to-uv", type=float, help="binary: offset in microvolts")
    group.add_argument("--reader-option", action="append", default=[], metavar="KEY=JSON",
                       help="any other reader argument (repeatable), e.g. --reader-option mea_pitch=42")


def _json(text: str | None, what: str):
    from ..errors import UsageError

    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{what} is not valid JSON ({err.msg} at character {err.pos})") from None


def reader_options(args: argparse.Namespace) -> dict:
    """The reader arguments of :func:`add_reader_options` (checked where the recording is loaded)."""
    from ..errors import UsageError

    options = {k: v for k, v in {"sampling_frequency": args.sampling_frequency, "num_channels": args.num_channels,
                                 "dtype": args.dtype, "gain_to_uV": args.gain_to_uv,
                                 "offset_to_uV": args.offset_to_uv}.items() if v is not None}
    for item in args.reader_option:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--reader-option {item!r}: expected KEY=VALUE")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def metadata(args: argparse.Namespace) -> dict:
    meta = dict(_json(args.metadata, "--metadata") or {})
    subject = {k: v for k, v in {"subject_id": args.subject_id, "species": args.species, "sex": args.sex,
                                 "age": args.age}.items() if v is not None}
    if subject:
        meta["subject"] = {**meta.get("subject", {}), **subject}
    if args.electrode_location:
        meta["electrode_location"] = args.electrode_location
    return meta


#: The sorting parameters ``sort`` offers as options (the others are configuration keys).
SORTING_FLAGS = ("sorter", "sorter_params", "curation", "waveform_channels", "seed")


def params_from_args(args: argparse.Namespace):
    """SortingParams (or DetectionParams with ``--hdmea``) from the options given; an option of the
    other mode is refused (it would be silently ignored)."""
    import dataclasses

    from ..errors import UsageError
    from ..params import given, names
    from ..sorting import DetectionParams, SortingParams
    from ..sorting.params import PreprocessingParams

    cls, other = (DetectionParams, SortingParams) if args.hdmea else (SortingParams, DetectionParams)
    wrong = [args._flags[k] for k in given(args, other) if k not in names(cls)]
    wrong += [flag for flag, dest in (("--label-only", "label_only"), ("--work-folder", "work_folder"))
              if args.hdmea and getattr(args, dest, None)]
    if wrong:
        raise UsageError(f"{', '.join(wrong)} {'apply' if len(wrong) > 1 else 'applies'} to "
                         f"{'sorting, not --hdmea' if args.hdmea else '--hdmea only'}")
    base = cls()
    preprocessing = given(args, PreprocessingParams)
    if args.no_bandpass:
        if "bandpass" in preprocessing:
            raise UsageError("give --bandpass or --no-bandpass, not both")
        preprocessing["bandpass"] = None
    changes = {k: v for k, v in given(args, cls).items() if k in names(cls)}
    if not args.hdmea and args.label_only:
        changes["curation_action"] = "label"
    return dataclasses.replace(base, preprocessing=dataclasses.replace(base.preprocessing, **preprocessing),
                               **changes)


def run(args: argparse.Namespace) -> int:
    from ..params import given
    from ..sorting import JobParams, detect_events, sort

    progress = not getattr(args, "quiet", False) and sys.stderr.isatty()
    job = JobParams(**given(args, JobParams), progress_bar=progress)
    common = dict(format=args.format, reader_options=reader_options(args), electrical_series=args.electrical_series,
                  segment_index=args.segment, mode="append" if args.append else "derived", name=args.name,
                  metadata=metadata(args), job=job, overwrite=args.overwrite)
    params = params_from_args(args)
    if args.hdmea:
        result = detect_events(args.input, args.output, params, **common)
        n_events = sum(len(t) for t in result.event_times)
        print(f"wrote {result.output}: {len(result.event_times)} electrodes, {n_events} threshold-crossing events "
              f"in {result.location}")
    else:
        result = sort(args.input, args.output, params, work_folder=args.work_folder, **common)
        print(f"wrote {result.output}: {result.num_units} units ({result.info['num_units_sorted']} sorted by "
              f"{params.sorter}, {result.info['num_units_passing']} pass curation) in {result.location}")
    return 0
