"""Run both validators on a file and report plainly, including when a validator itself cannot run.

Real files are messy: a file whose cached schema is incomplete (e.g. DANDI:000207 lacks the
``hdmf-experimental`` spec source it declares) makes ``pynwb.validate`` raise and nwbinspector
fail to read it. Such a failure is reported as a finding, and each validator is then run the next
best way (schema validation against the installed schemas; inspector checks on the file as pynwb
reads it), so the user still learns what is wrong with the data.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputFileError
from .io.files import PathLike, check_readable_nwb

log = logging.getLogger(__name__)

#: nwbinspector importance levels that make a file fail our validation.
FAILING_IMPORTANCE = ("CRITICAL", "BEST_PRACTICE_VIOLATION", "ERROR")


@dataclass
class Finding:
    """One problem: which validator said it, how serious, where, and what."""

    source: str
    importance: str
    message: str
    location: str = ""
    check: str = ""
    #: The same finding is in the file this one was derived from (see :func:`validate_file`).
    inherited: bool = False

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location else ""
        check = f" [{self.check}]" if self.check else ""
        return f"{self.importance}{check}{where}: {self.message}"

    def key(self) -> tuple[str, str, str, str, str]:
        """What makes two findings the same one (in a file and in a copy of it)."""
        return (self.source, self.importance, self.check, self.location, self.message)


@dataclass
class ValidationReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The file this one was compared with (its source), when there was one.
    source: str | None = None

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.importance in FAILING_IMPORTANCE or f.source == "pynwb"]

    @property
    def introduced(self) -> list[Finding]:
        """Problems the source does not have: made by the writing of this file (all of them when
        there was no source to compare with)."""
        return [f for f in self.problems if not f.inherited]

    @property
    def inherited(self) -> list[Finding]:
        """Problems found in the source file too, carried over with its contents."""
        return [f for f in self.problems if f.inherited]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "ok": self.ok,
            "source": self.source,
            "introduced": len(self.introduced),
            "inherited": len(self.inherited),
            "notes": self.notes,
            "findings": [vars(f) for f in self.findings],
        }


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


def _run_pynwb(path: Path, report: ValidationReport) -> None:
    import pynwb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            errors = pynwb.validate(path=str(path))
        except Exception as err:  # an incomplete cached schema raises KeyError from h5py
            report.findings.append(Finding(
                "pynwb", "ERROR",
                f"pynwb.validate could not use the schema cached in the file ({_first_line(err)}); the file "
                "was written with an incomplete cached specification, which tools relying on it cannot read",
                check="cached_schema",
            ))
            report.notes.append("pynwb.validate was re-run against the schemas installed with pynwb")
            errors = pynwb.validate(path=str(path), use_cached_namespaces=False)
    for err in errors:
        report.findings.append(Finding("pynwb", "ERROR", str(err), check="schema"))


def _inspector_findings(messages, report: ValidationReport) -> None:
    for msg in messages:
        if msg is None:
            continue
        report.findings.append(Finding(
            "nwbinspector", msg.importance.name, str(msg.message).strip().splitlines()[0][:500],
            location=msg.location or "", check=msg.check_function_name or "",
        ))


def _run_inspector(path: Path, report: ValidationReport) -> None:
    try:
        from nwbinspector import inspect_nwbfile, inspect_nwbfile_object, load_config
    except ImportError:
        report.findings.append(Finding(
            "nwbinspector", "ERROR", "nwbinspector is not installed: pip install 'nwb-tavrnn[validate]'",
            check="missing_dependency",
        ))
        return
    from .schema import checks  # noqa: F401  registers our checks with nwbinspector

    config = load_config("dandi")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # skip_validate: pynwb.validate has already run above, with a clearer report of its failure.
        messages = list(inspect_nwbfile(str(path), config=config, skip_validate=True))
        unreadable = [m for m in messages if m is not None and m.importance.name == "ERROR"
                      and "io.read()" in (m.check_function_name or "")]
        if not unreadable:
            _inspector_findings(messages, report)
            return
        report.notes.append(
            "nwbinspector could not open the file itself; its checks were run on the file as read by pynwb"
        )
        from .io.files import open_nwb

        try:
            with open_nwb(path) as nwbfile:
                _inspector_findings(inspect_nwbfile_object(nwbfile, config=config), report)
        except InputFileError as err:
            report.findings.append(Finding("nwbinspector", "ERROR", str(err), check="read"))


def validate_file(path: PathLike, source: PathLike | None = None, *, compare: bool = True) -> ValidationReport:
    """Validate one NWB file with pynwb's schema validator and nwbinspector (DANDI configuration).

    A derived file carries its source's contents, problems included. With ``source`` (or, by
    default, the local file a ``SourceFileReference`` in the file names), the source is validated
    too and each problem found there as well is marked ``inherited``; the others are what the
    writing of this file introduced (:attr:`ValidationReport.introduced`).

    Parameters
    ----------
    source
        The file this one was derived from; default the one its ``SourceFileReference`` records,
        when that is a readable local NWB file (an imported suite2p folder or CaImAn file is not).
    compare
        False: validate this file alone.

    Raises
    ------
    InputFileError
        If the file (or the given source) is missing, not HDF5 or not NWB (nothing to validate).
    """
    path = check_readable_nwb(path)
    from .schema import load_namespace

    load_namespace()
    report = ValidationReport(path=str(path))
    _run_pynwb(path, report)
    _run_inspector(path, report)
    if compare and source is None:
        source = recorded_source(path)
    if compare and source is not None:
        base = validate_file(source, compare=False)
        report.source = base.path
        left = Counter(f.key() for f in base.findings)
        for finding in report.findings:  # the suggestions `validate --all` lists too
            if left[finding.key()] > 0:  # each of the source's findings accounts for one here
                left[finding.key()] -= 1
                finding.inherited = True
    return report


def recorded_source(path: PathLike) -> Path | None:
    """The local source file a derived file's ``SourceFileReference`` names, when it is readable
    here (not a URL, not moved away, not the file itself); else None."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            general = f.get("general")
            for item in (general.values() if general is not None else ()):
                if _attribute(item, "neurodata_type") == "SourceFileReference":
                    recorded, object_id = _attribute(item, "source_path"), _attribute(item, "source_object_id")
                    if recorded and "://" not in recorded:  # a relative path: from here, or from the file's folder
                        for candidate in (Path(recorded), Path(path).parent / recorded):
                            if (candidate.is_file() and candidate.resolve() != Path(path).resolve()
                                    and _nwb_object_id(candidate) in (object_id, "")):  # that very file
                                return candidate
    except OSError:
        return None
    return None


def _nwb_object_id(path: Path) -> str | None:
    """The NWB file's object_id ("" when it records none); None when it is no NWB file (an imported
    suite2p folder's or CaImAn file's source is not)."""
    import h5py

    try:
        if not h5py.is_hdf5(path):
            return None
        with h5py.File(path, "r") as f:
            return (_attribute(f, "object_id") or "") if "nwb_version" in f.attrs else None
    except OSError:
        return None


def _attribute(obj, name: str) -> str | None:
    value = obj.attrs.get(name)
    return value.decode() if isinstance(value, bytes) else (str(value) if value is not None else None)
