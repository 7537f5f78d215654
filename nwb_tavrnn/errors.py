"""Exceptions that carry a one-line message for the user and an exit code for the CLI."""

from __future__ import annotations


class NwbTavrnnError(Exception):
    """Base class: ``str(err)`` is one line saying what was wrong and what to do."""

    exit_code = 1


class InputFileError(NwbTavrnnError):
    """An input file is missing, unreadable, not NWB, or lacks what the step needs."""

    exit_code = 2


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
    callers, exit code 2 on the command line.

    ``parameter`` names the parameter when one is at fault: the command line replaces it by the
    parameter's flag (:func:`nwb_tavrnn.params.flag_message`)."""

    def __init__(self, message: str, parameter: str | tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class TrainingError(NwbTavrnnError):
    """Training could not run or diverged."""

    exit_code = 1


def require(ok: bool, message: str, parameter: str | tuple[str, ...] | None = None) -> None:
    """Raise :class:`ParameterError` with ``message`` (about ``parameter``) unless ``ok``."""
    if not ok:
        raise ParameterError(message, parameter)
