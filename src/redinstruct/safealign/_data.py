"""Training conversations: HarmfulQA JSON (blue and red) and general chat data in `{"from","value"}` turns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..data import read_data_file
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
    return read_data_file(path, "data file", (".json", ".jsonl"))


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
            conversations = record.get(f"{kind}_conversations") or {}
            if isinstance(conversations, list):  # some exports keep them as a list
                conversations = dict(enumerate(conversations))
            if not isinstance(conversations, dict):
                raise RedInstructError(f"{path} record {n}: {kind}_conversations must map an index to a conversation (a list of turns)")
            for index, turns in conversations.items():
                if turns and _valid_turns(turns):
                    out.append(Conversation(turns, kind, f"{qid}#{index}"))  # type: ignore[arg-type]
    return out


# prompt / reply column pairs of single-turn files, first match wins
PAIR_COLUMNS = (("prompt", "response"), ("prompt", "completion"), ("question", "answer"), ("instruction", "output"), ("input", "output"))


def _read_records(path: Path) -> Any:
    return read_data_file(path, "data file")


def _read_list(path: Path, what: str, items: str) -> list[Any]:
    """The records of a file that must exist and hold a list (JSON, JSONL or CSV)."""
    if not path.is_file():
        raise RedInstructError(f"{what} not found: {path}")
    records = _read_records(path)
    if not isinstance(records, list):
        raise RedInstructError(f"{path}: expected a list of {items}")
    return records


def _pair_turns(record: dict[str, Any]) -> list[dict[str, str]] | None:
    for prompt, reply in PAIR_COLUMNS:
        if isinstance(record.get(prompt), str) and isinstance(record.get(reply), str) and record[prompt].strip() and record[reply].strip():
            return [{"from": "human", "value": record[prompt]}, {"from": "gpt", "value": record[reply]}]
    return None


def load_general_conversations(path: str | Path) -> list[Conversation]:
    """Helpful conversations: ShareGPT (`{"conversations": [{"from", "value"}]}` or bare turn lists), or
    single-turn rows with prompt/response (also question/answer, instruction/output) in JSON, JSONL or CSV."""
    path = Path(path)
    records = _read_list(path, "general data file", "conversations")
    out = []
    for n, record in enumerate(records):
        turns = record.get("conversations") if isinstance(record, dict) else record
        if not _valid_turns(turns) and isinstance(record, dict):
            turns = _pair_turns(record)
        if turns and _valid_turns(turns):
            out.append(Conversation(turns, "general", f"{path.stem}:{n}"))
    if not out:
        raise RedInstructError(
            f"{path} has no usable conversations: expected ShareGPT turns ({{'from': 'human'|'gpt', 'value': ...}}) "
            f"or rows with one of the column pairs {', '.join('/'.join(p) for p in PAIR_COLUMNS)}"
        )
    return out


def mix_general(safety: list[Conversation], general: list[Conversation], fraction: float | None, seed: int = 0) -> list[Conversation]:
    """The general conversations to train on: all of them, or as many as make `fraction` of the
    conversations trained with NLL (blue + general), sampled without repeats while they last."""
    import random

    if fraction is None or not general:
        return list(general)
    if not 0 <= fraction < 1:
        raise RedInstructError("--general-fraction must be at least 0 and below 1")
    blue = sum(1 for c in safety if c.kind == "blue")
    target = round(fraction * blue / (1 - fraction))
    rng = random.Random(seed)
    picked: list[Conversation] = []
    while len(picked) < target:  # a small general set is repeated, each pass in a new order
        chunk = list(general)
        rng.shuffle(chunk)
        picked += chunk[: target - len(picked)]
    return picked


@dataclass(frozen=True)
class ContrastivePair:
    """One prompt with a preferred and a dispreferred reply; `kind` is harmful or borderline."""

    prompt: str
    chosen: str
    rejected: str
    kind: str


def load_pairs(path: str | Path) -> list[ContrastivePair]:
    """A pairs file (JSONL or JSON list of {prompt, chosen, rejected, kind}), as `harmfulqa distill` writes."""
    path = Path(path)
    records = _read_list(path, "pairs file", "pairs")
    out = []
    for n, r in enumerate(records):
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) and r[k].strip() for k in ("prompt", "chosen", "rejected")):
            raise RedInstructError(f"{path} pair {n}: expected non-empty prompt, chosen and rejected strings")
        out.append(ContrastivePair(r["prompt"], r["chosen"], r["rejected"], str(r.get("kind", "harmful"))))
    return out


def pair_conversations(pairs: list[ContrastivePair], rejected: bool = False) -> list[Conversation]:
    """The preferred side of each pair as an NLL conversation (a refusal of a harmful prompt is blue, a
    helpful answer to a borderline one general); with `rejected`, the dispreferred side too, as red
    (strategy B's clipped ascent then pushes down harmful answers and refusals of safe prompts alike)."""
    out = []
    for n, p in enumerate(pairs):
        out.append(Conversation([{"from": "human", "value": p.prompt}, {"from": "gpt", "value": p.chosen}],
                                "blue" if p.kind == "harmful" else "general", f"pair:{n}"))
        if rejected:
            out.append(Conversation([{"from": "human", "value": p.prompt}, {"from": "gpt", "value": p.rejected}], "red", f"pair:{n}"))
    return out
