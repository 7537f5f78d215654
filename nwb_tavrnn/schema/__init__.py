"""The ``ndx-dynamic-graphs`` extension: namespace loading and container classes."""

from .containers import (
    DynamicConnectivity,
    EvaluationScores,
    ModelProvenance,
    NodeEmbeddings,
    SchemaError,
    SourceFileReference,
    TemporalAttention,
)
from .namespace import NAMESPACE, load_namespace, namespace_path

__all__ = [
    "NAMESPACE",
    "DynamicConnectivity",
    "EvaluationScores",
    "ModelProvenance",
    "NodeEmbeddings",
    "SchemaError",
    "SourceFileReference",
    "TemporalAttention",
    "load_namespace",
    "namespace_path",
]
