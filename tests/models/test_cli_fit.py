"""``nwb-tavrnn fit``: end to end on a file, resuming, errors, and what a collaborator can read back."""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from .conftest import N_NODES, N_WINDOWS, planted_connectivity  # noqa: E402


def run_fit(argv: list[str]) -> int:
    """Run the subcommand through the real entry point when it is registered there, else directly."""
    from nwb_tavrnn.cli import main as cli_main

    if "fit" in cli_main.SUBCOMMANDS:
        return cli_main.main(["--quiet", "fit", *argv])
    from nwb_tavrnn.cli import fit
    from nwb_tavrnn.errors import NwbTavrnnError

    parser = argparse.ArgumentParser()
    parser.add_argument("--quiet", action="store_true")
    fit.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["--quiet", "fit", *argv])
    try:
        return args.func(args)
    except NwbTavrnnError as err:
        print(f"nwb-tavrnn fit: error: {err}", file=sys.stderr)
        return err.exit_code


@pytest.fixture(scope="module")
def input_file(tmp_path_factory):
    from nwb_tavrnn.io import write_nwbfile
    from nwb_tavrnn.testing import mock_source_nwbfile

    conn, _ = planted_connectivity()
    nwbfile = mock_source_nwbfile(n_units=N_NODES)
    nwbfile.create_processing_module("ecephys", "graphs").add(conn)
    return write_nwbfile(nwbfile, tmp_path_factory.mktemp("fit") / "input.nwb")


@pytest.fixture(scope="module")
def output_file(input_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit_out") / "output.nwb"
    assert run_fit([str(input_file), str(out), "--epochs", "15", "--seed", "2", "--device", "cpu"]) == 0
    return out


def test_fit_writes_linked_results(output_file, input_file):
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.io.read import read_one
    from nwb_tavrnn.schema import DynamicConnectivity, ModelProvenance, NodeEmbeddings, TemporalAttention

    with open_nwb(output_file) as nwbfile:
        conn = read_one(nwbfile, DynamicConnectivity)
        emb = read_one(nwbfile, NodeEmbeddings)
        att = read_one(nwbfile, TemporalAttention)
        prov = read_one(nwbfile, ModelProvenance)
        assert emb.connectivity is conn  # linked within the output file
        assert emb.model is prov and att.embeddings is emb and prov.connectivity is conn
        assert emb.mean.shape == (N_WINDOWS, N_NODES, 8)
        assert np.allclose(att.data[()].sum(axis=1), 1, atol=1e-5)
        assert len(prov.training_loss) == 15 and prov.seed == 2
    import h5py

    with h5py.File(output_file, "r") as f:  # no external links (DANDI refuses them)
        f.visititems(lambda name, obj: None)
        links = []
        f.visit_links(lambda name: links.append(name) if isinstance(f.get(name, getlink=True), h5py.ExternalLink)
                      else None)
        assert not links


def test_collaborator_with_only_pynwb_reads_embeddings(output_file):
    code = textwrap.dedent(f"""
        import sys
        from pynwb import NWBHDF5IO
        with NWBHDF5IO({str(output_file)!r}, "r", load_namespaces=True) as io:
            nwbfile = io.read()
            emb = nwbfile.processing["ecephys"]["NodeEmbeddings"]
            assert emb.mean[:].shape == ({N_WINDOWS}, {N_NODES}, 8), emb.mean.shape
            assert emb.connectivity.name == "DynamicConnectivity"
            prov = nwbfile.processing["ecephys"]["ModelProvenance"]
            assert prov.weights[:].size > 0
        assert not any(m == "nwb_tavrnn" or m.startswith("nwb_tavrnn.") for m in sys.modules)
        assert "torch" not in sys.modules
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_from_provenance_read_back_reproduces_transform(output_file):
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.io.read import read_one
    from nwb_tavrnn.models import TAVRNN
    from nwb_tavrnn.schema import DynamicConnectivity, ModelProvenance, NodeEmbeddings

    with open_nwb(output_file) as nwbfile:
        model = TAVRNN.from_provenance(read_one(nwbfile, ModelProvenance), device="cpu")
        conn = read_one(nwbfile, DynamicConnectivity)
        emb = read_one(nwbfile, NodeEmbeddings)
        out = model.transform(conn)
        np.testing.assert_array_equal(out.mean, emb.mean[()])
        np.testing.assert_array_equal(out.log_variance, emb.log_variance[()])


def test_checkpoint_resume_and_errors(input_file, tmp_path):
    ckpt = tmp_path / "ckpt"
    first = tmp_path / "a.nwb"
    assert run_fit([str(input_file), str(first), "--epochs", "4", "--checkpoint-dir", str(ckpt),
                    "--checkpoint-every", "2", "--device", "cpu", "--patience", "0"]) == 0
    assert (ckpt / "checkpoint.pt").exists()
    # Resuming a finished run with more epochs continues from the checkpoint.
    second = tmp_path / "b.nwb"
    assert run_fit([str(input_file), str(second), "--epochs", "6", "--checkpoint-dir", str(ckpt), "--resume",
                    "--device", "cpu", "--patience", "0"]) == 0
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.io.read import read_one
    from nwb_tavrnn.schema import ModelProvenance

    with open_nwb(second) as nwbfile:
        assert len(read_one(nwbfile, ModelProvenance).training_loss) == 6
    # Existing output without --overwrite, a missing connectivity name, and --resume without a folder.
    assert run_fit([str(input_file), str(first), "--epochs", "1"]) == 3
    assert run_fit([str(input_file), str(tmp_path / "c.nwb"), "--epochs", "1", "--connectivity", "nope"]) == 2
    assert run_fit([str(input_file), str(tmp_path / "d.nwb"), "--resume"]) == 2
    assert not (tmp_path / "c.nwb").exists()


def test_fit_plain_vgrnn_writes_no_attention(input_file, tmp_path):
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.io.read import find_objects
    from nwb_tavrnn.schema import NodeEmbeddings, TemporalAttention

    out = tmp_path / "vgrnn.nwb"
    assert run_fit([str(input_file), str(out), "--epochs", "2", "--attention", "none", "--device", "cpu"]) == 0
    with open_nwb(out) as nwbfile:
        assert find_objects(nwbfile, TemporalAttention) == []
        assert len(find_objects(nwbfile, NodeEmbeddings)) == 1


def test_faithful_fit_writes_the_samples_it_used(input_file, tmp_path):
    """The reference used random samples of z downstream: the faithful preset writes them beside
    the means, and a reader with plain pynwb finds them."""
    from nwb_tavrnn.io import open_nwb
    from nwb_tavrnn.io.read import read_one
    from nwb_tavrnn.models import TAVRNN
    from nwb_tavrnn.schema import ModelProvenance, NodeEmbeddings

    out = tmp_path / "faithful.nwb"
    assert run_fit([str(input_file), str(out), "--preset", "faithful", "--epochs", "3", "--device", "cpu"]) == 0
    with open_nwb(out) as nwbfile:
        emb = read_one(nwbfile, NodeEmbeddings)
        prov = read_one(nwbfile, ModelProvenance)
        sample, mean = emb.sample[()], emb.mean[()]
        assert sample.shape == mean.shape and not np.allclose(sample, mean)
        assert "samples" in emb.description
        rebuilt = TAVRNN.from_provenance(prov, device="cpu")
        assert rebuilt.gcn_norm == "reference" and not rebuilt.recurrence_trainable
        np.testing.assert_array_equal(rebuilt.transform(emb.connectivity).sample, sample)
