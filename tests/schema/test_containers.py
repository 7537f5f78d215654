"""Construction checks: malformed objects fail where they are made, with a message naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from nwb_tavrnn.schema import DynamicConnectivity, ModelProvenance, SchemaError, TemporalAttention
from nwb_tavrnn.testing import mock_dynamic_connectivity, mock_model_provenance, mock_node_embeddings


def test_dense_and_sparse_forms_hold_the_same_graphs():
    dense = mock_dynamic_connectivity(seed=3)
    sparse = mock_dynamic_connectivity(seed=3, sparse=True)
    assert not dense.is_sparse and sparse.is_sparse
    np.testing.assert_array_equal(dense.to_dense(), sparse.to_dense())
    assert dense.num_windows == 4 and dense.num_nodes == 5
    assert dense.parameters_dict["threshold"] == 0.6


@pytest.mark.parametrize(
    "change, message",
    [
        ({"data": np.zeros((4, 5, 4), np.float32)}, r"data has shape \(4, 5, 4\), expected \(4, 5, 5\)"),
        ({"window_stop_times": np.arange(3.0)}, r"window_stop_times has shape \(3,\), expected \(4,\)"),
        ({"window_stop_times": np.zeros(4)}, "every window must stop after it starts"),
        ({"node_groups": np.array(["a"])}, r"node_groups has shape \(1,\), expected \(5,\)"),
        ({"node_ids": np.array([0, 1, 1, 2, 3])}, "node_ids must be unique"),
        ({"node_ids": np.arange(5.0)}, "node_ids must be integers"),
        ({"inactive_mask": np.zeros((4, 6), bool)}, r"inactive_mask has shape \(4, 6\)"),
        ({"bin_size": 0.0}, "bin_size must be positive"),
        ({"parameters": "{not json"}, "parameters is not valid JSON"),
    ],
)
def test_connectivity_rejects_malformed_fields(change, message):
    with pytest.raises(SchemaError, match=message):
        mock_dynamic_connectivity(**change)


def test_connectivity_rejects_nan_weights_and_both_forms():
    data = np.ones((4, 5, 5), np.float32)
    data[1, 2, 3] = np.nan
    with pytest.raises(SchemaError, match="NaN"):
        mock_dynamic_connectivity(data=data)
    with pytest.raises(SchemaError, match="either dense"):
        mock_dynamic_connectivity(edge_index=np.zeros((1, 3), np.int64), edge_weight=np.ones(1, np.float32))


def test_sparse_edges_must_point_inside_the_graph():
    with pytest.raises(SchemaError, match="outside"):
        mock_dynamic_connectivity(sparse=True, edge_index=np.array([[0, 0, 7]]), edge_weight=np.ones(1, np.float32))


def test_embeddings_must_match_their_connectivity():
    conn = mock_dynamic_connectivity()
    with pytest.raises(SchemaError, match="connectivity has 4 x 5"):
        mock_node_embeddings(conn, mean=np.zeros((4, 6, 3), np.float32), node_ids=np.arange(6),
                             log_variance=None)
    with pytest.raises(SchemaError, match="log_variance has shape"):
        mock_node_embeddings(conn, log_variance=np.zeros((4, 5, 2), np.float32))


def test_attention_rows_must_be_distributions():
    with pytest.raises(SchemaError, match="square"):
        TemporalAttention(data=np.ones((3, 4), np.float32) / 4)
    with pytest.raises(SchemaError, match="sum to 1"):
        TemporalAttention(data=np.ones((3, 3), np.float32))


def test_weights_pack_and_unpack_exactly():
    rng = np.random.default_rng(1)
    arrays = {"a": rng.normal(size=(2, 3)).astype(np.float32), "b": rng.normal(size=4).astype(np.float32)}
    flat, layout = ModelProvenance.pack_weights(arrays)
    prov = mock_model_provenance(weights=flat, weights_layout=layout)
    back = prov.weight_arrays()
    assert list(back) == ["a", "b"]
    for k in arrays:
        np.testing.assert_array_equal(back[k], arrays[k])
    with pytest.raises(SchemaError, match="describes 10 values but weights has 9"):
        mock_model_provenance(weights=flat[:-1], weights_layout=layout)
    assert prov.hyperparameters_dict["z_dim"] == 8


def test_connectivity_is_a_data_interface_not_a_time_series():
    from pynwb import TimeSeries
    from pynwb.core import NWBDataInterface

    assert issubclass(DynamicConnectivity, NWBDataInterface)
    assert not issubclass(DynamicConnectivity, TimeSeries)
