"""inspect eval logs for samples the lean client ran: one `.eval` file per dataset x template, as inspect writes them.

`inspect view` and `read_eval_log` read them like any other log: the spec, the plan, the
metrics, and per sample the messages, the model output with its usage, the score and the
question's metadata. What is missing is inspect's own transcript of events, which this path
does not produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
import uuid
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
from inspect_ai.model import ChatCompletionChoice, ChatMessageAssistant, ChatMessageUser, GenerateConfig, ModelOutput, ModelUsage
from inspect_ai.scorer import SampleScore, Score

from .. import __version__
from .._secrets import redact_args
from ..models import Completion
from ._record import SampleRecord, score_value
from ._task import attack_success_rate, unknown

SCORER = "redeval_scorer"


@dataclass
class FinishedSample:
    sample: Sample
    record: SampleRecord | None
    completion: Completion | None
    started_at: float  # time.time()
    completed_at: float
    error: str | None = None  # the sample did not complete (a judge crashed): no samples.jsonl line
    messages: list[Any] | None = None  # a conversation's every turn (default: the input and the completion)


@dataclass
class LogTask:
    """One dataset x template of a lean run, and its samples as they finish."""

    name: str
    dataset: str
    template: str
    samples: list[Sample]
    task_args: dict[str, Any]  # what the scorer was set up with (judges, render, ...)
    generate_config: GenerateConfig
    finished: list[FinishedSample] = field(default_factory=list)
    log_written: bool = False
    solver: str = "redinstruct/lean_generate"
    engine: str = "redinstruct (lean OpenAI-compatible client)"


def _new_id() -> str:
    return uuid.uuid4().hex[:22]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat()


def _usage(completion: Completion | None) -> ModelUsage:
    if completion is None:
        return ModelUsage()
    return ModelUsage(input_tokens=completion.input_tokens, output_tokens=completion.output_tokens,
                      total_tokens=completion.input_tokens + completion.output_tokens)


def _eval_sample(done: FinishedSample, model: str) -> EvalSample:
    record, completion = done.record, done.completion
    user = ChatMessageUser(content=str(done.sample.input), source="input")
    messages: list[Any] = [user]
    output = ModelOutput(model=model)
    if completion is not None:
        reply = ChatMessageAssistant(content=completion.text, source="generate", model=completion.model)
        messages.append(reply)
        output = ModelOutput(model=completion.model, choices=[ChatCompletionChoice(message=reply, stop_reason=completion.stop_reason)],  # type: ignore[arg-type]
                             usage=_usage(completion), time=completion.seconds)
    if done.messages is not None:
        messages = done.messages
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
    return EvalSample(
        id=done.sample.id or "", epoch=1, input=done.sample.input, target="", messages=messages, output=output,
        scores=scores or None, metadata=metadata, model_usage={model: _usage(completion)} if completion else {},
        started_at=_iso(done.started_at), completed_at=_iso(done.completed_at),
        total_time=round(done.completed_at - done.started_at, 3), working_time=round(done.completed_at - done.started_at, 3),
        error={"message": done.error, "traceback": "", "traceback_ansi": ""} if done.error else None,  # type: ignore[arg-type]
    )


def build_log(task: LogTask, model: str, run_id: str, started: float, completed: float, status: str, log_samples: bool,
              max_connections: int, model_args: dict[str, Any]) -> EvalLog:
    """The EvalLog of one task: `status` is success, or cancelled for an interrupted run."""
    scored = [SampleScore(score=Score(value=score_value(d.record)), sample_id=d.sample.id) for d in task.finished if d.record is not None]
    metrics = {
        "attack_success_rate": EvalMetric(name="redinstruct/attack_success_rate", value=attack_success_rate()(scored)),
        "unknown": EvalMetric(name="redinstruct/unknown", value=unknown()(scored)),
    }
    usage = ModelUsage()
    for done in task.finished:
        usage = usage + _usage(done.completion)
    spec = EvalSpec(
        eval_id=_new_id(), run_id=run_id, created=_iso(started), task=task.name, task_id=_new_id(),
        task_version=0, task_display_name=task.name, task_registry_name="redinstruct/red_eval",
        task_args={k: v for k, v in task.task_args.items() if k != "samples_file"},
        dataset=EvalDataset(name=task.dataset, samples=len(task.samples), sample_ids=[s.id for s in task.samples if s.id is not None]),
        model=model, model_generate_config=task.generate_config, model_args=redact_args(model_args),
        config=EvalConfig(epochs=1, fail_on_error=False, log_samples=log_samples, log_realtime=False, max_connections=max_connections),
        packages={"inspect_ai": inspect_version, "redinstruct": __version__},
        metadata={"dataset": task.dataset, "template": task.template, "render": task.task_args.get("render"),
                  "judge": task.task_args.get("judge"), "engine": task.engine},
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
