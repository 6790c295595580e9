"""`samples.jsonl`: one line per model x dataset x template x question, appended as each is judged.

It is the record resume relies on: every line is flushed and fsynced before the next sample can
be lost, and a line cut short by a kill is dropped (and that sample redone) on the next start.
"""

from __future__ import annotations

import asyncio
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
    append_lines(Path(path), [record])
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


class GroupCommitWriter:
    """Durable appends for many concurrent samples: the lines waiting at a moment share one write and fsync.

    `append` returns only once the sample's line is fsynced, so a sample is never reported done
    (progress, summary) before it would survive a kill; a line cut by a kill is dropped on reload.
    """

    def __init__(self, store: SampleStore):
        self.store = store
        self._waiting: list[tuple[dict[str, Any], "asyncio.Future[None]"]] = []
        self._writing = False

    async def append(self, record: dict[str, Any]) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((record, future))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write())
        await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    await asyncio.to_thread(append_lines, self.store.path, [record for record, _ in group])
                except Exception as ex:  # a full disk: every sample of the group fails, none is reported done
                    for _, future in group:
                        if not future.done():
                            future.set_exception(ex)
                    continue
                listener = _LISTENERS.get(str(self.store.path.resolve())) if _LISTENERS else None
                for record, future in group:
                    self.store.records[sample_key(record)] = record
                    if listener is not None:
                        listener(record)
                    if not future.done():
                        future.set_result(None)
        finally:
            self._writing = False


def append_lines(path: Path, records: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
