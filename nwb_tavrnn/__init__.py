"""nwb_tavrnn: dynamic connectivity graphs and latent embeddings from spike trains, NWB in, NWB out.

Importing the package is light: it loads the NWB extension and the readers/writers only. Models
(torch), sorting (spikeinterface) and streaming (dandi) are imported when first used.
"""

import logging

from .schema import (
    NAMESPACE,
    DynamicConnectivity,
    EvaluationScores,
    ModelProvenance,
    NodeEmbeddings,
    SchemaError,
    SourceFileReference,
    TemporalAttention,
)

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("nwb-tavrnn")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "NAMESPACE",
    "DynamicConnectivity",
    "EvaluationScores",
    "ModelProvenance",
    "NodeEmbeddings",
    "SchemaError",
    "SourceFileReference",
    "TemporalAttention",
    "__version__",
]
