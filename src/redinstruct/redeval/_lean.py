"""RED-EVAL through the lean client: generate, judge and durably record each sample as it finishes.

For OpenAI-compatible servers (vLLM, TGI, hosted APIs) the per-sample work of inspect's eval
loop, not the server, limits a fast run (docs/benchmarks.md). This path keeps every contract of
the inspect path: one samples.jsonl line per sample, fsynced before the sample counts as done
(lines finishing together share one fsync); resume skips what samples.jsonl holds; judges run
concurrently (offline judges in shared batches); and each dataset x template leaves an inspect
`.eval` log, written when the run ends (or is interrupted).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .._secrets import redact
from ..models import GenerationError, OpenAIHTTPClient, run_connections
from ._lean_log import FinishedSample, LogTask, build_log, write_log
from ._samples import SampleStore, SampleWriter

# samples in flight per connection: one generating while another is being judged
WORKERS_PER_CONNECTION = 2


@dataclass
class LogWriting:
    """Where and how a run's inspect logs go; a task's log is written as soon as its last sample is done."""

    log_dir: Path
    model: str
    run_id: str
    started: float
    log_samples: bool
    max_connections: int
    model_args: dict[str, Any]

    def write(self, task: LogTask, status: str) -> None:
        log = build_log(task, self.model, self.run_id, self.started, time.time(), status, self.log_samples,
                        self.max_connections, self.model_args)
        write_log(log, self.log_dir)


async def _run_sample(task: LogTask, sample: Any, client: OpenAIHTTPClient, judging: Any, writer: SampleWriter,
                      max_tokens: int, stop: list[str] | None, logs: LogWriting) -> None:
    await _generate_and_judge(task, sample, client, judging, writer, max_tokens, stop)
    if len(task.finished) == len(task.samples) and not task.log_written:
        # a finished task's log now, not at the end: a later kill -9 cannot take it
        task.log_written = True
        await asyncio.to_thread(logs.write, task, "success")


async def _generate_and_judge(task: LogTask, sample: Any, client: OpenAIHTTPClient, judging: Any, writer: SampleWriter,
                              max_tokens: int, stop: list[str] | None) -> None:
    started = time.time()
    completion, error = None, None
    try:
        completion = await client.complete(str(sample.input), max_tokens, 0.0, stop)
    except GenerationError as ex:
        error = f"generation error: {ex}"
    except Exception as ex:  # as inspect's guarded generate: any failure is the sample's, never the run's
        error = redact(f"generation error: {type(ex).__name__}: {ex}")
    try:
        record = await judging.record(
            sample.metadata, str(sample.id), str(sample.input), completion.text if completion else "",
            completion.stop_reason if completion else None, error,
        )
    except Exception as ex:  # a judge crashed: no line now; the run records the sample as unknown afterwards
        message = redact(f"{type(ex).__name__}: {ex}")
        task.finished.append(FinishedSample(sample, None, completion, started, time.time(), error=message))
        return
    await writer.append(record)
    task.finished.append(FinishedSample(sample, record, completion, started, time.time()))


async def _run_all(tasks: list[tuple[LogTask, Any, list[str] | None]], client: OpenAIHTTPClient, store: SampleStore,
                   max_tokens: int, workers: int, logs: LogWriting) -> None:
    writer = SampleWriter(store)
    queue: Iterator[tuple[LogTask, Any, Any, list[str] | None]] = iter(
        [(task, sample, judging, stop) for task, judging, stop in tasks for sample in task.samples]
    )

    async def worker() -> None:
        for task, sample, judging, stop in queue:  # one shared iterator: each sample is taken once
            await _run_sample(task, sample, client, judging, writer, max_tokens, stop, logs)

    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        await client.aclose()


def run_lean(
    tasks: list[tuple[LogTask, Any, list[str] | None]],
    client: OpenAIHTTPClient,
    store: SampleStore,
    log_dir: Path,
    model: str,
    max_tokens: int,
    log_samples: bool,
    model_args: dict[str, Any],
) -> bool:
    """Run (task, judging, stop sequences) triples and write their logs; False when interrupted (Ctrl-C)."""
    logs = LogWriting(log_dir, model, time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:8], time.time(), log_samples,
                      client.max_connections, model_args)
    interrupted = False
    try:
        with run_connections(client.max_connections):
            asyncio.run(_run_all(tasks, client, store, max_tokens, WORKERS_PER_CONNECTION * client.max_connections, logs))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for task, _, _ in tasks:
            if not task.log_written and (task.finished or not interrupted):
                logs.write(task, "cancelled" if interrupted else "success")
    return not interrupted
