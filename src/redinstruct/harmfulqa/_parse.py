"""Turn generator text into items and turns: numbered lists, refusals, duplicates, conversations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..data import normalize_text
from ..judges import find_refusal

_LIST_ITEM = re.compile(r"^\s*(?:\d{1,3}\s*[.):\]-]|[-*\u2022]|#{1,3})\s*(.+?)\s*$")
_TAG = re.compile(r"^\s*[*_]*\s*(Red-LM|Base-LM)\s*[*_]*\s*:\s*[*_]*\s*(.*)$", re.IGNORECASE)
NEAR_DUPLICATE_THRESHOLD = 0.7  # character-3-gram Jaccard; rewordings of one question score 0.7-0.9, different questions ~0.3


def parse_list(text: str, first_item_open: bool = False) -> list[str]:
    """Items of a numbered or bulleted list; prose lines between items are ignored.

    With `first_item_open` the prompt ended in "1." so the text starts mid-item one.
    """
    items: list[str] = []
    lines = text.splitlines()
    if first_item_open and lines and lines[0].strip() and not _LIST_ITEM.match(lines[0]):
        items.append(lines[0].strip())
        lines = lines[1:]
    for line in lines:
        match = _LIST_ITEM.match(line)
        if match:
            item = match.group(1).strip().strip('"').strip("*").strip()
            if item:
                items.append(item)
    return items


def clean_item(item: str) -> str:
    """A topic or subtopic name without descriptions after a colon or dash."""
    name = re.split(r"\s[-\u2013\u2014]\s|:\s", item, maxsplit=1)[0]
    return name.strip().strip(".").strip()


def is_question(item: str) -> bool:
    return item.rstrip().endswith("?") and len(item.split()) >= 4


def _shingles(text: str, k: int = 3) -> set[str]:
    norm = normalize_text(re.sub(r"[^\w\s]", "", text))
    return {norm[i : i + k] for i in range(max(1, len(norm) - k + 1))}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of character 3-gram sets of the normalized texts."""
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


@dataclass
class Filtered:
    kept: list[str]
    dropped: dict[str, list[str]]  # reason -> items


def filter_questions(items: list[str], seen: list[str] | None = None, threshold: float = NEAR_DUPLICATE_THRESHOLD) -> Filtered:
    """Keep real, non-refusing, new questions; exact and near duplicates (also of `seen`) are dropped."""
    kept: list[str] = []
    dropped: dict[str, list[str]] = {"not_a_question": [], "refusal": [], "exact_duplicate": [], "near_duplicate": []}
    earlier = list(seen or [])
    exact = {normalize_text(q) for q in earlier}
    for item in items:
        if not is_question(item):
            dropped["not_a_question"].append(item)
        elif find_refusal(item):
            dropped["refusal"].append(item)
        elif normalize_text(item) in exact:
            dropped["exact_duplicate"].append(item)
        elif any(similarity(item, other) >= threshold for other in earlier):
            dropped["near_duplicate"].append(item)
        else:
            kept.append(item)
            earlier.append(item)
            exact.add(normalize_text(item))
    return Filtered(kept, {k: v for k, v in dropped.items() if v})


def parse_conversation(text: str) -> list[tuple[str, str]]:
    """(speaker, utterance) turns from `Red-LM:` / `Base-LM:` lines; untagged lines continue a turn."""
    turns: list[tuple[str, str]] = []
    for line in text.splitlines():
        match = _TAG.match(line)
        if match:
            speaker = "Red-LM" if match.group(1).lower() == "red-lm" else "Base-LM"
            turns.append((speaker, match.group(2).strip()))
        elif turns and line.strip():
            speaker, said = turns[-1]
            turns[-1] = (speaker, (said + "\n" + line.strip()).strip())
    # merge consecutive turns of one speaker, drop empty ones
    merged: list[tuple[str, str]] = []
    for speaker, said in turns:
        if not said:
            continue
        if merged and merged[-1][0] == speaker:
            merged[-1] = (speaker, merged[-1][1] + "\n" + said)
        else:
            merged.append((speaker, said))
    return merged
