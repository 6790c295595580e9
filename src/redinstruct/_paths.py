"""Where redinstruct keeps its caches (converted models, downloaded datasets)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`REDINSTRUCT_CACHE_DIR`, else `$XDG_CACHE_HOME/redinstruct`, else `~/.cache/redinstruct`."""
    explicit = os.environ.get("REDINSTRUCT_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "redinstruct"
