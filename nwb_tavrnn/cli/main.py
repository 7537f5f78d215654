"""Entry point of ``nwb-tavrnn``.

Each subcommand lives in its own module of this package, exposing ``register(subparsers)``, which
adds its parser and sets ``func`` to a callable taking the parsed arguments and returning an exit
code. Errors reach the user as one line on stderr and a non-zero exit code, never a traceback
(``--log-level DEBUG`` shows the traceback for bug reports).

Exit codes: 0 success; 1 unexpected error; 2 bad input; 3 output could not be written (a full disk
included); 4 validation problems; 130 interrupted; 143 terminated (SIGTERM).

A run killed outright (SIGKILL) cannot clean up: the next run writing the same destination removes
its temporaries (see :func:`nwb_tavrnn.io.files.sweep_temporaries`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import warnings

from ..errors import NwbTavrnnError

log = logging.getLogger("nwb_tavrnn")

#: Loggers whose INFO lines report progress (shown when stderr is not a terminal).
PROGRESS_LOGGERS = ("nwb_tavrnn.pipeline", "nwb_tavrnn.evaluation.report", "nwb_tavrnn.evaluation.protocol",
                    "nwb_tavrnn.evaluation.jobs", "nwb_tavrnn.models.training", "nwb_tavrnn.cli.step")

#: Subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS = ("demo", "run", "batch", "inspect", "validate", "simulate", "importer", "sort", "segments",
               "connectivity", "fit", "evaluate", "nnpoisson", "seq2seq", "monitor")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="nwb-tavrnn",
        description="Dynamic connectivity graphs and latent embeddings from spike trains, NWB in and NWB out.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="logging verbosity"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars, errors only")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__package__}.{name}").register(subparsers)
    from ..steps import load_steps
    from . import step as step_command

    for name, step in load_steps().items():  # a registered step without a command of its own
        if name not in SUBCOMMANDS:
            step_command.register(subparsers, step)
    from ..params import plain_text

    for command in subparsers.choices.values():  # docstrings and help written for Sphinx, read in a terminal
        command.description = command.description and plain_text(command.description)
        command.epilog = command.epilog and plain_text(command.epilog)
        for action in command._actions:
            if isinstance(action.help, str) and action.help != argparse.SUPPRESS:
                action.help = plain_text(action.help)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None, flags=None) -> None:
    """Our own warnings as one line, naming the flags of the settings they suggest (``flags``);
    third-party ones (SpikeInterface, numpy...) only at DEBUG."""
    if category.__module__.split(".")[0] == "nwb_tavrnn":
        from ..params import flag_message

        print(f"nwb-tavrnn: warning: {flag_message(message, flags or {})}", file=sys.stderr)
    else:
        log.debug("%s:%s: %s: %s", filename, lineno, category.__name__, message)


class _Terminated(BaseException):
    """Raised by the SIGTERM handler: not an ``Exception``, so nothing swallows it on the way out."""


def _terminate(signum, frame) -> None:
    """SIGTERM unwinds like Ctrl-C: every ``finally`` runs, so temporary files and folders go."""
    raise _Terminated()


def _destination(args: argparse.Namespace) -> str | None:
    """The file a command writes: OUTPUT, or INPUT with ``--in-place``; None for other commands."""
    if getattr(args, "in_place", False):
        source = getattr(args, "input", None)
        return os.path.realpath(source) if isinstance(source, str) and "://" not in source else None
    output = getattr(args, "output", None)
    if isinstance(output, str) and output.lower().endswith(".nwb") and "://" not in output:
        return output
    return None


def _sweep(args: argparse.Namespace) -> None:
    """Remove the temporaries a killed earlier run left beside this command's destination (a run
    still writing is left alone), and report those whose writer cannot be checked."""
    destination = _destination(args)
    if destination is None or not os.path.isdir(os.path.dirname(os.path.abspath(destination))):
        return
    from ..io.files import sweep_temporaries

    try:
        sweep_temporaries(destination)
    except OSError as err:  # cleaning up is a courtesy; the command itself says what is wrong
        log.debug("could not sweep temporaries beside %s: %s", destination, err)


def _unraisable(hook_args) -> None:
    """Errors Python cannot raise (in ``__del__``: h5py retrying a failed flush as each object of a
    file the disk had no room for is freed) repeat the error already reported: details only."""
    log.debug("ignored in %r: %s", hook_args.object, hook_args.exc_value)


def _printed_in_del(kind, value, tb) -> None:
    """Cython prints an error of a ``__dealloc__`` through ``sys.excepthook`` before reporting it as
    unraisable (see :func:`_unraisable`); an error that reaches here otherwise escaped ``main``."""
    log.debug("error outside the command", exc_info=(kind, value, tb))
    if tb is None or "_dealloc" not in str(tb.tb_frame.f_code.co_name):
        sys.__excepthook__(kind, value, tb)


def _no_space(args: argparse.Namespace, err: BaseException, entry_point: bool) -> int:
    """Report a full disk in one line (naming the command's destination, not a working file) and
    return exit code 3. As the process's entry point, also leave without HDF5's own shutdown: it
    retries the flush of the half-written file (already removed) and crashes (SIGSEGV)."""
    from ..io.files import no_space_message

    where = _destination(args) or getattr(err, "path", "the output")
    print(f"nwb-tavrnn {args.command}: error: {no_space_message(where)}", file=sys.stderr)
    if entry_point:
        import atexit

        def leave() -> None:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(3)

        atexit.register(leave)  # runs first (last registered), after every ``finally`` has run
    return 3


def command_flags(parser: argparse.ArgumentParser, args: argparse.Namespace, bare: bool = False) -> dict[str, str]:
    """Parameter name -> flag for the command run: each option's destination names its parameter
    (``--sampling-frequency`` -> ``sampling_frequency``), and the command's ``_flags`` (declared
    parameters, and names that differ from the destination) override. With ``bare``, ``run``'s
    ``SECTION.KEY`` names also by their key alone, where one section has it (for warnings, which
    do not say which step they come from)."""
    flags: dict[str, str] = {}
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        command = action.choices.get(getattr(args, "command", None) or "")
        for option in command._actions if command is not None else ():
            long = [o for o in option.option_strings if o.startswith("--")]
            if long and option.help != argparse.SUPPRESS and option.dest not in flags:
                flags[option.dest] = long[0]
    flags.update(getattr(args, "_flags", {}))
    if bare:  # run's SECTION.KEY settings, by key where only one section has it
        keys = [name.split(".", 1)[1] for name in flags if "." in name]
        flags.update({name.split(".", 1)[1]: flag for name, flag in list(flags.items())
                      if "." in name and keys.count(name.split(".", 1)[1]) == 1 and name.split(".", 1)[1] not in flags})
    return flags


def entry() -> int:
    """The ``nwb-tavrnn`` console script and ``python -m nwb_tavrnn.cli.main``: :func:`main` on the
    process's arguments, then nothing but the exit: a Ctrl-C or SIGTERM while the interpreter shuts
    down (closing a Dask cluster's threads, flushing HDF5) would only turn a result already
    reported into a traceback or a signal death."""
    code = main()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(sig, signal.SIG_IGN)
    return code


def main(argv: list[str] | None = None) -> int:
    """The command line: ``nwb-tavrnn COMMAND ...`` (``argv`` default: the process's arguments);
    returns the exit code."""
    # Idle OpenMP threads otherwise spin for a while after each torch operation; on a 2-core
    # machine sharing a core with anything else that made model epochs up to 40x slower. Set
    # before torch is (lazily) imported; a user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    entry_point = argv is None  # the process is ours (console script, python -m), not a caller's
    try:  # building the parser imports every command's parameters: a second or two a Ctrl-C may meet
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        print("nwb-tavrnn: interrupted", file=sys.stderr)
        return 130
    level = "ERROR" if args.quiet else args.log_level
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for said in getattr(args, "_renamed", []):  # an earlier spelling of an option (params.renamed_option)
        print(f"nwb-tavrnn: warning: {said}", file=sys.stderr)
    if level != "DEBUG":
        import functools

        warnings.showwarning = functools.partial(_show_warning, flags=command_flags(parser, args, bare=True))
        # multiprocessing's resource tracker is a separate interpreter started with these -W options
        sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
    if level != "DEBUG" and entry_point:  # the process's own hooks: only when the process is ours
        sys.unraisablehook = _unraisable
        sys.excepthook = _printed_in_del
    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (main() called from a thread): keep the default
        pass
    if not args.quiet and level == "WARNING" and not sys.stderr.isatty():
        # No progress bar when stderr is piped to a log: the steps' progress goes there as plain lines.
        for name in PROGRESS_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from ..io.files import refuse_source_as_destination

        # Every writing command: results never replace the file they come from (before any work).
        if not getattr(args, "in_place", False):  # with --in-place the command says OUTPUT is not wanted
            refuse_source_as_destination(getattr(args, "input", None), getattr(args, "output", None),
                                         in_place_hint=hasattr(args, "in_place"))
        _sweep(args)
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `nwb-tavrnn validate f.nwb | head -1`: the reader left; not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the interpreter flushes stdout at exit
        return 141
    except NwbTavrnnError as err:
        log.debug("details", exc_info=True)
        from ..io.files import NoSpaceError

        if isinstance(err, NoSpaceError):
            return _no_space(args, err, entry_point)
        from ..params import flag_message

        # The library names the parameter; the user typed its flag (or set the key in a file).
        text = flag_message(err, command_flags(parser, args))
        print(f"nwb-tavrnn {args.command}: error: {text}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"nwb-tavrnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"nwb-tavrnn {args.command}: terminated; nothing was left at the output", file=sys.stderr)
        return 128 + signal.SIGTERM
    except Exception as err:  # a bug: still one line, with a pointer to the details
        log.debug("details", exc_info=True)
        from ..io.files import no_space

        if no_space(err):  # a full disk met outside an atomic write (a working copy): not a bug
            return _no_space(args, err, entry_point)
        print(
            f"nwb-tavrnn {args.command}: unexpected {type(err).__name__}: {err} "
            "(re-run with --log-level DEBUG for the traceback and report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(entry())
