"""The committed YAML is what the builder makes, it is valid spec language, and it ships."""

from __future__ import annotations

import json
from pathlib import Path

import pynwb
import pytest
import yaml

from nwb_tavrnn.schema import NAMESPACE, namespace_path
from nwb_tavrnn.schema.build_spec import VERSION, build

REPO_SPEC = Path(__file__).resolve().parents[2] / "spec"


def test_committed_yaml_matches_builder(tmp_path):
    build(tmp_path)
    for name in (f"{NAMESPACE}.namespace.yaml", f"{NAMESPACE}.extensions.yaml"):
        committed = yaml.safe_load((REPO_SPEC / name).read_text())
        fresh = yaml.safe_load((tmp_path / name).read_text())
        assert committed == fresh, f"spec/{name} is stale: run python -m nwb_tavrnn.schema.build_spec"


def test_yaml_is_valid_against_nwb_metaschema():
    jsonschema = pytest.importorskip("jsonschema")
    metaschema = json.loads((Path(pynwb.__file__).parent / "nwb-schema" / "nwb.schema.json").read_text())
    for name in (f"{NAMESPACE}.namespace.yaml", f"{NAMESPACE}.extensions.yaml"):
        jsonschema.validate(yaml.safe_load((REPO_SPEC / name).read_text()), metaschema)


def test_namespace_is_versioned_semantically_and_found():
    ns = yaml.safe_load(namespace_path().read_text())["namespaces"][0]
    assert ns["name"] == NAMESPACE
    assert ns["version"] == VERSION
    major, minor, patch = (int(p) for p in VERSION.split("."))
    assert (major, minor, patch) >= (0, 1, 0)


def test_every_type_is_defined():
    types = {g["neurodata_type_def"] for g in yaml.safe_load(
        (REPO_SPEC / f"{NAMESPACE}.extensions.yaml").read_text())["groups"]}
    assert types == {"DynamicConnectivity", "NodeEmbeddings", "TemporalAttention", "ModelProvenance",
                     "SourceFileReference", "EvaluationScores"}
