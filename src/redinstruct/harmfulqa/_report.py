"""What each HARMFULQA stage was asked for and what it gave: wanted, got, refused, unparseable, failed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._secrets import write_public
from ._store import StageFile, accepted_questions, subtopic_list, topic_list
from ._tries import EMPTY, GENERATION_ERROR, REFUSED, UNPARSEABLE, is_finished

SETTINGS_FILE = "generation.json"
# reasons older folders stored under "dropped"
_OLD_REASONS = {"generator_refused": REFUSED, "empty_reply": EMPTY, "unparseable": UNPARSEABLE, "generation_error": GENERATION_ERROR}


@dataclass(frozen=True)
class Targets:
    topics: int
    subtopics_per_topic: int
    questions_per_subtopic: int
    conversations_per_question: int


def write_settings(out: Path, settings: Any) -> None:
    """The run's targets beside its stage files, so `harmfulqa stats` can say what was wanted."""
    record = {"model": settings.model, "retries": settings.retries, "turns": settings.turns, "stages": list(settings.stages),
              **asdict(targets_of(settings))}
    write_public(out / SETTINGS_FILE, json.dumps(record, indent=1) + "\n")


def targets_of(settings: Any) -> Targets:
    return Targets(settings.topics, settings.subtopics_per_topic, settings.questions_per_subtopic, settings.conversations_per_question)


def read_targets(out: Path) -> Targets | None:
    path = out / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return Targets(*(int(record[name]) for name in Targets.__dataclass_fields__))
    except (ValueError, KeyError, TypeError):
        return None


def _problem(record: dict[str, Any]) -> str:
    return record.get("problem") or _OLD_REASONS.get(record.get("dropped") or "", "") or (GENERATION_ERROR if record.get("error") else UNPARSEABLE)


@dataclass
class StageReport:
    stage: str
    wanted: int | None  # None: the targets are not known (a folder from an older version)
    got: int
    units: int = 0
    failed: int = 0
    refused: int = 0
    unparseable: int = 0  # nothing parsed, or an empty reply
    errors: int = 0  # generation errors
    attempts: int = 0

    def count(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self.units += 1
            self.attempts += len(record.get("attempts") or []) or 1
            if is_finished(record):
                continue
            self.failed += 1
            problem = _problem(record)
            if problem == REFUSED:
                self.refused += 1
            elif problem == GENERATION_ERROR:
                self.errors += 1
            else:
                self.unparseable += 1

    def line(self) -> str:
        wanted = "?" if self.wanted is None else str(self.wanted)
        return (f"{self.stage}: wanted {wanted}, got {self.got}; {self.units} units, {self.failed} failed "
                f"({self.refused} refused, {self.unparseable} unparseable, {self.errors} generation errors), {self.attempts} attempts")

    def nothing_usable(self, calls: int, path: Path) -> str:
        if self.units == 0:
            return f"harmfulqa {self.stage}: nothing to work on (the stage before it gave nothing usable)"
        return (f"harmfulqa {self.stage}: nothing usable after {calls} generator calls this run ({self.failed} of {self.units} units "
                f"failed: {self.refused} refused, {self.unparseable} unparseable, {self.errors} generation errors); raw replies in "
                f"{path}; run the same command again to retry the failed units")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stage_reports(out: Path, targets: Any | None = None) -> list[StageReport]:
    """One report per stage, over the units that belong to the current topics, subtopics and questions."""
    goal = targets if isinstance(targets, Targets) or targets is None else targets_of(targets)
    goal = goal or read_targets(out)
    stages = {name: StageFile(out, name) for name in ("topics", "subtopics", "questions", "blue", "red")}
    topics = topic_list(out)
    pairs = subtopic_list(out, topics)
    per_subtopic = goal.questions_per_subtopic if goal else 1_000_000
    questions, _ = accepted_questions(out, pairs, per_subtopic)
    ids = {q["id"] for q in questions}
    blue_records = [r for r in stages["blue"].records.values() if r.get("question_id") in ids]
    blue_done = {r["key"] for r in blue_records if is_finished(r)}
    red_records = [r for key, r in stages["red"].records.items() if key in blue_done]

    def want(value: int) -> int | None:
        return value if goal else None

    reports = [
        StageReport("topics", goal.topics if goal else None, len(topics)),
        StageReport("subtopics", want(len(topics) * (goal.subtopics_per_topic if goal else 0)), len(pairs)),
        StageReport("questions", want(len(pairs) * per_subtopic), len(questions)),
        StageReport("blue", want(len(questions) * (goal.conversations_per_question if goal else 0)), len(blue_done)),
        StageReport("red", len(blue_done), sum(1 for r in red_records if is_finished(r))),
    ]
    reports[0].count(list(stages["topics"].records.values()))
    reports[1].count([r for key, r in stages["subtopics"].records.items() if key in topics])
    pair_keys = {f"{topic}/{subtopic}" for topic, subtopic in pairs}
    reports[2].count([r for key, r in stages["questions"].records.items() if key in pair_keys])
    reports[3].count(blue_records)
    reports[4].count(red_records)
    return reports
