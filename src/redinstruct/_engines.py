"""Closing local generation engines before a command returns (kept free of heavy imports)."""

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
