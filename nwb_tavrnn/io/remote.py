"""Open NWB files over HTTP(S) or from DANDI, reading only the bytes that are needed.

``remfile`` turns a URL into a file-like object that fetches byte ranges on demand (and caches them),
which h5py and pynwb read like a local file. DANDI assets (``dandi://DANDISET[@VERSION]/path.nwb`` or
any DANDI web/API URL) are resolved to their S3 download URL with dandi's own URL parser and client.
Needs the ``dandi`` extra.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from ..errors import InputFileError

log = logging.getLogger(__name__)

_DANDI_HOSTS = ("dandiarchive.org", "api.dandiarchive.org", "gui.dandiarchive.org")

#: remfile's first request size. Opening an NWB file makes many small reads of scattered metadata;
#: small fixed-size chunks (no geometric growth) keep those from pulling megabytes, while a large
#: contiguous dataset read is still fetched in one request.
CHUNK_BYTES = 32 * 1024


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
        raise InputFileError(f"{url}: cannot read as a remote HDF5 file ({type(err).__name__}: {err})") from None
    try:
        yield h5file
    finally:
        h5file.close()
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
                raise InputFileError(f"{url}: not readable as NWB ({type(err).__name__}: {err})") from None
            yield nwbfile
        finally:
            io.close()
