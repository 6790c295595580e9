"""HARMFULQA generation (RED-INSTRUCT phase 1): topics -> subtopics -> questions -> blue -> red (the stages: `_stages`).

Every stage is resumable: each generator call is one unit of work, written to its stage file as
soon as it finishes, and skipped on the next run.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from inspect_ai.model import GenerateConfig

from .._progress import Progress
from .._secrets import redact, write_public
from ..data import read_text_file
from ..errors import RedInstructError, RunFailed
from ..prompts import prompt_file
from ._report import stage_reports, write_settings
from ._stages import STAGE_OBJECTS, StageContext, Unit
from ._store import STAGES, StageFile, accepted_questions, subtopic_list, topic_list
from ._tries import DEFAULT_RETRIES, RETRY_TEMPERATURE, Attempt, UnitTries, is_finished, previous_attempts

PROMPT_NAMES = ("topics", "subtopics", "questions", "blue", "red", "red_turn", "blue_turn")


@dataclass
class GenerateSettings:
    model: str
    out: str
    topics: int = 10
    subtopics_per_topic: int = 10
    questions_per_subtopic: int = 20
    conversations_per_question: int = 5
    turns: int = 4  # Red-LM turns (and Base-LM turns) per conversation
    stages: list[str] = field(default_factory=lambda: list(STAGES))
    seed_topics: str | None = None
    max_connections: int | None = None  # default: LOCAL_ or API_MAX_CONNECTIONS
    max_tokens: int | None = None  # default: LOCAL_ or API_MAX_TOKENS per call
    temperature: float = RETRY_TEMPERATURE  # API generators always; local ones on retries (their first try is greedy)
    prompts_dir: str | None = None
    retries: int = DEFAULT_RETRIES  # more attempts at a unit whose reply is unusable (sampled, seeded)
    model_args: dict[str, Any] = field(default_factory=dict)


# API generators write whole conversations in one call; a small local model (the packaged SmolLM2)
# cannot keep that format and falls back to turn-by-turn calls, where a short limit keeps each call quick
API_MAX_TOKENS, LOCAL_MAX_TOKENS = 1024, 256
API_MAX_CONNECTIONS, LOCAL_MAX_CONNECTIONS = 8, 64


def resolve_limits(settings: GenerateSettings, is_local: bool) -> tuple[int, int]:
    """(max_tokens, max_connections): the user's values, else the defaults for local or API generators."""
    max_tokens = settings.max_tokens or (LOCAL_MAX_TOKENS if is_local else API_MAX_TOKENS)
    max_connections = settings.max_connections or (LOCAL_MAX_CONNECTIONS if is_local else API_MAX_CONNECTIONS)
    return max_tokens, max_connections


def load_prompt(name: str, prompts_dir: str | None = None) -> str:
    """A stage's prompt template: the user's file in `prompts_dir` if present, else the built-in one."""
    return prompt_file("redinstruct.harmfulqa", "prompts", name, prompts_dir)


class Generator:
    """The generator model with bounded concurrency; failures are returned as text-less results.

    The model is a target (`models.open_target`), as in RED-EVAL: servers on the lean client, local
    checkpoints on the local engine, anything else on an inspect provider.
    """

    def __init__(self, model: Any, settings: GenerateSettings, is_local: bool = False, greedy: bool = False):
        self.model = model
        max_tokens, max_connections = resolve_limits(settings, is_local)
        self.gate = asyncio.Semaphore(max_connections)
        # local HF models decode greedily on a first attempt (do_sample=False); retries are sampled
        temperature = None if greedy else settings.temperature
        self.config = GenerateConfig(max_tokens=max_tokens, temperature=temperature)
        self.calls = 0
        self.calls_by_stage: dict[str, int] = {}

    async def __call__(self, prompt: str, stop: tuple[str, ...] = (), attempt: Attempt | None = None,
                       stage: str = "") -> tuple[str, str | None]:
        config = self.config
        if stop:
            config = config.merge(GenerateConfig(stop_seqs=list(stop)))
        if attempt is not None and attempt.temperature is not None:
            config = config.merge(GenerateConfig(temperature=attempt.temperature, seed=attempt.seed))
        async with self.gate:
            self.calls += 1
            self.calls_by_stage[stage] = self.calls_by_stage.get(stage, 0) + 1
            try:
                output = await self.model.generate(prompt, config=config)
                return output.completion, None
            except Exception as ex:
                return "", redact(f"generation error: {type(ex).__name__}: {ex}")


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _run_units(units: list[tuple[str, Unit]], stage: StageFile, unit: str, settings: GenerateSettings) -> int:
    """Run the units not yet finished in `stage` (new, or failed last time), writing each as it ends.

    A unit's record keeps every attempt's raw reply; one still unusable after its retries is stored
    as failed (never as finished work) and is tried again, with new seeds, on the next run.
    """
    todo = [(key, make) for key, make in units if not is_finished(stage.get(key))]
    if not todo:
        return 0
    progress = Progress(f"harmfulqa {stage.name}", len(todo), unit=unit)

    async def run(key: str, make: Unit) -> None:
        history = previous_attempts(stage.get(key))
        tries = UnitTries(key, settings.retries, settings.temperature, next_number=len(history), log=history)
        record = await make(tries)
        record.update(key=key, status="done" if record.get("problem") is None else "failed", attempts=tries.log)
        stage.add(record)
        progress.advance()

    with progress:
        await asyncio.gather(*(run(key, make) for key, make in todo))
    return len(todo)


def seed_topics(settings: GenerateSettings) -> list[str]:
    """The topics of --seed-topics (one per line, blank lines skipped), at most --topics of them."""
    text = read_text_file(settings.seed_topics or "", "--seed-topics file")
    topics = [t.strip() for t in text.splitlines() if t.strip()][: settings.topics]
    if not topics:
        raise RedInstructError(f"--seed-topics file {settings.seed_topics} names no topic (one per line)")
    return topics


def _check_settings(settings: GenerateSettings) -> None:
    unknown = [s for s in settings.stages if s not in STAGES]
    if unknown:
        raise RedInstructError(f"unknown stage(s) {', '.join(unknown)}: use {', '.join(STAGES)}")
    if settings.retries < 0:
        raise RedInstructError("--retries must be at least 0")


def _upstream(out: Path, stage: str, settings: GenerateSettings, echo: Callable[[str], None]) -> Any:
    """What the stage after `stage` reads: topics, subtopic pairs, accepted questions, or (questions, finished blue records)."""
    topics = topic_list(out)
    if stage == "topics":
        echo(f"topics: {len(topics)}")
        return topics
    pairs = subtopic_list(out, topics)
    if stage == "subtopics":
        echo(f"subtopics: {len(pairs)}")
        return pairs
    questions, _ = accepted_questions(out, pairs, settings.questions_per_subtopic)
    if stage == "questions":
        echo(f"questions: {len(questions)}")
        return questions
    return questions, {key: record for key, record in StageFile(out, "blue").records.items() if is_finished(record)}


async def _generate(settings: GenerateSettings, echo: Callable[[str], None]) -> dict[str, int]:
    from ..models import check_model_ready, open_target, resolve_model

    # every input checked before the output folder or generation.json exists
    _check_settings(settings)
    prompts = {name: load_prompt(name, settings.prompts_dir) for name in PROMPT_NAMES}
    seeds = seed_topics(settings) if settings.seed_topics else None
    spec = resolve_model(settings.model, model_args=settings.model_args)
    check_model_ready(spec)
    out = Path(settings.out)
    if out.exists() and not out.is_dir():
        raise RedInstructError(f"--out {out} is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    write_settings(out, settings)
    generator: Generator | None = None

    async def generate(prompt: str, stop: tuple[str, ...], attempt: Attempt | None, stage: str) -> tuple[str, str | None]:
        nonlocal generator
        if generator is None:  # opened on first use: a resumed run with nothing left loads no model
            _, connections = resolve_limits(settings, spec.is_local)
            generator = Generator(open_target(spec, connections), settings, is_local=spec.is_local, greedy=spec.provider == "hf")
        return await generator(prompt, stop, attempt, stage)

    ctx = StageContext(settings, prompts, generate, seeds)
    ran: dict[str, int] = {}
    upstream: Any = None
    for stage in STAGE_OBJECTS:
        if stage.name in settings.stages:
            ran[stage.name] = await _run_units(stage.units(ctx, upstream), StageFile(out, stage.name), stage.unit, settings)
            report = {r.stage: r for r in stage_reports(out, settings)}[stage.name]
            if report.got == 0:  # a requested stage ended with nothing usable: stop the run
                if stage.name in ("blue", "red"):  # the questions (and blue conversations) are usable: keep them
                    write_outputs(out, settings.conversations_per_question, settings.questions_per_subtopic)
                calls = generator.calls_by_stage.get(stage.name, 0) if generator else 0
                raise RunFailed(report.nothing_usable(calls, out / f"{stage.name}.jsonl"))
        if stage.name != "red":
            upstream = _upstream(out, stage.name, settings, echo)
    ran["generator_calls"] = generator.calls if generator else 0
    if upstream and upstream[0]:
        write_outputs(out, settings.conversations_per_question, settings.questions_per_subtopic)
    return ran


def stage_summary_lines(out: str | Path, settings: GenerateSettings) -> list[str]:
    """One line per stage: wanted, got, refused, unparseable, failed."""
    return [report.line() for report in stage_reports(Path(out), settings)]


def write_outputs(out: Path, conversations: int, per_subtopic: int) -> list[dict[str, Any]]:
    """`harmfulqa.json` (the public HarmfulQA schema) and `questions.json` ({topic: {subtopic: [...]}})."""
    import json

    pairs = subtopic_list(out, topic_list(out))
    questions, _ = accepted_questions(out, pairs, per_subtopic)
    blue, red = StageFile(out, "blue"), StageFile(out, "red")
    records = []
    nested: dict[str, dict[str, list[str]]] = {}
    for index, q in enumerate(questions):
        conv_blue: dict[str, Any] = {}
        conv_red: dict[str, Any] = {}
        for k in range(conversations):
            b, r = blue.get(f"{q['id']}#{k}"), red.get(f"{q['id']}#{k}")
            # every index is present (null when missing) so all records share one schema
            conv_blue[str(k)] = b["turns"] if is_finished(b) else None
            conv_red[str(k)] = r["turns"] if is_finished(r) else None
        records.append(
            {
                "id": index,
                "question_id": q["id"],
                "topic": q["topic"],
                "subtopic": q["subtopic"],
                "question": q["question"],
                "blue_conversations": conv_blue,
                "red_conversations": conv_red,
            }
        )
        nested.setdefault(q["topic"], {}).setdefault(q["subtopic"], []).append(q["question"])
    write_public(out / "harmfulqa.json", json.dumps(records, indent=1, ensure_ascii=False))
    write_public(out / "questions.json", json.dumps(nested, indent=1, ensure_ascii=False))
    return records


def generate_harmfulqa(settings: GenerateSettings, echo: Callable[[str], None] = _echo) -> dict[str, int]:
    """Run the requested stages; returns how many units each stage ran (0 when all were done).

    Raises RunFailed (one line: the stage, its calls and failures, the file with the raw replies)
    when a requested stage ends with nothing usable.
    """
    from ..models import close_local_engines

    try:
        return asyncio.run(_generate(settings, echo))
    finally:
        close_local_engines()  # no generation thread may outlive the command
