"""The `redinstruct` command line: one module per command group, each command a thin shell over a library function.

A command parses its options, builds the package's config object, calls the public API and
prints; the options every group shares are defined once in `_app`.
"""

from __future__ import annotations

import os
import sys

import typer

from .._secrets import redact
from .._shutdown import close_local_engines
from ..errors import RedInstructError, RunFailed, RunInterrupted
from . import _align, _data, _eval, _harmfulqa, _judge, _report, _utility  # noqa: F401,I001  (each registers its commands, in help order)
from ._app import EXIT_FAILED, EXIT_USAGE, app


def _run_app() -> None:
    try:
        app(standalone_mode=False)
    finally:
        close_local_engines()  # a generation thread inside torch at interpreter exit aborts the process


def main() -> None:
    """Entry point: user errors are one line on stderr and exit code 2, never a traceback."""

    try:
        _run_app()
    except RunFailed as ex:
        print(f"error: {redact(str(ex))}", file=sys.stderr)
        sys.exit(EXIT_FAILED)
    except RunInterrupted as ex:
        print(redact(str(ex)), file=sys.stderr)
        sys.exit(130)
    except RedInstructError as ex:
        print(f"error: {redact(str(ex))}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except (typer.Exit, SystemExit) as ex:
        code = getattr(ex, "exit_code", getattr(ex, "code", 0))
        sys.exit(code)
    except KeyboardInterrupt:
        print("interrupted: run the same command again (same --log-dir) to resume", file=sys.stderr)
        sys.exit(130)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as ex:  # usage errors (typer's or click's, by version) and anything unexpected
        if hasattr(ex, "format_message") and hasattr(ex, "exit_code"):
            message = ex.format_message()
            if message.strip():  # no-args help raises with an empty message: help is already shown
                print(f"error: {redact(message)}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        if os.environ.get("REDINSTRUCT_DEBUG"):
            raise
        print(f"error: {type(ex).__name__}: {redact(str(ex)).splitlines()[0] if str(ex) else ''} "
              "(set REDINSTRUCT_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(1)


__all__ = ["app", "main"]
