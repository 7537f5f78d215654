"""Build the reference pages from the code: the public API (``import nwb_tavrnn as nt``) from its
numpydoc docstrings, and every configuration key and command-line flag from the parameters'
declarations.

Run: ``python docs/build_reference.py [OUT]`` (default ``docs/_build``); writes ``api.md`` and
``options.md``. The default test suite builds them too (``tests/test_docs.py``), so a public name
without a docstring, or a parameter without help, fails CI.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path


def _summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n", 1)[0].replace("\n", " ")


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""


def api_reference() -> str:
    """Markdown: every public name of the flat namespace, its signature and docstring, and the
    public methods of each class."""
    import nwb_tavrnn as nt

    out = ["# API reference", "", "Generated from the docstrings (`python docs/build_reference.py`). Every name is",
           "importable as `nwb_tavrnn.NAME`.", ""]
    for name in sorted(n for n in nt.__all__ if not n.startswith("__") and n != "NAMESPACE"):
        obj = getattr(nt, name)
        kind = "class" if inspect.isclass(obj) else "function"
        out += [f"## `{name}`", "", f"*{kind}* `{obj.__module__}.{obj.__qualname__}{_signature(obj)}`", "",
                inspect.getdoc(obj) or "", ""]
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            methods = [(m, f) for m, f in vars(obj).items() if not m.startswith("_") and callable(f)]
            for method, fn in methods:
                out.append(f"- `{method}{_signature(fn)}`: {_summary(fn)}")
            if methods:
                out.append("")
    return "\n".join(out)


def build(folder: Path) -> list[Path]:
    """Write ``api.md`` and ``options.md`` into ``folder``."""
    from nwb_tavrnn.config import options_reference

    folder.mkdir(parents=True, exist_ok=True)
    pages = {"api.md": api_reference(), "options.md": options_reference()}
    for name, text in pages.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    return [folder / name for name in pages]


if __name__ == "__main__":
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "_build"):
        print(f"wrote {path}")
