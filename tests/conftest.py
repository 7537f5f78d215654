"""Shared fixtures: temporary working folders, a mock source file on disk, the real DANDI file, and
simulated sessions written once per test session (:func:`simulated_session`)."""

from __future__ import annotations

import os

# Idle OpenMP threads otherwise spin after each torch operation; on a 2-core machine running
# anything else that made small fits several times slower (CEBRA: 65 s instead of 18 s). Set
# before torch is first imported (nothing imports it before this conftest); no effect on results.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import hashlib  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

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


def _culture(path: Path, seed: int, params: dict) -> Path:
    from nwb_tavrnn.simulate import SimulationConfig, write_simulation

    return write_simulation(path, SimulationConfig.small(**params), seed=seed)


def _ophys(path: Path, seed: int, params: dict) -> Path:
    from nwb_tavrnn.simulate import SimulationConfig, write_ophys_simulation

    return write_ophys_simulation(path, SimulationConfig.small(**params), seed=seed)


def _decision(path: Path, seed: int, params: dict) -> Path:
    from nwb_tavrnn.simulate import DecisionConfig, write_decision_session

    return write_decision_session(path, DecisionConfig(**params), seed=seed)


def _two_region(path: Path, seed: int, params: dict) -> Path:
    from nwb_tavrnn.simulate import TwoRegionConfig, write_two_region_session

    return write_two_region_session(path, TwoRegionConfig(**params), seed=seed)


def _drift(path: Path, seed: int, params: dict) -> Path:
    from nwb_tavrnn.simulate import DriftConfig, write_drift_session

    return write_drift_session(path, DriftConfig(**params), seed=seed)


#: What :func:`simulated_session` can write: kind -> writer(path, seed, params).
SIMULATED_KINDS = {"culture": _culture, "ophys": _ophys, "decision": _decision, "two_region": _two_region,
                   "drift": _drift}


@pytest.fixture(scope="session")
def simulated_session(tmp_path_factory):
    """``make(kind, seed=0, **params) -> Path``: a simulated NWB session, written once per test
    session for each distinct (kind, seed, params) and shared by every test that asks for it.

    Kinds (:data:`SIMULATED_KINDS`): ``culture`` (the planted-regime network,
    ``SimulationConfig.small(**params)``), ``ophys`` (the same network imaged, the same spikes as
    ``culture`` with the same seed and params), ``decision``, ``two_region`` and ``drift`` (each
    simulator's config built from ``params``).

    The files are shared: a test that writes (``--in-place``, appending, ``h5py`` in ``r+``) works on
    a copy (``shutil.copyfile``). At the end of the test session every file is checked against the
    sha256 it was written with, and a changed one is an error naming it.
    """
    folder = tmp_path_factory.mktemp("simulated_sessions")
    written: dict[str, tuple[Path, str]] = {}

    def make(kind: str, seed: int = 0, **params) -> Path:
        if kind not in SIMULATED_KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {sorted(SIMULATED_KINDS)}")
        key = repr((kind, seed, sorted(params.items())))
        if key not in written:
            name = f"{kind}-seed{seed}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.nwb"
            path = SIMULATED_KINDS[kind](folder / name, seed, params)
            written[key] = (path, sha256(path))
        return written[key][0]

    yield make
    changed = [f"{path.name} ({key})" for key, (path, digest) in written.items()
               if not path.exists() or sha256(path) != digest]
    assert not changed, f"a test modified a shared simulated session instead of a copy: {changed}"


def _cached_spec_digest(path) -> str | None:
    """sha1 over every dataset (name and bytes) of the schema cached in the HDF5 file at ``path``;
    None when it caches none or cannot be read (the caller then does what it would have done)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            location = f.attrs.get(".specloc")
            if location is None:
                return None
            digest = hashlib.sha1()

            def add(name, obj):
                if isinstance(obj, h5py.Dataset):
                    digest.update(name.encode() + b"\0" + repr(obj[()]).encode() + b"\0")

            f[location].visititems(add)
            return digest.hexdigest()
    except (OSError, KeyError, TypeError, ValueError):
        return None


@pytest.fixture(scope="session", autouse=True)
def _parsed_cached_schemas():
    """``pynwb.validate`` parses the schema cached in each file it checks (about 1 s a file, 40-odd
    files in the suite). Files written by this package cache the same schema, byte for byte: parse
    each distinct one once. Keyed by the bytes of the cached schema, so a file caching another one
    (a newer extension version, a damaged spec) is parsed on its own; each call gets a fresh
    BuildManager over the shared TypeMap, as ``pynwb.get_manager()`` shares pynwb's own."""
    try:
        import pynwb.validation as validation
        from hdmf.build import BuildManager
    except ImportError:
        yield
        return
    original = validation.get_cached_namespaces_to_validate
    parsed: dict[str, tuple] = {}

    def get_cached_namespaces_to_validate(path=None, driver=None, aws_region=None, io=None):
        key = None
        if io is None and driver is None and aws_region is None and path is not None and Path(str(path)).is_file():
            key = _cached_spec_digest(path)
        if key is None:
            return original(path=path, driver=driver, aws_region=aws_region, io=io)
        if key not in parsed:
            namespaces, manager, dependencies = original(path=path)
            parsed[key] = (namespaces, manager.type_map if manager is not None else None, dependencies)
        namespaces, type_map, dependencies = parsed[key]
        return list(namespaces), (BuildManager(type_map) if type_map is not None else None), dependencies

    validation.get_cached_namespaces_to_validate = get_cached_namespaces_to_validate
    yield
    validation.get_cached_namespaces_to_validate = original


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models: one thread is as fast, and immune to OpenMP spin-waiting on a busy machine."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
