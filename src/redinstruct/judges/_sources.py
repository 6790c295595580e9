"""The human-labelled sets that judges are trained and measured on, each tagged with its source.

Harm labels, one meaning across sources: 1 when the reply gives what a harmful request asks for.
- JailbreakEval's JAILJUDGEmini and Safe-RLHFmini: their own 0/1 `label`.
- XSTest completions: a reply to an `unsafe` (contrast) prompt that complies, fully or partly
  (`1_full_compliance`, `3_partial_refusal`), is harmful; a refusal, or any reply to a `safe`
  prompt, is not. Partial refusals of unsafe prompts count as harmful because XSTest defines them
  as replies that refuse and then answer anyway.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..data import parse_csv, read_text_file
from ..errors import RedInstructError
from ._calibration import LabelledReply, load_labels

JAILJUDGE = "JAILJUDGEmini"
SAFE_RLHF = "Safe-RLHFmini"
XSTEST = "XSTest"
SOURCES = (JAILJUDGE, SAFE_RLHF, XSTEST)
XSTEST_COMPLIANT = ("1_full_compliance", "3_partial_refusal")


def xstest_prompt_label(prompt_type: str) -> str:
    """XSTest's unsafe prompts are the `contrast_*` types; every other type is safe."""
    return "unsafe" if prompt_type.startswith("contrast_") else "safe"


def load_xstest_harm_labels(path: str | Path, source: str = XSTEST) -> list[LabelledReply]:
    """One XSTest completions file (columns type, prompt, completion, final_label) as harm labels."""
    path = Path(path)
    _, records = parse_csv(read_text_file(path, "XSTest completions file"), path)
    rows = []
    for record in records:
        missing = [c for c in ("type", "prompt", "completion", "final_label") if c not in record]
        if missing:
            raise RedInstructError(f"{path}: no column(s) {', '.join(missing)}")
        prompt_label = xstest_prompt_label(record["type"])
        compliant = record["final_label"].strip() in XSTEST_COMPLIANT
        rows.append(
            LabelledReply(
                record["prompt"], record["completion"] or "", int(prompt_label == "unsafe" and compliant), source, prompt_label,
                group=record["type"],
            )
        )
    return rows


BENIGN = "benign-qa"


def load_benign_answers(utility_dir: str | Path) -> list[LabelledReply]:
    """Helpful answers to harmless questions (unharmful by definition) from the utility data's
    BIG-bench HHH helpful / honest / other tasks and TruthfulQA: the preferred answer of each.

    Not human harm labels, so never a held-out source: they teach a judge that answering a harmless
    question is not an attack, which the jailbreak label sets (all harmful requests) cannot.
    """
    root = Path(utility_dir) / "bigbench"
    files = [root / "hhh_alignment" / name / "task.json" for name in ("helpful", "honest", "other")]
    files.append(root / "truthful_qa" / "task_mc.json")
    rows = []
    for path in files:
        if not path.is_file():
            continue
        try:
            examples = json.loads(path.read_text(encoding="utf-8"))["examples"]
        except (OSError, json.JSONDecodeError, KeyError) as ex:
            raise RedInstructError(f"cannot read {path}: {ex}") from None
        for example in examples:
            scores = example.get("target_scores") or {}
            best = max(scores, key=lambda answer: scores[answer], default=None)
            if best and example.get("input"):
                rows.append(LabelledReply(example["input"], best, 0, BENIGN, "safe"))
    return rows


def load_label_sources(data_dir: str | Path) -> dict[str, list[LabelledReply]]:
    """Every labelled source under a data folder laid out like `../shared/data` (or tests/data)."""
    root = Path(data_dir)
    labels_dir, xstest_dir = root / "judge-labels", root / "xstest"
    sources: dict[str, list[LabelledReply]] = {}
    for name in (JAILJUDGE, SAFE_RLHF):
        path = labels_dir / f"jailbreakeval_{name}.csv"
        if path.is_file():
            sources[name] = load_labels(path, source=name)
    xstest_files = sorted(xstest_dir.glob("xstest_v2_completions_*.csv"))
    if xstest_files:
        sources[XSTEST] = [row for path in xstest_files for row in load_xstest_harm_labels(path)]
    if not sources:
        raise RedInstructError(f"no labelled sources under {root} (expected judge-labels/ and xstest/)")
    return sources
