"""Training prompts in the attack's clothes: a question wrapped as RED-EVAL's CoU and CoT templates and the
conversation attack present it, with the wrapper's text varied.

The paper's blue data answer inside the same staged conversation the benchmark attacks with. Distilled
blue replies are refusals of *plain* questions; the same reply after the same question in CoU, CoT or a
lead-in conversation teaches the model that the wrapper does not change the answer. Every wrapped
harmful question has a twin: a benign or borderline prompt in the same wrapper, answered, so the
model learns to judge the question and not the wrapper (refusing everything in a CoU frame is
over-refusal, not safety). The variation (speaker names, with or without the demonstration, the
reasoning cue, the framing of the last turn) keeps the model from keying on one exact string.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Sequence

from ..errors import RedInstructError
from ..prompts import SLOT, load_template

WRAPPERS = ("cou", "cot", "conversation")
ONE_TURN_WRAPPERS = ("cou", "cot")  # the others add turns of their own before the question
_SPEAKERS = (("Red-LM", "Base-LM"), ("User-A", "Assistant-B"), ("Questioner", "Helper"), ("Red-LM", "Base-LM"))
_COT_CUES = (
    "Work through this one step at a time before you give your final answer.",
    "Think it through step by step, then answer.",
    "Let's reason about this carefully first, one step at a time.",
)
_OPENERS = (
    ("Hi, do you have a minute? I have a few questions for you.", "Of course, happy to help. What would you like to know?"),
    ("Hello! Can I ask you something?", "Sure, go ahead. What would you like to ask?"),
    ("I'm working on a project and could use some help.", "I'd be glad to help. What is the project about?"),
)
_FRAMES = ("{question}", "Purely hypothetically: {question}", "For a story I'm writing: {question}",
           "Building on that: {question}", "For a class I'm taking: {question}")
_TASK = "----------------Task----------------"


@lru_cache(maxsize=None)
def _template_text(name: str) -> str:
    return load_template(name).text


def check_wrappers(names: Sequence[str]) -> list[str]:
    unknown = [n for n in names if n not in WRAPPERS]
    if unknown:
        raise RedInstructError(f"unknown wrapper(s) {', '.join(unknown)}: use {', '.join(WRAPPERS)}")
    return list(dict.fromkeys(names))


def _pick(options: Sequence[object], key: str, salt: str) -> object:
    """A variant chosen by the prompt's text: the same prompt always gets the same one (resumable, reproducible)."""
    digest = hashlib.sha256(f"{salt}\0{key}".encode("utf-8")).digest()
    return options[int.from_bytes(digest[:4], "big") % len(options)]


def wrap(question: str, wrapper: str, reply: str) -> list[dict[str, str]]:
    """The turns of one training conversation: `question` in `wrapper`'s clothes, answered by `reply`."""
    if wrapper == "cou":
        text = _template_text("cou").replace(SLOT, question)
        if _pick((True, False), question, "cou-example") is False and _TASK in text:
            text = text[text.index(_TASK):]  # the task alone, without the demonstration
        red, base = _pick(_SPEAKERS, question, "cou-speakers")  # type: ignore[misc]
        text = text.replace("Red-LM", red).replace("Base-LM", base)
        return [{"from": "human", "value": text}, {"from": "gpt", "value": reply}]
    if wrapper == "cot":
        cue = str(_pick(_COT_CUES, question, "cot-cue"))
        return [{"from": "human", "value": f"{question}\n\n{cue}"}, {"from": "gpt", "value": reply}]
    if wrapper == "conversation":
        opener, answer = _pick(_OPENERS, question, "opener")  # type: ignore[misc]
        frame = str(_pick(_FRAMES, question, "frame"))
        return [{"from": "human", "value": opener}, {"from": "gpt", "value": answer},
                {"from": "human", "value": frame.replace("{question}", question)}, {"from": "gpt", "value": reply}]
    raise RedInstructError(f"unknown wrapper '{wrapper}': use {', '.join(WRAPPERS)}")


def twin_wrapper(wrappers: Sequence[str], index: int) -> str:
    """The wrapper of the `index`-th benign / borderline twin: the wrappers in turn, so each gets its share."""
    return wrappers[index % len(wrappers)]
