"""One JSONL file per stage; a unit of work is written once, whole, when its generation finishes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._journal import Journal

STAGES = ("topics", "subtopics", "questions", "blue", "red")


class StageFile(Journal[str]):
    """Finished units of one stage, keyed by `key`; a line cut short by a kill is ignored (and redone)."""

    def __init__(self, out_dir: Path, stage: str):
        self.name = stage
        super().__init__(out_dir / f"{stage}.jsonl", lambda record: str(record["key"]))

    def add(self, record: dict[str, Any]) -> None:
        self.append(record)
