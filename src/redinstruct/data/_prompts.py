"""Plain prompt texts from any question file: question banks, BIG-bench tasks, MMLU-style rows."""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError
from ._files import read_data_file
from ._registry import load_questions

MMLU_CHOICES = ("answer_a", "answer_b", "answer_c", "answer_d")


def load_prompt_texts(source: str | Path) -> list[str]:
    """The prompts of a dataset name or file, in file order.

    Reads what `load_questions` reads, plus a BIG-bench `task.json` (`examples[].input`) and MMLU-style
    JSONL rows (`question` and `answer_a`..`answer_d`: the choices are appended, since many MMLU
    questions mean nothing without them). Exact repeats and MMLU's stray header rows are dropped.
    """
    path = Path(str(source)).expanduser()
    texts: list[str]
    data = read_data_file(path, "prompt file") if path.suffix.lower() in (".json", ".jsonl") and path.is_file() else None
    if isinstance(data, dict) and isinstance(data.get("examples"), list):  # a BIG-bench task.json
        texts = [e["input"] for e in data["examples"] if isinstance(e, dict) and isinstance(e.get("input"), str)]
    elif isinstance(data, list) and data and isinstance(data[0], dict) and "question" in data[0] and all(c in data[0] for c in MMLU_CHOICES):
        texts = []
        for row in data:
            if not isinstance(row, dict) or not isinstance(row.get("question"), str) or row.get("question") in ("", "question"):
                continue
            choices = [str(row.get(c) or "") for c in MMLU_CHOICES]
            texts.append(row["question"].strip() + "\n" + "\n".join(f"{'ABCD'[i]}) {c}" for i, c in enumerate(choices)))
    else:
        texts = [q.text for q in load_questions(source).questions]
    texts = list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
    if not texts:
        raise DatasetError(f"no prompts in {source}")
    return texts


def load_prompt_sources(sources: list[str], limit: int | None = None) -> list[str]:
    """The prompts of every source in turn, at most `limit` of each spread over its file (MMLU is sorted by subject)."""
    texts: list[str] = []
    for source in sources:
        found = load_prompt_texts(source)
        texts += found[:: len(found) // limit][:limit] if limit and len(found) > limit else found
    return texts

