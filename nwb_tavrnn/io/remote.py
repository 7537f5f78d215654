"""Open NWB files over HTTP(S) or from DANDI, reading only the bytes that are needed.

``remfile`` turns a URL into a file-like object that fetches byte ranges on demand (and caches them),
which h5py and pynwb read like a local file. DANDI assets (``dandi://DANDISET[@VERSION]/path.nwb`` or
any DANDI web/API URL) are resolved to their S3 download URL with dandi's own URL parser and client.
Needs the ``dandi`` extra.

A server that stalls, drops the connection, answers 5xx or sends fewer bytes than it announced
never makes a command hang: every HTTP request has a timeout of ``NWB_TAVRNN_HTTP_TIMEOUT``
seconds (environment variable, default :data:`DEFAULT_TIMEOUT`; for the connection and for each
wait between bytes), and once a request has failed, remfile's retries go on for at most twice that
long before the command ends with a one-line error (exit code 2), nothing written. remfile itself
sets no timeout, so its requests are made through :class:`_GuardedRequests`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

from ..errors import InputFileError, UsageError

log = logging.getLogger(__name__)

_DANDI_HOSTS = ("dandiarchive.org", "api.dandiarchive.org", "gui.dandiarchive.org")

#: remfile's first request size. Opening an NWB file makes many small reads of scattered metadata;
#: small fixed-size chunks (no geometric growth) keep those from pulling megabytes, while a large
#: contiguous dataset read is still fetched in one request.
CHUNK_BYTES = 32 * 1024

#: Seconds an HTTP request may wait to connect, or between bytes, unless NWB_TAVRNN_HTTP_TIMEOUT says.
DEFAULT_TIMEOUT = 30.0
TIMEOUT_VARIABLE = "NWB_TAVRNN_HTTP_TIMEOUT"


def http_timeout() -> float:
    """The HTTP timeout in seconds: ``NWB_TAVRNN_HTTP_TIMEOUT`` or :data:`DEFAULT_TIMEOUT`.

    Raises
    ------
    UsageError
        The variable is set to something other than a positive number of seconds.
    """
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value != float("inf")):
        raise UsageError(f"{TIMEOUT_VARIABLE}={text!r}: give the HTTP timeout as a positive number of seconds, "
                         f"e.g. {TIMEOUT_VARIABLE}=30")
    return value


class _Guard:
    """Failures of the HTTP requests made for remote files: when the first of a run of failures
    happened (retries stop once they have gone on for twice the timeout), and how many there were."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.first_failure: float | None = None
        self.failures = 0
        self.last_error = ""

    def failed(self, error: str) -> None:
        with self.lock:
            self.failures += 1
            self.last_error = error
            if self.first_failure is None:
                self.first_failure = time.monotonic()

    def succeeded(self) -> None:
        with self.lock:
            self.first_failure = None

    def give_up_after(self, budget: float) -> str | None:
        """The reason to stop retrying, once failures have gone on for ``budget`` seconds."""
        with self.lock:
            if self.first_failure is not None and time.monotonic() - self.first_failure > budget:
                return f"gave up after {time.monotonic() - self.first_failure:.0f} s of failed requests: " \
                       f"{self.last_error}"
        return None


GUARD = _Guard()


class _GuardedRequests:
    """What remfile sees as the ``requests`` module: the same, with a timeout on every request,
    bodies read (and their length checked) inside the timeout, and retries cut short.

    remfile retries a failed request 8 times with exponential back-off (~25 s of sleeping) and
    passes no timeout, so a stalled server would block forever and a failing one for half a
    minute per read. Stopping is done by raising remfile's own "permanent" error, which it does not
    retry.
    """

    def __init__(self, requests_module, remfile_module) -> None:
        self._requests = requests_module
        self._remfile = remfile_module
        guarded = self

        class Session(requests_module.Session):
            def get(self, url, **kwargs):
                return guarded._call(super().get, url, **kwargs)

        self.Session = Session

    def __getattr__(self, name):
        return getattr(self._requests, name)

    def get(self, url, **kwargs):
        return self._call(self._requests.get, url, **kwargs)

    def _call(self, get, url, **kwargs):
        timeout = http_timeout()
        reason = GUARD.give_up_after(2 * timeout)
        if reason is not None:  # and every later request of this file at once: h5py would retry each read
            raise self._remfile._PermanentHTTPError(reason)
        kwargs.setdefault("timeout", (timeout, timeout))
        try:
            response = get(url, **kwargs)
            if response.status_code >= 500 or response.status_code == 429:
                GUARD.failed(f"HTTP {response.status_code} {response.reason}")
                return response
            if not kwargs.get("stream"):
                content = response.content  # a stall or a dropped connection shows here
                wanted = _range_length(kwargs.get("headers") or {})
                if wanted is not None and response.status_code == 206 and len(content) != wanted:
                    GUARD.failed(f"{len(content)} bytes received for a range of {wanted}")
                    return response
        except self._requests.RequestException as err:
            GUARD.failed(f"{type(err).__name__}: {_first_line(err)}")
            raise
        GUARD.succeeded()
        return response


def _range_length(headers) -> int | None:
    text = str(headers.get("Range", ""))
    if not text.startswith("bytes=") or "-" not in text:
        return None
    start, _, end = text[len("bytes="):].partition("-")
    try:
        return int(end) - int(start) + 1
    except ValueError:
        return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else ""


def _guard_remfile() -> None:
    """Make remfile's requests go through :class:`_GuardedRequests` (once per process)."""
    import importlib

    module = importlib.import_module("remfile.RemFile")
    if isinstance(getattr(module, "requests", None), _GuardedRequests):
        return
    if not hasattr(module, "_PermanentHTTPError"):  # an older remfile: timeouts only, its own retries
        module._PermanentHTTPError = type("_PermanentHTTPError", (Exception,), {})
    module.requests = _GuardedRequests(module.requests, module)


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise InputFileError(
            f"reading remote files needs the '{module}' package: pip install 'nwb-tavrnn[dandi]'"
        ) from None


def is_dandi_url(url: str) -> bool:
    return url.startswith("dandi://") or any(f"//{host}" in url for host in _DANDI_HOSTS)


def resolve_dandi_url(url: str) -> str:
    """Return the direct download URL of the single NWB asset a DANDI URL names.

    Raises
    ------
    InputFileError
        If the URL names no asset, or several (a whole dandiset: use ``batch``).
    """
    _require("dandi")
    from dandi.dandiapi import DandiAPIClient
    from dandi.dandiarchive import parse_dandi_url

    try:
        parsed = parse_dandi_url(url)
        with DandiAPIClient.for_dandi_instance(parsed.instance) as client:
            assets = list(parsed.get_assets(client))
    except Exception as err:  # dandi raises its own types for unknown/unreachable assets
        raise InputFileError(f"{url}: could not resolve the DANDI asset ({type(err).__name__}: {err})") from None
    if len(assets) != 1:
        raise InputFileError(f"{url}: names {len(assets)} assets; give the path of one .nwb asset")
    return assets[0].get_content_url(regex=r"s3\.amazonaws\.com.*")


@contextlib.contextmanager
def open_remote_h5(url: str, cache_dir: str | None = None) -> Iterator:
    """Yield an ``h5py.File`` reading ``url`` lazily by HTTP byte ranges."""
    remfile = _require("remfile")
    import h5py

    http_timeout()  # a bad NWB_TAVRNN_HTTP_TIMEOUT is refused before any request
    _guard_remfile()
    GUARD.succeeded()  # failures of an earlier file do not count against this one
    if is_dandi_url(url) and "/download" not in url and "s3.amazonaws.com" not in url:
        url = resolve_dandi_url(url)
    try:
        kwargs = {}
        if cache_dir is not None:
            kwargs["disk_cache"] = remfile.DiskCache(cache_dir)
        try:
            remote = remfile.File(url, _min_chunk_size=CHUNK_BYTES, _chunk_increment_factor=1.0, **kwargs)
        except TypeError:  # a remfile without these tuning knobs: its defaults still work
            remote = remfile.File(url, **kwargs)
        h5file = h5py.File(remote, "r")
    except Exception as err:  # network errors, 404s, not-HDF5 content
        raise InputFileError(f"{url}: cannot read as a remote HDF5 file ({type(err).__name__}: "
                             f"{_first_line(err)})") from None
    failures = GUARD.failures
    try:
        yield h5file
    except Exception as err:  # re-raised unless the network failed meanwhile
        # A read that failed over the network surfaces as whatever h5py or pynwb make of it (an
        # OSError, a KeyError...); when requests failed meanwhile, say that instead.
        if GUARD.failures > failures:
            raise InputFileError(f"{url}: reading over HTTP failed ({GUARD.last_error or _first_line(err)}); "
                                 f"nothing was written (timeout: {TIMEOUT_VARIABLE}={http_timeout():g} s)") from None
        raise
    finally:
        with contextlib.suppress(Exception):  # closing a file whose server went away must not mask the error
            h5file.close()
        with contextlib.suppress(Exception):
            remote.close()


@contextlib.contextmanager
def open_remote_nwb(url: str) -> Iterator:
    """Yield the NWBFile at ``url``; datasets are read lazily over HTTP while the block runs."""
    from pynwb import NWBHDF5IO

    with open_remote_h5(url) as h5file:
        if "nwb_version" not in h5file.attrs:
            raise InputFileError(f"{url}: an HDF5 file but not an NWB file (no 'nwb_version' attribute)")
        io = NWBHDF5IO(file=h5file, load_namespaces=True)
        try:
            try:
                nwbfile = io.read()
            except Exception as err:
                # hdmf wraps a refused object (e.g. our SchemaError for a dataset of the wrong shape) in
                # a ConstructError whose text starts with a dump of the whole builder: name the cause.
                cause = err.__cause__ if type(err).__name__ == "ConstructError" and err.__cause__ else err
                raise InputFileError(f"{url}: not readable as NWB ({type(cause).__name__}: "
                                     f"{_first_line(cause)})") from None
            yield nwbfile
        finally:
            io.close()
