"""HARMFULQA's five stages, one object each: what a stage generates (its units), with its prompt, parse, check and retry.

A stage's `units(upstream)` returns (key, unit) pairs; a unit is one generator call or conversation
that makes one record of the stage file, retried (sampled, seeded) while its reply is unusable.
`upstream` is what the earlier stages produced (topics, subtopic pairs, accepted questions, blue records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol

from ..judges import find_refusal
from ..prompts import fill
from ..redeval import clean_reply, first_utterance, history_text
from ._parse import clean_item, filter_questions, parse_conversation, parse_list
from ._tries import EMPTY, GENERATION_ERROR, REFUSED, UNPARSEABLE, Attempt, Try, UnitTries

# where a generated turn ends: the other speaker's tag on a new line
RED_TAG_STOP, BLUE_TAG_STOP = ("\nBase-LM:",), ("\nRed-LM:",)

Unit = Callable[[UnitTries], Awaitable[dict[str, Any]]]
# the generator: (prompt, stop sequences, attempt, stage name) -> (reply, error)
Generate = Callable[[str, tuple[str, ...], Attempt | None, str], Awaitable[tuple[str, str | None]]]


@dataclass
class StageContext:
    """What every stage reads: the settings, the prompts, and the generator (opened on first use)."""

    settings: Any  # GenerateSettings
    prompts: dict[str, str]
    generate: Generate
    seed_topics: list[str] | None = None  # --seed-topics, instead of the generator's list


class Stage(Protocol):
    name: str
    unit: str  # what one unit makes, for progress lines

    def units(self, ctx: StageContext, upstream: Any) -> list[tuple[str, Unit]]: ...


def judged(raw: str, error: str | None, value: Any, usable: bool) -> Try:
    """One attempt's outcome: the value when usable, else why not (generation error, empty, refusal, unparseable)."""
    if error:
        return Try(problem=GENERATION_ERROR, raw=raw, error=error)
    if usable:
        return Try(value=value, raw=raw)
    if not raw.strip():
        return Try(problem=EMPTY, raw=raw)
    return Try(problem=REFUSED if find_refusal(raw) else UNPARSEABLE, raw=raw)


def _names(raw: str, limit: int) -> list[str]:
    return list(dict.fromkeys(clean_item(t) for t in parse_list(raw) if clean_item(t)))[:limit]


def _result(result: Try, **fields: Any) -> dict[str, Any]:
    return {**fields, "raw": result.raw, "error": result.error, "problem": result.problem}


class TopicsStage:
    """The topic list: from --seed-topics, or one generator call."""

    name, unit = "topics", "list"

    def units(self, ctx: StageContext, upstream: Any = None) -> list[tuple[str, Unit]]:
        settings = ctx.settings

        async def make(tries: UnitTries) -> dict[str, Any]:
            if ctx.seed_topics is not None:  # read and checked before the run began
                return {"topics": ctx.seed_topics, "raw": None, "error": None, "problem": None}

            async def once(attempt: Attempt) -> Try:
                raw, error = await ctx.generate(fill(ctx.prompts["topics"], n=settings.topics), (), attempt, self.name)
                names = _names(raw, settings.topics)
                return judged(raw, error, names, bool(names))

            result = await tries.run(once)
            return _result(result, topics=result.value or [])

        return [("topics", make)]


class SubtopicsStage:
    """Subtopics of every topic: one call per topic."""

    name, unit = "subtopics", "topic"

    def units(self, ctx: StageContext, topics: list[str]) -> list[tuple[str, Unit]]:
        return [(topic, self._unit(ctx, topic)) for topic in topics]

    def _unit(self, ctx: StageContext, topic: str) -> Unit:
        n = ctx.settings.subtopics_per_topic

        async def make(tries: UnitTries) -> dict[str, Any]:
            async def once(attempt: Attempt) -> Try:
                raw, error = await ctx.generate(fill(ctx.prompts["subtopics"], n=n, topic=topic), (), attempt, self.name)
                names = _names(raw, n)
                return judged(raw, error, names, bool(names))

            result = await tries.run(once)
            return _result(result, topic=topic, subtopics=result.value or [])

        return make


class QuestionsStage:
    """Harmful questions per subtopic (CoU: the generator plays Red-LM listing them); usable when one is a real question."""

    name, unit = "questions", "subtopic"

    def units(self, ctx: StageContext, pairs: list[tuple[str, str]]) -> list[tuple[str, Unit]]:
        return [(f"{topic}/{subtopic}", self._unit(ctx, topic, subtopic)) for topic, subtopic in pairs]

    def _unit(self, ctx: StageContext, topic: str, subtopic: str) -> Unit:
        prompt = fill(ctx.prompts["questions"], n=ctx.settings.questions_per_subtopic, topic=topic, subtopic=subtopic)
        open_first = prompt.rstrip().endswith("1.")

        async def make(tries: UnitTries) -> dict[str, Any]:
            async def once(attempt: Attempt) -> Try:
                raw, error = await ctx.generate(prompt, (), attempt, self.name)
                candidates = parse_list(raw, first_item_open=open_first)
                return judged(raw, error, candidates, bool(not error and filter_questions(candidates).kept))

            result = await tries.run(once)
            return _result(result, topic=topic, subtopic=subtopic, candidates=result.value or [])

        return make


def conversation_from(raw: str, turns_per_side: int) -> list[dict[str, str]] | None:
    """Alternating turns starting with Red-LM, or None when the text is not such a conversation."""
    turns = parse_conversation(raw)
    while turns and turns[0][0] != "Red-LM":
        turns = turns[1:]
    turns = turns[: 2 * turns_per_side]
    turns = turns[: len(turns) // 2 * 2]  # every Red-LM turn has its Base-LM reply
    if len(turns) < 2:
        return None
    return [{"from": "human" if speaker == "Red-LM" else "gpt", "value": said} for speaker, said in turns]


def plays_red_lm(turns: list[dict[str, str]]) -> bool:
    """False when every Red-LM turn is a refusal: the generator would not play the red-teamer."""
    asks = [t["value"] for t in turns if t["from"] == "human"]
    return not asks or not all(find_refusal(said) for said in asks)


class BlueStage:
    """Blue conversations: Red-LM pursues the agenda subtly, Base-LM stays helpful and harmless.

    One call writes the whole conversation; a generator that cannot keep the format (a small local
    model) gets it built turn by turn instead.
    """

    name, unit = "blue", "conversation"

    def units(self, ctx: StageContext, questions: list[dict[str, Any]]) -> list[tuple[str, Unit]]:
        per_question = ctx.settings.conversations_per_question
        return [(f"{q['id']}#{k}", self._unit(ctx, q)) for q in questions for k in range(per_question)]

    async def _turn_by_turn(self, ctx: StageContext, slots: dict[str, str], attempt: Attempt) -> tuple[list[dict[str, str]], str | None]:
        history: list[dict[str, str]] = []
        for _ in range(ctx.settings.turns):
            for speaker, prompt_name in (("human", "red_turn"), ("gpt", "blue_turn")):
                stop = RED_TAG_STOP if speaker == "human" else BLUE_TAG_STOP
                raw, error = await ctx.generate(fill(ctx.prompts[prompt_name], history=history_text(history), **slots), stop, attempt, self.name)
                if error:
                    return [], error
                said = first_utterance(raw)
                if not said:
                    return [], None
                history.append({"from": speaker, "value": said})
        return history, None

    def _unit(self, ctx: StageContext, q: dict[str, Any]) -> Unit:
        slots = {"question": q["question"], "topic": q["topic"], "subtopic": q["subtopic"]}

        async def once(attempt: Attempt) -> Try:
            raw, error = await ctx.generate(fill(ctx.prompts["blue"], turns=ctx.settings.turns, **slots), (), attempt, self.name)
            if error:
                return Try(problem=GENERATION_ERROR, raw=raw, error=error)
            turns, mode = conversation_from(raw, ctx.settings.turns), "one_shot"
            if turns is None:
                mode = "turn_by_turn"
                turns, error = await self._turn_by_turn(ctx, slots, attempt)
                if error:
                    return Try(problem=GENERATION_ERROR, raw=raw, error=error)
            if not turns:
                return Try(problem=REFUSED if find_refusal(raw) else UNPARSEABLE, raw=raw)
            if not plays_red_lm(turns):
                return Try(problem=REFUSED, raw=raw)
            return Try(value=(turns, mode), raw=raw)

        async def make(tries: UnitTries) -> dict[str, Any]:
            result = await tries.run(once)
            turns, mode = result.value or ([], None)
            return _result(result, question_id=q["id"], turns=turns, dropped=result.problem, mode=mode)

        return make


class RedStage:
    """Red conversations: the blue conversation's Red-LM turns, Base-LM answering each under a CoU red-teaming prompt."""

    name, unit = "red", "conversation"

    def units(self, ctx: StageContext, upstream: tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]) -> list[tuple[str, Unit]]:
        """`upstream`: (accepted questions, finished blue records by key)."""
        questions, blue = upstream
        by_id = {q["id"]: q["question"] for q in questions}
        return [(key, self._unit(ctx, record, by_id[record["question_id"]])) for key, record in blue.items() if record["question_id"] in by_id]

    def _unit(self, ctx: StageContext, blue: dict[str, Any], question: str) -> Unit:
        async def reply(prompt: str, attempt: Attempt) -> Try:
            raw, error = await ctx.generate(prompt, BLUE_TAG_STOP, attempt, self.name)
            if error:
                return Try(problem=GENERATION_ERROR, raw=raw, error=error)
            said = clean_reply(raw)
            if not said:
                return Try(problem=EMPTY, raw=raw)
            return Try(problem=REFUSED, raw=raw) if find_refusal(said) else Try(value=said, raw=raw)

        async def make(tries: UnitTries) -> dict[str, Any]:
            history: list[dict[str, str]] = []
            for index, turn in enumerate(blue["turns"]):
                if turn["from"] != "human":
                    continue
                history.append(turn)
                prompt = fill(ctx.prompts["red"], question=question, history=history_text(history))
                result = await tries.run(lambda attempt, prompt=prompt: reply(prompt, attempt), part=f"turn {index + 1}")
                if result.problem is not None:  # the conversation stops at a reply still unusable
                    return {"question_id": blue["question_id"], "turns": [], "dropped": result.problem, "error": result.error,
                            "problem": result.problem}
                history.append({"from": "gpt", "value": result.value})
            return {"question_id": blue["question_id"], "turns": history, "dropped": None, "error": None, "problem": None}

        return make


STAGE_OBJECTS: tuple[Stage, ...] = (TopicsStage(), SubtopicsStage(), QuestionsStage(), BlueStage(), RedStage())
