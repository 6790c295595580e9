"""`samples.jsonl`: one line per model x dataset x template x question, appended as each is judged.

It is the record resume relies on: every line is flushed and fsynced before the next sample can
be lost, and a line cut short by a kill is dropped (and that sample redone) on the next start.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

SAMPLE_FIELDS = (
    "model",
    "dataset",
    "template",
    "render",
    "judge",
    "question_id",
    "question",
    "topic",
    "subtopic",
    "label",
    "type",
    "prompt",
    "response_raw",
    "response",
    "verdict",
    "judge_rationale",
    "judge_score",
    "judge_categories",
    "echo",
    "compliance",
    "compliance_rationale",
    "error",
)

SampleKey = tuple[str, str, str, str]


RETRYABLE_ERROR_PREFIXES = ("generation error:", "judge error:", "sample did not complete")


def is_retryable(record: dict[str, Any]) -> bool:
    """Failures of the machinery (API down, crash) are retried; empty or blocked replies are results."""
    return str(record.get("error") or "").startswith(RETRYABLE_ERROR_PREFIXES)


def sample_key(record: dict[str, Any]) -> SampleKey:
    return (str(record["model"]), str(record["dataset"]), str(record["template"]), str(record["question_id"]))


# callbacks told of every line appended to a samples file (progress display), by resolved path
_LISTENERS: dict[str, Callable[[dict[str, Any]], None]] = {}


@contextmanager
def listening(path: str | Path, callback: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Call `callback(record)` after each line appended to `path` in this process."""
    key = str(Path(path).resolve())
    _LISTENERS[key] = callback
    try:
        yield
    finally:
        _LISTENERS.pop(key, None)


def append_record(path: str | Path, record: dict[str, Any]) -> None:
    """Append one sample line durably."""
    line = json.dumps(record, ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    listener = _LISTENERS.get(str(Path(path).resolve())) if _LISTENERS else None
    if listener is not None:
        listener(record)


class SampleStore:
    """The finished samples of a run folder, keyed by (model, dataset, template, question_id)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: dict[SampleKey, dict[str, Any]] = {}
        self.reload()

    def reload(self) -> None:
        self.records = {}
        if not self.path.is_file():
            return
        text = self.path.read_text(encoding="utf-8")
        good_lines: list[str] = []
        damaged = False
        for line in text.splitlines(keepends=True):
            try:
                record = json.loads(line)
                if not line.endswith("\n"):
                    raise ValueError("unterminated line")
            except ValueError:
                damaged = True  # a line cut short by a kill: drop it, its sample will be redone
                continue
            # the last line for a key wins (a redone error sample replaces its old line on rewrite)
            self.records[sample_key(record)] = record
            good_lines.append(line)
        if damaged:
            self._rewrite()

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(".jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for record in self.records.values():
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def drop_errors(self) -> int:
        """Forget samples that ended in an error so they are tried again; returns how many."""
        errored = [k for k, r in self.records.items() if is_retryable(r)]
        for key in errored:
            del self.records[key]
        if errored:
            self._rewrite()
        return len(errored)

    def __contains__(self, key: SampleKey) -> bool:
        return key in self.records

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records.values())

    def __len__(self) -> int:
        return len(self.records)

    def append(self, record: dict[str, Any]) -> None:
        append_record(self.path, record)
        self.records[sample_key(record)] = record
