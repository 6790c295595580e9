"""One JSONL file per stage; a unit of work is written once, whole, when its generation finishes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..redeval._samples import append_record

STAGES = ("topics", "subtopics", "questions", "blue", "red")


class StageFile:
    """Finished units of one stage, keyed by `key`; a line cut short by a kill is ignored (and redone)."""

    def __init__(self, out_dir: Path, stage: str):
        self.name = stage
        self.path = out_dir / f"{stage}.jsonl"
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines(keepends=True):
                if not line.endswith("\n"):
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                self.records[record["key"]] = record

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def add(self, record: dict[str, Any]) -> None:
        append_record(self.path, record)
        self.records[record["key"]] = record
