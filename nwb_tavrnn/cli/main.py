"""Entry point of ``nwb-tavrnn``.

Each subcommand lives in its own module of this package, exposing ``register(subparsers)``, which
adds its parser and sets ``func`` to a callable taking the parsed arguments and returning an exit
code. Errors reach the user as one line on stderr and a non-zero exit code, never a traceback
(``--log-level DEBUG`` shows the traceback for bug reports).

Exit codes: 0 success; 1 unexpected error; 2 bad input; 3 output could not be written;
4 validation problems; 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import warnings

from ..errors import NwbTavrnnError

log = logging.getLogger("nwb_tavrnn")

#: Loggers whose INFO lines report progress (shown when stderr is not a terminal).
PROGRESS_LOGGERS = ("nwb_tavrnn.pipeline", "nwb_tavrnn.evaluation.report", "nwb_tavrnn.models.training",
                    "nwb_tavrnn.cli.nnpoisson", "nwb_tavrnn.cli.seq2seq")

#: Subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS = ("demo", "run", "batch", "inspect", "validate", "simulate", "importer", "sort", "segments", "connectivity", "fit",
               "evaluate", "nnpoisson", "seq2seq", "monitor")


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
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Our own warnings as one line; third-party ones (SpikeInterface, numpy...) only at DEBUG."""
    if category.__module__.split(".")[0] == "nwb_tavrnn":
        print(f"nwb-tavrnn: warning: {message}", file=sys.stderr)
    else:
        log.debug("%s:%s: %s: %s", filename, lineno, category.__name__, message)


class _Terminated(BaseException):
    """Raised by the SIGTERM handler: not an ``Exception``, so nothing swallows it on the way out."""


def _terminate(signum, frame) -> None:
    """SIGTERM unwinds like Ctrl-C: every ``finally`` runs, so temporary files and folders go."""
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    # Idle OpenMP threads otherwise spin for a while after each torch operation; on a 2-core
    # machine sharing a core with anything else that made model epochs up to 40x slower. Set
    # before torch is (lazily) imported; a user's own setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    level = "ERROR" if args.quiet else args.log_level
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        warnings.showwarning = _show_warning
        # multiprocessing's resource tracker is a separate interpreter started with these -W options
        sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
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
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `nwb-tavrnn validate f.nwb | head -1`: the reader left; not an error of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the interpreter flushes stdout at exit
        return 141
    except NwbTavrnnError as err:
        log.debug("details", exc_info=True)
        print(f"nwb-tavrnn {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"nwb-tavrnn {args.command}: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"nwb-tavrnn {args.command}: terminated; nothing was left at the output", file=sys.stderr)
        return 128 + signal.SIGTERM
    except Exception as err:  # a bug: still one line, with a pointer to the details
        log.debug("details", exc_info=True)
        print(
            f"nwb-tavrnn {args.command}: unexpected {type(err).__name__}: {err} "
            "(re-run with --log-level DEBUG for the traceback and report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
