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
    r = p.add_argument_group("reading")
    add_reader_options(r)
    r.add_argument("--segment", type=int, help="multi-segment recordings: the segment to use")
    pre = p.add_argument_group("preprocessing")
    pre.add_argument("--bandpass", type=float, nargs=2, metavar=("MIN_HZ", "MAX_HZ"),
                     help="bandpass (default 300 6000; 300 3000 with --hdmea)")
    pre.add_argument("--no-bandpass", action="store_true", help="no filtering")
    pre.add_argument("--reference", choices=["median", "average", "none"], help="common reference (default median)")
    pre.add_argument("--bad-channels", choices=["std", "mad", "coherence+psd", "neighborhood_r2", "none"],
                     help="bad-channel detection and removal (default std when sorting, none with --hdmea)")
    s = p.add_argument_group("sorting")
    s.add_argument("--sorter", help="any installed SpikeInterface sorter (default lupin)")
    s.add_argument("--sorter-params", metavar="JSON", help="sorter parameters as a JSON object")
    s.add_argument("--curation", metavar="JSON",
                   help='thresholds, e.g. \'{"snr": {"greater": 5}}\'; "{}" keeps every unit')
    s.add_argument("--label-only", action="store_true", help="keep failing units, marked passes_curation=False")
    s.add_argument("--waveform-channels", type=int, help="channels of each stored mean waveform (default 8)")
    s.add_argument("--seed", type=int, help="seed (default 0)")
    h = p.add_argument_group("HD-MEA mode (no sorting)")
    h.add_argument("--hdmea", action="store_true", help="per-electrode threshold crossings as nodes")
    h.add_argument("--detect-threshold", dest="threshold", type=float,
                   help="events beyond this many noise levels (default 5)")
    h.add_argument("--threshold", dest="threshold", type=float, help=argparse.SUPPRESS)  # older spelling
    h.add_argument("--peak-sign", choices=["neg", "pos", "both"], help="sign of events (default neg)")
    h.add_argument("--dead-time-ms", type=float, help="one event per electrode within this time (default 1)")
    j = p.add_argument_group("execution")
    j.add_argument("--n-jobs", type=int, default=1, help="parallel workers (default 1)")
    j.add_argument("--chunk-duration", default="1s", help="chunk length, e.g. 1s (memory ~ n_jobs x chunk)")
    j.add_argument("--work-folder", help="where sorter files go (default: system temp)")
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
    # The library's names for what these flags set (its errors name them; see cli.main.command_flags).
    p.set_defaults(_flags={"segment_index": "--segment", "curation_action='label'": "--label-only",
                           "method='hdmea'": "--hdmea", "exclude_sweep_ms": "--dead-time-ms",
                           "detect_threshold": "--detect-threshold", "common_reference": "--reference"})
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


def _preprocessing(args: argparse.Namespace, base):
    import dataclasses

    changes = {}
    if args.no_bandpass:
        changes["bandpass"] = None
    elif args.bandpass:
        changes["bandpass"] = tuple(args.bandpass)
    if args.reference:
        changes["common_reference"] = None if args.reference == "none" else args.reference
    if args.bad_channels:
        changes["bad_channels"] = None if args.bad_channels == "none" else args.bad_channels
    return dataclasses.replace(base, **changes)


def metadata(args: argparse.Namespace) -> dict:
    meta = dict(_json(args.metadata, "--metadata") or {})
    subject = {k: v for k, v in {"subject_id": args.subject_id, "species": args.species, "sex": args.sex,
                                 "age": args.age}.items() if v is not None}
    if subject:
        meta["subject"] = {**meta.get("subject", {}), **subject}
    if args.electrode_location:
        meta["electrode_location"] = args.electrode_location
    return meta


#: Options of one mode only: given in the other they would be silently ignored.
HDMEA_ONLY = {"threshold": "--detect-threshold", "peak_sign": "--peak-sign", "dead_time_ms": "--dead-time-ms"}
SORTING_ONLY = {"sorter": "--sorter", "sorter_params": "--sorter-params", "curation": "--curation",
                "waveform_channels": "--waveform-channels", "work_folder": "--work-folder"}


def params_from_args(args: argparse.Namespace):
    """SortingParams (or DetectionParams with ``--hdmea``) from the options given."""
    import dataclasses

    from ..errors import UsageError
    from ..sorting import DetectionParams, SortingParams

    wrong = {True: SORTING_ONLY, False: HDMEA_ONLY}[bool(args.hdmea)]
    given = [opt for dest, opt in wrong.items() if getattr(args, dest, None) is not None]
    given += ["--label-only"] if args.hdmea and args.label_only else []
    if given:
        raise UsageError(f"{', '.join(given)} {'apply' if len(given) > 1 else 'applies'} to "
                         f"{'sorting, not --hdmea' if args.hdmea else '--hdmea only'}")

    if args.hdmea:
        base = DetectionParams()
        changes = {k: v for k, v in {"detect_threshold": args.threshold, "peak_sign": args.peak_sign,
                                     "exclude_sweep_ms": args.dead_time_ms}.items() if v is not None}
        return dataclasses.replace(base, preprocessing=_preprocessing(args, base.preprocessing), **changes)
    base = SortingParams()
    changes = {k: v for k, v in {"sorter": args.sorter, "sorter_params": _json(args.sorter_params, "--sorter-params"),
                                 "curation": _json(args.curation, "--curation"),
                                 "waveform_channels": args.waveform_channels, "seed": args.seed}.items()
               if v is not None}
    if args.label_only:
        changes["curation_action"] = "label"
    return dataclasses.replace(base, preprocessing=_preprocessing(args, base.preprocessing), **changes)


def run(args: argparse.Namespace) -> int:
    from ..sorting import JobParams, detect_events, sort

    progress = not getattr(args, "quiet", False) and sys.stderr.isatty()
    job = JobParams(n_jobs=args.n_jobs, chunk_duration=args.chunk_duration, progress_bar=progress)
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
