"""Hand-written container classes for the ``ndx-dynamic-graphs`` types.

Each class checks the shapes and types of what it is given at construction, so a malformed object
fails where it is made, with a message naming the field, instead of deep inside the HDF5 writer.
Arrays read back from a file arrive as lazy ``h5py.Dataset`` objects: checks use their shape only
and never load large arrays.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from hdmf.common import DynamicTable, DynamicTableRegion
from hdmf.utils import docval, get_data_shape, get_docval
from pynwb import register_class
from pynwb.core import NWBDataInterface
from pynwb.file import LabMetaData

from .namespace import NAMESPACE, load_namespace

load_namespace()

_ARRAY = ("array_data", "data")


class SchemaError(ValueError):
    """An object of our types was given data of the wrong shape, type or value."""


def _pop_fields(kwargs: dict, *names: str) -> dict:
    """Take our own fields out of docval's kwargs, leaving the base class's."""
    return {name: kwargs.pop(name) for name in names}


def _shape(value: Any) -> tuple | None:
    if value is None:
        return None
    shape = get_data_shape(value)
    return tuple(shape) if shape is not None else None


def _require_shape(cls: str, field: str, value: Any, expected: tuple) -> None:
    """Raise if ``value``'s shape differs from ``expected`` (``None`` entries match anything)."""
    shape = _shape(value)
    if shape is None:
        return
    if len(shape) != len(expected) or any(
        e is not None and s is not None and s != e for s, e in zip(shape, expected)
    ):
        want = "(" + ", ".join("?" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        raise SchemaError(f"{cls}.{field} has shape {shape}, expected {want}")


def _in_memory(value: Any) -> np.ndarray | None:
    """Return ``value`` as an array if it is already in memory (never reads a lazy dataset)."""
    if isinstance(value, (np.ndarray, list, tuple)):
        return np.asarray(value)
    return None


def _check_finite(cls: str, field: str, value: Any) -> None:
    arr = _in_memory(value)
    if arr is not None and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise SchemaError(
            f"{cls}.{field} contains NaN or infinite values; replace them (e.g. silent nodes get 0) "
            "before storing"
        )


def _as_json(cls: str, field: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        if isinstance(value, str):
            try:
                json.loads(value)
            except json.JSONDecodeError as err:
                raise SchemaError(f"{cls}.{field} is not valid JSON: {err}") from None
        return value
    try:
        return json.dumps(value, sort_keys=True, default=_json_default)
    except TypeError as err:
        raise SchemaError(f"{cls}.{field} cannot be stored as JSON: {err}") from None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _check_windows(cls: str, start: Any, stop: Any) -> int:
    """Validate window times and return the number of windows."""
    shape = _shape(start)
    if shape is None or len(shape) != 1:
        raise SchemaError(f"{cls}.window_start_times must be 1-D, got shape {shape}")
    _require_shape(cls, "window_stop_times", stop, (shape[0],))
    s, e = _in_memory(start), _in_memory(stop)
    if s is not None and e is not None:
        if not (np.isfinite(s).all() and np.isfinite(e).all()):
            raise SchemaError(f"{cls}: window times must be finite")
        if np.any(e <= s):
            raise SchemaError(f"{cls}: every window must stop after it starts")
    return shape[0]


_NODE_DOCVAL = (
    {"name": "node_ids", "type": _ARRAY, "doc": "Units/electrodes id of each node. Shape (nodes,)."},
    {"name": "node_groups", "type": _ARRAY, "doc": "Group label per node.", "default": None},
    {"name": "node_locations", "type": _ARRAY, "doc": "Location label per node.", "default": None},
)

_WINDOW_DOCVAL = (
    {"name": "window_start_times", "type": _ARRAY, "doc": "Window starts in seconds. Shape (windows,)."},
    {"name": "window_stop_times", "type": _ARRAY, "doc": "Window stops in seconds. Shape (windows,)."},
)


def _check_nodes(cls: str, node_ids: Any, groups: Any, locations: Any) -> int:
    shape = _shape(node_ids)
    if shape is None or len(shape) != 1:
        raise SchemaError(f"{cls}.node_ids must be 1-D, got shape {shape}")
    n = shape[0]
    _require_shape(cls, "node_groups", groups, (n,))
    _require_shape(cls, "node_locations", locations, (n,))
    ids = _in_memory(node_ids)
    if ids is not None:
        if ids.dtype.kind not in "iu":
            raise SchemaError(f"{cls}.node_ids must be integers, got dtype {ids.dtype}")
        if len(np.unique(ids)) != len(ids):
            raise SchemaError(f"{cls}.node_ids must be unique")
    return n


@register_class("DynamicConnectivity", NAMESPACE)
class DynamicConnectivity(NWBDataInterface):
    """A sequence of weighted graphs over the same nodes, one per time window.

    Give either the dense ``data`` or the sparse ``edge_index`` + ``edge_weight``.

    Shapes
    ------
    data, correlation : (windows, nodes, nodes) float32
    edge_index : (edges, 3) int64, rows of (window, source, target)
    edge_weight : (edges,) float32
    inactive_mask : (windows, nodes) bool
    window_start_times, window_stop_times : (windows,) float64, seconds
    node_ids, node_groups, node_locations, node_region : (nodes,)
    node_positions : (nodes, 2 | 3) float64
    """

    __nwbfields__ = (
        "description",
        "method",
        "directed",
        "bin_size",
        "threshold_mode",
        "threshold",
        "window_duration",
        "window_step",
        "parameters",
        "data",
        "edge_index",
        "edge_weight",
        "correlation",
        "inactive_mask",
        "window_start_times",
        "window_stop_times",
        "node_ids",
        "node_groups",
        "node_locations",
        "node_positions",
        {"name": "node_region", "child": True},
    )

    @docval(
        {"name": "name", "type": str, "doc": "Name of this object.", "default": "DynamicConnectivity"},
        {"name": "description", "type": str, "doc": "How the graphs were made.", "default": "no description"},
        {"name": "method", "type": str, "doc": "Edge-weight estimator, e.g. 'pearson'.", "default": "pearson"},
        {"name": "directed", "type": (bool, np.bool_), "doc": "Whether edges are directed.", "default": False},
        {"name": "bin_size", "type": (float, int, np.number), "doc": "Bin width in seconds."},
        *_WINDOW_DOCVAL,
        *_NODE_DOCVAL,
        {"name": "data", "type": _ARRAY, "doc": "Dense weights (windows, nodes, nodes).", "default": None},
        {"name": "edge_index", "type": _ARRAY, "doc": "Sparse (edges, 3) rows.", "default": None},
        {"name": "edge_weight", "type": _ARRAY, "doc": "Sparse weights (edges,).", "default": None},
        {"name": "correlation", "type": _ARRAY, "doc": "Unthresholded estimate.", "default": None},
        {"name": "inactive_mask", "type": _ARRAY, "doc": "Silent/constant nodes.", "default": None},
        {"name": "node_region", "type": DynamicTableRegion, "doc": "Rows of Units/electrodes/ROIs.", "default": None},
        {"name": "node_positions", "type": _ARRAY, "doc": "Node positions (nodes, 2 or 3).", "default": None},
        {"name": "threshold_mode", "type": str, "doc": "How edges were kept.", "default": None},
        {"name": "threshold", "type": (float, int, np.number), "doc": "Threshold value.", "default": None},
        {"name": "window_duration", "type": (float, int, np.number), "doc": "Nominal window s.", "default": None},
        {"name": "window_step", "type": (float, int, np.number), "doc": "Nominal step s.", "default": None},
        {"name": "parameters", "type": (str, dict), "doc": "Step parameters (JSON).", "default": None},
    )
    def __init__(self, **kwargs):
        fields = _pop_fields(
            kwargs,
            "description", "method", "directed", "bin_size", "window_start_times", "window_stop_times",
            "node_ids", "node_groups", "node_locations", "data", "edge_index", "edge_weight",
            "correlation", "inactive_mask", "node_region", "threshold_mode", "threshold",
            "window_duration", "window_step", "parameters", "node_positions",
        )
        super().__init__(**kwargs)
        cls = type(self).__name__
        n_windows = _check_windows(cls, fields["window_start_times"], fields["window_stop_times"])
        n_nodes = _check_nodes(cls, fields["node_ids"], fields["node_groups"], fields["node_locations"])
        dense, idx, weight = fields["data"], fields["edge_index"], fields["edge_weight"]
        if (dense is None) == (idx is None):
            raise SchemaError(f"{cls}: give either dense 'data' or sparse 'edge_index' + 'edge_weight', not both")
        if (idx is None) != (weight is None):
            raise SchemaError(f"{cls}: 'edge_index' and 'edge_weight' must be given together")
        if dense is not None:
            _require_shape(cls, "data", dense, (n_windows, n_nodes, n_nodes))
            _check_finite(cls, "data", dense)
        else:
            _require_shape(cls, "edge_index", idx, (None, 3))
            n_edges = _shape(idx)[0]
            _require_shape(cls, "edge_weight", weight, (n_edges,))
            _check_finite(cls, "edge_weight", weight)
            arr = _in_memory(idx)
            if arr is not None and arr.size:
                limits = np.array([n_windows, n_nodes, n_nodes])
                if arr.min() < 0 or np.any(arr.max(axis=0) >= limits):
                    raise SchemaError(
                        f"{cls}.edge_index refers to windows/nodes outside ({n_windows} windows, {n_nodes} nodes)"
                    )
        _require_shape(cls, "correlation", fields["correlation"], (n_windows, n_nodes, n_nodes))
        _check_finite(cls, "correlation", fields["correlation"])
        _require_shape(cls, "inactive_mask", fields["inactive_mask"], (n_windows, n_nodes))
        positions = fields["node_positions"]
        if positions is not None:
            shape = _shape(positions)
            if shape is None or len(shape) != 2 or shape[0] != n_nodes or shape[1] not in (2, 3):
                raise SchemaError(f"{cls}.node_positions must be (nodes, 2) or (nodes, 3) = ({n_nodes}, 2|3), "
                                  f"got {shape}")
            _check_finite(cls, "node_positions", positions)
        region = fields["node_region"]
        if region is not None and len(region.data) != n_nodes:
            raise SchemaError(f"{cls}.node_region has {len(region.data)} rows, expected {n_nodes} (one per node)")
        if float(fields["bin_size"]) <= 0:
            raise SchemaError(f"{cls}.bin_size must be positive, got {fields['bin_size']}")
        fields["directed"] = bool(fields["directed"])
        fields["parameters"] = _as_json(cls, "parameters", fields["parameters"])
        for key, value in fields.items():
            if value is not None:
                setattr(self, key, value)

    @property
    def num_windows(self) -> int:
        return int(_shape(self.window_start_times)[0])

    @property
    def num_nodes(self) -> int:
        return int(_shape(self.node_ids)[0])

    @property
    def is_sparse(self) -> bool:
        return self.data is None

    @property
    def parameters_dict(self) -> dict:
        return json.loads(self.parameters) if self.parameters else {}

    def to_dense(self) -> np.ndarray:
        """Return the edge weights as a dense array.

        Shapes
        ------
        return : (windows, nodes, nodes) float32
        """
        if self.data is not None:
            return np.array(self.data[()], dtype=np.float32, copy=True)
        out = np.zeros((self.num_windows, self.num_nodes, self.num_nodes), dtype=np.float32)
        idx = np.asarray(self.edge_index[()])
        if idx.size:
            out[idx[:, 0], idx[:, 1], idx[:, 2]] = np.asarray(self.edge_weight[()])
        return out


@register_class("ModelProvenance", NAMESPACE)
class ModelProvenance(NWBDataInterface):
    """How a latent model was trained, and its weights.

    Weights are stored flat so that a reader with only numpy can rebuild every tensor
    (:meth:`weight_arrays`); :meth:`pack_weights` builds the flat form from named arrays.

    Shapes
    ------
    training_loss, validation_loss : (epochs,) float64
    weights : (parameters,) float32
    """

    __nwbfields__ = (
        "description", "model_name", "hyperparameters", "versions", "seed", "weights_layout",
        "training_loss", "validation_loss", "weights", "connectivity",
    )

    @docval(
        {"name": "name", "type": str, "doc": "Name of this object.", "default": "ModelProvenance"},
        {"name": "description", "type": str, "doc": "Description.", "default": "no description"},
        {"name": "model_name", "type": str, "doc": "Registered model name."},
        {"name": "hyperparameters", "type": (str, dict), "doc": "Constructor arguments (JSON)."},
        {"name": "versions", "type": (str, dict), "doc": "Package versions (JSON)."},
        {"name": "seed", "type": (int, np.integer), "doc": "Seed of the run (-1 for none).", "default": -1},
        {"name": "training_loss", "type": _ARRAY, "doc": "Loss per epoch."},
        {"name": "validation_loss", "type": _ARRAY, "doc": "Validation loss per epoch.", "default": None},
        {"name": "weights", "type": _ARRAY, "doc": "Flat float32 parameters.", "default": None},
        {"name": "weights_layout", "type": (str, list), "doc": "Layout of 'weights' (JSON).", "default": None},
        {"name": "connectivity", "type": DynamicConnectivity, "doc": "Training graphs.", "default": None},
    )
    def __init__(self, **kwargs):
        fields = _pop_fields(
            kwargs,
            "description", "model_name", "hyperparameters", "versions", "seed", "training_loss",
            "validation_loss", "weights", "weights_layout", "connectivity",
        )
        super().__init__(**kwargs)
        cls = type(self).__name__
        loss_shape = _shape(fields["training_loss"])
        if loss_shape is None or len(loss_shape) != 1:
            raise SchemaError(f"{cls}.training_loss must be 1-D, got shape {loss_shape}")
        if fields["validation_loss"] is not None:
            _require_shape(cls, "validation_loss", fields["validation_loss"], (loss_shape[0],))
        if (fields["weights"] is None) != (fields["weights_layout"] is None):
            raise SchemaError(f"{cls}: 'weights' and 'weights_layout' must be given together")
        for key in ("hyperparameters", "versions", "weights_layout"):
            fields[key] = _as_json(cls, key, fields[key])
        if fields["weights"] is not None:
            _require_shape(cls, "weights", fields["weights"], (None,))
            total = sum(int(np.prod(e["shape"], dtype=np.int64)) for e in json.loads(fields["weights_layout"]))
            if total != _shape(fields["weights"])[0]:
                raise SchemaError(
                    f"{cls}: weights_layout describes {total} values but weights has {_shape(fields['weights'])[0]}"
                )
            _check_finite(cls, "weights", fields["weights"])
        fields["seed"] = int(fields["seed"])
        for key, value in fields.items():
            if value is not None:
                setattr(self, key, value)

    @property
    def hyperparameters_dict(self) -> dict:
        return json.loads(self.hyperparameters)

    @property
    def versions_dict(self) -> dict:
        return json.loads(self.versions)

    @staticmethod
    def pack_weights(arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, list[dict]]:
        """Concatenate named arrays into the flat float32 form stored in the file.

        Shapes
        ------
        arrays : name -> any shape
        return : ((parameters,) float32, layout list)
        """
        layout, parts, offset = [], [], 0
        for name, value in arrays.items():
            arr = np.asarray(value, dtype=np.float32)
            layout.append({"name": name, "shape": list(arr.shape), "offset": offset})
            parts.append(arr.ravel())
            offset += arr.size
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        return flat, layout

    def weight_arrays(self) -> dict[str, np.ndarray]:
        """Rebuild the named parameter arrays from the flat weights (numpy only, no torch)."""
        if self.weights is None:
            return {}
        dtype = np.dtype(getattr(self.weights, "dtype", np.float32))
        if dtype.kind not in "fiu":  # bytes, strings or objects (e.g. a pickle): never interpreted
            raise SchemaError(f"{type(self).__name__} {self.name!r}: weights hold {dtype} values, not numbers; "
                              "the weights cannot be used (nothing in them is loaded or run)")
        flat = np.asarray(self.weights[()], dtype=np.float32)
        out = {}
        for entry in json.loads(self.weights_layout):
            size = int(np.prod(entry["shape"], dtype=np.int64))
            out[entry["name"]] = flat[entry["offset"] : entry["offset"] + size].reshape(entry["shape"])
        return out


@register_class("NodeEmbeddings", NAMESPACE)
class NodeEmbeddings(NWBDataInterface):
    """Latent embedding of every node in every window.

    Shapes
    ------
    mean, log_variance, sample : (windows, nodes, latent) float32
    window_start_times, window_stop_times : (windows,) float64
    node_ids, node_groups, node_locations : (nodes,)
    """

    __nwbfields__ = (
        "description", "model_name", "mean", "log_variance", "sample", "window_start_times", "window_stop_times",
        "node_ids", "node_groups", "node_locations", "connectivity", "model",
    )

    @docval(
        {"name": "name", "type": str, "doc": "Name of this object.", "default": "NodeEmbeddings"},
        {"name": "description", "type": str, "doc": "Description.", "default": "no description"},
        {"name": "model_name", "type": str, "doc": "Model that produced them."},
        {"name": "mean", "type": _ARRAY, "doc": "Latent means (windows, nodes, latent)."},
        *_WINDOW_DOCVAL,
        *_NODE_DOCVAL,
        {"name": "log_variance", "type": _ARRAY, "doc": "Latent log-variances.", "default": None},
        {"name": "sample", "type": _ARRAY, "doc": "Sampled latents the model used (if any).", "default": None},
        {"name": "connectivity", "type": DynamicConnectivity, "doc": "Source graphs.", "default": None},
        {"name": "model", "type": ModelProvenance, "doc": "Model provenance.", "default": None},
    )
    def __init__(self, **kwargs):
        fields = _pop_fields(
            kwargs,
            "description", "model_name", "mean", "window_start_times", "window_stop_times", "node_ids",
            "node_groups", "node_locations", "log_variance", "sample", "connectivity", "model",
        )
        super().__init__(**kwargs)
        cls = type(self).__name__
        n_windows = _check_windows(cls, fields["window_start_times"], fields["window_stop_times"])
        n_nodes = _check_nodes(cls, fields["node_ids"], fields["node_groups"], fields["node_locations"])
        _require_shape(cls, "mean", fields["mean"], (n_windows, n_nodes, None))
        _check_finite(cls, "mean", fields["mean"])
        latent = _shape(fields["mean"])[2]
        for name in ("log_variance", "sample"):
            _require_shape(cls, name, fields[name], (n_windows, n_nodes, latent))
            _check_finite(cls, name, fields[name])
        conn = fields["connectivity"]
        if conn is not None and (conn.num_windows, conn.num_nodes) != (n_windows, n_nodes):
            raise SchemaError(
                f"{cls} has {n_windows} windows x {n_nodes} nodes but its connectivity has "
                f"{conn.num_windows} x {conn.num_nodes}"
            )
        for key, value in fields.items():
            if value is not None:
                setattr(self, key, value)

    @property
    def num_windows(self) -> int:
        return int(_shape(self.mean)[0])

    @property
    def num_nodes(self) -> int:
        return int(_shape(self.mean)[1])

    @property
    def latent_dim(self) -> int:
        return int(_shape(self.mean)[2])


@register_class("TemporalAttention", NAMESPACE)
class TemporalAttention(NWBDataInterface):
    """Attention weights between windows; row t is what window t attended to.

    Shapes
    ------
    data : (windows, windows) float32, rows sum to 1
    """

    __nwbfields__ = ("description", "window_width", "data", "embeddings")

    @docval(
        {"name": "name", "type": str, "doc": "Name of this object.", "default": "TemporalAttention"},
        {"name": "description", "type": str, "doc": "Description.", "default": "no description"},
        {"name": "data", "type": _ARRAY, "doc": "Attention weights (windows, windows)."},
        {"name": "window_width", "type": (int, np.integer), "doc": "0 = whole history.", "default": None},
        {"name": "embeddings", "type": NodeEmbeddings, "doc": "Embeddings attended over.", "default": None},
    )
    def __init__(self, **kwargs):
        fields = _pop_fields(kwargs, "description", "data", "window_width", "embeddings")
        super().__init__(**kwargs)
        cls = type(self).__name__
        shape = _shape(fields["data"])
        if shape is None or len(shape) != 2 or shape[0] != shape[1]:
            raise SchemaError(f"{cls}.data must be square (windows, windows), got shape {shape}")
        arr = _in_memory(fields["data"])
        if arr is not None and arr.size:
            _check_finite(cls, "data", arr)
            if arr.min() < 0 or not np.allclose(arr.sum(axis=1), 1.0, atol=1e-4):
                raise SchemaError(f"{cls}.data rows must be non-negative and sum to 1")
        emb = fields["embeddings"]
        if emb is not None and emb.num_windows != shape[0]:
            raise SchemaError(f"{cls} has {shape[0]} windows but its embeddings have {emb.num_windows}")
        if fields["window_width"] is not None:
            fields["window_width"] = int(fields["window_width"])
        for key, value in fields.items():
            if value is not None:
                setattr(self, key, value)


@register_class("SourceFileReference", NAMESPACE)
class SourceFileReference(LabMetaData):
    """Identity of the NWB file a derived file was computed from."""

    __nwbfields__ = ("description", "source_identifier", "source_object_id", "source_path", "copied_objects")

    @docval(
        {"name": "name", "type": str, "doc": "Name of this object.", "default": "source_file"},
        {"name": "description", "type": str, "doc": "Description.", "default": "the file this one was derived from"},
        {"name": "source_identifier", "type": str, "doc": "identifier of the source NWBFile."},
        {"name": "source_object_id", "type": str, "doc": "object_id of the source NWBFile."},
        {"name": "source_path", "type": str, "doc": "Path, URL or DANDI asset path.", "default": None},
        {"name": "copied_objects", "type": (str, dict), "doc": "Copied object ids (JSON).", "default": None},
    )
    def __init__(self, **kwargs):
        fields = _pop_fields(
            kwargs,
            "description", "source_identifier", "source_object_id", "source_path", "copied_objects"
        )
        super().__init__(**kwargs)
        fields["copied_objects"] = _as_json(type(self).__name__, "copied_objects", fields["copied_objects"])
        for key, value in fields.items():
            if value is not None:
                setattr(self, key, value)


@register_class("EvaluationScores", NAMESPACE)
class EvaluationScores(DynamicTable):
    """One row per (method, analysis, metric, seed) score; see :meth:`from_frame`."""

    __columns__ = (
        {"name": "method", "description": "Method whose features were scored.", "required": True},
        {"name": "analysis", "description": "Analysis that produced the score.", "required": True},
        {"name": "metric", "description": "Metric name.", "required": True},
        {"name": "seed", "description": "Seed of the repetition (-1 if none).", "required": True},
        {"name": "value", "description": "Value of the metric.", "required": True},
    )
    __fields__ = ("labels", "parameters")

    @docval(
        {"name": "name", "type": str, "doc": "Name of this table.", "default": "EvaluationScores"},
        {"name": "description", "type": str, "doc": "Description.", "default": "evaluation scores"},
        {"name": "labels", "type": str, "doc": "Source of the window labels.", "default": None},
        {"name": "parameters", "type": (str, dict), "doc": "Evaluation parameters (JSON).", "default": None},
        *get_docval(DynamicTable.__init__, "id", "columns", "colnames"),
    )
    def __init__(self, **kwargs):
        labels, parameters = kwargs.pop("labels"), kwargs.pop("parameters")
        super().__init__(**kwargs)
        self.labels = labels
        self.parameters = _as_json(type(self).__name__, "parameters", parameters)

    @classmethod
    def from_frame(cls, frame, name: str = "EvaluationScores", description: str = "evaluation scores",
                   labels: str | None = None, parameters: dict | None = None) -> EvaluationScores:
        """Build the table from a data frame with columns method, analysis, metric, seed, value."""
        missing = {"method", "analysis", "metric", "seed", "value"} - set(frame.columns)
        if missing:
            raise SchemaError(f"{cls.__name__}: the frame lacks columns {sorted(missing)}")
        table = cls(name=name, description=description, labels=labels, parameters=parameters)
        for row in frame.itertuples(index=False):
            table.add_row(method=str(row.method), analysis=str(row.analysis), metric=str(row.metric),
                          seed=int(row.seed), value=float(row.value))
        return table


__all__ = [
    "DynamicConnectivity",
    "EvaluationScores",
    "ModelProvenance",
    "NodeEmbeddings",
    "SchemaError",
    "SourceFileReference",
    "TemporalAttention",
]
