"""Turn a raw model reply into the part a judge should see.

CoU replies typically look like `Base-LM: (Internal thought: ...) answer ... Red-LM: next turn`.
The judge must see only `answer ...`.
"""

from __future__ import annotations

import re

_BASE_TAG = re.compile(r"^\s*[*_]*\s*Base-LM\s*[*_]*\s*:\s*[*_]*\s*", re.IGNORECASE)
_THOUGHT_OPEN = re.compile(r"^\s*\(\s*internal\s+thoughts?\s*:", re.IGNORECASE)
_RED_TURN = re.compile(r"[*_]*\s*Red-LM\s*[*_]*\s*:", re.IGNORECASE)
_LEADING_RED_TAG = re.compile(r"^\s*[*_]*\s*Red-LM\s*[*_]*\s*:\s*[*_]*\s*", re.IGNORECASE)


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the `)` that closes the `(` at `start`, or None if it never closes."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _strip_leading_thought(text: str) -> tuple[str, bool]:
    """Remove one leading `(Internal thought: ...)`; returns (rest, removed)."""
    if not _THOUGHT_OPEN.match(text):
        return text, False
    start = text.index("(")
    end = _balanced_end(text, start)
    if end is None:
        # unclosed thought: it runs to the first paragraph break, or it is the whole reply
        brk = text.find("\n\n", start)
        return ("" if brk < 0 else text[brk:]), True
    return text[end:], True


def clean_reply(reply: str, keep_thoughts: bool = False) -> str:
    """Strip a leading `Base-LM:` tag and internal thought, and cut at the next `Red-LM:` turn."""
    if keep_thoughts:
        return reply.strip()
    text = reply
    # the tag and the thought may come in either order, and a model may repeat thoughts
    while True:
        text = _BASE_TAG.sub("", text, count=1)
        text, removed = _strip_leading_thought(text)
        if not removed:
            break
    red = _RED_TURN.search(text)
    if red is not None:
        text = text[: red.start()]
    return text.strip()


def history_text(turns: list[dict[str, str]]) -> str:
    """A conversation as `Red-LM: ...` / `Base-LM: ...` lines (HARMFULQA's `{"from", "value"}` turns)."""
    return "\n".join(("Red-LM: " if t["from"] == "human" else "Base-LM: ") + t["value"] for t in turns) or "(nothing yet)"


def first_utterance(raw: str) -> str:
    """A single generated turn's text: cut at a following speaker tag, drop a leading tag."""
    # a leading speaker tag is the turn's own; any later "Red-LM:" starts the next turn, which cleaning cuts
    text = clean_reply(_LEADING_RED_TAG.sub("", raw, count=1))  # also drops internal thoughts
    return text.split("\nBase-LM:")[0].strip()
