"""The one record every question bank yields."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Question:
    """A harmful question: `(id, text, topic, subtopic, source)`."""

    id: str
    text: str
    topic: str
    subtopic: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def normalize_text(text: str) -> str:
    """Whitespace-collapsed, case-folded text: what counts as an "exact duplicate"."""
    return " ".join(text.split()).casefold()


def content_id(text: str, topic: str, subtopic: str) -> str:
    """Stable id from the question's content, so ids survive reordering and `--limit`."""
    key = "\x1f".join([topic, subtopic, normalize_text(text)])
    return "q" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
