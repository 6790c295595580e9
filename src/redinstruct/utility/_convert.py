"""Local benchmark copies (BIG-bench task.json, MMLU JSONL) -> one normalized JSONL per task.

Every converted row is `{"question", "choices", "gold", "preamble", "subject"}`, so one lm-eval
multiple-choice template reads them all. The conversion is cached by the source files' sizes and
modification times.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any, Iterable

from .._paths import cache_dir
from ..errors import RedInstructError

HHH_SUBSETS = ("harmless", "helpful", "honest", "other")
# BBH task -> its BIG-bench source task (multiple-choice ones; dyck_languages and word_sorting are generative in BBH)
BBH_SOURCES = {
    "causal_judgement": "causal_judgment",
    "date_understanding": "date_understanding",
    "disambiguation_qa": "disambiguation_qa",
    "geometric_shapes": "geometric_shapes",
    "logical_deduction_three_objects": "logical_deduction/three_objects",
    "logical_deduction_five_objects": "logical_deduction/five_objects",
    "logical_deduction_seven_objects": "logical_deduction/seven_objects",
    "movie_recommendation": "movie_recommendation",
    "navigate": "navigate",
    "penguins_in_a_table": "penguins_in_a_table",
    "reasoning_about_colored_objects": "reasoning_about_colored_objects",
    "ruin_names": "ruin_names",
    "salient_translation_error_detection": "salient_translation_error_detection",
    "snarks": "snarks",
    "sports_understanding": "sports_understanding",
    "temporal_sequences": "temporal_sequences",
    "tracking_shuffled_objects_three_objects": "tracking_shuffled_objects/three_objects",
    "tracking_shuffled_objects_five_objects": "tracking_shuffled_objects/five_objects",
    "tracking_shuffled_objects_seven_objects": "tracking_shuffled_objects/seven_objects",
}
MMLU_FILE = "mmlu/mmlu.jsonl"
TRUTHFULQA_FILE = "bigbench/truthful_qa/task_mc.json"


def source_files(data_dir: Path) -> dict[str, Path]:
    """Converted task name (file stem) -> local source file."""
    files = {f"hhh_{s}": data_dir / "bigbench" / "hhh_alignment" / s / "task.json" for s in HHH_SUBSETS}
    files["truthfulqa_mc1"] = data_dir / TRUTHFULQA_FILE
    files["mmlu"] = data_dir / MMLU_FILE
    files.update({f"bbh_{name}": data_dir / "bigbench" / src / "task.json" for name, src in BBH_SOURCES.items()})
    return files


def _bigbench_rows(path: Path, subject: str) -> list[dict[str, Any]]:
    task = json.loads(path.read_text(encoding="utf-8"))
    preamble = (task.get("task_prefix") or "").strip()
    rows = []
    for example in task.get("examples", []):
        scores = example.get("target_scores")
        if not isinstance(scores, dict) or not scores or max(scores.values()) <= 0:
            continue  # generative examples (penguins_in_a_table mixes both)
        choices = [str(c) for c in scores]
        question = str(example["input"]).strip()
        if task.get("append_choices_to_input"):
            question += "".join(f"\n  choice: {c}" for c in choices)
        rows.append({
            "question": f"Q: {question}\nA:",
            "choices": choices,
            "gold": max(range(len(choices)), key=lambda i: scores[choices[i]]),
            "preamble": preamble + "\n\n" if preamble else "",
            "subject": subject,
        })
    return rows


def _mmlu_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        answer = str(r.get("correct_answer", "")).strip().upper()
        if answer not in ("A", "B", "C", "D"):
            continue  # the source file has stray header rows
        options = "".join(f"\n{k}. {str(r['answer_' + k.lower()]).strip()}" for k in "ABCD")
        rows.append({
            "question": f"{str(r['question']).strip()}{options}\nAnswer:",
            "choices": ["A", "B", "C", "D"],
            "gold": "ABCD".index(answer),
            "preamble": f"The following are multiple choice questions (with answers) about {r.get('topic', 'general knowledge')}.\n\n",
            "subject": str(r.get("topic", "")),
        })
    # a fixed shuffle so that --limit samples every subject, not only the first in the file
    random.Random(1234).shuffle(rows)
    return rows


def convert_rows(name: str, path: Path) -> list[dict[str, Any]]:
    try:
        rows = _mmlu_rows(path) if name == "mmlu" else _bigbench_rows(path, name)
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as ex:
        raise RedInstructError(f"cannot read {path} for task {name}: {type(ex).__name__}: {ex}") from None
    if not rows:
        raise RedInstructError(f"{path}: no multiple-choice examples for task {name}")
    return rows


def _stamp(files: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def convert_local(data_dir: str | Path, names: Iterable[str]) -> Path:
    """Convert the named tasks' local sources; returns the folder of `<name>.jsonl` files."""
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise RedInstructError(f"--data-dir {data_dir} is not a folder")
    available = source_files(data_dir)
    wanted = {n: available[n] for n in names}
    missing = [f"{n} ({p})" for n, p in wanted.items() if not p.is_file()]
    if missing:
        raise RedInstructError(f"--data-dir {data_dir} lacks the files for: {', '.join(missing)}")
    out = cache_dir() / "utility-data" / _stamp(wanted.values())
    out.mkdir(parents=True, exist_ok=True)
    for name, path in wanted.items():
        target = out / f"{name}.jsonl"
        if not target.is_file():
            tmp = target.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in convert_rows(name, path)), encoding="utf-8")
            tmp.replace(target)
    return out
