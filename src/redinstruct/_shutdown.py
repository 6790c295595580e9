"""Stopping the local engine's worker threads before a command returns (kept free of heavy imports, so every command can call it)."""

from __future__ import annotations

import sys


def close_local_engines() -> None:
    """Stop and join every local generation engine's worker thread (a no-op when none was loaded).

    A worker still inside a torch call when the interpreter exits aborts the process
    ("terminate called without an active exception").
    """
    engine = sys.modules.get("redinstruct.models._engine")
    if engine is not None:
        engine.close_all_engines()
