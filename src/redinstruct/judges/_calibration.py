"""Measure a judge against human labels: agreement, precision, recall, error rates, Cohen's kappa."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..data import parse_csv, read_data_file, read_text_file
from ..errors import RedInstructError
from ._base import Judge, JudgeResult


@dataclass(frozen=True)
class LabelledReply:
    question: str
    response: str
    label: int  # 1 = harmful (a successful jailbreak), 0 = not harmful
    source: str = ""  # which labelled set the row came from (for leave-one-source-out measurement)
    prompt_label: str = ""  # `safe` / `unsafe` where the source says (XSTest), else ""
    group: str = ""  # the row's value in `--group-col` (a category, a model), for per-group metrics


def parse_positive(positive: str | Sequence[str] | None) -> frozenset[str] | None:
    """`--positive harmful` or `--positive 1_full_compliance,3_partial_refusal` as a set of values."""
    if positive is None:
        return None
    items = [positive] if isinstance(positive, str) else list(positive)
    values = frozenset(v.strip().lower() for item in items for v in item.split(",") if v.strip())
    if not values:
        raise RedInstructError("--positive needs at least one label value")
    return values


def _read_records(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows) of a CSV, JSON list or JSONL file (`data`'s reader: any BOM, one-line errors)."""
    if path.suffix.lower() == ".csv":
        return parse_csv(read_text_file(path, "labels file"), path)
    data = read_data_file(path, "labels file")
    if path.suffix.lower() == ".json" and not isinstance(data, list):
        raise RedInstructError(f"{path}: a labels JSON file must hold a list of objects")
    if not all(isinstance(r, dict) for r in data):
        raise RedInstructError(f"{path}: every labelled row must be a JSON object")
    return list(dict.fromkeys(str(k) for r in data for k in r)), data


def check_columns(path: Path, columns: list[str], *wanted: str | None) -> None:
    missing = [c for c in wanted if c is not None and c not in columns]
    if missing:
        raise RedInstructError(f"{path}: no column(s) {', '.join(missing)} (columns: {', '.join(columns)}); name the columns with "
                               "--question-col, --response-col, --label-col (and --group-col)")


def group_value(record: dict[str, Any], group_col: str | None) -> str:
    if group_col is None:
        return ""
    value = record.get(group_col)
    return str(value).strip() if value is not None and str(value).strip() else "(none)"


def label_value(raw: Any, positive: frozenset[str] | None, where: str) -> int:
    """A row's 0/1 label: 0/1 as they are, or 1 for a value in `positive` and 0 for any other."""
    value = str(raw if raw is not None else "").strip()
    if positive is not None:
        if not value:
            raise RedInstructError(f"{where}: empty label")
        return int(value.lower() in positive)
    if value in ("0", "1", "0.0", "1.0") or isinstance(raw, bool):
        return int(float(value)) if not isinstance(raw, bool) else int(raw)
    raise RedInstructError(
        f"{where}: label must be 0 or 1, got {value!r} (for text labels pass --positive, e.g. --positive {value or 'harmful'})"
    )


def load_labels(
    path: str | Path,
    question_col: str = "question",
    response_col: str = "answer",
    label_col: str = "label",
    limit: int | None = None,
    positive: str | Sequence[str] | None = None,
    source: str = "",
    group_col: str | None = None,
) -> list[LabelledReply]:
    """Rows of a human-labelled CSV / JSON / JSONL file.

    Labels are 0/1, or text values with `positive` naming those that mean harmful (every other
    value means not harmful).
    """
    path = Path(path)
    if not path.is_file():
        raise RedInstructError(f"labels file not found: {path}")
    positives = parse_positive(positive)
    if limit is not None and limit < 1:
        raise RedInstructError("--limit must be at least 1")
    columns, records = _read_records(path)
    check_columns(path, columns, question_col, response_col, label_col, group_col)
    first_line = 2 if path.suffix.lower() == ".csv" else 1
    rows = []
    for lineno, record in enumerate(records, start=first_line):
        label = label_value(record.get(label_col), positives, f"{path} row {lineno}")
        rows.append(
            LabelledReply(str(record.get(question_col) or ""), str(record.get(response_col) or ""), label, source or path.stem,
                          group=group_value(record, group_col))
        )
        if limit and len(rows) >= limit:
            break
    if not rows:
        raise RedInstructError(f"{path} has no labelled rows")
    if positives is not None and not any(r.label for r in rows) and len(records) == len(rows):
        seen = sorted({str(r.get(label_col)).strip() for r in records})[:8]
        raise RedInstructError(f"{path}: no row has a label in --positive {','.join(sorted(positives))} (values seen: {', '.join(seen)})")
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
