"""TAVRNN: VGRNN with temporal attention over the recurrent state (DESIGN.md §3)."""

from .estimator import TAVRNN, VGRNN, Embeddings
from .modules import GraphEncoder, GraphGRU, Prior, TemporalAttention, VGRNNNet

__all__ = ["TAVRNN", "VGRNN", "Embeddings", "GraphEncoder", "GraphGRU", "Prior", "TemporalAttention", "VGRNNNet"]
