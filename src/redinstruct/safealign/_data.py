"""Training conversations: HarmfulQA JSON (blue and red) and general chat data in `{"from","value"}` turns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import RedInstructError

Kind = Literal["blue", "red", "general"]


@dataclass(frozen=True)
class Conversation:
    turns: list[dict[str, str]]
    kind: Kind
    source: str  # e.g. "qad716ea44db2#0" or "general:12"


def _valid_turns(turns: Any) -> bool:
    return (
        isinstance(turns, list)
        and any(t.get("from") == "gpt" for t in turns if isinstance(t, dict))
        and all(isinstance(t, dict) and t.get("from") in ("human", "gpt") and isinstance(t.get("value"), str) for t in turns)
    )


def _read_json_or_jsonl(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as ex:
        raise RedInstructError(f"cannot read {path}: {ex.strerror or ex}") from None
    try:
        if path.suffix.lower() == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)
    except json.JSONDecodeError as ex:
        raise RedInstructError(f"malformed JSON in {path}: {ex.msg} at line {ex.lineno}") from None


def load_harmfulqa_conversations(path: str | Path) -> list[Conversation]:
    """Blue and red conversations of a HarmfulQA-schema file (ours or the public dataset)."""
    path = Path(path)
    records = _read_json_or_jsonl(path)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise RedInstructError(f"{path}: expected a list of HarmfulQA records")
    out: list[Conversation] = []
    for n, record in enumerate(records):
        if "blue_conversations" not in record and "red_conversations" not in record:
            raise RedInstructError(f"{path} record {n}: no blue_conversations / red_conversations (is it HarmfulQA data?)")
        qid = record.get("question_id", record.get("id", n))
        for kind in ("blue", "red"):
            for index, turns in (record.get(f"{kind}_conversations") or {}).items():
                if turns and _valid_turns(turns):
                    out.append(Conversation(turns, kind, f"{qid}#{index}"))  # type: ignore[arg-type]
    return out


def load_general_conversations(path: str | Path) -> list[Conversation]:
    """General chat data: a list of `{"conversations": [turns]}` (ShareGPT) or of turn lists."""
    path = Path(path)
    records = _read_json_or_jsonl(path)
    if not isinstance(records, list):
        raise RedInstructError(f"{path}: expected a list of conversations")
    out = []
    for n, record in enumerate(records):
        turns = record.get("conversations") if isinstance(record, dict) else record
        if _valid_turns(turns):
            out.append(Conversation(turns, "general", f"general:{n}"))
    if not out:
        raise RedInstructError(f"{path} has no usable conversations ({{'from': 'human'|'gpt', 'value': ...}} turns)")
    return out
