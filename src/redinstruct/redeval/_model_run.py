"""One model's run: every planned sample (a template's prompt or a conversation) run, recorded, journalled and logged.

Both kinds of attack, on every engine, come through here. Workers take samples from one queue; a
sample's runner (generate -> clean -> judge -> record, or a conversation's turns) returns its
outcome; the record goes to samples.jsonl through the SampleWriter (fsynced before it counts, lines
finishing together share one fsync); each task (dataset x template or attack) leaves one inspect
`.eval` log, written when its last sample is done, or when the run ends or is interrupted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterator

from inspect_ai.dataset import Sample

from .._progress import Progress
from .._secrets import redact
from ..models import Target, run_connections
from ._eval_log import FinishedSample, LogTask, LogWriting, Outcome
from ._samples import SampleStore, SampleWriter

Runner = Callable[[Sample], Awaitable[Outcome]]


@dataclass
class PlannedTask:
    """A dataset x template (or attack) of one model: its samples left to run (in `log`) and, once bound to a target, how to run one."""

    log: LogTask
    judging: Any  # the task's SampleJudging
    dataset: str = ""
    plans: list[Any] | None = None  # a conversation attack's plans, one per sample
    run: Runner | None = None


async def _run_one(task: PlannedTask, sample: Sample, writer: SampleWriter, logs: LogWriting) -> None:
    started = time.time()
    assert task.run is not None, "a task runs once its attack has bound it to a target"
    try:
        outcome = await task.run(sample)
    except Exception as ex:  # a crash inside a sample is its own: no line now, the run records it as unknown afterwards
        outcome = Outcome(None, error=redact(f"{type(ex).__name__}: {ex}"))
    if outcome.record is not None:
        await writer.append(outcome.record)
    task.log.finished.append(FinishedSample(sample, outcome, started, time.time()))
    if len(task.log.finished) == len(task.log.samples) and not task.log.log_written:
        # a finished task's log now, not at the end: a later kill -9 cannot take it
        task.log.log_written = True
        await asyncio.to_thread(logs.write, task.log, "success")


async def _run_all(tasks: list[PlannedTask], store: SampleStore, logs: LogWriting, workers: int, targets: list[Target]) -> None:
    writer = SampleWriter(store)
    queue: Iterator[tuple[PlannedTask, Sample]] = iter([(task, sample) for task in tasks for sample in task.log.samples])

    async def worker() -> None:
        for task, sample in queue:  # one shared iterator: each sample is taken once
            await _run_one(task, sample, writer, logs)

    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        for target in targets:
            await target.aclose()


def run_model(tasks: list[PlannedTask], store: SampleStore, logs: LogWriting, workers: int, targets: list[Target],
              progress: Progress | None, max_connections: int | None) -> bool:
    """Run every task's samples with `workers` in flight and write their logs; False when interrupted (Ctrl-C).

    `targets` are closed when the run ends; LLM judges opened during the run allow `max_connections` requests.
    """
    interrupted = False
    try:
        with run_connections(max_connections):
            if progress is None:
                asyncio.run(_run_all(tasks, store, logs, workers, targets))
            else:
                with progress, store.listening(lambda record: progress.advance()):
                    asyncio.run(_run_all(tasks, store, logs, workers, targets))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for task in tasks:
            if not task.log.log_written and (task.log.finished or not interrupted):
                logs.write(task.log, "cancelled" if interrupted else "success")
    return not interrupted
