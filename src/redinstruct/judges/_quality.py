"""How far a judge's verdicts can be trusted, in one honest line wherever a verdict is shown.

The figures are the *worst* of the leave-one-source-out measurements in `docs/judges.md`
(`bench/judge_loso.py`): each learned judge trained without a source and measured on it. They
ship as `weights/judge_quality.json`, written by that script, so docs and runs cannot disagree.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

QUALITY_FILE = "judge_quality.json"
OFFLINE_JUDGES = frozenset({"refusal", "classifier", "crossencoder"})
PUBLISH_NOTE = (
    "offline judge: fine for development and screening; for numbers you publish, judge with a strong model "
    "(--judge llm, llamaguard or harmbench) and report its agreement from 'redinstruct judge calibrate'"
)


@lru_cache(maxsize=1)
def measured_quality() -> dict[str, Any]:
    """The packaged leave-one-source-out figures ({} when none are packaged)."""
    try:
        text = resources.files("redinstruct.judges").joinpath("weights", QUALITY_FILE).read_text(encoding="utf-8")
    except (OSError, FileNotFoundError):
        return {}
    return json.loads(text)


def external_figures(name: str) -> dict[str, dict[str, float]]:
    """{held-out set: figures} for a judge, from sets of other sources the team measured on ({} when none)."""
    sets = measured_quality().get("external", {}).get("sets", {})
    return {title: judges[name] for title, judges in sets.items() if name in judges}


def judge_quality(label: str) -> dict[str, Any]:
    """What is known of a judge's agreement with human labels, from its run label (`crossencoder`, `llm:openai/gpt-4o`)."""
    name, _, model = label.partition(":")
    quality: dict[str, Any] = {"judge": label, "offline": name in OFFLINE_JUDGES}
    measured = measured_quality().get("judges", {}).get(name)
    if measured and not model:
        worst = min(measured["held_out"].items(), key=lambda kv: kv[1]["agreement"])
        worst_fpr = max(measured["held_out"].items(), key=lambda kv: kv[1]["false_positive_rate"])
        quality.update(
            worst_heldout_agreement=worst[1]["agreement"],
            worst_heldout_source=worst[0],
            worst_heldout_fpr=worst_fpr[1]["false_positive_rate"],
            worst_heldout_fpr_source=worst_fpr[0],
            measured=measured_quality().get("measured"),
            summary=(
                f"worst held-out agreement with human labels {worst[1]['agreement']:.3f} ({worst[0]}), "
                f"worst false-positive rate {worst_fpr[1]['false_positive_rate']:.3f} ({worst_fpr[0]}); "
                "leave-one-source-out, docs/judges.md"
            ),
        )
        external = external_figures(name)
        if external:
            agreements = [f["agreement"] for f in external.values() if "agreement" in f]
            fprs = [f["false_positive_rate"] for f in external.values() if "false_positive_rate" in f]
            quality.update(external_worst_agreement=min(agreements, default=None), external_worst_fpr=max(fprs, default=None))
            quality["summary"] += (f"; on held-out sets from other sources: worst agreement {min(agreements):.3f}, "
                                   f"worst false-positive rate {max(fprs):.3f}")
    elif name in OFFLINE_JUDGES:
        who = "this judge, fitted by you," if model else "this judge"
        quality["summary"] = f"agreement of {who} with human labels not measured; measure it with 'redinstruct judge calibrate' on labels from another source"
    else:
        quality["summary"] = (
            "agreement with human labels not measured by redinstruct for this judge model; "
            "measure it with 'redinstruct judge calibrate' and pass --judge-calibration"
        )
    if quality["offline"]:
        quality["publish_note"] = PUBLISH_NOTE
    return quality


def quality_line(label: str) -> str:
    """`crossencoder: worst held-out agreement 0.871 (...)` plus the publishing note for offline judges."""
    quality = judge_quality(label)
    line = f"{label}: {quality['summary']}"
    return line + (f". Note: {quality['publish_note']}." if quality.get("publish_note") else "")
