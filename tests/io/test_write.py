"""Derived files stand alone; appends go to a copy or, when asked, atomically in place."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from pynwb import NWBHDF5IO

from nwb_tavrnn.errors import UsageError, OutputFileError
from nwb_tavrnn.io import open_nwb
from nwb_tavrnn.io.read import read_intervals, read_one, read_spike_trains
from nwb_tavrnn.io.write import append_results, write_derived
from nwb_tavrnn.schema import DynamicConnectivity, SourceFileReference
from nwb_tavrnn.testing import mock_dynamic_connectivity
from nwb_tavrnn.validation import validate_file

from ..conftest import sha256


def _conn(n_nodes=6, ids=range(100, 106), **kw):
    """Graphs over the mock source's units, in 20 s windows inside its 60 s session."""
    starts = np.arange(4) * 10.0
    return mock_dynamic_connectivity(n_nodes=n_nodes, node_ids=np.array(list(ids)), window_start_times=starts,
                                     window_stop_times=starts + 20.0, **kw)


def test_derived_file_is_self_contained_and_valid(source_file, tmp_path):
    before = sha256(source_file)
    conn = _conn()
    expected = conn.to_dense()
    out = tmp_path / "derived.nwb"
    with open_nwb(source_file) as source:
        write_derived(source, out, [conn], source_path=str(source_file))
        source_id, source_oid = source.identifier, source.object_id
    assert sha256(source_file) == before
    with open_nwb(out) as derived:
        assert derived.identifier != source_id
        ref = derived.lab_meta_data["source_file"]
        assert isinstance(ref, SourceFileReference)
        assert (ref.source_identifier, ref.source_object_id) == (source_id, source_oid)
        assert derived.subject.subject_id == "m1"
        trains = read_spike_trains(derived)
        assert list(trains.ids) == list(range(100, 106))
        assert list(trains.groups) == ["shank0", "shank1"] * 3
        assert set(read_intervals(derived)) == {"epochs", "trials"}
        from nwb_tavrnn.io.read import read_behavior

        (series,) = read_behavior(derived).values()  # behaviour travels too: labels may come from it
        assert series.name == "position" and series.data.shape == (600,)
        got = read_one(derived, DynamicConnectivity)
        np.testing.assert_array_equal(got.to_dense(), expected)
        # the region points into this file's Units, at the rows with the node ids
        assert got.node_region.table is derived.units
        assert list(derived.units.id[got.node_region.data[:]]) == list(range(100, 106))
    with open(out, "rb") as fh:
        assert b"ExternalLink" not in fh.read()
    report = validate_file(out)
    assert report.ok, [str(f) for f in report.problems]


def test_derived_file_keeps_no_external_links(source_file, tmp_path):
    import h5py

    out = tmp_path / "derived.nwb"
    with open_nwb(source_file) as source:
        write_derived(source, out, [_conn()])
    links = []
    with h5py.File(out, "r") as f:
        f.visititems_links(lambda name, link: links.append(name) if isinstance(link, h5py.ExternalLink) else None)
    assert links == []


def test_append_to_copy_leaves_source_unchanged(source_file, tmp_path):
    before = sha256(source_file)
    out = tmp_path / "appended.nwb"
    append_results(source_file, [_conn(seed=4)], out)
    assert sha256(source_file) == before
    with open_nwb(out) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity)
        np.testing.assert_array_equal(conn.to_dense(), _conn(seed=4).to_dense())
        assert len(nwbfile.units) == 6 and "behavior" in nwbfile.processing
    assert validate_file(out).ok


def test_in_place_needs_asking_and_is_atomic(source_file, tmp_path):
    with pytest.raises(UsageError, match="is the input file .* atomically \(`in_place`\)"):
        append_results(source_file, [_conn()], source_file)
    mode = stat.S_IMODE(os.stat(source_file).st_mode)
    append_results(source_file, [_conn()], in_place=True)
    assert stat.S_IMODE(os.stat(source_file).st_mode) == mode
    with open_nwb(source_file) as nwbfile:
        assert read_one(nwbfile, DynamicConnectivity).num_nodes == 6
    # a failing append (name clash) leaves the file byte-identical and no temporary behind
    before = sha256(source_file)
    with pytest.raises(OutputFileError, match="already holds an object named"):
        append_results(source_file, [_conn()], in_place=True)
    assert sha256(source_file) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.nwb"]


def test_failed_derived_write_leaves_nothing(source_file, tmp_path):
    out = tmp_path / "derived.nwb"
    bad = _conn(ids=range(200, 206))  # ids not in the source's Units table
    with open_nwb(source_file) as source, pytest.raises(Exception, match="not in the units table"):
        write_derived(source, out, [bad])
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.nwb"]


def test_existing_destination_needs_overwrite(source_file, tmp_path):
    out = tmp_path / "derived.nwb"
    out.write_bytes(b"keep me")
    with open_nwb(source_file) as source, pytest.raises(OutputFileError, match="already exists"):
        write_derived(source, out, [_conn()])
    assert out.read_bytes() == b"keep me"


def test_read_only_destination_folder(source_file, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with open_nwb(source_file) as source, pytest.raises(OutputFileError, match="not writable"):
            write_derived(source, locked / "out.nwb", [_conn()])
    finally:
        locked.chmod(0o700)


def test_read_only_destination_file(source_file, tmp_path):
    """A read-only existing file is refused even with overwrite, as root too (the check is ours)."""
    out = tmp_path / "derived.nwb"
    out.write_bytes(b"precious")
    out.chmod(0o400)
    with open_nwb(source_file) as source, pytest.raises(OutputFileError, match="read-only"):
        write_derived(source, out, [_conn()], overwrite=True)
    assert out.read_bytes() == b"precious"


def test_real_dandi_file_to_derived_connectivity(dandi_file, tmp_path):
    before = sha256(dandi_file)
    out = tmp_path / "dandi_derived.nwb"
    with open_nwb(dandi_file) as source:
        trains = read_spike_trains(source)
        n = len(trains)
        conn = mock_dynamic_connectivity(n_nodes=n, node_ids=trains.ids, node_groups=trains.groups.astype(str),
                                         node_locations=trains.locations.astype(str))
        write_derived(source, out, [conn], source_path=str(dandi_file))
    assert sha256(dandi_file) == before
    report = validate_file(out)
    assert report.ok, [str(f) for f in report.problems]
    with NWBHDF5IO(str(out), "r", load_namespaces=True) as io:
        f = io.read()
        assert len(f.units) == 35
        assert set(f.intervals) >= {"encoding_table", "recognition_table", "timediscrimination_table"}
        assert f.units.resolution > 0
