"""summary.json: ASR, intervals, breakdowns by topic and turn, computed once from the samples; everything else reads it.

The CLI table, summary.md and the report show what `summary_runs` computed for the run folder;
the report recomputes (with the same function) only a folder whose summary.json is missing or
older than its samples (a run killed outright).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

from .._secrets import write_public
from ..judges import judge_quality
from ._correction import JudgeCalibration, corrected_asr
from ._metrics import RUN_KEY, summarize, summary_markdown

SUMMARY_FILE = "summary.json"
Order = tuple[list[str], list[str], list[str]]


def summary_runs(records: Iterable[Mapping[str, Any]], order: Order | None = None,
                 calibration: JudgeCalibration | None = None) -> list[dict[str, Any]]:
    """One entry per model x dataset x template, with the judge's measured quality (and the corrected ASR with a calibration).

    `order` (models, datasets, templates) puts runs in the order they were asked for; others go last.
    """
    records = list(records)
    if order is not None:
        ranks = [{name: i for i, name in enumerate(names)} for names in order]
        last = len(records) + 1
        records.sort(key=lambda r: tuple(rank.get(r[k], last) for rank, k in zip(ranks, RUN_KEY)))
    runs = summarize(records)
    for run in runs:
        run["judge_quality"] = judge_quality(str(run.get("judge")))
        if calibration is not None:  # the user's own measurement of this judge
            known = calibration.tp + calibration.fn + calibration.tn + calibration.fp
            run["judge_quality"]["calibration"] = {
                "source": calibration.source,
                "agreement": (calibration.tp + calibration.tn) / known if known else None,
                "false_positive_rate": calibration.fp / (calibration.fp + calibration.tn) if calibration.fp + calibration.tn else None,
            }
    if calibration is not None:
        for run in runs:
            run.update(corrected_asr(run["harmful"], run["harmful"] + run["unharmful"], calibration))
            run["judge_calibration"] = calibration.source
    return runs


def write_summary(log_dir: Path, records: Iterable[Mapping[str, Any]], order: Order | None = None,
                  calibration: JudgeCalibration | None = None) -> list[dict[str, Any]]:
    """Write summary.json and summary.md from every sample of the folder; returns the runs."""
    runs = summary_runs(records, order, calibration)
    write_public(log_dir / SUMMARY_FILE, json.dumps(runs, indent=2, ensure_ascii=False))
    write_public(log_dir / "summary.md", summary_markdown(runs))
    return runs


def _samples_per_run(run: Mapping[str, Any]) -> int:
    return int(run.get("n") or 0) + int((run.get("over_refusal") or {}).get("n") or 0)


def read_summary(log_dir: Path, records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The folder's runs as summary.json holds them, when it covers exactly these samples; else computed now."""
    path = log_dir / SUMMARY_FILE
    counts = Counter(tuple(str(r[k]) for k in RUN_KEY) for r in records)
    try:
        runs = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        runs = None
    if isinstance(runs, list) and all(isinstance(r, dict) for r in runs):
        saved = {tuple(str(r.get(k)) for k in RUN_KEY): _samples_per_run(r) for r in runs}
        if saved == dict(counts):
            return runs
    return summary_runs(records)
