"""Shared fixtures: temporary working folders, a mock source file on disk, the real DANDI file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DANDI_000207 = SHARED_DATA / "nwb" / "dandi000207_sub-4_ses-4_ecephys+image.nwb"


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """Run in a fresh folder (pynwb's round-trip mixins write into the working directory)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def source_file(tmp_path) -> Path:
    """A mock source NWB file written to disk."""
    from nwb_tavrnn.io import write_nwbfile
    from nwb_tavrnn.testing import mock_source_nwbfile

    return write_nwbfile(mock_source_nwbfile(), tmp_path / "source.nwb")


@pytest.fixture
def dandi_file() -> Path:
    if not DANDI_000207.is_file():
        pytest.skip("shared data folder with the DANDI:000207 file is absent")
    return DANDI_000207


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models: one thread is as fast, and immune to OpenMP spin-waiting on a busy machine."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
