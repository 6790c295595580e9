"""The journal behind samples.jsonl, turns.jsonl and HARMFULQA's stage files: any text survives, a torn line is skipped."""

from __future__ import annotations

import json
from pathlib import Path

from redinstruct.redeval import SampleRecord, SampleStore

ODD = "a\u2028b\u2029c\u0085d\x1ce\x0bf\rg\nh"  # every character some line reader takes for a line end


def _record(question_id: str, reply: str) -> SampleRecord:
    return SampleRecord(model="m", dataset="d", template="t", render="chat", judge="j", question_id=question_id, question="q", topic="t",
                        subtopic="s", label="unsafe", type="", prompt="p", response_raw=reply, response=reply, verdict="harmful")


def test_a_reply_with_line_separators_is_one_line_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    store = SampleStore(path)
    store.append(_record("q1", ODD))
    store.append(_record("q2", "plain"))
    raw = path.read_text(encoding="utf-8")
    assert raw.count("\n") == 2 and len(raw.splitlines()) == 2, "str.splitlines sees two lines too"
    again = SampleStore(path)
    assert len(again) == 2 and again.get(("m", "d", "t", "q1"))["response_raw"] == ODD


def test_a_file_with_raw_separators_from_an_older_run_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    line = _record("q1", ODD).line()
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n" + '{"model": "m", "dataset"', encoding="utf-8")  # raw U+2028, then a torn line
    store = SampleStore(path)
    assert len(store) == 1 and store.get(("m", "d", "t", "q1"))["response_raw"] == ODD
