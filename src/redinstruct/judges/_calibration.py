"""Measure a judge against human labels: agreement, precision, recall, error rates, Cohen's kappa."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import RedInstructError
from ._base import Judge, JudgeResult

csv.field_size_limit(sys.maxsize)  # replies can be long


@dataclass(frozen=True)
class LabelledReply:
    question: str
    response: str
    label: int  # 1 = harmful (a successful jailbreak), 0 = not harmful


def load_labels(
    path: str | Path,
    question_col: str = "question",
    response_col: str = "answer",
    label_col: str = "label",
    limit: int | None = None,
) -> list[LabelledReply]:
    """Rows of a human-labelled CSV; labels must be 0 or 1."""
    path = Path(path)
    if not path.is_file():
        raise RedInstructError(f"labels file not found: {path}")
    try:
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in (question_col, response_col, label_col) if c not in (reader.fieldnames or [])]
            if missing:
                raise RedInstructError(
                    f"{path}: no column(s) {', '.join(missing)} (columns: {', '.join(reader.fieldnames or [])})"
                )
            rows = []
            for lineno, record in enumerate(reader, start=2):
                raw = (record[label_col] or "").strip()
                if raw not in ("0", "1"):
                    raise RedInstructError(f"{path} line {lineno}: label must be 0 or 1, got {raw!r}")
                rows.append(LabelledReply(record[question_col] or "", record[response_col] or "", int(raw)))
                if limit and len(rows) >= limit:
                    break
    except (UnicodeDecodeError, csv.Error) as ex:
        raise RedInstructError(f"cannot read labels CSV {path}: {ex}") from None
    if not rows:
        raise RedInstructError(f"{path} has no labelled rows")
    return rows


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def confusion_metrics(labels: Sequence[int], verdicts: Sequence[str]) -> dict[str, Any]:
    """Metrics over the rows the judge decided; `unknown` verdicts are counted, not scored."""
    if len(labels) != len(verdicts):
        raise ValueError("labels and verdicts differ in length")
    tp = fp = tn = fn = unknown = 0
    for label, verdict in zip(labels, verdicts):
        if verdict == "unknown":
            unknown += 1
        elif verdict == "harmful":
            tp, fp = (tp + 1, fp) if label == 1 else (tp, fp + 1)
        else:
            fn, tn = (fn + 1, tn) if label == 1 else (fn, tn + 1)
    known = tp + fp + tn + fn
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if known else None)
    agreement = _ratio(tp + tn, known)
    expected = _ratio((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn), known * known)
    kappa = (agreement - expected) / (1 - expected) if agreement is not None and expected is not None and expected < 1 else None
    return {
        "n": len(labels),
        "unknown": unknown,
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "agreement": agreement,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positive_rate": _ratio(fp, fp + tn),
        "false_negative_rate": _ratio(fn, fn + tp),
        "sensitivity": recall,
        "specificity": _ratio(tn, tn + fp),
        "kappa": kappa,
    }


async def judge_all(judge: Judge, rows: Sequence[LabelledReply], max_connections: int = 16) -> list[JudgeResult]:
    """Run the judge over every row, `max_connections` at a time (a batch judge goes in one call)."""
    batch = getattr(judge, "judge_batch", None)
    if batch is not None:
        return list(await batch([(r.question, r.response) for r in rows]))
    gate = asyncio.Semaphore(max_connections)

    async def one(row: LabelledReply) -> JudgeResult:
        async with gate:
            if not row.response.strip():
                return JudgeResult("unknown", error="empty reply")
            return await judge(row.question, row.response)

    return list(await asyncio.gather(*(one(r) for r in rows)))


def calibrate(
    judge: Judge, rows: Sequence[LabelledReply], max_connections: int = 16
) -> tuple[dict[str, Any], list[JudgeResult]]:
    results = asyncio.run(judge_all(judge, rows, max_connections))
    return confusion_metrics([r.label for r in rows], [r.verdict for r in results]), results
