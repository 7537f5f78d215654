"""Many files through the pipeline on Dask distributed: a local cluster by default, or an existing one.

Inputs are NWB files (local paths, URLs, DANDI assets), local folders (their ``*.nwb`` files) or
whole dandisets (``dandi://000207``, ``https://dandiarchive.org/dandiset/000207``: every ``.nwb``
asset, listed with dandi's client). Each file is one task running :func:`~nwb_tavrnn.pipeline.run_pipeline`
in a worker process; a task catches its own errors and returns a row of the summary table, so one
failed file is reported and never stops the others. Outputs are written atomically by the pipeline,
so a failed (or killed) task leaves no partial file, and inputs are never modified.

Needs ``dask[distributed]`` (the ``batch`` extra).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import PipelineConfig
from .errors import InputFileError, NwbTavrnnError, OutputFileError, UsageError
from .io.files import PathLike, is_url

log = logging.getLogger(__name__)

#: Columns of the summary table (and of the CSV written beside the outputs).
COLUMNS = ("file", "status", "seconds", "output", "error", "warnings")
SUMMARY_NAME = "batch_summary.csv"
OUTPUT_SUFFIX = "_tavrnn"


@dataclass(frozen=True)
class BatchItem:
    """One file to process: a label for the table, what the pipeline reads, and what it writes."""

    file: str
    source: str
    output: Path


def _dandi_assets(url: str) -> list[tuple[str, str]]:
    """(asset path, download URL) of every ``.nwb`` asset a DANDI URL names (asset, folder or dandiset)."""
    try:
        from dandi.dandiapi import DandiAPIClient
        from dandi.dandiarchive import parse_dandi_url
    except ImportError:
        raise InputFileError("listing DANDI assets needs the 'dandi' package: "
                             "pip install 'nwb-tavrnn[dandi]'") from None
    try:
        parsed = parse_dandi_url(url)
        with DandiAPIClient.for_dandi_instance(parsed.instance) as client:
            assets = [a for a in parsed.get_assets(client) if a.path.lower().endswith(".nwb")]
            return [(a.path, a.get_content_url(regex=r"s3\.amazonaws\.com.*")) for a in assets]
    except Exception as err:  # noqa: BLE001 - dandi raises its own types for unknown/unreachable dandisets
        raise InputFileError(f"{url}: could not list the DANDI assets ({type(err).__name__}: {err})") from None


def expand_inputs(inputs: Sequence[str], lister: Callable[[str], list[tuple[str, str]]] | None = None
                  ) -> list[tuple[str, str]]:
    """(label, source) of every file named by ``inputs``: folders give their ``*.nwb`` files
    (sorted), unless an importer reads the folder itself (a suite2p folder: one input, imported
    by ``run``); DANDI URLs their ``.nwb`` assets; anything else itself.

    Raises
    ------
    InputFileError
        If a folder holds no ``.nwb`` file or a DANDI URL names none.
    """
    from .importers import recognise
    from .io.remote import is_dandi_url

    lister = lister or _dandi_assets
    items: list[tuple[str, str]] = []
    for given in inputs:
        given = str(given)
        if is_url(given) and is_dandi_url(given):
            assets = lister(given)
            if not assets:
                raise InputFileError(f"{given}: names no .nwb asset")
            items += assets
        elif not is_url(given) and Path(given).is_dir() and recognise(given) is None:
            files = sorted(p for p in Path(given).iterdir() if p.suffix.lower() == ".nwb" and p.is_file()
                           and not p.name.startswith("."))
            if not files:
                raise InputFileError(f"{given}: folder holds no .nwb file")
            items += [(str(p), str(p)) for p in files]
        else:
            items.append((given, given))
    return items


def _stem(label: str) -> str:
    name = label.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    stem = name[:-4] if name.lower().endswith(".nwb") else name
    return re.sub(r"[^A-Za-z0-9._+-]", "_", stem) or "file"


def plan_batch(inputs: Sequence[str], output_dir: PathLike,
               lister: Callable[[str], list[tuple[str, str]]] | None = None) -> list[BatchItem]:
    """One :class:`BatchItem` per input file, with output names ``<stem>_tavrnn.nwb`` in
    ``output_dir`` (made unique when two inputs share a stem)."""
    output_dir = Path(output_dir)
    items, used = [], set()
    for label, source in expand_inputs(inputs, lister):
        stem, n = f"{_stem(label)}{OUTPUT_SUFFIX}", 1
        name = stem
        while name in used:
            n += 1
            name = f"{stem}-{n}"
        used.add(name)
        items.append(BatchItem(label, source, output_dir / f"{name}.nwb"))
    return items


def run_one(item: BatchItem, config: PipelineConfig, overwrite: bool = False,
            log_level: int | None = None) -> dict[str, Any]:
    """Run the pipeline on one file and return its summary row; never raises for a bad file.

    Runs inside a Dask worker. The row's ``error`` is the one-line message of the failure,
    ``warnings`` the warnings the file raised (Python's warning state is per process: on a worker
    running several tasks at once, on an existing cluster, one file's may land in another's row),
    and ``exit_code`` the CLI exit code it stands for
    (2 bad input, 3 output, 1 anything else). ``log_level``: the caller's level for the package's
    log in this worker; below DEBUG, the worker's own Dask notices (e.g. on a cancelled task) are
    kept out of the terminal.
    """
    from .pipeline import run_pipeline

    if log_level is not None:
        logging.getLogger("nwb_tavrnn").setLevel(log_level)
        logging.getLogger("distributed").setLevel(logging.DEBUG if log_level <= logging.DEBUG else logging.ERROR)

    started = time.perf_counter()
    row: dict[str, Any] = {"file": item.file, "status": "ok", "seconds": 0.0, "output": str(item.output),
                           "error": "", "warnings": "", "exit_code": 0}
    report_dir = config.evaluation.get("report_dir")
    if report_dir:  # one folder per file, not every file's report into the same one
        config = config.with_overrides({"evaluation": {"report_dir": str(Path(report_dir) / item.output.stem)}})
    try:
        # A worker's warnings would reach the terminal as unattributed lines from several processes
        # at once: each file's go to its own row (and the summary CSV) instead.
        with warnings.catch_warnings(record=True) as caught:  # the filters stay: what a run would show
            try:
                result = run_pipeline(item.source, item.output, config, overwrite=overwrite, progress=False)
            finally:
                row["warnings"] = _warning_lines(caught)
        row["output"] = str(result.output)
        headline = result.headline()
        if headline is not None and len(headline):
            row["accuracy"] = float(headline["mean"].iloc[0])
    except NwbTavrnnError as err:
        row.update(status="failed", output="", error=str(err).splitlines()[0], exit_code=err.exit_code)
    except Exception as err:
        log.debug("details", exc_info=True)
        row.update(status="failed", output="", error=f"unexpected {type(err).__name__}: {err}".splitlines()[0],
                   exit_code=1)
    row["seconds"] = round(time.perf_counter() - started, 2)
    return row


def _warning_lines(caught: Sequence[warnings.WarningMessage]) -> str:
    """The distinct first lines of the warnings a file raised, in order, joined by " | "."""
    lines = []
    for w in caught:
        text = str(w.message).strip().splitlines()
        lines.append(f"{w.category.__name__}: {text[0] if text else ''}")
    return " | ".join(dict.fromkeys(lines))


def _start_workers(cluster: Any, client: Any, n_workers: int, timeout: float = 30.0) -> list[int]:
    """Start the local cluster's worker processes so that they ignore SIGINT for good; return their pids.

    Ctrl-C reaches every process of the terminal's group: the workers must not die mid-write (or
    print tracebacks) before this process has cancelled their tasks, closed the cluster and swept
    what they leave. A child inherits an ignored SIGINT, so SIGINT is ignored here only until the
    worker processes exist (a fraction of a second; a Ctrl-C then is lost), not while they boot.
    """
    import multiprocessing

    ignore = threading.current_thread() is threading.main_thread()
    before = set(multiprocessing.active_children())
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if ignore else None
    try:
        cluster.scale(n_workers)
        deadline = time.monotonic() + timeout
        while len(set(multiprocessing.active_children()) - before) < n_workers and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        if ignore:
            signal.signal(signal.SIGINT, previous)
    client.wait_for_workers(n_workers, timeout=timeout)
    return list(client.run(os.getpid).values())


def _client(scheduler: str | None):
    """A client of the given scheduler, or of a new local cluster of single-threaded processes
    (one file per process: the model's threads and HDF5 handles stay within one task)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise NwbTavrnnError("batch runs need Dask: pip install 'nwb-tavrnn[batch]' (dask[distributed])") from None
    if not log.isEnabledFor(logging.DEBUG):
        # Dask's own start-up and shutdown lines (e.g. "worker process still alive after 4.0 seconds,
        # killing" at close) are noise to a user; a worker that died is reported in its file's row.
        logging.getLogger("distributed").setLevel(logging.ERROR)
    if scheduler:
        try:
            return Client(scheduler, timeout="30s"), None
        except (OSError, TimeoutError) as err:
            raise InputFileError(f"cannot reach the Dask scheduler at {scheduler} ({err})") from None
    # no workers yet: _start_workers starts them
    cluster = LocalCluster(n_workers=0, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def _make_folder(folder: Path) -> Path | None:
    """Make ``folder`` with its missing parents; returns the first folder made (None if it existed).

    Raises
    ------
    OutputFileError
        If it cannot be made.
    """
    first = next((p for p in (*reversed(folder.parents), folder) if not p.exists()), None)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputFileError(f"{folder}: cannot create the output folder ({err.strerror or err})") from None
    return first


def run_batch(inputs: Sequence[str], output_dir: PathLike, config: PipelineConfig | None = None, *,
              scheduler: str | None = None, n_workers: int | None = None, overwrite: bool = False,
              on_result: Callable[[dict[str, Any]], None] | None = None,
              lister: Callable[[str], list[tuple[str, str]]] | None = None):
    """Run the pipeline on every input file on Dask; return the summary table.

    Parameters
    ----------
    inputs
        Files, folders, URLs, DANDI assets or dandisets (see :func:`expand_inputs`).
    output_dir
        Folder for the outputs and ``batch_summary.csv``; created (with its parents) when missing,
        once the inputs and settings have been checked.
    config
        Pipeline settings, the same for every file.
    scheduler
        Address of an existing Dask scheduler (e.g. ``tcp://10.0.0.5:8786``); default a local
        cluster of ``n_workers`` processes with one thread each.
    on_result
        Called with each row as its file finishes (for progress output).

    Returns
    -------
    pandas.DataFrame
        Columns ``file, status, seconds, output, error, warnings`` (plus ``exit_code``), in input order; also
        written to ``output_dir/batch_summary.csv``.
    """
    import pandas as pd

    from .errors import require

    require(n_workers is None or int(n_workers) >= 1, f"workers must be >= 1, got {n_workers}")
    config = config or PipelineConfig()
    config.resolve()  # a bad setting fails once, here, not once per file
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputFileError(f"{output_dir}: exists and is not a folder; give an output folder")
    parent = next(p for p in (output_dir, *output_dir.parents) if p.exists())  # where it is, or would be, made
    if not parent.is_dir():
        raise OutputFileError(f"{output_dir}: cannot create the output folder ({parent} is a file)")
    if not os.access(parent, os.W_OK):
        raise OutputFileError(f"{output_dir}: output folder is not writable" if parent == output_dir
                              else f"{output_dir}: cannot create the output folder ({parent} is not writable)")
    items = plan_batch(inputs, output_dir, lister)
    if not items:
        raise InputFileError("no input files")
    from .io.files import same_file

    local = [item.source for item in items if not is_url(item.source)]
    for item in items:  # an earlier run's outputs beside the inputs must not be overwritten by this one
        clash = next((s for s in local if Path(str(s)).exists() and same_file(s, item.output)), None)
        if clash is not None:
            raise UsageError(f"{item.output}: would overwrite the input {clash} with the results of {item.file}; "
                             "choose an output folder apart from the inputs")
    made = _make_folder(output_dir)  # once every check above has passed; the report folder may be inside it
    report_dir = config.evaluation.get("report_dir")
    if report_dir:  # the folder that holds one report folder per file
        from .io.files import check_report_folder

        try:
            check_report_folder(report_dir, overwrite=True, protect=tuple(local))
        except BaseException:
            if made is not None:  # nothing of this batch stays behind
                shutil.rmtree(made, ignore_errors=True)
            raise
        Path(report_dir).mkdir(exist_ok=True)
    _sweep(items)  # what an earlier, killed batch left
    log.info("%d files on %s", len(items), scheduler or "a local Dask cluster")
    rows: dict[int, dict[str, Any]] = {}
    client = cluster = futures = None
    workers: list[int] = []
    try:
        # Everything from here is undone in `finally`, whatever stops the batch (Ctrl-C, SIGTERM,
        # an error): the tasks are cancelled, our workers end, and their temporaries are swept.
        client, cluster = _client(scheduler)
        if cluster is not None:
            workers = _start_workers(cluster, client, n_workers or max(1, min(4, os.cpu_count() or 1)))
        from dask.distributed import as_completed

        level = logging.getLogger("nwb_tavrnn").getEffectiveLevel()
        futures = {client.submit(run_one, item, config, overwrite, level, pure=False,
                                 key=f"nwb-tavrnn-{i}-{_stem(item.file)}"): i for i, item in enumerate(items)}
        for future in as_completed(futures):
            i = futures[future]
            try:
                row = future.result()
            except Exception as err:  # noqa: BLE001
                # The worker itself died (killed, out of memory) on every try Dask allowed (a task whose
                # worker dies is retried on another): that file is lost, not the batch.
                row = {"file": items[i].file, "status": "failed", "seconds": float("nan"), "output": "",
                       "warnings": "",
                       "error": (f"worker failed: {type(err).__name__}: {err}".splitlines()[0]
                                 + "; the worker process died (killed or out of memory); nothing was written "
                                 "for this file: run the batch again to retry it"), "exit_code": 1}
            rows[i] = row
            log.info("%s: %s", row["file"], row["status"])
            if on_result is not None:
                on_result(row)
    finally:
        try:
            _shut_down(client, cluster, futures, workers)
        finally:  # even when a second Ctrl-C cuts the shutdown short
            # A worker killed mid-task (by the OS, or by the shutdown of an interrupted batch) leaves
            # its temporaries; a retried task wrote its file anew.
            _sweep(items)
    table = pd.DataFrame([rows[i] for i in range(len(items))])
    columns = [*COLUMNS, *[c for c in table.columns if c not in COLUMNS]]
    table = table[columns]
    table[list(COLUMNS)].to_csv(output_dir / SUMMARY_NAME, index=False)
    return table


def _shut_down(client: Any, cluster: Any, futures: dict | None, workers: Sequence[int],
               wait: float = 10.0) -> None:
    """Cancel the batch's tasks, close the client and the local cluster, and wait (at most ``wait``
    seconds, then kill) until the local cluster's worker processes have ended, so that what they
    leave can be swept. Problems here are logged, never raised: an interrupt may be on its way out."""
    from .io.files import process_alive

    def quietly(step: Callable[[], Any], what: str) -> None:
        try:
            step()
        except Exception as err:  # noqa: BLE001
            log.debug("could not %s: %s", what, err)

    if client is not None and futures:  # on an existing cluster, an interrupted batch's tasks must not run on
        quietly(lambda: client.cancel(list(futures)), "cancel the tasks")
    for nanny in (getattr(cluster, "workers", None) or {}).values():
        # the nannies must not start a new worker for the one about to end (Dask's own shutdown says so too)
        quietly(nanny.close_gracefully, "mark the workers' nannies closing")
    for pid in workers:
        # Our own processes, idle or busy with a cancelled task: a busy worker would not answer the
        # cluster's polite close for seconds, and what it leaves is swept below.
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    if client is not None:
        quietly(client.close, "close the Dask client")
    if cluster is not None:
        quietly(cluster.close, "close the local cluster")
    deadline = time.monotonic() + wait
    alive = [pid for pid in workers if process_alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if process_alive(pid)]
    for pid in alive:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _sweep(items: Sequence[BatchItem]) -> None:
    """Remove the temporaries killed tasks left beside the outputs (those of live processes, e.g.
    another batch writing there, stay; those of other hosts are reported)."""
    from .io.files import sweep_temporaries

    for item in items:
        try:
            sweep_temporaries(item.output)
        except OSError as err:  # a courtesy: never fail a finished batch over it
            log.debug("could not sweep temporaries beside %s: %s", item.output, err)


def exit_code(table) -> int:
    """0 when every file succeeded; else the failures' exit code when they agree, otherwise 1."""
    failed = table[table["status"] != "ok"]
    if failed.empty:
        return 0
    codes = {int(c) for c in failed.get("exit_code", [1])}
    return codes.pop() if len(codes) == 1 else 1


__all__ = ["COLUMNS", "BatchItem", "exit_code", "expand_inputs", "plan_batch", "run_batch", "run_one"]
