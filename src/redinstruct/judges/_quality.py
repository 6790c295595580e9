"""How far a judge's verdicts can be trusted, in one honest line wherever a verdict is shown.

The figures are the *worst* of the leave-one-source-out measurements in `docs/judges.md`
(`bench/judge_loso.py`): each learned judge trained without a source and measured on it. They
ship as `weights/judge_quality.json`, written by that script, so docs and runs cannot disagree.
"""

from __future__ import annotations

import hashlib
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


# the packaged weights of each learned judge: an external figure counts for the weights it was measured on
WEIGHT_FILES = {"classifier": ("classifier.json",), "crossencoder": ("crossencoder", "crossencoder.safetensors"),
                "compliance": ("compliance.json",)}


@lru_cache(maxsize=None)
def weights_fingerprint(name: str) -> str:
    """sha256 (16 hex digits) of a judge's packaged weights; `rules` for a judge without weights (refusal matching)."""
    parts = WEIGHT_FILES.get(name)
    if parts is None:
        return "rules"
    data = resources.files("redinstruct.judges").joinpath("weights", *parts).read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


def external_figures(name: str, quality: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """{held-out set: figures} for a judge on sets of other sources the team measured ({} when none).

    Each figure carries the set's date and description, and `current`: whether it was measured on the
    weights that ship now (after a retraining it belongs to the previous weights until measured again).
    """
    out = {}
    for title, entry in (measured_quality() if quality is None else quality).get("external", {}).get("sets", {}).items():
        figures = entry.get("judges", {}).get(name)
        if figures is not None:
            out[title] = {**figures, "date": entry.get("date"), "description": entry.get("description", title),
                          "current": figures.get("weights") == weights_fingerprint(name)}
    return out


def update_quality(previous: dict[str, Any], results: dict[str, dict[str, dict]], command: str, today: str) -> dict[str, Any]:
    """The packaged judge_quality.json after a leave-one-source-out run: new held-out figures, the external block kept as it was."""
    keep = ("n", "agreement", "false_positive_rate", "false_negative_rate", "kappa", "safe_prompt_fpr")
    payload: dict[str, Any] = {
        "measured": today,
        "command": command,
        "method": "leave-one-source-out: learned judges trained without the held-out source",
        "judges": {
            judge: {"held_out": {source: {k: m[k] for k in keep if k in m} for source, m in by_source.items()}}
            for judge, by_source in results.items()
        },
    }
    if "external" in previous:  # measured by the team on sets this project never had: never recomputed here, never erased
        payload["external"] = previous["external"]
    return payload


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
            quality.update(external_worst_agreement=min(agreements, default=None), external_worst_fpr=max(fprs, default=None),
                           external_current=all(f["current"] for f in external.values()))
            dates = sorted({str(f["date"]) for f in external.values() if f.get("date")})
            whose = "these weights" if quality["external_current"] else "the previous weights, not yet measured again"
            quality["summary"] += (f"; on held-out sets from other sources ({', '.join(dates)}, {whose}): worst agreement "
                                   f"{min(agreements):.3f}, worst false-positive rate {max(fprs):.3f}")
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
