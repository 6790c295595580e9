"""`samples.jsonl`: one line per model x dataset x template x question (or conversation), appended as each is judged.

It is the record resume relies on (see `_journal`): every line is fsynced before its sample counts
as done, and a line cut short by a kill is dropped (and that sample redone) on the next start.
Lines are written from `SampleRecord`s only, by `SampleStore.append`, `SampleWriter.append` (many
concurrent samples, one fsync per group) or `append_sample` (inspect's scorer, which has the path).
"""

from __future__ import annotations

from pathlib import Path

from .._journal import GroupCommit, Journal, append_lines, notify
from ._record import SampleKey, SampleRecord, is_retryable, sample_key


class SampleStore(Journal[SampleKey]):
    """The finished samples of a run folder, keyed by (model, dataset, template, question_id)."""

    def __init__(self, path: str | Path):
        super().__init__(path, sample_key, rewrite_damaged=True)

    def drop_errors(self) -> int:
        """Forget samples that ended in an error so they are tried again; returns how many."""
        errored = [k for k, r in self.records.items() if is_retryable(r)]
        self.forget(errored)
        return len(errored)

    def append(self, record: SampleRecord) -> None:  # type: ignore[override]
        super().append(record.line())


class SampleWriter:
    """Durable appends of concurrent samples: those finishing together share one write and fsync."""

    def __init__(self, store: SampleStore):
        self._commit = GroupCommit(store)

    async def append(self, record: SampleRecord) -> None:
        await self._commit.append(record.line())


def append_sample(path: str | Path, record: SampleRecord) -> None:
    """Append one sample's line to the samples file at `path` (for a writer that has only the path)."""
    line = record.line()
    append_lines(path, [line])
    notify(Path(path), line)
