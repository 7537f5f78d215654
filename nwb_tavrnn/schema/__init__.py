"""The ``ndx-dynamic-graphs`` extension: namespace loading and container classes."""

from . import containers
from .containers import *  # noqa: F403 - the extension's container classes, listed once in containers.__all__
from .namespace import NAMESPACE, load_namespace, namespace_path

__all__ = ["NAMESPACE", *containers.__all__, "load_namespace", "namespace_path"]
