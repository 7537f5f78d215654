"""A collaborator with only pynwb (nwb_tavrnn never imported) reads every one of our arrays back."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

from nwb_tavrnn.io import open_nwb
from nwb_tavrnn.io.write import write_derived
from nwb_tavrnn.testing import (
    mock_dynamic_connectivity,
    mock_model_provenance,
    mock_node_embeddings,
    mock_temporal_attention,
)

READER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from pynwb import NWBHDF5IO
    out = {}
    with NWBHDF5IO(sys.argv[1], "r", load_namespaces=True) as io:
        f = io.read()
        m = f.processing["ecephys"]
        for name in ("DynamicConnectivity", "sparse", "NodeEmbeddings", "TemporalAttention", "ModelProvenance"):
            obj = m[name]
            for field in ("data", "edge_index", "edge_weight", "correlation", "inactive_mask", "window_start_times",
                          "window_stop_times", "node_ids", "node_groups", "node_locations", "mean", "log_variance",
                          "training_loss", "validation_loss", "weights"):
                value = getattr(obj, field, None)
                if value is not None:
                    arr = np.asarray(value[()])
                    out[f"{name}.{field}"] = arr.astype(str).tolist() if arr.dtype.kind in "OSU" else arr.tolist()
            out[f"{name}.type"] = type(obj).__module__
        out["region"] = m["DynamicConnectivity"].node_region.data[()].tolist()
        out["links"] = [m["NodeEmbeddings"].connectivity.name, m["TemporalAttention"].embeddings.name]
        out["hyper"] = m["ModelProvenance"].hyperparameters
        out["source"] = f.lab_meta_data["source_file"].source_identifier
    out["imported"] = sorted(k for k in sys.modules if k.split(".")[0] in ("nwb_tavrnn", "torch", "spikeinterface"))
    print(json.dumps(out))
    """
)


def _arrays(obj, fields):
    return {f: np.asarray(getattr(obj, f)[()] if hasattr(getattr(obj, f), "shape") else getattr(obj, f))
            for f in fields if getattr(obj, f, None) is not None}


def test_only_pynwb_reads_everything_back(source_file, tmp_path):
    starts = np.arange(4) * 10.0
    common = dict(n_nodes=6, node_ids=np.arange(100, 106), window_start_times=starts, window_stop_times=starts + 20)
    conn = mock_dynamic_connectivity(**common)
    sparse = mock_dynamic_connectivity(name="sparse", sparse=True, seed=2, **common)
    model = mock_model_provenance(connectivity=conn)
    emb = mock_node_embeddings(conn, model=model)
    att = mock_temporal_attention(embeddings=emb)
    written = {
        "DynamicConnectivity": _arrays(conn, ["data", "correlation", "inactive_mask", "window_start_times",
                                              "window_stop_times", "node_ids", "node_groups", "node_locations"]),
        "sparse": _arrays(sparse, ["edge_index", "edge_weight"]),
        "NodeEmbeddings": _arrays(emb, ["mean", "log_variance", "node_ids"]),
        "TemporalAttention": _arrays(att, ["data"]),
        "ModelProvenance": _arrays(model, ["training_loss", "validation_loss", "weights"]),
    }
    out = tmp_path / "shared.nwb"
    with open_nwb(source_file) as source:
        write_derived(source, out, [conn, sparse, model, emb, att])

    script = tmp_path / "reader.py"
    script.write_text(READER)
    result = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["imported"] == []  # nothing of ours (or torch) was needed
    for name, fields in written.items():
        assert got[f"{name}.type"].startswith("abc") or "nwb_tavrnn" not in got[f"{name}.type"]
        for field, value in fields.items():
            back = np.asarray(got[f"{name}.{field}"])
            if value.dtype.kind in "OSU":
                assert back.tolist() == value.astype(str).tolist(), f"{name}.{field}"
            else:
                np.testing.assert_array_equal(back, value, err_msg=f"{name}.{field}")
    assert got["region"] == [0, 1, 2, 3, 4, 5]
    assert got["links"] == ["DynamicConnectivity", "NodeEmbeddings"]
    assert json.loads(got["hyper"])["z_dim"] == 8
    assert got["source"] == "mock-source-0"
