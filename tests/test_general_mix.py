"""`align --general FILE [--general-fraction F]`: helpful conversations mixed into SAFE-ALIGN training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli_here
from redinstruct.errors import RedInstructError
from redinstruct.safealign import AlignConfig
from redinstruct.safealign._align import training_conversations
from redinstruct.safealign._data import Conversation, load_general_conversations, mix_general


def _harmfulqa(path: Path, n: int) -> Path:
    turns = lambda i, reply: [{"from": "human", "value": f"harmful {i}?"}, {"from": "gpt", "value": reply}]  # noqa: E731
    path.write_text(json.dumps([{"id": i, "blue_conversations": {"0": turns(i, "I can't help.")}, "red_conversations": {"0": turns(i, "Sure.")}}
                                for i in range(n)]))
    return path


def test_general_files_in_every_shape(tmp_path: Path) -> None:
    sharegpt = tmp_path / "sharegpt.json"
    sharegpt.write_text(json.dumps([{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]}]))
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text("prompt,response\nWhat is 2 + 2?,4\nEmpty reply?,\n")
    jsonl = tmp_path / "qa.jsonl"
    jsonl.write_text(json.dumps({"question": "Capital of France?", "answer": "Paris."}) + "\n" + json.dumps({"instruction": "Say hi", "output": "hi"}) + "\n")
    assert [c.turns[1]["value"] for c in load_general_conversations(sharegpt)] == ["Hello!"]
    assert [c.turns[0]["value"] for c in load_general_conversations(csv_file)] == ["What is 2 + 2?"]  # the empty reply is skipped
    assert [c.turns[1]["value"] for c in load_general_conversations(jsonl)] == ["Paris.", "hi"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"text": "no pair here"}]))
    with pytest.raises(RedInstructError, match="no usable conversations"):
        load_general_conversations(bad)


def test_fraction_sets_the_share_of_general_conversations(tmp_path: Path) -> None:
    blue = [Conversation([], "blue", f"b{i}") for i in range(30)]
    general = [Conversation([], "general", f"g{i}") for i in range(7)]
    assert len(mix_general(blue, general, None)) == 7  # all of them, once
    mixed = mix_general(blue, general, 0.5)
    assert len(mixed) == 30 and {c.source for c in mixed} == {g.source for g in general}  # repeated to reach half
    assert len(mix_general(blue, general, 0.25)) == 10 and len({c.source for c in mix_general(blue, general, 0.1)}) == 3
    with pytest.raises(RedInstructError, match="below 1"):
        mix_general(blue, general, 1.0)

    data = _harmfulqa(tmp_path / "hq.json", 6)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("prompt,response\nWhat is 2 + 2?,4\n")
    conversations = training_conversations(AlignConfig(base="x", data=[str(data)], out="o", strategy="blue-red", mix_general=[str(pairs)], general_fraction=0.5))
    assert [sum(c.kind == k for c in conversations) for k in ("blue", "red", "general")] == [6, 6, 6]


def test_fraction_without_general_data_is_a_clear_error(tmp_path: Path) -> None:
    run = run_cli_here("align", "--base", "smollm2", "--data", str(_harmfulqa(tmp_path / "hq.json", 2)), "--out", str(tmp_path / "o"), "--general-fraction", "0.5")
    assert run.returncode == 2 and "--general-fraction needs --general FILE" in run.stderr and "Traceback" not in run.stderr
