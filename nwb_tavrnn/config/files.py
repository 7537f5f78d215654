"""Reading configuration files and ``--set`` assignments."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputFileError


class ConfigError(InputFileError):
    """A configuration file or override is unreadable, or names an unknown key or a bad value.

    ``parameter``: the setting at fault, as ``SECTION.KEY`` (or several), when one is; the command
    line then also names its flag."""


def section_error(section: str, err: BaseException) -> ConfigError:
    """``err`` (a step's own error) as a :class:`ConfigError` of ``section``, keeping which
    parameters it names."""
    names = getattr(err, "parameter", None)
    names = (names,) if isinstance(names, str) else tuple(names or ())
    return ConfigError(f"{section}: {err}", tuple(f"{section}.{name}" for name in names) or None)


def read_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Parse a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file into a mapping.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable, of another type, or not valid YAML/TOML.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the configuration file ({err})") from None
    if suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML ({err})") from None
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError as err:
            where = getattr(err, "problem_mark", None)
            at = f" at line {where.line + 1}" if where is not None else ""
            raise ConfigError(f"{path}: not valid YAML{at} ({getattr(err, 'problem', None) or err})") from None
        return _yaml_keys({} if values is None else values, path)
    raise ConfigError(f"{path}: unknown configuration format {suffix or '(no suffix)'!r}; use .yaml, .yml or .toml")


def _yaml_keys(values: Any, path: Path) -> Any:
    """The sections of a YAML document with their keys as written: YAML 1.1 reads an unquoted key
    ``null`` (or ``~``) as nothing and ``yes``/``no``/``on``/``off`` as booleans. The one key
    spelled ``null`` (the evaluation's label null) is taken as written; a boolean key is refused
    with the fix."""
    if not isinstance(values, dict):
        return values
    out: dict[Any, Any] = {}
    for section, keys in values.items():
        if isinstance(keys, dict):
            fixed = {}
            for key, value in keys.items():
                if isinstance(key, bool):
                    raise ConfigError(f"{path}: section {section!r} has a key YAML reads as {key} (yes/no/on/off "
                                      "unquoted); quote it")
                fixed["null" if key is None else key if isinstance(key, str) else str(key)] = value
            keys = fixed
        out[section if isinstance(section, str) else str(section)] = keys
    return out


def parse_assignment(text: str) -> tuple[str, str, Any]:
    """``SECTION.KEY=VALUE`` (VALUE read as YAML, so ``60``, ``true``, ``[a, b]`` and ``null`` work)."""
    import yaml

    target, sep, raw = text.partition("=")
    section, dot, key = target.strip().partition(".")
    if not sep or not dot or not key:
        raise ConfigError(f"--set {text!r}: expected SECTION.KEY=VALUE, e.g. connectivity.window=60")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return section, key, value


__all__ = ["ConfigError", "parse_assignment", "read_config_file", "section_error"]
