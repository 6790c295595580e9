"""The one writer of inspect eval logs: one `.eval` file per model x dataset x template (or attack), on inspect's public log API.

Every run, on every engine, single-turn or conversation, writes its logs here. `inspect view` and
`read_eval_log` read them like any other log: the spec, the plan, the metrics, and per sample the
messages, the model output with its usage, the score and the question's metadata. What is missing
is inspect's own transcript of events, which redinstruct's run loop does not produce.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from inspect_ai import __version__ as inspect_version
from inspect_ai.dataset import Sample
from inspect_ai.log import (
    EvalConfig,
    EvalDataset,
    EvalLog,
    EvalMetric,
    EvalPlan,
    EvalPlanStep,
    EvalResults,
    EvalSample,
    EvalScore,
    EvalSpec,
    EvalStats,
    write_eval_log,
)
from inspect_ai.model import ChatMessageUser, GenerateConfig, ModelOutput, ModelUsage
from inspect_ai.scorer import SampleScore, Score

from .. import __version__
from .._secrets import redact_args
from ._record import SampleRecord, score_value
from ._task import attack_success_rate, unknown

SCORER = "redeval_scorer"


@dataclass
class Outcome:
    """What running one sample gave: its record (None when it crashed before one existed), the reply, a conversation's messages."""

    record: SampleRecord | None
    output: ModelOutput | None = None
    messages: list[Any] | None = None  # a conversation's every turn (default: the input and the reply)
    error: str | None = None  # the sample did not complete (a judge crashed): no samples.jsonl line


@dataclass
class FinishedSample:
    sample: Sample
    outcome: Outcome
    started_at: float  # time.time()
    completed_at: float


@dataclass
class LogTask:
    """One dataset x template (or attack) of one model's run, and its samples as they finish."""

    name: str
    dataset: str
    template: str
    samples: list[Sample]
    task_args: dict[str, Any]  # what the scorer was set up with (judges, render, ...)
    generate_config: GenerateConfig
    solver: str = "redinstruct/generate"
    finished: list[FinishedSample] = field(default_factory=list)
    log_written: bool = False


def _new_id() -> str:
    return uuid.uuid4().hex[:22]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def _usage(output: ModelOutput | None) -> ModelUsage:
    return output.usage if output is not None and output.usage is not None else ModelUsage()


def _eval_sample(done: FinishedSample, model: str) -> EvalSample:
    outcome, record = done.outcome, done.outcome.record
    messages: list[Any] = [ChatMessageUser(content=str(done.sample.input), source="input")]
    output = outcome.output if outcome.output is not None else ModelOutput(model=model)
    if outcome.output is not None and outcome.output.choices:
        messages.append(outcome.output.message)
    if outcome.messages is not None:
        messages = outcome.messages
        replies = [m for m in messages if m.role == "assistant"]
        if replies:
            output = ModelOutput.from_content(model, replies[-1].text)
    metadata = dict(done.sample.metadata or {})
    scores = {}
    if record is not None:
        if record.error and record.error.startswith("generation error:"):
            metadata["generation_error"] = record.error
        score_metadata: dict[str, Any] = {"error": record.error}
        if record.turns is not None:
            score_metadata.update(first_success_turn=record.first_success_turn, turns=len(record.turns), backtracks=record.backtracks)
        scores[SCORER] = Score(value=score_value(record), answer=record.response,
                               explanation=record.judge_rationale or record.error or "", metadata=score_metadata)
    usage = _usage(outcome.output)
    return EvalSample(
        id=done.sample.id or "", epoch=1, input=done.sample.input, target="", messages=messages, output=output,
        scores=scores or None, metadata=metadata, model_usage={model: usage} if outcome.output is not None else {},
        started_at=_iso(done.started_at), completed_at=_iso(done.completed_at),
        total_time=round(done.completed_at - done.started_at, 3), working_time=round(done.completed_at - done.started_at, 3),
        error={"message": outcome.error, "traceback": "", "traceback_ansi": ""} if outcome.error else None,  # type: ignore[arg-type]
    )


def build_log(task: LogTask, model: str, run_id: str, started: float, completed: float, status: str, log_samples: bool,
              max_connections: int, model_args: dict[str, Any], engine: str) -> EvalLog:
    """The EvalLog of one task: `status` is success, or cancelled for an interrupted run."""
    scored = [SampleScore(score=Score(value=score_value(d.outcome.record)), sample_id=d.sample.id) for d in task.finished
              if d.outcome.record is not None]
    metrics = {
        "attack_success_rate": EvalMetric(name="redinstruct/attack_success_rate", value=attack_success_rate()(scored)),
        "unknown": EvalMetric(name="redinstruct/unknown", value=unknown()(scored)),
    }
    usage = ModelUsage()
    for done in task.finished:
        usage = usage + _usage(done.outcome.output)
    spec = EvalSpec(
        eval_id=_new_id(), run_id=run_id, created=_iso(started), task=task.name, task_id=_new_id(),
        task_version=0, task_display_name=task.name, task_registry_name="redinstruct/red_eval",
        task_args={k: v for k, v in task.task_args.items() if k != "samples_file"},
        dataset=EvalDataset(name=task.dataset, samples=len(task.samples), sample_ids=[s.id for s in task.samples if s.id is not None]),
        model=model, model_generate_config=task.generate_config, model_args=redact_args(model_args),
        config=EvalConfig(epochs=1, fail_on_error=False, log_samples=log_samples, log_realtime=False, max_connections=max_connections),
        packages={"inspect_ai": inspect_version, "redinstruct": __version__},
        metadata={"dataset": task.dataset, "template": task.template, "render": task.task_args.get("render"),
                  "judge": task.task_args.get("judge"), "engine": engine},
        scorers=[{"name": SCORER, "options": task.task_args, "metrics": [], "metadata": {}}],  # type: ignore[list-item]  (validated into inspect's scorer entry)
    )
    results = EvalResults(
        total_samples=len(task.samples), completed_samples=len(scored),
        scores=[EvalScore(name=SCORER, scorer=SCORER, scored_samples=len(scored), unscored_samples=len(task.finished) - len(scored),
                          params=task.task_args, metrics=metrics)],
    )
    return EvalLog(
        status=status,  # type: ignore[arg-type]
        eval=spec,
        plan=EvalPlan(name="plan", steps=[EvalPlanStep(solver=task.solver, params={})], config=task.generate_config),
        results=results,
        stats=EvalStats(started_at=_iso(started), completed_at=_iso(completed), model_usage={model: usage}),
        samples=[_eval_sample(d, model) for d in task.finished] if log_samples else None,
        metadata=spec.metadata,
    )


def write_log(log: EvalLog, log_dir: Path) -> Path:
    created = datetime.fromisoformat(log.eval.created)
    path = log_dir / f"{created.strftime('%Y-%m-%dT%H-%M-%S')}+00-00_{log.eval.task.replace('_', '-')}_{log.eval.task_id}.eval"
    write_eval_log(log, str(path), format="eval")
    return path


@dataclass
class LogWriting:
    """Where and how one model's run writes its logs; a task's log is written as soon as its last sample is done."""

    log_dir: Path
    model: str
    engine: str
    log_samples: bool
    max_connections: int
    model_args: dict[str, Any]
    run_id: str = field(default_factory=lambda: time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:8])
    started: float = field(default_factory=time.time)

    def write(self, task: LogTask, status: str) -> None:
        log = build_log(task, self.model, self.run_id, self.started, time.time(), status, self.log_samples,
                        self.max_connections, self.model_args, self.engine)
        write_log(log, self.log_dir)
