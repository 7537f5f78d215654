"""Exceptions that carry a one-line message for the user and an exit code for the CLI."""

from __future__ import annotations


class NwbTavrnnError(Exception):
    """Base class: ``str(err)`` is one line saying what was wrong and what to do.

    ``parameter`` names the parameters the message mentions (a name, or several), when a remedy
    or a fault is one: the library's message names the parameter as Python and configuration
    files spell it (``use a longer step``), and the command line replaces the name by its flag
    (``use a longer --step``; :func:`nwb_tavrnn.params.flag_message`)."""

    exit_code = 1

    def __init__(self, message: str = "", parameter: str | tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class InputFileError(NwbTavrnnError):
    """An input file is missing, unreadable, not NWB, or lacks what the step needs."""

    exit_code = 2


class DataError(InputFileError, ValueError):
    """Data a model cannot be fitted to (a silent region, a unit without spikes): a ``ValueError``
    for Python callers of the estimators, exit code 2 on the command line."""


class OutputFileError(NwbTavrnnError):
    """The destination cannot be written; nothing was left there."""

    exit_code = 3


class ValidationFailed(NwbTavrnnError):
    """A validator found problems (or could not run) on a file."""

    exit_code = 4


class UsageError(NwbTavrnnError):
    """An option's value, or a combination of options, that cannot work (the CLI's exit code 2)."""

    exit_code = 2


class ParameterError(UsageError, ValueError):
    """A parameter out of its range. Raised where the parameter objects are built, the one place
    the command line, configuration files and the Python API share; a ``ValueError`` for Python
    callers, exit code 2 on the command line. ``parameter`` names the parameter at fault."""


class TrainingError(NwbTavrnnError):
    """Training could not run or diverged."""

    exit_code = 1


class ParameterWarning(UserWarning):
    """A warning whose remedy is a setting: ``parameter`` names the parameters the message suggests,
    as :class:`NwbTavrnnError` does (the command line shows their flags)."""

    def __init__(self, message: str, parameter: str | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.parameter = parameter


def as_input_error(err: ValueError) -> NwbTavrnnError:
    """A ``ValueError`` raised while fitting (data the model cannot use, a checkpoint of another
    run) as the step reports it: ours as it is (its exit code and the parameters it names kept),
    anyone else's as an :class:`InputFileError` with its message."""
    return err if isinstance(err, NwbTavrnnError) else InputFileError(str(err))


def in_section(err: BaseException, section: str) -> BaseException:
    """``err``, raised by the step of configuration section ``section``, with the parameters it
    names qualified as ``SECTION.KEY`` (where a whole run's settings are in play, ``window`` alone
    could be another step's); returns ``err``."""
    names = getattr(err, "parameter", None)
    if names:
        names = (names,) if isinstance(names, str) else tuple(names)
        err.parameter = tuple(n if "." in n.split("=", 1)[0] else f"{section}.{n}" for n in names)
    return err


def require(ok: bool, message: str, parameter: str | tuple[str, ...] | None = None) -> None:
    """Raise :class:`ParameterError` with ``message`` (about ``parameter``) unless ``ok``."""
    if not ok:
        raise ParameterError(message, parameter)
