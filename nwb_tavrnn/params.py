"""Parameters declared once: a dataclass field carries its default, its constraint, its help and
its command-line flag, and everything else is derived from it.

A step's options are a dataclass whose fields are made with :func:`param`. From that one
declaration come:

- the configuration file's keys (:func:`from_mapping`: unknown keys refused, naming the closest),
- the command-line options (:func:`add_arguments`, :func:`given`),
- the checks (:func:`check`: one :class:`~nwb_tavrnn.errors.ParameterError` naming the parameter),
- the documentation's option tables (:func:`options_table`).

Library errors name the parameter (``test_fraction must be in (0, 1)``); the command line
translates the name to its flag (:func:`flag_message`), so a configuration-file user and a
command-line user each read the name they wrote.

Example::

    @dataclass
    class Options:
        test_fraction: float = param(0.2, help="share of trials held out", check=between(0, 1))

    check(Options(test_fraction=2.0))   # ParameterError: test_fraction must be in (0, 1), got 2.0
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ParameterError

_KEY = "nwb_tavrnn.param"


@dataclass(frozen=True)
class Check:
    """A constraint on one value: ``test(value)`` is true when allowed; ``text`` completes the
    sentence "<name> ..." (e.g. ``must be > 0``)."""

    test: Callable[[Any], bool]
    text: str

    def __call__(self, value: Any) -> bool:
        try:
            return bool(self.test(value))
        except Exception:  # noqa: BLE001 - a string where a number belongs, a mapping for a pair: not allowed
            return False


def _number(value: Any) -> bool:
    """A finite real number: Python's or numpy's, not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)


def between(low: float, high: float, *, closed: bool = False) -> Check:
    """``low < value < high`` (``closed``: ``<=`` on both sides)."""
    if closed:
        return Check(lambda v: _number(v) and low <= v <= high, f"must be in [{low:g}, {high:g}]")
    return Check(lambda v: _number(v) and low < v < high, f"must be in ({low:g}, {high:g})")


def at_least(low: float) -> Check:
    """``value >= low``."""
    return Check(lambda v: _number(v) and v >= low, f"must be >= {low:g}")


def positive() -> Check:
    """``value > 0``."""
    return Check(lambda v: _number(v) and v > 0, "must be positive")


def one_of(*values: Any) -> Check:
    """One of ``values``."""
    return Check(lambda v: v in values, "must be one of " + ", ".join(map(str, values)))


def optional(inner: Check) -> Check:
    """None, or what ``inner`` allows."""
    return Check(lambda v: v is None or inner(v), f"{inner.text} (or unset)")


@dataclass(frozen=True)
class Param:
    """One declared parameter (read from a dataclass field by :func:`parameters`).

    Attributes
    ----------
    name
        The field's name: the configuration key and the name library errors use.
    default
        Its default (``dataclasses.MISSING`` when required).
    help
        One line for ``--help``, the documentation and ``--show-config``.
    flag
        The command-line flag (default ``--name-with-dashes``); None: not on the command line.
    check
        The constraint, or None.
    parse
        Turns a command-line string into the value (default: the type of the default).
    nargs, metavar, group
        argparse's, and the ``--help`` group the option is listed in.
    negate
        For a flag that switches a true default off (``--no-baselines``); ``help`` then says
        what the flag does.
    required
        Must be given (no default on the command line either).
    switch
        A flag taking no value (true when given; false with ``negate``), also when the default
        is not a bool (``None``: "the preset's").
    renamed
        Earlier spellings of the flag: still accepted, hidden from ``--help``, and each use warns
        with the current one.
    """

    name: str
    default: Any
    help: str
    flag: str | None
    check: Check | None = None
    parse: Callable[[str], Any] | None = None
    nargs: Any = None
    metavar: str | tuple[str, ...] | None = None
    group: str | None = None
    negate: bool = False
    required: bool = False
    choices: tuple[Any, ...] | None = None
    switch: bool = False
    renamed: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        return self.name


def param(default: Any = dataclasses.MISSING, *, help: str, flag: str | None | bool = True,
          check: Check | None = None, parse: Callable[[str], Any] | None = None, nargs: Any = None,
          metavar: Any = None, group: str | None = None, negate: bool = False, required: bool = False,
          choices: Iterable[Any] | None = None, switch: bool = False, renamed: Iterable[str] = ()) -> Any:
    """A dataclass field declaring a parameter (see :class:`Param` for the arguments).

    ``flag=True`` derives the flag from the name; ``flag=None`` keeps the parameter off the
    command line (a configuration key only). ``choices`` both constrain the value and list it in
    ``--help``.
    """
    choices = tuple(choices) if choices is not None else None
    if choices is not None and check is None:
        check = one_of(*choices)
    info = {"help": help, "flag": flag, "check": check, "parse": parse, "nargs": nargs, "metavar": metavar,
            "group": group, "negate": negate, "required": required, "choices": choices, "switch": switch,
            "renamed": tuple(renamed)}
    if isinstance(default, (list, dict, set)):
        frozen = copy.deepcopy(default)  # each instance its own copy, nested mappings included
        return dataclasses.field(default_factory=lambda: copy.deepcopy(frozen), metadata={_KEY: info})
    return dataclasses.field(default=default, metadata={_KEY: info})


def patience(text: str) -> int | None:
    """A ``--patience`` value: whole epochs, where 0 means never stop early (the estimators' None)."""
    value = int(text)
    return None if value == 0 else value


def parameters(cls: type) -> tuple[Param, ...]:
    """The declared parameters of a dataclass (its fields made with :func:`param`), in order."""
    out = []
    for f in dataclasses.fields(cls):
        info = f.metadata.get(_KEY)
        if info is None:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        flag = info["flag"]
        if flag is True:
            flag = ("--no-" if info["negate"] else "--") + f.name.replace("_", "-")
        out.append(Param(f.name, default, info["help"], flag or None, info["check"], info["parse"], info["nargs"],
                         info["metavar"], info["group"], info["negate"], info["required"], info["choices"],
                         info["switch"], info.get("renamed", ())))
    return tuple(out)


def names(cls: type) -> tuple[str, ...]:
    """The configuration keys of a dataclass of parameters."""
    return tuple(p.name for p in parameters(cls))


def check(obj: Any) -> Any:
    """Check every declared parameter of ``obj``; returns ``obj``.

    Raises
    ------
    ParameterError
        Naming the first parameter out of its constraint (``err.parameter``).
    """
    for p in parameters(type(obj)):
        value = getattr(obj, p.name)
        if p.required and (value is None or value == "" or value == ()):
            raise ParameterError(f"{p.name} is required: {p.help}", parameter=p.name)
        if p.check is not None and not (value is None and p.default is None) and not p.check(value):
            raise ParameterError(f"{p.name} {p.check.text}, got {value!r}", parameter=p.name)
    return obj


def suggest(key: str, allowed: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the allowed key closest to a misspelt one, or ``''``."""
    close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_keys(values: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Refuse keys that are not ``allowed``, naming the closest allowed one.

    Raises
    ------
    ParameterError
        ``where: unknown key 'x' (did you mean 'y'?)``.
    """
    allowed = list(allowed)
    for key in values:
        if key not in allowed:
            raise ParameterError(f"{where}: unknown key {key!r}{suggest(key, allowed)}; allowed: "
                                 f"{', '.join(allowed)}", parameter=key)


def from_mapping(cls: type, values: Mapping[str, Any], where: str | None = None) -> Any:
    """An instance of the parameter dataclass ``cls`` from a mapping of configuration keys.

    Raises
    ------
    ParameterError
        On an unknown key (naming the closest valid one) or a value out of its constraint.
    """
    unknown_keys(values, names(cls), where or cls.__name__)
    return cls(**values)


def add_arguments(parser: argparse.ArgumentParser | argparse._ActionsContainer, cls: type,
                  groups: Mapping[str, argparse._ActionsContainer] | None = None,
                  only: Iterable[str] | None = None, skip: Iterable[str] = (), prefix: str = "",
                  defaults: bool = True) -> dict[str, str]:
    """Add the command-line options of ``cls``'s parameters (those with a flag).

    Every option defaults to "not given" (``argparse.SUPPRESS``): :func:`given` then returns just
    what the user typed, so a configuration file's value is not overridden by a flag's default.

    Parameters
    ----------
    groups
        The argument group of each parameter's ``group`` (default: ``parser``).
    only, skip
        Restrict which parameters get an option.
    defaults
        Show each default in ``--help`` (not where a preset chooses them).
    prefix
        Put each value at ``prefix + name`` in the parsed namespace (for commands whose options
        fill several sections that share parameter names; :func:`given` takes the same prefix).

    Returns
    -------
    dict
        Parameter name → flag (what :func:`flag_message` translates).
    """
    groups = dict(groups or {})
    only = set(only) if only is not None else None
    flags = {}
    # A help text naming another parameter of the class (``checkpoint_every``) names its flag here.
    offered = [p for p in parameters(cls)
               if p.flag is not None and p.name not in skip and (only is None or p.name in only)]
    names_flags = {p.name: p.flag for p in offered if "_" in p.name}
    for p in offered:
        target = groups.get(p.group or "", parser)
        shown = _shown_default(p) if defaults else ""
        text = f"{p.help} ({shown})" if shown else p.help
        for name, flag in names_flags.items():
            text = re.sub(rf"(?<![\w-]){name}(?![\w-])", flag, text)
        text = plain_text(text)
        kwargs: dict[str, Any] = {"dest": prefix + p.dest, "help": text, "default": argparse.SUPPRESS}
        if p.switch or (isinstance(p.default, bool) and p.parse is None):
            kwargs["action"] = "store_false" if p.negate else "store_true"
            kwargs["help"] = text
        else:
            kwargs["type"] = _typed(p.parse) if p.parse is not None else _parser_for(p.default)
            if p.nargs is not None:
                kwargs["nargs"] = p.nargs
            if p.metavar is not None or p.choices is None:  # named after the option, not its dest
                kwargs["metavar"] = p.metavar or p.flag.lstrip("-").replace("-", "_").upper()
            if p.choices is not None:
                kwargs["choices"] = p.choices
            if p.required:
                kwargs["required"] = True
        target.add_argument(p.flag, **kwargs)
        for old in p.renamed:  # an earlier spelling: accepted, hidden, and it says the current one
            alias = {k: v for k, v in kwargs.items() if k != "required"}
            target.add_argument(old, **{**alias, "help": argparse.SUPPRESS, "action": renamed_option(p.flag, kwargs)})
        flags[p.name] = p.flag
    return flags


def renamed_option(flag: str, kwargs: Mapping[str, Any] | None = None) -> type[argparse.Action]:
    """An argparse action for an earlier spelling of ``flag``: it stores the value as ``flag``
    would (``kwargs``: that option's ``action``, if any) and adds a warning naming ``flag`` to the
    namespace's ``_renamed`` list (the command line logs it once logging is set up)."""
    action = (kwargs or {}).get("action", "store")
    const = {"store_true": True, "store_false": False}.get(action) if isinstance(action, str) else None

    class Renamed(argparse.Action):
        def __init__(self, option_strings: list[str], dest: str, **rest: Any) -> None:
            if const is not None:
                rest = {**rest, "nargs": 0}
            super().__init__(option_strings, dest, **rest)

        def __call__(self, parser, namespace, values, option_string=None) -> None:
            # Said once logging is set up (cli.main, after parsing); recorded here for that.
            said = f"{option_string} is now {flag}; the old spelling will go"
            setattr(namespace, "_renamed", [*getattr(namespace, "_renamed", []), said])
            setattr(namespace, self.dest, const if const is not None else values)

    return Renamed


def _typed(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``parse`` as an argparse type: its ValueError's message becomes argparse's one line
    (``argument --curation: not valid JSON ...``); a type (``int``) keeps argparse's own."""
    if isinstance(parse, type):
        return parse

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except (ValueError, TypeError) as err:
            raise argparse.ArgumentTypeError(str(err) or f"invalid value {text!r}") from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def plain_text(text: str) -> str:
    """Docstring markup as a terminal shows it: double backticks and ``:func:`` roles are dropped."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    return re.sub(r"``(.+?)``", r"\1", text)


def _shown_default(p: Param) -> str:
    if p.default is dataclasses.MISSING or p.default in (None, "") or isinstance(p.default, (bool, dict)) \
            or p.required:  # a mapping's default is said in its help, if anywhere
        return ""
    if isinstance(p.default, (tuple, list)):
        return " ".join(map(str, p.default)) if p.nargs else ",".join(map(str, p.default)) or ""
    return f"default {p.default}" if isinstance(p.default, str) else f"default {p.default:g}" \
        if isinstance(p.default, float) else f"default {p.default}"


def _parser_for(default: Any) -> Callable[[str], Any] | None:
    if isinstance(default, bool):
        return None
    if isinstance(default, int):
        return int
    if isinstance(default, float):
        return float
    return None


def given(args: argparse.Namespace, cls: type, prefix: str = "") -> dict[str, Any]:
    """The parameters of ``cls`` the user gave on the command line (see :func:`add_arguments`)."""
    return {p.name: getattr(args, prefix + p.dest) for p in parameters(cls) if hasattr(args, prefix + p.dest)}


def flag_message(err: Exception, flags: Mapping[str, str]) -> str:
    """The error's message naming the command-line flag of each parameter it is about.

    An error of the library names its parameters (``err.parameter``: a name, or several; see
    :class:`~nwb_tavrnn.errors.NwbTavrnnError`) as Python and configuration files spell them. In
    the message, a name in backticks (``use a longer `step```) is replaced everywhere by its flag;
    otherwise the name's first mention is (``n_splits must be >= 2``). A configuration error names
    ``SECTION.KEY`` settings, which may have come from a file: the key stays and its flag follows it
    (``threshold (--threshold)``), or without a flag the setting is named in full
    (``sorting.curation``). Other names without a flag in ``flags`` stay as they are.
    """
    text = str(err)
    names = getattr(err, "parameter", None)
    for name in (names,) if isinstance(names, str) else (names or ()):
        qualified = "." in name.split("=", 1)[0]
        key = name.split(".", 1)[1] if qualified else name
        # SECTION.KEY: its flag, else the flag of a hand-written option whose destination is KEY
        flag = flags.get(name) or (flags.get(key) if qualified else None)
        if flag is None and not qualified:
            continue
        said = name if flag is None else flag if not qualified else f"{key} ({flag})"
        if f"`{key}`" in text:
            text = text.replace(f"`{key}`", said)
        else:
            text = re.sub(rf"(?<![\w-]){re.escape(key)}(?![\w-])", said, text, count=1)
    return text


def options_table(cls: type, section: str | None = None) -> str:
    """A Markdown table of ``cls``'s parameters: key, flag, default, constraint, help (a dataclass
    declaring none with :func:`param` has its fields listed with their defaults only)."""
    rows = ["| key | flag | default | allowed | meaning |", "|---|---|---|---|---|"]
    declared = {p.name: p for p in parameters(cls)}
    for f in dataclasses.fields(cls):
        p = declared.get(f.name)
        if p is None and declared:  # an internal field beside declared ones (e.g. a preset's name)
            continue
        key = f"{section}.{f.name}" if section else f.name
        if p is None:
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else "required")
            rows.append(f"| `{key}` |  | `{default!r}` |  |  |")
            continue
        default = "required" if p.required or p.default is dataclasses.MISSING else repr(p.default)
        allowed = p.check.text.removeprefix("must be ").removeprefix("is ") if p.check is not None else ""
        flag = f"`{p.flag}`" if p.flag else ""
        cells = [c.replace("|", "\\|") for c in (allowed, p.help)]  # a |r| in a cell is not a column
        rows.append(f"| `{key}` | {flag} | `{default}` | {cells[0]} | {cells[1]} |")
    return "\n".join(rows)


__all__ = ["Check", "Param", "add_arguments", "at_least", "between", "check", "flag_message", "from_mapping",
           "given", "names", "one_of", "optional", "options_table", "param", "parameters", "patience", "positive",
           "suggest", "unknown_keys"]
