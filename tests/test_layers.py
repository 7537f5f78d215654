"""The package's layers run one way: core → NWB I/O and schema → analysis → workflows → cli.

Every import is read from the source, those inside functions too (a lazy import hides a cycle from
the interpreter, not from this test). An import from a lower layer into a higher one fails here,
naming the file and line."""

from __future__ import annotations

import ast
from pathlib import Path

import nwb_tavrnn

PACKAGE = Path(nwb_tavrnn.__file__).parent

#: Layer of each top-level module or package of nwb_tavrnn (a module imports only from its own
#: layer or lower ones).
LAYERS = {
    "errors": 0, "plots": 0, "params": 0,
    "io": 1, "schema": 1, "validation": 1, "testing": 1,
    "connectivity": 2, "ophys": 2, "sorting": 2, "models": 2, "evaluation": 2, "simulate": 2, "importers": 2,
    "config": 3, "pipeline": 3, "steps": 3, "batch": 3, "online": 3,
    "cli": 4,
}

#: Upward imports still to move. Nothing may be added here.
KNOWN: set[tuple[str, str]] = set()

#: Within the analysis layer, one direction only: evaluation scores the models (and may import
#: them); a model never imports evaluation (its own likelihood and metrics live in models).
SIDEWAYS = {("models", "evaluation")}


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every nwb_tavrnn module the file imports, absolute, with its line."""
    package = list(path.relative_to(PACKAGE.parent).parts[:-1])  # the package relative imports start from
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                names = [".".join(base + ([node.module] if node.module else []))]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        out += [(name, node.lineno) for name in names if name.split(".")[0] == "nwb_tavrnn"]
    return out


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_has_a_layer():
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
            if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())) and p.stem != "__init__"}
    assert tops == set(LAYERS), f"give these a layer: {sorted(tops - set(LAYERS))}; gone: {sorted(set(LAYERS) - tops)}"


def test_no_import_runs_upward():
    upward, known_seen = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        source = rel.split("/")[0].removesuffix(".py")
        if source == "__init__":  # the flat public namespace gathers from every layer
            continue
        for module, line in _imports(path):
            target = _top(module)
            if target is None or LAYERS[target] <= LAYERS[source]:
                continue
            if (rel, target) in KNOWN:
                known_seen.add((rel, target))
                continue
            upward.append(f"{rel}:{line} ({source}, layer {LAYERS[source]}) imports {module} (layer {LAYERS[target]})")
    assert not upward, "imports that run upward:\n" + "\n".join(upward)
    assert known_seen == KNOWN, f"fixed, take them off KNOWN: {sorted(KNOWN - known_seen)}"


def test_models_do_not_import_evaluation():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        source = rel.split("/")[0].removesuffix(".py")
        wrong += [f"{rel}:{line} imports {module}" for module, line in _imports(path)
                  if (source, _top(module)) in SIDEWAYS]
    assert not wrong, "imports against the analysis layer's direction:\n" + "\n".join(wrong)


def test_the_check_sees_relative_imports_inside_functions(tmp_path):
    path = tmp_path / "nwb_tavrnn" / "io" / "probe.py"
    path.parent.mkdir(parents=True)
    path.write_text("def f():\n    from ..cli.main import main\n    from . import read\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "nwb_tavrnn"
    try:
        assert _imports(path) == [("nwb_tavrnn.cli.main", 2), ("nwb_tavrnn.io", 3)]
    finally:
        PACKAGE = saved
