"""Every type survives a write and read with pynwb's round-trip mixin (which also validates)."""

from __future__ import annotations

import numpy as np
import pytest
from pynwb.testing import NWBH5IOFlexMixin, TestCase

from nwb_tavrnn.schema import SourceFileReference
from nwb_tavrnn.testing import (
    mock_dynamic_connectivity,
    mock_model_provenance,
    mock_node_embeddings,
    mock_temporal_attention,
)


def _ecephys(nwbfile):
    if "ecephys" not in nwbfile.processing:
        nwbfile.create_processing_module("ecephys", "derived graphs")
    return nwbfile.processing["ecephys"]


def _with_units(nwbfile, n):
    for i in range(n):
        nwbfile.add_unit(spike_times=[0.5 + i, 1.5 + i], id=10 + i)


@pytest.mark.usefixtures("in_tmp_dir")
class TestDenseConnectivityRoundTrip(NWBH5IOFlexMixin, TestCase):
    def getContainerType(self):
        return "DynamicConnectivity dense"

    def addContainer(self):
        _with_units(self.nwbfile, 5)
        region = self.nwbfile.units.create_region("node_region", [0, 1, 2, 3, 4], "the units")
        conn = mock_dynamic_connectivity(node_ids=np.arange(10, 15), node_region=region)
        _ecephys(self.nwbfile).add(conn)

    def getContainer(self, nwbfile):
        return nwbfile.processing["ecephys"]["DynamicConnectivity"]


@pytest.mark.usefixtures("in_tmp_dir")
class TestSparseConnectivityRoundTrip(NWBH5IOFlexMixin, TestCase):
    def getContainerType(self):
        return "DynamicConnectivity sparse"

    def addContainer(self):
        _ecephys(self.nwbfile).add(mock_dynamic_connectivity(sparse=True, name="sparse_graphs"))

    def getContainer(self, nwbfile):
        return nwbfile.processing["ecephys"]["sparse_graphs"]


@pytest.mark.usefixtures("in_tmp_dir")
class TestModelProvenanceRoundTrip(NWBH5IOFlexMixin, TestCase):
    def getContainerType(self):
        return "ModelProvenance"

    def addContainer(self):
        conn = mock_dynamic_connectivity()
        _ecephys(self.nwbfile).add(conn)
        _ecephys(self.nwbfile).add(mock_model_provenance(connectivity=conn))

    def getContainer(self, nwbfile):
        return nwbfile.processing["ecephys"]["ModelProvenance"]


@pytest.mark.usefixtures("in_tmp_dir")
class TestNodeEmbeddingsRoundTrip(NWBH5IOFlexMixin, TestCase):
    def getContainerType(self):
        return "NodeEmbeddings"

    def addContainer(self):
        conn = mock_dynamic_connectivity()
        model = mock_model_provenance(connectivity=conn)
        for obj in (conn, model, mock_node_embeddings(conn, model=model)):
            _ecephys(self.nwbfile).add(obj)

    def getContainer(self, nwbfile):
        return nwbfile.processing["ecephys"]["NodeEmbeddings"]


@pytest.mark.usefixtures("in_tmp_dir")
class TestTemporalAttentionRoundTrip(NWBH5IOFlexMixin, TestCase):
    def getContainerType(self):
        return "TemporalAttention"

    def addContainer(self):
        conn = mock_dynamic_connectivity()
        emb = mock_node_embeddings(conn)
        for obj in (conn, emb, mock_temporal_attention(embeddings=emb)):
            _ecephys(self.nwbfile).add(obj)

    def getContainer(self, nwbfile):
        return nwbfile.processing["ecephys"]["TemporalAttention"]


@pytest.mark.usefixtures("in_tmp_dir")
class TestSourceFileReferenceRoundTrip(NWBH5IOFlexMixin, TestCase):
    def getContainerType(self):
        return "SourceFileReference"

    def addContainer(self):
        self.nwbfile.add_lab_meta_data(SourceFileReference(
            source_identifier="abc", source_object_id="0000-1111", source_path="dandi://000207/sub-4/x.nwb",
            copied_objects={"units": "2222"},
        ))

    def getContainer(self, nwbfile):
        return nwbfile.lab_meta_data["source_file"]


@pytest.mark.usefixtures("in_tmp_dir")
class TestEvaluationScoresRoundTrip(NWBH5IOFlexMixin, TestCase):
    def getContainerType(self):
        return "EvaluationScores"

    def addContainer(self):
        import pandas as pd

        from nwb_tavrnn.schema import EvaluationScores

        frame = pd.DataFrame({"method": ["tavrnn", "tavrnn", "raw_correlation"], "analysis": ["classification"] * 3,
                              "metric": ["accuracy", "f1", "accuracy"], "seed": [0, 0, 0], "value": [0.9, 0.88, 0.7]})
        table = EvaluationScores.from_frame(frame, labels="epochs:state", parameters={"n_splits": 5})
        _ecephys(self.nwbfile).add(table)

    def getContainer(self, nwbfile):
        return nwbfile.processing["ecephys"]["EvaluationScores"]
