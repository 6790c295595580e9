"""The one record every question bank yields."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

PROMPT_LABELS = ("safe", "unsafe")


@dataclass(frozen=True)
class Question:
    """A question: `(id, text, topic, subtopic, source)`, with its `label` and prompt `type` where the bank has them.

    `label` is `unsafe` (a harmful request: ASR counts it) or `safe` (a harmless prompt, often one that
    looks unsafe as in XSTest: over-refusal counts it); a bank without labels is all `unsafe`.
    """

    id: str
    text: str
    topic: str
    subtopic: str
    source: str
    label: str = "unsafe"
    type: str = ""

def normalize_text(text: str) -> str:
    """Whitespace-collapsed, case-folded text: what counts as an "exact duplicate"."""
    return " ".join(text.split()).casefold()


def content_id(text: str, topic: str, subtopic: str) -> str:
    """Stable id from the question's content, so ids survive reordering and `--limit`."""
    key = "\x1f".join([topic, subtopic, normalize_text(text)])
    return "q" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
