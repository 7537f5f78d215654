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
VERSION = "0.2.0"
DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "spec"


def _node_identity_specs() -> list[NWBDatasetSpec]:
    """Node identity both by value (stands alone in a derived file) and by region (links to rows)."""
    return [
        NWBDatasetSpec(
            name="node_ids",
            doc="Identifier of each node: the Units id or electrodes id it stands for, so the file "
            "remains interpretable even where no table region can be kept.",
            dtype="int64",
            shape=[None],
            dims=["nodes"],
        ),
        NWBDatasetSpec(
            name="node_groups",
            doc="Group label of each node (electrode group, subregion or brain area).",
            dtype="text",
            shape=[None],
            dims=["nodes"],
            quantity="?",
        ),
        NWBDatasetSpec(
            name="node_locations",
            doc="Anatomical or array location of each node.",
            dtype="text",
            shape=[None],
            dims=["nodes"],
            quantity="?",
        ),
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
        NWBDatasetSpec(
            name="window_start_times",
            doc="Start time of each window, in seconds from the session start.",
            dtype="float64",
            shape=[None],
            dims=["windows"],
        ),
        NWBDatasetSpec(
            name="window_stop_times",
            doc="Stop time of each window, in seconds from the session start.",
            dtype="float64",
            shape=[None],
            dims=["windows"],
        ),
    ]

    connectivity = NWBGroupSpec(
        neurodata_type_def="DynamicConnectivity",
        neurodata_type_inc="NWBDataInterface",
        default_name="DynamicConnectivity",
        doc="A sequence of weighted graphs over the same nodes, one per time window, estimated from "
        "spike trains. Dense form: 'data' [windows x nodes x nodes]. Sparse form for large node "
        "counts: 'edge_index' [edges x 3] (window, source, target) with 'edge_weight' [edges]. "
        "Exactly one form is present.",
        attributes=[
            NWBAttributeSpec("description", "Free-text description of how the graphs were made.", "text"),
            NWBAttributeSpec("method", "Estimator of the edge weights, e.g. 'pearson'.", "text"),
            NWBAttributeSpec("directed", "Whether edges are directed; undirected graphs are symmetric.", "bool"),
            NWBAttributeSpec("bin_size", "Width of the spike-count bins, in seconds.", "float64"),
            NWBAttributeSpec(
                "threshold_mode",
                "How edges were kept: 'fixed', 'top_k', 'density', 'marchenko_pastur' or 'none'.",
                "text",
                required=False,
            ),
            NWBAttributeSpec(
                "threshold",
                "Value of the threshold in 'threshold_mode' units (e.g. |r| for 'fixed', k for "
                "'top_k', the target fraction for 'density').",
                "float64",
                required=False,
            ),
            NWBAttributeSpec(
                "window_duration", "Nominal window length in seconds (absent if windows vary).",
                "float64", required=False,
            ),
            NWBAttributeSpec(
                "window_step", "Nominal step between window starts in seconds (absent if windows vary).",
                "float64", required=False,
            ),
            NWBAttributeSpec(
                "parameters",
                "All parameters of the processing step, as a JSON object, so it can be re-run.",
                "text",
                required=False,
            ),
        ],
        datasets=[
            NWBDatasetSpec(
                name="data",
                doc="Edge weights per window; zero where there is no edge.",
                dtype="float32",
                shape=[None, None, None],
                dims=["windows", "source_nodes", "target_nodes"],
                quantity="?",
            ),
            NWBDatasetSpec(
                name="edge_index",
                doc="Sparse form: one row per edge, (window index, source node index, target node index).",
                dtype="int64",
                shape=[None, 3],
                dims=["edges", "window_source_target"],
                quantity="?",
            ),
            NWBDatasetSpec(
                name="edge_weight",
                doc="Sparse form: weight of each edge in 'edge_index'.",
                dtype="float32",
                shape=[None],
                dims=["edges"],
                quantity="?",
            ),
            NWBDatasetSpec(
                name="correlation",
                doc="The unthresholded estimate per window (used as node features by graph models).",
                dtype="float32",
                shape=[None, None, None],
                dims=["windows", "source_nodes", "target_nodes"],
                quantity="?",
            ),
            NWBDatasetSpec(
                name="inactive_mask",
                doc="True where a node was silent or constant within a window (its weights are 0 there).",
                dtype="bool",
                shape=[None, None],
                dims=["windows", "nodes"],
                quantity="?",
            ),
            *window_times,
            *_node_identity_specs(),
            NWBDatasetSpec(
                name="node_positions",
                doc="Position of each node in the recording's own coordinates: for ROIs of an imaging "
                "plane, the centroid (row, column) in pixels of the plane; for electrodes, their (x, y[, z]).",
                dtype="float64",
                shape=[[None, 2], [None, 3]],
                dims=[["nodes", "row_column"], ["nodes", "xyz"]],
                quantity="?",
            ),
        ],
    )

    provenance = NWBGroupSpec(
        neurodata_type_def="ModelProvenance",
        neurodata_type_inc="NWBDataInterface",
        default_name="ModelProvenance",
        doc="How a latent model was trained, with its weights, so a collaborator can re-embed data "
        "from this file alone.",
        attributes=[
            NWBAttributeSpec("description", "Free-text description of the model run.", "text"),
            NWBAttributeSpec("model_name", "Registered name of the model, e.g. 'tavrnn'.", "text"),
            NWBAttributeSpec("hyperparameters", "Constructor arguments of the model, as JSON.", "text"),
            NWBAttributeSpec("versions", "Versions of the packages used, as JSON.", "text"),
            NWBAttributeSpec("seed", "Random seed of the run (-1 if none was set).", "int64"),
            NWBAttributeSpec(
                "weights_layout",
                "JSON list of {name, shape, offset} locating each parameter tensor in 'weights'.",
                "text",
                required=False,
            ),
        ],
        datasets=[
            NWBDatasetSpec(
                name="training_loss",
                doc="Training loss after each epoch.",
                dtype="float64",
                shape=[None],
                dims=["epochs"],
            ),
            NWBDatasetSpec(
                name="validation_loss",
                doc="Validation loss after each epoch, if one was computed.",
                dtype="float64",
                shape=[None],
                dims=["epochs"],
                quantity="?",
            ),
            NWBDatasetSpec(
                name="weights",
                doc="All trained parameters concatenated (float32); see 'weights_layout'.",
                dtype="float32",
                shape=[None],
                dims=["parameters"],
                quantity="?",
            ),
        ],
        links=[
            NWBLinkSpec(
                name="connectivity",
                target_type="DynamicConnectivity",
                doc="The graphs the model was trained on.",
                quantity="?",
            )
        ],
    )

    embeddings = NWBGroupSpec(
        neurodata_type_def="NodeEmbeddings",
        neurodata_type_inc="NWBDataInterface",
        default_name="NodeEmbeddings",
        doc="Latent embedding of every node in every window.",
        attributes=[
            NWBAttributeSpec("description", "Free-text description of the embeddings.", "text"),
            NWBAttributeSpec("model_name", "Name of the model that produced them.", "text"),
        ],
        datasets=[
            NWBDatasetSpec(
                name="mean",
                doc="Posterior mean of each node's latent vector per window.",
                dtype="float32",
                shape=[None, None, None],
                dims=["windows", "nodes", "latent"],
            ),
            NWBDatasetSpec(
                name="log_variance",
                doc="Posterior log-variance, same shape as 'mean'.",
                dtype="float32",
                shape=[None, None, None],
                dims=["windows", "nodes", "latent"],
                quantity="?",
            ),
            NWBDatasetSpec(
                name="sample",
                doc="Random draws z = mean + std * eps that the model's recurrence used, when the embeddings "
                    "are samples (the reference's choice); same shape as 'mean'.",
                dtype="float32",
                shape=[None, None, None],
                dims=["windows", "nodes", "latent"],
                quantity="?",
            ),
            *window_times,
            *[s for s in _node_identity_specs() if s.name != "node_region"],
        ],
        links=[
            NWBLinkSpec(
                name="connectivity",
                target_type="DynamicConnectivity",
                doc="The graphs these embeddings were computed from.",
                quantity="?",
            ),
            NWBLinkSpec(
                name="model",
                target_type="ModelProvenance",
                doc="The trained model that produced these embeddings.",
                quantity="?",
            ),
        ],
    )

    attention = NWBGroupSpec(
        neurodata_type_def="TemporalAttention",
        neurodata_type_inc="NWBDataInterface",
        default_name="TemporalAttention",
        doc="Temporal attention weights: row t holds the weights window t gave to windows 0..t "
        "(each row sums to 1 over the windows it attends to; zero elsewhere).",
        attributes=[
            NWBAttributeSpec("description", "Free-text description.", "text"),
            NWBAttributeSpec(
                "window_width",
                "How many past windows the attention could see (0 means the whole history).",
                "int64",
                required=False,
            ),
        ],
        datasets=[
            NWBDatasetSpec(
                name="data",
                doc="Attention weight of query window (row) on key window (column).",
                dtype="float32",
                shape=[None, None],
                dims=["query_windows", "key_windows"],
            ),
        ],
        links=[
            NWBLinkSpec(
                name="embeddings",
                target_type="NodeEmbeddings",
                doc="The embeddings whose recurrent state the attention acted on.",
                quantity="?",
            )
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
            NWBAttributeSpec(
                "source_path", "Path, URL or DANDI asset path of the source file.", "text", required=False
            ),
            NWBAttributeSpec(
                "copied_objects",
                "JSON object mapping each copied object (e.g. 'units') to its object_id in the source.",
                "text",
                required=False,
            ),
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
            NWBAttributeSpec(
                "labels", "Where the window labels came from (e.g. 'trials:hit top_bottom k=3').", "text",
                required=False,
            ),
            NWBAttributeSpec("parameters", "Parameters of the evaluation, as JSON.", "text", required=False),
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
