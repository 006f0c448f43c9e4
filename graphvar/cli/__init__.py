"""Command-line interface: ``graphvar <command> ...``.

Each sub-command lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable
taking the parsed ``argparse.Namespace`` and returning an exit code).

User errors of every sub-command (bad options, missing or malformed files,
dataset errors) print one line ``graphvar <command>: <message>`` to stderr
and exit with status 2, without a traceback; ``--debug`` (or
``GRAPHVAR_DEBUG=1``) re-raises them to show the traceback. Warnings are
printed once per kind, with a count, when the command ends.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import sys
import warnings

__all__ = ["main", "build_parser", "positive_int", "USER_ERRORS"]

# Sub-command modules, in the order ``graphvar --help`` lists them.
COMMANDS = ("demo", "bench", "xmc")

#: Exceptions that are the user's to fix (the dataset errors subclass FileNotFoundError / OSError).
USER_ERRORS = (ValueError, TypeError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
               PermissionError, ImportError)


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line: ``<prog>: <message>; see <prog> --help``."""

    def error(self, message):  # noqa: D102 - argparse's hook
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def positive_int(text: str) -> int:
    """``argparse`` type: an integer >= 1 (the CLI face of :func:`graphvar.validation.check_int`)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every sub-command registered."""
    from .. import __version__

    parser = _Parser(
        prog="graphvar",
        description="Graph-based semi-supervised learning at very low label rates.",
    )
    parser.add_argument("--version", action="version", version=f"graphvar {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (also GRAPHVAR_DEBUG=1)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"graphvar.cli.{name}").register(subparsers)
    return parser


def _command_name(args: argparse.Namespace) -> str:
    sub = getattr(args, "xmc_command", None)
    return " ".join(["graphvar", args.command] + ([sub] if sub else []))


@contextlib.contextmanager
def _summarized_warnings(command: str, show_all: bool = False):
    """Print each kind of warning once, with a count, when the command ends (all of them with ``--debug``).

    A benchmark over 50 labeled sets would otherwise print the same warning,
    with different numbers, 50 times.
    """
    if show_all:
        yield
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            kinds: dict[str, list[str]] = {}
            for w in caught:
                text = " ".join(str(w.message).split())
                kinds.setdefault(re.sub(r"\d[\d.e+-]*", "#", text), []).append(text)
            for texts in kinds.values():
                more = f" ({len(texts) - 1} more like it)" if len(texts) > 1 else ""
                print(f"{command}: warning: {texts[0]}{more}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``graphvar`` script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (one line already printed)
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    debug = args.debug or os.environ.get("GRAPHVAR_DEBUG", "") not in ("", "0")
    try:
        with _summarized_warnings(_command_name(args), show_all=debug):
            return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        if debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"{_command_name(args)}: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{_command_name(args)}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
