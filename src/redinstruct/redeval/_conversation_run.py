"""`redinstruct eval --attack replay|redlm`: multi-turn RED-EVAL, every model x dataset, resumable turn by turn.

Targets and attackers are called through `build_judge_model`: the lean client for OpenAI-compatible
servers, inspect's model (redinstruct's batching engine for local checkpoints) otherwise. Conversations
run concurrently; each one's turns run in order. Results share the single-turn run's files:
samples.jsonl (one line per conversation, with every turn), summary.json / summary.md, one inspect
`.eval` log per dataset x attack, plus turns.jsonl, the per-turn record that resume reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from inspect_ai.dataset import Sample
from inspect_ai.model import GenerateConfig

from .._progress import Progress
from .._secrets import redact
from ..errors import RedInstructError, RunInterrupted
from ..models import DEFAULT_MAX_CONNECTIONS, LeanModel, ModelSpec, build_judge_model, check_reachable, lean_endpoint, resolve_model
from ..prompts import prompt_file
from ._conversation import AttackSettings, Target, TurnJournal, chat_messages, conversation_record, run_conversation
from ._conversation_data import DEFAULT_BACKTRACKS, DEFAULT_REDLM_TURNS, ConversationPlan, load_attack_plans
from ._judging import SampleJudging
from ._lean import LogWriting
from ._lean_log import FinishedSample, LogTask
from ._samples import SampleStore, SampleWriter

ATTACKER_PROMPTS = ("redlm_turn", "redlm_rephrase")
ATTACKER_MAX_TOKENS = 160  # one or two sentences
ATTACKER_STOP = ["\nBase-LM:"]
LOCAL_CONNECTIONS = 32  # conversations in flight against a local model: its engine batches their turns


@dataclass
class ConversationTask:
    """One dataset x attack of one model: the conversations left to run and their inspect log."""

    dataset: str
    plans: list[ConversationPlan]
    log: LogTask


def load_attacker_prompts(prompts_dir: str | None) -> dict[str, str]:
    """The Red-LM prompts: the user's `redlm_turn.txt` / `redlm_rephrase.txt` in `prompts_dir`, else the built-in ones."""
    if prompts_dir and not Path(prompts_dir).is_dir():
        raise RedInstructError(f"--attacker-prompts: {prompts_dir} is not a folder")
    prompts = {name: prompt_file("redinstruct.prompts", "attacker", name, prompts_dir) for name in ATTACKER_PROMPTS}
    if "{history}" not in prompts["redlm_turn"] or "{question}" not in prompts["redlm_turn"]:
        raise RedInstructError("the attacker prompt redlm_turn.txt needs {question} and {history} slots")
    return prompts


def attack_settings(config: Any) -> AttackSettings:
    """The attack's settings from an EvalConfig, checked (bad values raise one-line errors)."""
    if config.turns is not None and config.turns < 1:
        raise RedInstructError("--turns must be at least 1")
    if config.backtracks is not None and config.backtracks < 0:
        raise RedInstructError("--backtracks must be at least 0")
    if config.render != "chat":
        raise RedInstructError(f"--attack {config.attack} sends a conversation, so it needs --render chat")
    if config.attack == "replay":
        if config.attacker_model:
            raise RedInstructError("--attacker-model is for --attack redlm (replay sends the recorded Red-LM turns)")
        return AttackSettings("replay", config.turns or 0, 0)
    prompts = load_attacker_prompts(config.attacker_prompts)
    backtracks = DEFAULT_BACKTRACKS if config.backtracks is None else config.backtracks
    return AttackSettings("redlm", config.turns or DEFAULT_REDLM_TURNS, backtracks, prompts, config.attacker_model or "smollm2")


def settings_manifest(settings: AttackSettings) -> dict[str, Any]:
    """What makes a conversation line mean what it means: a log folder keeps one value per attack."""
    out: dict[str, Any] = {"turns": settings.turns or None, "backtracks": settings.backtracks, "attacker_model": settings.attacker_label}
    if settings.prompts:
        out["attacker_prompts_sha256"] = hashlib.sha256("\x1f".join(settings.prompts[n] for n in ATTACKER_PROMPTS).encode()).hexdigest()[:16]
    return out


def _connections(spec: ModelSpec, config: Any) -> int:
    return config.max_connections or (LOCAL_CONNECTIONS if spec.is_local else DEFAULT_MAX_CONNECTIONS)


def _target_config(spec: ModelSpec, max_tokens: int) -> GenerateConfig:
    # greedy: local HF models decode greedily without a temperature (do_sample=False), servers at 0
    return GenerateConfig(max_tokens=max_tokens, temperature=None if spec.provider == "hf" else 0.0)


def check_attacker(settings: AttackSettings) -> ModelSpec | None:
    """Resolve the attacker and, for an API, make one tiny request: an unreachable attacker stops the run before it starts."""
    if settings.attacker_label is None:
        return None
    from ..models import check_model_ready

    spec = resolve_model(settings.attacker_label)
    check_model_ready(spec)
    lean_endpoint(spec)
    if not spec.is_local:
        asyncio.run(check_reachable(build_judge_model(spec), f"{settings.attacker_label} (the attacker)"))
    return spec


def _sample(plan: ConversationPlan, dataset: str, attack: str) -> Sample:
    return Sample(id=plan.id, input=plan.question, metadata=plan.meta(dataset, attack))


def plan_tasks(spec: ModelSpec, config: Any, settings: AttackSettings, plans_by_dataset: dict[str, tuple[str, list[ConversationPlan]]],
               store: SampleStore, judging_args: dict[str, Any], echo: Callable[[str], None]) -> list[ConversationTask]:
    """The conversations of `spec` not yet in samples.jsonl, one task per dataset."""
    tasks = []
    engine = "redinstruct (lean OpenAI-compatible client)" if lean_endpoint(spec) else "redinstruct conversation runner"
    for name, plans in plans_by_dataset.values():
        missing = [p for p in plans if (spec.display, name, settings.attack, p.id) not in store]
        echo(f"{spec.display} | {name} | {settings.attack}: {len(missing)} conversation(s) to run, {len(plans) - len(missing)} already done")
        if missing:
            args = {**judging_args, "attack": settings.attack, **settings_manifest(settings)}
            log = LogTask(f"red_eval_{name}_{settings.attack}", name, settings.attack, [_sample(p, name, settings.attack) for p in missing],
                          args, _target_config(spec, config.max_tokens), solver=f"redinstruct/{settings.attack}_conversation", engine=engine)
            tasks.append(ConversationTask(name, missing, log))
    return tasks


async def _run_all(tasks: list[ConversationTask], spec: ModelSpec, attacker_spec: ModelSpec | None, config: Any, settings: AttackSettings,
                   judging: SampleJudging, store: SampleStore, journal: TurnJournal, logs: LogWriting) -> None:
    connections = _connections(spec, config)
    target = Target(build_judge_model(spec, connections), _target_config(spec, config.max_tokens))
    attacker, seats = None, connections
    if attacker_spec is not None:
        attacker_config = GenerateConfig(max_tokens=ATTACKER_MAX_TOKENS, stop_seqs=ATTACKER_STOP)
        attacker = Target(build_judge_model(attacker_spec, _connections(attacker_spec, config)), attacker_config)
        seats += _connections(attacker_spec, config)  # a conversation waits on one seat at a time: fill both
    writer = SampleWriter(store)
    queue: Iterator[tuple[ConversationTask, ConversationPlan]] = iter([(task, plan) for task in tasks for plan in task.plans])

    async def one(task: ConversationTask, plan: ConversationPlan) -> None:
        key = (spec.display, task.dataset, settings.attack, plan.id)
        started = time.time()
        try:
            turns, error = await run_conversation(plan, key, task.dataset, settings, target, attacker, judging, journal)
            record = conversation_record(plan, spec.display, task.dataset, settings, judging, turns, error)
            await writer.append(record)
            done = FinishedSample(_sample(plan, task.dataset, settings.attack), record, None, started, time.time(), messages=chat_messages(turns))
        except Exception as ex:  # a crash inside a conversation is its own: no line, the run records it as unknown
            done = FinishedSample(_sample(plan, task.dataset, settings.attack), None, None, started, time.time(), error=redact(f"{type(ex).__name__}: {ex}"))
        task.log.finished.append(done)
        if len(task.log.finished) == len(task.log.samples) and not task.log.log_written:
            task.log.log_written = True
            await asyncio.to_thread(logs.write, task.log, "success")

    async def worker() -> None:
        for task, plan in queue:
            await one(task, plan)

    try:
        await asyncio.gather(*(worker() for _ in range(2 * seats)))  # two per connection: one generating, one being judged
    finally:
        for model in (target.model, attacker.model if attacker else None):
            if isinstance(model, LeanModel) and model.client is not None:
                await model.client.aclose()


def run_model_conversations(tasks: list[ConversationTask], spec: ModelSpec, attacker_spec: ModelSpec | None, config: Any,
                            settings: AttackSettings, judging: SampleJudging, store: SampleStore, journal: TurnJournal, log_dir: Path) -> bool:
    """Run one model's conversations with a progress bar and write their logs; False when interrupted (Ctrl-C)."""
    logs = LogWriting(log_dir, spec.inspect_name, time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:8], time.time(), config.log_samples,
                      _connections(spec, config), dict(spec.model_args))
    todo = sum(len(t.plans) for t in tasks)
    interrupted = False
    try:
        with Progress(f"eval {spec.display} ({settings.attack})", todo, unit="conversation") as progress, \
                store.listening(lambda record: progress.advance()):
            asyncio.run(_run_all(tasks, spec, attacker_spec, config, settings, judging, store, journal, logs))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for task in tasks:
            if not task.log.log_written and (task.log.finished or not interrupted):
                logs.write(task.log, "cancelled" if interrupted else "success")
    return not interrupted


def conversation_plans(config: Any, settings: AttackSettings, echo: Callable[[str], None]) -> dict[str, tuple[str, list[ConversationPlan]]]:
    """Every dataset's conversations (the first --limit of each), loaded before any generation."""
    out = {}
    for dataset in config.datasets:
        name, plans, safe = load_attack_plans(dataset, settings.attack, config.turns, config.drop_duplicates)
        if safe:
            echo(f"{name}: {safe} prompt(s) labelled safe left out (a conversation attack measures ASR on unsafe prompts)")
        out[dataset] = (name, plans[: config.limit] if config.limit else plans)
    return out


def interrupted_error(store: SampleStore, log_dir: Path) -> RunInterrupted:
    return RunInterrupted(f"interrupted: {len(store)} conversation(s) are saved in {log_dir} (and every finished turn of the others); "
                          "run the same command again (same --log-dir) to finish the rest")
