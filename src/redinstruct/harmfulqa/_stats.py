"""Counts of a HARMFULQA generation folder: per stage, per topic, drops by reason, turns."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import RedInstructError
from ._store import accepted_questions, subtopic_list, topic_list
from ._report import stage_reports
from ._store import StageFile
from ._tries import is_finished


def generation_stats(out_dir: str | Path) -> dict[str, Any]:
    out = Path(out_dir)
    if not (out / "topics.jsonl").is_file():
        raise RedInstructError(f"{out} is not a HARMFULQA generation folder (no topics.jsonl)")
    topics = topic_list(out)
    pairs = subtopic_list(out, topics)
    per_subtopic = max((len(r.get("candidates") or []) for r in StageFile(out, "questions").records.values()), default=0)
    questions, question_info = accepted_questions(out, pairs, per_subtopic or 1_000_000)
    blue, red = StageFile(out, "blue"), StageFile(out, "red")
    ids_to_topic = {q["id"]: q["topic"] for q in questions}
    drops = Counter({f"question:{k}": v for k, v in question_info["drops"].items()})
    for name, stage in (("blue", blue), ("red", red)):
        for record in stage.records.values():
            if not is_finished(record):
                drops[f"{name}:{record.get('problem') or record.get('dropped') or 'generation_error'}"] += 1
    per_topic: dict[str, dict[str, int]] = {t: {"subtopics": 0, "questions": 0, "blue": 0, "red": 0} for t in topics}
    for topic, _ in pairs:
        per_topic[topic]["subtopics"] += 1
    for q in questions:
        per_topic[q["topic"]]["questions"] += 1
    turns: dict[str, list[int]] = {"blue": [], "red": []}
    for name, stage in (("blue", blue), ("red", red)):
        for record in stage.records.values():
            if not is_finished(record) or record["question_id"] not in ids_to_topic:
                continue
            per_topic[ids_to_topic[record["question_id"]]][name] += 1
            turns[name].append(sum(1 for t in record["turns"] if t["from"] == "gpt"))
    return {
        "stages": {
            "topics": len(topics),
            "subtopics": len(pairs),
            "questions": len(questions),
            "blue_conversations": sum(1 for r in blue.records.values() if is_finished(r)),
            "red_conversations": sum(1 for r in red.records.values() if is_finished(r)),
        },
        # wanted, got, units, failed (refused, unparseable, generation errors) and attempts per stage
        "per_stage": {report.stage: report.as_dict() for report in stage_reports(out)},
        "per_topic": per_topic,
        "drops": dict(drops),
        "short_subtopics": question_info["short_subtopics"],
        "turns_per_conversation": {
            name: {"mean": (sum(v) / len(v)) if v else None, "min": min(v, default=None), "max": max(v, default=None)}
            for name, v in turns.items()
        },
    }


def dump(stats: dict[str, Any]) -> str:
    return json.dumps(stats, indent=2, ensure_ascii=False)
