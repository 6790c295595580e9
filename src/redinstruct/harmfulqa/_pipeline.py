"""HARMFULQA generation (RED-INSTRUCT phase 1): topics -> subtopics -> questions -> blue -> red.

Every stage is resumable: each generator call is one unit of work, written to its stage file as
soon as it finishes, and skipped on the next run.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from inspect_ai.model import GenerateConfig

from .._progress import Progress
from .._secrets import redact
from ..errors import RedInstructError, RunFailed
from ..judges import find_refusal
from ..prompts import fill, prompt_file
from ..redeval import clean_reply, first_utterance, history_text
from ._parse import clean_item, filter_questions, parse_conversation, parse_list
from ._report import stage_reports, write_settings
from ._store import STAGES, StageFile, accepted_questions, subtopic_list, topic_list
from ._tries import (DEFAULT_RETRIES, EMPTY, GENERATION_ERROR, REFUSED, RETRY_TEMPERATURE, UNPARSEABLE, Attempt, Try,
                     UnitTries, is_finished, previous_attempts)

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
# where a generated turn ends: the other speaker's tag on a new line
RED_TAG_STOP, BLUE_TAG_STOP = ("\nBase-LM:",), ("\nRed-LM:",)


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

    OpenAI-compatible servers (`openai-api/...`, `vllm/...` with a URL) go through the lean client,
    as in RED-EVAL; other models through inspect (local HF models through redinstruct's engine).
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


Unit = Callable[[UnitTries], Awaitable[dict[str, Any]]]


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


def _turns_as_chat(turns: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"from": "human" if speaker == "Red-LM" else "gpt", "value": said} for speaker, said in turns]


def _conversation_from(raw: str, turns_per_side: int) -> list[dict[str, str]] | None:
    """Alternating turns starting with Red-LM, or None when the text is not such a conversation."""
    turns = parse_conversation(raw)
    while turns and turns[0][0] != "Red-LM":
        turns = turns[1:]
    turns = turns[: 2 * turns_per_side]
    turns = turns[: len(turns) // 2 * 2]  # every Red-LM turn has its Base-LM reply
    if len(turns) < 2:
        return None
    return _turns_as_chat(turns)


def _names(raw: str, limit: int) -> list[str]:
    return list(dict.fromkeys(clean_item(t) for t in parse_list(raw) if clean_item(t)))[:limit]


def _judged(raw: str, error: str | None, value: Any, usable: bool) -> Try:
    """One attempt's outcome: the value when usable, else why not (generation error, empty, refusal, unparseable)."""
    if error:
        return Try(problem=GENERATION_ERROR, raw=raw, error=error)
    if usable:
        return Try(value=value, raw=raw)
    if not raw.strip():
        return Try(problem=EMPTY, raw=raw)
    return Try(problem=REFUSED if find_refusal(raw) else UNPARSEABLE, raw=raw)


def _listed(raw: str, error: str | None, names: list[str]) -> Try:
    """A topic or subtopic list: usable when it names at least one."""
    return _judged(raw, error, names, bool(names))


def _questions_try(raw: str, error: str | None, candidates: list[str]) -> Try:
    """A question list: usable when at least one candidate is a real, non-refusing question."""
    return _judged(raw, error, candidates, bool(not error and filter_questions(candidates).kept))


async def _blue_turn_by_turn(
    generator: "Generator", prompts: dict[str, str], turns_per_side: int, slots: dict[str, str], attempt: Attempt
) -> tuple[list[dict[str, str]], str | None]:
    history: list[dict[str, str]] = []
    for _ in range(turns_per_side):
        for speaker, prompt_name in (("human", "red_turn"), ("gpt", "blue_turn")):
            stop = RED_TAG_STOP if speaker == "human" else BLUE_TAG_STOP
            raw, error = await generator(fill(prompts[prompt_name], history=history_text(history), **slots), stop, attempt, "blue")
            if error:
                return [], error
            said = first_utterance(raw)
            if not said:
                return [], None
            history.append({"from": speaker, "value": said})
    return history, None


def _plays_red_lm(turns: list[dict[str, str]]) -> bool:
    """False when every Red-LM turn is a refusal: the generator would not play the red-teamer."""
    asks = [t["value"] for t in turns if t["from"] == "human"]
    return not asks or not all(find_refusal(said) for said in asks)


async def _generate(settings: GenerateSettings, echo: Callable[[str], None]) -> dict[str, int]:
    from ..models import build_judge_model, resolve_model

    out = Path(settings.out)
    unknown = [s for s in settings.stages if s not in STAGES]
    if unknown:
        raise RedInstructError(f"unknown stage(s) {', '.join(unknown)}: use {', '.join(STAGES)}")
    if settings.retries < 0:
        raise RedInstructError("--retries must be at least 0")
    spec = resolve_model(settings.model, model_args=settings.model_args)
    out.mkdir(parents=True, exist_ok=True)
    write_settings(out, settings)
    prompts = {name: load_prompt(name, settings.prompts_dir) for name in PROMPT_NAMES}
    generator: Generator | None = None

    def gen() -> Generator:
        nonlocal generator
        if generator is None:
            _, connections = resolve_limits(settings, spec.is_local)
            generator = Generator(build_judge_model(spec, connections), settings, is_local=spec.is_local, greedy=spec.provider == "hf")
        return generator

    ran: dict[str, int] = {}

    def check(stage: str) -> None:
        """Stop the run when a requested stage ended with nothing usable."""
        report = {r.stage: r for r in stage_reports(out, settings)}[stage]
        if report.got == 0:
            if stage in ("blue", "red"):  # the questions (and blue conversations) are usable: keep them
                write_outputs(out, settings.conversations_per_question, settings.questions_per_subtopic)
            calls = generator.calls_by_stage.get(stage, 0) if generator else 0
            raise RunFailed(report.nothing_usable(calls, out / f"{stage}.jsonl"))

    # 1. topics
    if "topics" in settings.stages:
        stage = StageFile(out, "topics")

        async def make_topics(tries: UnitTries) -> dict[str, Any]:
            if settings.seed_topics:
                lines = Path(settings.seed_topics).read_text(encoding="utf-8").splitlines()
                names = [t.strip() for t in lines if t.strip()][: settings.topics]
                return {"topics": names, "raw": None, "error": None, "problem": None if names else EMPTY}

            async def once(attempt: Attempt) -> Try:
                raw, error = await gen()(fill(prompts["topics"], n=settings.topics), attempt=attempt, stage="topics")
                return _listed(raw, error, _names(raw, settings.topics))

            result = await tries.run(once)
            return {"topics": result.value or [], "raw": result.raw, "error": result.error, "problem": result.problem}

        ran["topics"] = await _run_units([("topics", make_topics)], stage, "list", settings)
        check("topics")
    topics = topic_list(out)
    echo(f"topics: {len(topics)}")

    # 2. subtopics
    if "subtopics" in settings.stages:
        stage = StageFile(out, "subtopics")

        def make_subtopics(topic: str) -> Unit:
            async def make(tries: UnitTries) -> dict[str, Any]:
                async def once(attempt: Attempt) -> Try:
                    prompt = fill(prompts["subtopics"], n=settings.subtopics_per_topic, topic=topic)
                    raw, error = await gen()(prompt, attempt=attempt, stage="subtopics")
                    return _listed(raw, error, _names(raw, settings.subtopics_per_topic))

                result = await tries.run(once)
                return {"topic": topic, "subtopics": result.value or [], "raw": result.raw, "error": result.error, "problem": result.problem}

            return make

        ran["subtopics"] = await _run_units([(t, make_subtopics(t)) for t in topics], stage, "topic", settings)
        check("subtopics")
    pairs = subtopic_list(out, topics)
    echo(f"subtopics: {len(pairs)}")

    # 3. questions (CoU: the generator plays Red-LM listing questions)
    if "questions" in settings.stages:
        stage = StageFile(out, "questions")

        def make_questions(topic: str, subtopic: str) -> Unit:
            async def make(tries: UnitTries) -> dict[str, Any]:
                prompt = fill(prompts["questions"], n=settings.questions_per_subtopic, topic=topic, subtopic=subtopic)
                open_first = prompt.rstrip().endswith("1.")

                async def once(attempt: Attempt) -> Try:
                    raw, error = await gen()(prompt, attempt=attempt, stage="questions")
                    return _questions_try(raw, error, parse_list(raw, first_item_open=open_first))

                result = await tries.run(once)
                return {"topic": topic, "subtopic": subtopic, "candidates": result.value or [], "raw": result.raw,
                        "error": result.error, "problem": result.problem}

            return make

        ran["questions"] = await _run_units([(f"{t}/{s}", make_questions(t, s)) for t, s in pairs], stage, "subtopic", settings)
        check("questions")
    questions, _ = accepted_questions(out, pairs, settings.questions_per_subtopic)
    echo(f"questions: {len(questions)}")

    # 4. blue conversations: Red-LM pursues the agenda subtly, Base-LM stays helpful and harmless
    if "blue" in settings.stages:
        stage = StageFile(out, "blue")

        def make_blue(q: dict[str, Any]) -> Unit:
            slots = {"question": q["question"], "topic": q["topic"], "subtopic": q["subtopic"]}

            async def make(tries: UnitTries) -> dict[str, Any]:
                async def once(attempt: Attempt) -> Try:
                    # one call for the whole conversation; a generator that cannot keep the format
                    # gets it built turn by turn instead
                    raw, error = await gen()(fill(prompts["blue"], turns=settings.turns, **slots), attempt=attempt, stage="blue")
                    if error:
                        return Try(problem=GENERATION_ERROR, raw=raw, error=error)
                    turns = _conversation_from(raw, settings.turns)
                    mode = "one_shot"
                    if turns is None:
                        mode = "turn_by_turn"
                        turns, error = await _blue_turn_by_turn(gen(), prompts, settings.turns, slots, attempt)
                        if error:
                            return Try(problem=GENERATION_ERROR, raw=raw, error=error)
                    if not turns:
                        return Try(problem=REFUSED if find_refusal(raw) else UNPARSEABLE, raw=raw)
                    if not _plays_red_lm(turns):
                        return Try(problem=REFUSED, raw=raw)
                    return Try(value=(turns, mode), raw=raw)

                result = await tries.run(once)
                turns, mode = result.value or ([], None)
                return {"question_id": q["id"], "turns": turns, "dropped": result.problem, "mode": mode, "raw": result.raw,
                        "error": result.error, "problem": result.problem}

            return make

        units = [
            (f"{q['id']}#{k}", make_blue(q)) for q in questions for k in range(settings.conversations_per_question)
        ]
        ran["blue"] = await _run_units(units, stage, "conversation", settings)
        check("blue")

    # 5. red conversations: the same Red-LM turns, Base-LM answering under a CoU red-teaming prompt
    if "red" in settings.stages:
        stage = StageFile(out, "red")
        by_id = {q["id"]: q for q in questions}

        def make_red(blue: dict[str, Any]) -> Unit:
            async def make(tries: UnitTries) -> dict[str, Any]:
                question = by_id[blue["question_id"]]["question"]
                history: list[dict[str, str]] = []
                for index, turn in enumerate(blue["turns"]):
                    if turn["from"] != "human":
                        continue
                    history.append(turn)
                    prompt = fill(prompts["red"], question=question, history=history_text(history))

                    async def once(attempt: Attempt) -> Try:
                        raw, error = await gen()(prompt, BLUE_TAG_STOP, attempt, "red")
                        if error:
                            return Try(problem=GENERATION_ERROR, raw=raw, error=error)
                        reply = clean_reply(raw)
                        if not reply:
                            return Try(problem=EMPTY, raw=raw)
                        if find_refusal(reply):
                            return Try(problem=REFUSED, raw=raw)
                        return Try(value=reply, raw=raw)

                    result = await tries.run(once, part=f"turn {index + 1}")
                    if result.problem is not None:  # the conversation stops at a reply still unusable
                        return {"question_id": blue["question_id"], "turns": [], "dropped": result.problem,
                                "error": result.error, "problem": result.problem}
                    history.append({"from": "gpt", "value": result.value})
                return {"question_id": blue["question_id"], "turns": history, "dropped": None, "error": None, "problem": None}

            return make

        units = [
            (key, make_red(record))
            for key, record in StageFile(out, "blue").records.items()
            if is_finished(record) and record["question_id"] in by_id
        ]
        ran["red"] = await _run_units(units, stage, "conversation", settings)
        check("red")

    ran["generator_calls"] = generator.calls if generator else 0
    if questions:
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
    (out / "harmfulqa.json").write_text(json.dumps(records, indent=1, ensure_ascii=False))
    (out / "questions.json").write_text(json.dumps(nested, indent=1, ensure_ascii=False))
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
