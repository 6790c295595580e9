"""HARMFULQA generation (RED-INSTRUCT phase 1): topics -> subtopics -> questions -> blue -> red.

Every stage is resumable: each generator call is one unit of work, written to its stage file as
soon as it finishes, and skipped on the next run.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Awaitable, Callable

from inspect_ai.model import GenerateConfig, Model

from .._progress import Progress
from .._secrets import redact
from ..data import content_id
from ..errors import RedInstructError
from ..judges import find_refusal
from ..redeval import clean_reply
from ._parse import clean_item, filter_questions, parse_conversation, parse_list
from ._store import STAGES, StageFile

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
    temperature: float = 0.7
    prompts_dir: str | None = None


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
    if prompts_dir:
        path = Path(prompts_dir) / f"{name}.txt"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return resources.files("redinstruct.harmfulqa").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")


def fill(template: str, **slots: Any) -> str:
    for key, value in slots.items():
        template = template.replace("{" + key + "}", str(value))
    return template


class Generator:
    """The generator model with bounded concurrency; failures are returned as text-less results."""

    def __init__(self, model: Model, settings: GenerateSettings, is_local: bool = False, greedy: bool = False):
        self.model = model
        max_tokens, max_connections = resolve_limits(settings, is_local)
        self.gate = asyncio.Semaphore(max_connections)
        # local HF models decode greedily (do_sample=False), where a temperature means nothing
        temperature = None if greedy else settings.temperature
        self.config = GenerateConfig(max_tokens=max_tokens, temperature=temperature)
        self.calls = 0

    async def __call__(self, prompt: str, stop: tuple[str, ...] = ()) -> tuple[str, str | None]:
        async with self.gate:
            self.calls += 1
            config = self.config.merge(GenerateConfig(stop_seqs=list(stop))) if stop else self.config
            try:
                output = await self.model.generate(prompt, config=config)
                return output.completion, None
            except Exception as ex:
                return "", redact(f"generation error: {type(ex).__name__}: {ex}")


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _run_units(units: list[tuple[str, Callable[[], Awaitable[dict[str, Any]]]]], stage: StageFile, unit: str) -> int:
    """Run the units not yet in `stage` (or that failed last time), writing each as it finishes."""
    todo = [(key, make) for key, make in units if key not in stage or (stage.get(key) or {}).get("error")]
    if not todo:
        return 0
    progress = Progress(f"harmfulqa {stage.name}", len(todo), unit=unit)

    async def run(key: str, make: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        record = await make()
        record["key"] = key
        stage.add(record)
        progress.advance()

    with progress:
        await asyncio.gather(*(run(key, make) for key, make in todo))
    return len(todo)


def topic_list(out: Path, settings: GenerateSettings | None = None) -> list[str]:
    record = StageFile(out, "topics").get("topics")
    return list(record["topics"]) if record else []


def subtopic_list(out: Path, topics: list[str]) -> list[tuple[str, str]]:
    stage = StageFile(out, "subtopics")
    pairs = []
    for topic in topics:
        record = stage.get(topic)
        pairs.extend((topic, s) for s in (record["subtopics"] if record else []))
    return pairs


def accepted_questions(out: Path, pairs: list[tuple[str, str]], per_subtopic: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Filter the raw candidates in a fixed order (so reruns agree), dropping refusals and duplicates."""
    stage = StageFile(out, "questions")
    accepted: list[dict[str, Any]] = []
    seen: list[str] = []
    drops: dict[str, int] = {}
    short: list[dict[str, Any]] = []
    for topic, subtopic in pairs:
        record = stage.get(f"{topic}/{subtopic}")
        if record is None:
            continue
        result = filter_questions(record["candidates"], seen)
        for reason, items in result.dropped.items():
            drops[reason] = drops.get(reason, 0) + len(items)
        kept = result.kept[:per_subtopic]
        seen.extend(kept)
        if len(kept) < per_subtopic:
            short.append({"topic": topic, "subtopic": subtopic, "questions": len(kept), "wanted": per_subtopic})
        accepted.extend(
            {"id": content_id(q, topic, subtopic), "topic": topic, "subtopic": subtopic, "question": q} for q in kept
        )
    return accepted, {"drops": drops, "short_subtopics": short}


def _turns_as_chat(turns: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"from": "human" if speaker == "Red-LM" else "gpt", "value": said} for speaker, said in turns]


def _history_text(turns: list[dict[str, str]]) -> str:
    return "\n".join(("Red-LM: " if t["from"] == "human" else "Base-LM: ") + t["value"] for t in turns) or "(nothing yet)"


def _conversation_from(raw: str, turns_per_side: int) -> list[dict[str, str]] | None:
    """Alternating turns starting with Red-LM, or None when the text is not such a conversation."""
    turns = parse_conversation(raw)
    while turns and turns[0][0] != "Red-LM":
        turns = turns[1:]
    turns = turns[: 2 * turns_per_side]
    if len(turns) < 2:
        return None
    return _turns_as_chat(turns)


def _first_utterance(raw: str) -> str:
    """A single turn's text: cut at a following speaker tag, drop a leading tag."""
    text = clean_reply(raw)  # also drops internal thoughts and everything from "Red-LM:"
    return text.split("\nBase-LM:")[0].strip()


async def _blue_turn_by_turn(
    generator: "Generator", prompts: dict[str, str], turns_per_side: int, slots: dict[str, str]
) -> tuple[list[dict[str, str]], str | None]:
    history: list[dict[str, str]] = []
    for _ in range(turns_per_side):
        for speaker, prompt_name in (("human", "red_turn"), ("gpt", "blue_turn")):
            stop = RED_TAG_STOP if speaker == "human" else BLUE_TAG_STOP
            raw, error = await generator(fill(prompts[prompt_name], history=_history_text(history), **slots), stop)
            if error:
                return [], error
            said = _first_utterance(raw)
            if not said:
                return [], None
            history.append({"from": speaker, "value": said})
    return history, None


async def _generate(settings: GenerateSettings, echo: Callable[[str], None]) -> dict[str, int]:
    from ..models import build_model, resolve_model

    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    unknown = [s for s in settings.stages if s not in STAGES]
    if unknown:
        raise RedInstructError(f"unknown stage(s) {', '.join(unknown)}: use {', '.join(STAGES)}")
    prompts = {name: load_prompt(name, settings.prompts_dir) for name in PROMPT_NAMES}
    generator: Generator | None = None

    def gen() -> Generator:
        nonlocal generator
        if generator is None:
            spec = resolve_model(settings.model)
            generator = Generator(build_model(spec), settings, is_local=spec.is_local, greedy=spec.provider == "hf")
        return generator

    ran: dict[str, int] = {}

    # 1. topics
    if "topics" in settings.stages:
        stage = StageFile(out, "topics")

        async def make_topics() -> dict[str, Any]:
            if settings.seed_topics:
                lines = Path(settings.seed_topics).read_text(encoding="utf-8").splitlines()
                return {"topics": [t.strip() for t in lines if t.strip()][: settings.topics], "raw": None, "error": None}
            raw, error = await gen()(fill(prompts["topics"], n=settings.topics))
            names = list(dict.fromkeys(clean_item(t) for t in parse_list(raw) if clean_item(t)))
            return {"topics": names[: settings.topics], "raw": raw, "error": error}

        ran["topics"] = await _run_units([("topics", make_topics)], stage, "list")
    topics = topic_list(out, settings)
    echo(f"topics: {len(topics)}")

    # 2. subtopics
    if "subtopics" in settings.stages:
        stage = StageFile(out, "subtopics")

        def make_subtopics(topic: str) -> Callable[[], Awaitable[dict[str, Any]]]:
            async def make() -> dict[str, Any]:
                raw, error = await gen()(fill(prompts["subtopics"], n=settings.subtopics_per_topic, topic=topic))
                names = list(dict.fromkeys(clean_item(t) for t in parse_list(raw) if clean_item(t)))
                return {"topic": topic, "subtopics": names[: settings.subtopics_per_topic], "raw": raw, "error": error}

            return make

        ran["subtopics"] = await _run_units([(t, make_subtopics(t)) for t in topics], stage, "topic")
    pairs = subtopic_list(out, topics)
    echo(f"subtopics: {len(pairs)}")

    # 3. questions (CoU: the generator plays Red-LM listing questions)
    if "questions" in settings.stages:
        stage = StageFile(out, "questions")

        def make_questions(topic: str, subtopic: str) -> Callable[[], Awaitable[dict[str, Any]]]:
            async def make() -> dict[str, Any]:
                prompt = fill(prompts["questions"], n=settings.questions_per_subtopic, topic=topic, subtopic=subtopic)
                raw, error = await gen()(prompt)
                open_first = prompt.rstrip().endswith("1.")
                return {"topic": topic, "subtopic": subtopic, "candidates": parse_list(raw, first_item_open=open_first), "raw": raw, "error": error}

            return make

        ran["questions"] = await _run_units([(f"{t}/{s}", make_questions(t, s)) for t, s in pairs], stage, "subtopic")
    questions, _ = accepted_questions(out, pairs, settings.questions_per_subtopic)
    echo(f"questions: {len(questions)}")

    # 4. blue conversations: Red-LM pursues the agenda subtly, Base-LM stays helpful and harmless
    if "blue" in settings.stages:
        stage = StageFile(out, "blue")

        def make_blue(q: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
            slots = {"question": q["question"], "topic": q["topic"], "subtopic": q["subtopic"]}

            async def make() -> dict[str, Any]:
                # one call for the whole conversation; a generator that cannot keep the format
                # gets it built turn by turn instead
                raw, error = await gen()(fill(prompts["blue"], turns=settings.turns, **slots))
                if error:
                    return {"question_id": q["id"], "turns": [], "dropped": "generation_error", "raw": raw, "error": error}
                turns = _conversation_from(raw, settings.turns)
                mode = "one_shot"
                if turns is None:
                    mode = "turn_by_turn"
                    turns, error = await _blue_turn_by_turn(gen(), prompts, settings.turns, slots)
                dropped = None
                if error:
                    dropped = "generation_error"
                elif not turns:
                    dropped = "generator_refused" if find_refusal(raw) else "unparseable"
                return {"question_id": q["id"], "turns": turns or [], "dropped": dropped, "mode": mode, "raw": raw, "error": error}

            return make

        units = [
            (f"{q['id']}#{k}", make_blue(q)) for q in questions for k in range(settings.conversations_per_question)
        ]
        ran["blue"] = await _run_units(units, stage, "conversation")

    # 5. red conversations: the same Red-LM turns, Base-LM answering under a CoU red-teaming prompt
    if "red" in settings.stages:
        blue_stage = StageFile(out, "blue")
        stage = StageFile(out, "red")
        by_id = {q["id"]: q for q in questions}

        def make_red(blue: dict[str, Any]) -> Callable[[], Awaitable[dict[str, Any]]]:
            async def make() -> dict[str, Any]:
                question = by_id[blue["question_id"]]["question"]
                history: list[dict[str, str]] = []
                for turn in blue["turns"]:
                    if turn["from"] != "human":
                        continue
                    history.append(turn)
                    raw, error = await gen()(fill(prompts["red"], question=question, history=_history_text(history)), BLUE_TAG_STOP)
                    if error:
                        return {"question_id": blue["question_id"], "turns": [], "dropped": "generation_error", "error": error}
                    reply = clean_reply(raw)
                    if not reply:
                        return {"question_id": blue["question_id"], "turns": [], "dropped": "empty_reply", "error": None}
                    if find_refusal(reply):
                        return {"question_id": blue["question_id"], "turns": [], "dropped": "generator_refused", "error": None}
                    history.append({"from": "gpt", "value": reply})
                return {"question_id": blue["question_id"], "turns": history, "dropped": None, "error": None}

            return make

        units = [
            (key, make_red(record))
            for key, record in blue_stage.records.items()
            if not record.get("dropped") and record["question_id"] in by_id
        ]
        ran["red"] = await _run_units(units, stage, "conversation")

    ran["generator_calls"] = generator.calls if generator else 0
    write_outputs(out, settings.conversations_per_question, settings.questions_per_subtopic)
    return ran


def write_outputs(out: Path, conversations: int, per_subtopic: int) -> list[dict[str, Any]]:
    """`harmfulqa.json` (the public HarmfulQA schema) and `questions.json` ({topic: {subtopic: [...]}})."""
    import json

    topics = [r for r in StageFile(out, "topics").records.values()]
    topic_names = topics[0]["topics"] if topics else []
    pairs = subtopic_list(out, topic_names)
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
            conv_blue[str(k)] = b["turns"] if b and not b.get("dropped") else None
            conv_red[str(k)] = r["turns"] if r and not r.get("dropped") else None
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
    """Run the requested stages; returns how many units each stage ran (0 when all were done)."""
    return asyncio.run(_generate(settings, echo))
