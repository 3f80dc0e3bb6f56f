"""Entry point of the ``medsr`` command: dispatches to one module per subcommand.

Each subcommand module exposes ``register(subparsers)`` which adds its parser and sets
``func`` (taking the parsed namespace, returning an exit status). Expected user errors are
raised as :class:`CliError` and printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from medsr_viewer.core.atomic import sweep_stale_temp_files

#: Subcommand modules under ``medsr_viewer.cli``, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "info", "convert", "train", "evaluate", "models", "run_model", "metrics", "trust",
    "calibrate", "derive", "batch", "pacs", "classify",
)


class CliError(Exception):
    """A user-facing error: printed as one line (no traceback), exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The ``medsr`` argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="medsr", description="MedSR Viewer headless tools")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"medsr_viewer.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``medsr`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    sweep_stale_temp_files()  # temp files of atomic writes killed mid-write (medsr sr ...)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"medsr {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"medsr {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``medsr models | head``): stop quietly, as Unix tools do.
        sys.stderr.close()
        return 141


def entry() -> None:
    """The ``medsr`` console script: :func:`main`, then a safe process exit
    (:func:`medsr_viewer.core.process_exit.exit_process`)."""
    from medsr_viewer.core.process_exit import exit_process

    exit_process(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
