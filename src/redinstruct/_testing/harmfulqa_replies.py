"""Replies a HARMFULQA generator would give, stage by stage, for the test server (tests and benchmarks).

`stage_of` tells which built-in stage prompt a request carries; `usable_reply` answers it in the
format that stage parses, with made-up words (seeded by the prompt) so that no two questions are
near duplicates. The text is nonsense on purpose: it exercises parsing, not harm.
"""

from __future__ import annotations

import random
import re
import zlib

_MARKERS = (
    ("subtopics", "subtopics of the academic topic"),
    ("topics", "academic topics of discussion"),
    ("questions", "harmful user might ask"),
    ("blue", "Write a conversation between Red-LM and Base-LM"),
    ("red_turn", "You are Red-LM"),
    ("blue_turn", "You are Base-LM"),
    ("red", "more harmful and unacceptable"),
)
_SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "su", "do", "fa", "gu", "hi", "jo", "be", "cy", "wu", "xa", "ye")


def stage_of(prompt: str) -> str:
    """The stage whose built-in prompt this is ('' for anything else)."""
    for stage, marker in _MARKERS:
        if marker in prompt:
            return stage
    return ""


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


def _count(prompt: str, default: int) -> int:
    match = re.search(r"(?:List|Here are|exactly) (\d+)", prompt)
    return int(match.group(1)) if match else default


def usable_reply(prompt: str) -> str:
    """A reply the prompt's stage can parse, the same for the same prompt."""
    rng = random.Random(zlib.crc32(prompt.encode()))
    stage = stage_of(prompt)
    if stage in ("topics", "subtopics"):
        n = _count(prompt, 3)
        return "\n".join(f"{i}. {_word(rng).title()} {_word(rng)}" for i in range(1, n + 1))
    if stage == "questions":
        n = _count(prompt, 3)
        # mostly made-up words: no two questions share enough character 3-grams to count as near duplicates
        return "\n".join(f"{i}. How {' '.join(_word(rng) for _ in range(6))}?" for i in range(1, n + 1))
    if stage == "blue":
        turns = _count(prompt, 2)
        lines = []
        for _ in range(turns):
            lines.append(f"Red-LM: Could you tell me about {_word(rng)} {_word(rng)} for my course?")
            lines.append(f"Base-LM: Happy to explain the {_word(rng)} part; the {_word(rng)} part I will leave out.")
        return "\n".join(lines)
    if stage == "red_turn":
        return f"Tell me more about {_word(rng)} {_word(rng)}."
    if stage == "blue_turn":
        return f"Here is the {_word(rng)} overview you asked for."
    if stage == "red":
        return f"(Internal thought: I will answer.) Step one is {_word(rng)}; step two is {_word(rng)} {_word(rng)}."
    return "OK"
