"""Remote inputs over a misbehaving HTTP server: each fault ends in one line, in bounded time, with
nothing written.

:class:`FaultyHandler` extends the byte-range server of ``tests/http_server.py`` (which stays as it
is for its own users): after ``healthy`` good answers, every request gets the fault:

``5xx``
    ``503 Service Unavailable``.
``stall``
    The headers, then silence (the server sleeps while the client waits for the body).
``close``
    Half the body, then the connection is closed.
``lie``
    A Content-Length larger than the body sent, then the connection is closed.
``short``
    A Content-Length (and body) shorter than the range asked for.

:func:`remote_fault_trials` runs ``connectivity URL OUT`` and ``inspect URL`` against every fault,
at the first request (opening the file) and at the last one (reading the data, after the open); it records whether the
output was left corrupt or partial, whether the source changed, and whether a rerun against a
healthy server then succeeds. ``benchmarks/faults.py`` tabulates it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from ..http_server import _RangeHandler, serve_folder, serve_with
from ._generated import Case, run_cli, write_source

log = logging.getLogger(__name__)

FAULTS = ("5xx", "stall", "close", "lie", "short")

#: HTTP timeout the trials run with (seconds): small, so a stall costs seconds, not minutes.
TRIAL_TIMEOUT = 1.0

#: Limit of one faulty command (seconds): far above the time to error the timeout promises
#: (about 3 x TRIAL_TIMEOUT plus remfile's back-off); reaching it counts as a hang.
COMMAND_LIMIT = 60.0


class FaultyHandler(_RangeHandler):
    """Serves byte ranges like :class:`tests.http_server._RangeHandler` until ``healthy`` requests
    have been answered, then answers every request with ``fault`` (see the module docstring)."""

    fault = "5xx"
    healthy = 0
    served = 0
    stop = threading.Event()

    def _serve(self, head: bool) -> None:
        with self.lock:
            index = type(self).served
            type(self).served += 1
        if index < self.healthy or head:
            super()._serve(head)
            return
        if self.fault == "5xx":
            self.send_error(503, "Service Unavailable")
            return
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start, end = _range(self.headers.get("Range", ""), len(data))
        body = data[start:end + 1]
        announced = {"lie": len(body) + 4096, "short": max(1, len(body) // 2)}.get(self.fault, len(body))
        sent = {"close": body[: len(body) // 2], "short": body[:announced]}.get(self.fault, body)
        self.send_response(206 if self.headers.get("Range") else 200)
        if self.headers.get("Range"):
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.send_header("Content-Length", str(announced))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        try:
            if self.fault == "stall":
                self.wfile.flush()
                self.stop.wait(COMMAND_LIMIT)  # silent until the test ends (or the client gives up)
                return
            self.wfile.write(sent)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        if self.fault in ("close", "lie"):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(2)


def _range(header: str, size: int) -> tuple[int, int]:
    import re

    match = re.match(r"bytes=(\d*)-(\d*)", header)
    if not match:
        return 0, size - 1
    start = int(match.group(1) or 0)
    return start, min(int(match.group(2)) if match.group(2) else size - 1, size - 1)


@contextlib.contextmanager
def serve_faulty(folder: os.PathLike, fault: str, healthy: int = 0) -> Iterator[tuple[str, type]]:
    """Serve ``folder`` on 127.0.0.1 with ``fault`` after ``healthy`` good answers; yield
    (base URL, the handler class, whose ``served`` counts the requests)."""
    if fault not in FAULTS:
        raise ValueError(f"fault must be one of {FAULTS}, got {fault!r}")
    stop = threading.Event()
    handler = type("Faulty", (FaultyHandler,), {"fault": fault, "healthy": healthy, "served": 0, "stop": stop,
                                                 "bytes_sent": 0, "requests": 0, "full_requests": 0})
    with serve_with(handler, folder, on_stop=stop.set) as url:  # stop.set releases stalled answers
        yield url, handler


@contextlib.contextmanager
def http_timeout(seconds: float) -> Iterator[None]:
    """``NWB_TAVRNN_HTTP_TIMEOUT`` set to ``seconds`` inside the block."""
    before = os.environ.get("NWB_TAVRNN_HTTP_TIMEOUT")
    os.environ["NWB_TAVRNN_HTTP_TIMEOUT"] = str(seconds)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("NWB_TAVRNN_HTTP_TIMEOUT", None)
        else:
            os.environ["NWB_TAVRNN_HTTP_TIMEOUT"] = before


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def count_requests(source: Path, command: str) -> int:
    """Requests ``command`` makes on a healthy server (to put a fault partway through them)."""
    with tempfile.TemporaryDirectory(prefix="nwb_tavrnn_remote_") as tmp:
        shutil.copyfile(source, Path(tmp) / "file.nwb")
        with serve_faulty(tmp, "5xx", healthy=10**9) as (base, handler):
            code, *_ = run_cli(_argv(command, f"{base}/file.nwb", Path(tmp) / "out.nwb"))
            if code != 0:
                raise RuntimeError(f"{command} failed on a healthy server (exit code {code})")
            return handler.served


def _argv(command: str, url: str, output: Path) -> list:
    if command == "connectivity":
        return ["connectivity", url, output, "--window", "5", "--step", "5"]
    return ["inspect", url]


def one_trial(source: Path, command: str, fault: str, healthy: int, timeout: float = TRIAL_TIMEOUT) -> dict:
    """Run ``command`` on ``source`` served with ``fault`` after ``healthy`` requests; judge it.

    Returns
    -------
    dict with ``code``, ``lines`` (stderr's error lines), ``seconds``, ``traceback``, ``corrupted``
    (an output was left behind), ``leftovers`` (temporary files left), ``source_changed`` and
    ``rerun_ok`` (the same command then succeeds on a healthy server).
    """
    with tempfile.TemporaryDirectory(prefix="nwb_tavrnn_remote_") as tmp:
        served, out_dir = Path(tmp) / "served", Path(tmp) / "out"
        served.mkdir()
        out_dir.mkdir()
        shutil.copyfile(source, served / "file.nwb")
        before = _sha256(served / "file.nwb")
        output = out_dir / "out.nwb"
        with http_timeout(timeout), serve_faulty(served, fault, healthy) as (base, _):
            code, _, err, seconds = run_cli(_argv(command, f"{base}/file.nwb", output), COMMAND_LIMIT)
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("INFO ", "WARNING "))]
        result = {
            "code": code, "lines": lines, "seconds": seconds, "traceback": "Traceback" in err,
            "corrupted": code != 0 and output.exists(),
            "leftovers": sorted(p.name for p in out_dir.iterdir() if p.name != "out.nwb"),
            "source_changed": _sha256(served / "file.nwb") != before,
        }
        output.unlink(missing_ok=True)
        with serve_folder(served) as (base, _):
            rerun, *_ = run_cli(_argv(command, f"{base}/file.nwb", output), COMMAND_LIMIT)
        result["rerun_ok"] = rerun == 0
    return result


def trial_problems(result: dict, command: str, timeout: float = TRIAL_TIMEOUT) -> list[str]:
    """What broke the contract in one trial (empty: a clean end or a clean success)."""
    problems = []
    if result["code"] is None:
        return ["hang"]
    if result["traceback"]:
        problems.append("traceback")
    if result["code"] != 0:
        if result["code"] != 2:
            problems.append(f"exit code {result['code']}")
        if len(result["lines"]) != 1 or not result["lines"][0].startswith(f"nwb-tavrnn {command}: error: "):
            problems.append(f"stderr {result['lines'][:3]}")
    if result["corrupted"]:
        problems.append("output left behind")
    if result["leftovers"]:
        problems.append(f"leftovers {result['leftovers']}")
    if result["source_changed"]:
        problems.append("source changed")
    if not result["rerun_ok"]:
        problems.append("rerun failed")
    # remfile's retries are cut at twice the timeout after the first failure; allow a generous margin
    if result["seconds"] > 8 * timeout + 10:
        problems.append(f"took {result['seconds']:.1f} s")
    return problems


def remote_fault_trials(commands: tuple[str, ...] = ("connectivity", "inspect"), faults: tuple[str, ...] = FAULTS,
                        timeout: float = TRIAL_TIMEOUT) -> list[dict]:
    """Every (command, fault) pair, with the fault at the first request and partway through.

    Returns
    -------
    One dict per pair: ``command``, ``fault``, ``trials``, ``corrupted`` (trials that left an
    output), ``sources_changed``, ``leftovers`` (trials that left temporary files), ``reruns_ok``
    (trials after which a rerun on a healthy server succeeded), ``seconds`` (the longest trial),
    ``clean`` (trials that kept the whole contract) and ``problems``.
    """
    rows = []
    with tempfile.TemporaryDirectory(prefix="nwb_tavrnn_remote_src_") as tmp:
        source = write_source(Case(n_units=6, duration=40.0), Path(tmp) / "source.nwb")
        for command in commands:
            total = count_requests(source, command)
            for fault in faults:
                results = [one_trial(source, command, fault, healthy, timeout) for healthy in (0, total - 1)]
                problems = [p for r in results for p in trial_problems(r, command, timeout)]
                rows.append({
                    "command": command, "fault": fault, "trials": len(results),
                    "corrupted": sum(r["corrupted"] for r in results),
                    "sources_changed": sum(r["source_changed"] for r in results),
                    "leftovers": sum(bool(r["leftovers"]) for r in results),
                    "reruns_ok": sum(r["rerun_ok"] for r in results),
                    "seconds": max(r["seconds"] for r in results),
                    "clean": sum(not trial_problems(r, command, timeout) for r in results),
                    "problems": problems,
                })
                log.info("%s / %s: %s", command, fault, rows[-1])
    return rows


if __name__ == "__main__":  # python -m tests.faults._remote
    logging.basicConfig(level=logging.INFO)
    started = time.perf_counter()
    for row in remote_fault_trials():
        log.info("%s", row)
    log.info("%.0f s", time.perf_counter() - started)
