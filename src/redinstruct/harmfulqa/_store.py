"""One JSONL file per stage (a unit of work is written once, whole, when its generation finishes), and what the stages hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._journal import Journal
from ..data import content_id
from ._parse import filter_questions
from ._tries import is_finished

STAGES = ("topics", "subtopics", "questions", "blue", "red")


class StageFile(Journal[str]):
    """Finished units of one stage, keyed by `key`; a line cut short by a kill is ignored (and redone)."""

    def __init__(self, out_dir: Path, stage: str):
        self.name = stage
        super().__init__(out_dir / f"{stage}.jsonl", lambda record: str(record["key"]))

    def add(self, record: dict[str, Any]) -> None:
        self.append(record)


def topic_list(out: Path) -> list[str]:
    record = StageFile(out, "topics").get("topics")
    return list(record["topics"]) if record and is_finished(record) else []


def subtopic_list(out: Path, topics: list[str]) -> list[tuple[str, str]]:
    stage = StageFile(out, "subtopics")
    pairs = []
    for topic in topics:
        record = stage.get(topic)
        if record and is_finished(record):
            pairs.extend((topic, s) for s in record["subtopics"])
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
        if record is None or not is_finished(record):
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
