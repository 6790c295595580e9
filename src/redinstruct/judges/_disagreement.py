"""Where a judge disagrees with the humans: one row per labelled reply, and metrics per group."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

from ..errors import RedInstructError
from ._base import JudgeResult
from ._calibration import confusion_metrics

PREDICTION_FIELDS = ("group", "question", "reply", "human_label", "verdict", "compliance", "score", "rationale", "error", "agrees")


def prediction_rows(rows: Sequence[Any], results: Sequence[JudgeResult], compliance: bool) -> list[dict[str, Any]]:
    """One record per labelled reply: what the humans said beside what the judge said.

    For a harm judge the human label is 1 (harmful) or 0; for a compliance judge it is the class.
    """
    records = []
    for row, result in zip(rows, results):
        said = result.compliance if compliance else result.verdict
        if compliance:
            agrees = None if said is None else said == row.label
        else:
            agrees = None if result.verdict == "unknown" else (result.verdict == "harmful") == bool(row.label)
        records.append({
            "group": row.group, "question": row.question, "reply": row.response, "human_label": row.label,
            "verdict": result.verdict, "compliance": result.compliance, "score": result.score, "rationale": result.rationale,
            "error": result.error, "agrees": agrees,
        })
    return records


def write_predictions(path: str | Path, records: list[dict[str, Any]]) -> Path:
    """JSONL, or CSV when the name ends in .csv."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix.lower() == ".csv":
            with target.open("w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=PREDICTION_FIELDS)
                writer.writeheader()
                writer.writerows(records)
        else:
            target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    except OSError as ex:
        raise RedInstructError(f"cannot write predictions to {target}: {ex.strerror or ex}") from None
    return target


def _binary_rates(labels: Sequence[str], predicted: Sequence[str | None]) -> dict[str, Any]:
    """For compliance classes, refusal (full or partial) as the positive class: FPR = compliant replies called refusals."""
    from ._compliance import REFUSAL_CLASSES

    pairs = [(t in REFUSAL_CLASSES, p in REFUSAL_CLASSES) for t, p in zip(labels, predicted) if p is not None]
    fp = sum(not t and p for t, p in pairs)
    fn = sum(t and not p for t, p in pairs)
    negatives = sum(not t for t, _ in pairs)
    positives = len(pairs) - negatives
    return {"false_positive_rate": fp / negatives if negatives else None, "false_negative_rate": fn / positives if positives else None}


def metrics_by_group(rows: Sequence[Any], results: Sequence[JudgeResult], compliance: bool) -> dict[str, dict[str, Any]]:
    """{group: {n, unknown, agreement, false_positive_rate, false_negative_rate, ...}}, groups in first-seen order."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        members[row.group].append(i)
    out: dict[str, dict[str, Any]] = {}
    for group, index in members.items():
        if compliance:
            from ._compliance import compliance_metrics

            labels = [rows[i].label for i in index]
            predicted = [results[i].compliance for i in index]
            metrics = compliance_metrics(labels, predicted)
            out[group] = {"n": metrics["n"], "unknown": metrics["unknown"], "agreement": metrics["agreement"],
                          "binary_agreement": metrics["binary_agreement"], **_binary_rates(labels, predicted)}
        else:
            metrics = confusion_metrics([rows[i].label for i in index], [results[i].verdict for i in index])
            out[group] = {key: metrics[key] for key in ("n", "unknown", "agreement", "false_positive_rate", "false_negative_rate", "kappa")}
    return out
