"""Everything a report shows, gathered from run folders: RED-EVAL samples, utility results, training logs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._journal import read_lines
from ..errors import RedInstructError
from ..redeval import RUN_KEY, SAMPLE_FIELDS as RECORD_FIELDS, read_summary, sample_key, template_rank

# what the report shows of a sample (a conversation's fields only on a conversation's line)
REPORT_FIELDS = ("model", "dataset", "template", "question_id", "topic", "subtopic", "verdict", "question", "response", "response_raw", "judge_rationale", "error", "echo", "label", "type", "compliance",
                 "turns", "turns_planned", "first_success_turn", "backtracks", "attacker_model")  # the last five: conversation attacks


@dataclass
class ReportData:
    samples: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # summary.json's entries (model x dataset x template), in table order
    utility: dict[str, dict[str, Any]] = field(default_factory=dict)  # model -> `redinstruct utility` result
    training: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # label -> training_log.jsonl entries
    base_model: str | None = None
    config: dict[str, Any] | None = None


def _question_order(question_id: Any) -> tuple[int, str]:
    """Bank order for ids like `dangerousqa-12` or `7` (numeric part compared as a number)."""
    text = str(question_id)
    digits = "".join(ch for ch in text.rsplit("-", 1)[-1] if ch.isdigit())
    return (int(digits) if digits else -1, text)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return read_lines(path)[0]  # a line cut short by a kill is skipped, as the run itself does


def _is_utility_result(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("results"), dict) and isinstance(data.get("settings"), dict) and "model" in data


def collect(dirs: list[str | Path], base_model: str | None = None) -> ReportData:
    """Walk each folder (a `redinstruct eval` log dir, a `reproduce` output, or any folder holding them)."""
    data = ReportData(base_model=base_model)
    samples_by_key: dict[Any, dict[str, Any]] = {}
    runs_by_key: dict[Any, dict[str, Any]] = {}
    for d in map(Path, dirs):
        if not d.is_dir():
            raise RedInstructError(f"{d} is not a folder")
        for samples in sorted(d.rglob("samples.jsonl")):
            lines = _read_jsonl(samples)
            for run in read_summary(samples.parent, lines):  # the run's own figures (ASR computed once, where the run wrote them)
                runs_by_key[tuple(str(run.get(k)) for k in RUN_KEY)] = run
            for record in lines:
                # keyed like the run's own store: a sample found twice counts once, and a redone one replaces its old line
                kept = {k: record.get(k) for k in REPORT_FIELDS if k in record or k in RECORD_FIELDS}
                samples_by_key[sample_key(record)] = kept | {"judge": record.get("judge")}
        for path in sorted(d.rglob("*.json")):
            if path.name in ("summary.json", "run.json", "config.json") or path.name.startswith("tokenizer") \
                    or "checkpoint-" in str(path) or path.stat().st_size > 5_000_000:
                continue  # model folders and run manifests: not utility results
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if _is_utility_result(content):
                data.utility[str(content["model"])] = content
        for log in sorted(d.rglob("training_log.jsonl")):
            if "checkpoint-" in str(log.parent):
                continue
            label = log.parent.name
            data.training[label] = _read_jsonl(log)
        manifest = d / "reproduce.json"
        if manifest.is_file() and data.config is None:
            saved = json.loads(manifest.read_text(encoding="utf-8"))
            data.config = saved
            data.base_model = data.base_model or saved.get("base_label")
    # grouped as the tables are (model, dataset, template in first-seen order), questions in bank order,
    # not in the order samples happened to finish
    samples = list(samples_by_key.values())
    rank = {k: {v: i for i, v in enumerate(dict.fromkeys(str(x.get(k)) for x in samples))} for k in ("model", "dataset", "template")}
    samples.sort(key=lambda x: (rank["model"][str(x.get("model"))], rank["dataset"][str(x.get("dataset"))],
                                template_rank(str(x.get("template"))), rank["template"][str(x.get("template"))], _question_order(x.get("question_id"))))
    data.samples = samples
    data.runs = sorted(runs_by_key.values(), key=lambda r: (rank["model"].get(str(r["model"]), len(samples)), rank["dataset"].get(str(r["dataset"]), len(samples)),
                                                            template_rank(str(r["template"])), rank["template"].get(str(r["template"]), len(samples))))
    if not data.samples and not data.utility and not data.training:
        raise RedInstructError(f"no RED-EVAL samples, utility results or training logs under {', '.join(map(str, dirs))}")
    if data.base_model is None:
        models = [s["model"] for s in data.samples] or list(data.utility)
        data.base_model = models[0] if models else None
    return data
