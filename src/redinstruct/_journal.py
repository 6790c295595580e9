"""The one crash-safe JSONL journal: `samples.jsonl`, `turns.jsonl` and HARMFULQA's stage files.

A line counts once it is fsynced; a line cut short by a kill (no newline, or not JSON) is skipped
on reading, so its work is redone. Lines waiting at the same moment share one write and fsync
(`GroupCommit`), so a fast run does not pay one fsync per sample. Every line passes through
`redact` on its way to disk: no secret the process knows of is ever journalled.
"""

from __future__ import annotations

import asyncio
import json
import re
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Generic, Hashable, Iterator, TypeVar

from ._secrets import redact

Key = TypeVar("Key", bound=Hashable)
Line = dict[str, Any]


# characters that Python's str.splitlines (and other line readers) take for line ends, though JSON may hold them raw
_LINE_BREAKERS = re.compile("[\u2028\u2029\u0085]")


def dump_line(line: Line) -> str:
    """One journal line: JSON (UTF-8 kept, but U+2028, U+2029 and U+0085 as \\u escapes), secrets masked, newline-terminated.

    A reply may hold any character; written raw, those three end a line for many readers (`str.splitlines`
    among them), and the sample would read as a damaged line.
    """
    text = json.dumps(line, ensure_ascii=False)
    return redact(_LINE_BREAKERS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)) + "\n"


def _as_written(line: Line) -> Line:
    """The line as the journal holds it on disk (secrets masked), so memory and file never differ."""
    text = json.dumps(line, ensure_ascii=False)
    masked = redact(text)
    return line if masked == text else json.loads(masked)


def read_lines(path: str | Path) -> tuple[list[Line], bool]:
    """(the whole lines of a journal, whether a damaged line was skipped); no file reads as empty."""
    path = Path(path)
    if not path.is_file():
        return [], False
    lines, damaged = [], False
    # lines end at "\n" only (files written before U+2028 and U+2029 were escaped may hold them raw)
    *whole, tail = path.read_text(encoding="utf-8").split("\n")
    if tail:
        damaged = True  # the last line was cut short by a kill: skipped, its work is redone
    for text in whole:
        try:
            line = json.loads(text)
            if not isinstance(line, dict):
                raise ValueError("not an object")
        except ValueError:
            damaged = True  # a damaged line: skipped, its work is redone
            continue
        lines.append(line)
    return lines, damaged


def append_lines(path: str | Path, lines: list[Line]) -> None:
    """Append lines durably: written, flushed and fsynced before returning."""
    text = "".join(dump_line(line) for line in lines)
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


# callbacks told of every line appended to a journal in this process (progress display), by resolved path
_LISTENERS: dict[str, Callable[[Line], None]] = {}


@contextmanager
def listening(path: str | Path, callback: Callable[[Line], None]) -> Iterator[None]:
    """Call `callback(line)` after each line appended to the journal at `path` in this process."""
    key = str(Path(path).resolve())
    _LISTENERS[key] = callback
    try:
        yield
    finally:
        _LISTENERS.pop(key, None)


def _listener(path: Path) -> Callable[[Line], None] | None:
    return _LISTENERS.get(str(path.resolve())) if _LISTENERS else None


def notify(path: Path, line: Line) -> None:
    """Tell the listener of `path` (if any) that `line` was appended (by a writer that holds no Journal)."""
    listener = _listener(path)
    if listener is not None:
        listener(_as_written(line))


class Journal(Generic[Key]):
    """A journal's finished lines by resume key; the last line for a key wins (a redone line replaces the old one)."""

    def __init__(self, path: str | Path, key: Callable[[Line], Key], rewrite_damaged: bool = False):
        self.path = Path(path)
        self.key = key
        self.rewrite_damaged = rewrite_damaged  # drop torn lines from the file too (its readers then see only whole ones)
        self.records: dict[Key, Line] = {}
        self.reload()

    def reload(self) -> None:
        lines, damaged = read_lines(self.path)
        self.records = {}
        for line in lines:
            self.records[self.key(line)] = line
        if damaged and self.rewrite_damaged:
            self.rewrite()

    def rewrite(self) -> None:
        """Replace the file with the kept lines, atomically."""
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("".join(dump_line(line) for line in self.records.values()))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def forget(self, keys: list[Key]) -> None:
        """Drop these lines (their work is redone), in memory and on disk."""
        for key in keys:
            self.records.pop(key, None)
        if keys:
            self.rewrite()

    def __contains__(self, key: object) -> bool:
        return key in self.records

    def __iter__(self) -> Iterator[Line]:
        return iter(self.records.values())

    def __len__(self) -> int:
        return len(self.records)

    def listening(self, callback: Callable[[Line], None]) -> Any:
        """A context in which `callback(line)` is called after each line appended to this journal in this process."""
        return listening(self.path, callback)

    def get(self, key: Key) -> Line | None:
        return self.records.get(key)

    def append(self, line: Line) -> None:
        """Append one line durably (blocking)."""
        append_lines(self.path, [line])
        self._added([line])

    def _added(self, lines: list[Line]) -> None:
        listener = _listener(self.path)
        for line in map(_as_written, lines):
            self.records[self.key(line)] = line
            if listener is not None:
                listener(line)


class GroupCommit:
    """Durable appends for many concurrent tasks: the lines waiting at a moment share one write and fsync.

    `append` returns only once its line is fsynced, so work is never reported done (progress,
    summary) before it would survive a kill.
    """

    def __init__(self, journal: Journal[Any]):
        self.journal = journal
        self._waiting: list[tuple[Line, "asyncio.Future[None]"]] = []
        self._writing = False

    async def append(self, line: Line) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((line, future))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write())
        await future

    async def _write(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    await asyncio.to_thread(append_lines, self.journal.path, [line for line, _ in group])
                except Exception as ex:  # a full disk: every line of the group fails, none is reported done
                    for _, future in group:
                        if not future.done():
                            future.set_exception(ex)
                    continue
                self.journal._added([line for line, _ in group])
                for _, future in group:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._writing = False
