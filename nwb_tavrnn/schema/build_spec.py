"""Build the ``ndx-dynamic-graphs`` NWB extension: the source of truth for ``spec/*.yaml``.

Run ``python -m nwb_tavrnn.schema.build_spec`` after any change here and commit the YAML it writes
to the top-level ``spec/`` folder (the wheel ships that folder inside the package).

Every type derives from ``NWBDataInterface`` rather than ``TimeSeries``: a graph's node axis is often
longer than its window axis, which nwbinspector's orientation check treats as a transposed series.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pynwb.spec import (
    NWBAttributeSpec,
    NWBDatasetSpec,
    NWBGroupSpec,
    NWBLinkSpec,
    NWBNamespaceBuilder,
    export_spec,
)

NAMESPACE = "ndx-dynamic-graphs"
VERSION = "0.2.1"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "spec"


def _array(name: str, doc: str, dtype: str, dims: list, *, shape: list | None = None,
           optional: bool = False) -> NWBDatasetSpec:
    """A dataset of any length along each of ``dims`` (``shape`` where one is fixed).

    ``optional``: quantity "?", the dataset may be absent.
    """
    extra = {"quantity": "?"} if optional else {}
    return NWBDatasetSpec(name=name, doc=doc, dtype=dtype, shape=[None] * len(dims) if shape is None else shape,
                          dims=dims, **extra)


def _interface(type_name: str, doc: str, **specs) -> NWBGroupSpec:
    """A type of the extension: an ``NWBDataInterface`` (see the module docstring) whose default name
    is the type's; ``specs`` are its ``attributes``, ``datasets`` and ``links``."""
    return NWBGroupSpec(neurodata_type_def=type_name, neurodata_type_inc="NWBDataInterface", default_name=type_name,
                        doc=doc, **specs)


def _optional_attribute(name: str, doc: str, dtype: str) -> NWBAttributeSpec:
    """An attribute that may be absent (``required=False``)."""
    return NWBAttributeSpec(name, doc, dtype, required=False)


def _optional_link(name: str, target_type: str, doc: str) -> NWBLinkSpec:
    """A link to another object of the file, which may be absent (quantity "?")."""
    return NWBLinkSpec(name=name, target_type=target_type, doc=doc, quantity="?")


def _node_identity_specs() -> list[NWBDatasetSpec]:
    """Node identity both by value (stands alone in a derived file) and by region (links to rows)."""
    return [
        _array("node_ids",
               "Identifier of each node: the Units id or electrodes id it stands for, so the file "
               "remains interpretable even where no table region can be kept.", "int64", ["nodes"]),
        _array("node_groups", "Group label of each node (electrode group, subregion or brain area).", "text", ["nodes"],
               optional=True),
        _array("node_locations", "Anatomical or array location of each node.", "text", ["nodes"], optional=True),
        NWBDatasetSpec(
            name="node_region",
            neurodata_type_inc="DynamicTableRegion",
            doc="Rows of the Units or electrodes table, or of the PlaneSegmentation of ROIs, of this "
            "file that the nodes stand for, in node order.",
            dims=["nodes"],
            shape=[None],
            quantity="?",
        ),
    ]


def build_types() -> list[NWBGroupSpec]:
    """Return the group specs of the extension, in dependency order."""
    window_times = [
        _array("window_start_times", "Start time of each window, in seconds from the session start.", "float64",
               ["windows"]),
        _array("window_stop_times", "Stop time of each window, in seconds from the session start.", "float64",
               ["windows"]),
    ]

    connectivity = _interface(
        "DynamicConnectivity",
        doc="A sequence of weighted graphs over the same nodes, one per time window, estimated from "
        "spike trains. Dense form: 'data' [windows x nodes x nodes]. Sparse form for large node "
        "counts: 'edge_index' [edges x 3] (window, source, target) with 'edge_weight' [edges]. "
        "Exactly one form is present.",
        attributes=[
            NWBAttributeSpec("description", "Free-text description of how the graphs were made.", "text"),
            NWBAttributeSpec("method", "Estimator of the edge weights, e.g. 'pearson'.", "text"),
            NWBAttributeSpec("directed", "Whether edges are directed; undirected graphs are symmetric.", "bool"),
            NWBAttributeSpec("bin_size", "Width of the spike-count bins, in seconds.", "float64"),
            _optional_attribute("threshold_mode",
                                "How edges were kept: 'fixed', 'top_k', 'density', 'marchenko_pastur' or 'none'.",
                                "text"),
            _optional_attribute("threshold",
                                "Value of the threshold in 'threshold_mode' units (e.g. |r| for 'fixed', k for "
                                "'top_k', the target fraction for 'density').", "float64"),
            _optional_attribute("window_duration", "Nominal window length in seconds (absent if windows vary).",
                                "float64"),
            _optional_attribute("window_step",
                                "Nominal step between window starts in seconds (absent if windows vary).", "float64"),
            _optional_attribute("parameters",
                                "All parameters of the processing step, as a JSON object, so it can be re-run.",
                                "text"),
        ],
        datasets=[
            _array("data", "Edge weights per window; zero where there is no edge.", "float32",
                   ["windows", "source_nodes", "target_nodes"], optional=True),
            _array("edge_index", "Sparse form: one row per edge, (window index, source node index, target node index).",
                   "int64", ["edges", "window_source_target"], shape=[None, 3], optional=True),
            _array("edge_weight", "Sparse form: weight of each edge in 'edge_index'.", "float32", ["edges"],
                   optional=True),
            _array("correlation",
                   "The unthresholded estimate per window, signed (Pearson r in [-1, 1]) whatever the edge "
                   "weights are; graph models take |r| as node features. Files written with spec 0.2.0 or "
                   "earlier hold |r| here where their parameters say 'absolute' (every preset).",
                   "float32", ["windows", "source_nodes", "target_nodes"], optional=True),
            _array("inactive_mask",
                   "True where a node was silent or constant within a window (its weights are 0 there).", "bool",
                   ["windows", "nodes"], optional=True),
            *window_times,
            *_node_identity_specs(),
            _array("node_positions",
                   "Position of each node in the recording's own coordinates: for ROIs of an imaging "
                   "plane, the centroid (row, column) in pixels of the plane; for electrodes, their (x, y[, z]).",
                   "float64", [["nodes", "row_column"], ["nodes", "xyz"]], shape=[[None, 2], [None, 3]], optional=True),
        ],
    )

    provenance = _interface(
        "ModelProvenance",
        doc="How a latent model was trained, with its weights, so a collaborator can re-embed data "
        "from this file alone.",
        attributes=[
            NWBAttributeSpec("description", "Free-text description of the model run.", "text"),
            NWBAttributeSpec("model_name", "Registered name of the model, e.g. 'tavrnn'.", "text"),
            NWBAttributeSpec("hyperparameters", "Constructor arguments of the model, as JSON.", "text"),
            NWBAttributeSpec("versions", "Versions of the packages used, as JSON.", "text"),
            NWBAttributeSpec("seed", "Random seed of the run (-1 if none was set).", "int64"),
            _optional_attribute("weights_layout",
                                "JSON list of {name, shape, offset} locating each parameter tensor in 'weights'.",
                                "text"),
        ],
        datasets=[
            _array("training_loss", "Training loss after each epoch.", "float64", ["epochs"]),
            _array("validation_loss", "Validation loss after each epoch, if one was computed.", "float64", ["epochs"],
                   optional=True),
            _array("weights", "All trained parameters concatenated (float32); see 'weights_layout'.", "float32",
                   ["parameters"], optional=True),
        ],
        links=[
            _optional_link("connectivity", "DynamicConnectivity", "The graphs the model was trained on.")
        ],
    )

    embeddings = _interface(
        "NodeEmbeddings",
        doc="Latent embedding of every node in every window.",
        attributes=[
            NWBAttributeSpec("description", "Free-text description of the embeddings.", "text"),
            NWBAttributeSpec("model_name", "Name of the model that produced them.", "text"),
        ],
        datasets=[
            _array("mean", "Posterior mean of each node's latent vector per window.", "float32",
                   ["windows", "nodes", "latent"]),
            _array("log_variance", "Posterior log-variance, same shape as 'mean'.", "float32",
                   ["windows", "nodes", "latent"], optional=True),
            _array("sample",
                   "Random draws z = mean + std * eps that the model's recurrence used, when the embeddings "
                   "are samples (the reference's choice); same shape as 'mean'.", "float32",
                   ["windows", "nodes", "latent"], optional=True),
            *window_times,
            *[s for s in _node_identity_specs() if s.name != "node_region"],
        ],
        links=[
            _optional_link("connectivity", "DynamicConnectivity", "The graphs these embeddings were computed from."),
            _optional_link("model", "ModelProvenance", "The trained model that produced these embeddings."),
        ],
    )

    attention = _interface(
        "TemporalAttention",
        doc="Temporal attention weights: row t holds the weights window t gave to windows 0..t "
        "(each row sums to 1 over the windows it attends to; zero elsewhere).",
        attributes=[
            NWBAttributeSpec("description", "Free-text description.", "text"),
            _optional_attribute("window_width",
                                "How many past windows the attention could see (0 means the whole history).", "int64"),
        ],
        datasets=[
            _array("data", "Attention weight of query window (row) on key window (column).", "float32",
                   ["query_windows", "key_windows"]),
        ],
        links=[
            _optional_link("embeddings", "NodeEmbeddings",
                           "The embeddings whose recurrent state the attention acted on.")
        ],
    )

    source = NWBGroupSpec(
        neurodata_type_def="SourceFileReference",
        neurodata_type_inc="LabMetaData",
        default_name="source_file",
        doc="The NWB file this derived file was computed from (DANDI refuses external links, so "
        "the reference is by identifier and path).",
        attributes=[
            NWBAttributeSpec("description", "Free-text description.", "text"),
            NWBAttributeSpec("source_identifier", "'identifier' of the source NWBFile.", "text"),
            NWBAttributeSpec("source_object_id", "object_id of the source NWBFile.", "text"),
            _optional_attribute("source_path", "Path, URL or DANDI asset path of the source file.", "text"),
            _optional_attribute("copied_objects",
                                "JSON object mapping each copied object (e.g. 'units') to its object_id in the source.",
                                "text"),
        ],
    )
    def column(name: str, doc: str, dtype: str) -> NWBDatasetSpec:
        return NWBDatasetSpec(name=name, neurodata_type_inc="VectorData", doc=doc, dtype=dtype)

    scores = NWBGroupSpec(
        neurodata_type_def="EvaluationScores",
        neurodata_type_inc="DynamicTable",
        default_name="EvaluationScores",
        doc="Scores relating embeddings (and baselines) to behaviour: one row per method, analysis, "
        "metric and seed.",
        attributes=[
            _optional_attribute("labels", "Where the window labels came from (e.g. 'trials:hit top_bottom k=3').",
                                "text"),
            _optional_attribute("parameters", "Parameters of the evaluation, as JSON.", "text"),
        ],
        datasets=[
            column("method", "Method whose features were scored (e.g. 'tavrnn', 'raw_correlation').", "text"),
            column("analysis", "Analysis: 'classification', 'clustering', 'permutation_null', ...", "text"),
            column("metric", "Metric name (accuracy, f1, ari, nmi, silhouette, p_value, ...).", "text"),
            column("seed", "Seed of the repetition (-1 where not applicable).", "int64"),
            column("value", "Value of the metric.", "float64"),
        ],
    )
    return [connectivity, provenance, embeddings, attention, source, scores]


def build(output_dir: Path = DEFAULT_OUTPUT) -> Path:
    """Write the namespace and extensions YAML into ``output_dir`` and return the namespace path."""
    builder = NWBNamespaceBuilder(
        name=NAMESPACE,
        version=VERSION,
        doc="Dynamic connectivity graphs, node embeddings, temporal attention and model provenance "
        "for spike-train network analysis (nwb_tavrnn).",
        author=["nwb_tavrnn developers"],
        contact=["nwb-tavrnn@users.noreply.github.com"],
    )
    builder.include_namespace("core")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    export_spec(builder, build_types(), str(output_dir))
    return output_dir / f"{NAMESPACE}.namespace.yaml"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    build(args.output)


if __name__ == "__main__":
    main()
