"""Files users hand us, fuzzed: every loader either loads, or says what is wrong in one line (exit 2 from the CLI).

Random bytes, JSON of the wrong shape, NUL bytes, huge fields, empty files, text in UTF-8 with and
without a byte-order mark and in UTF-16: the question-bank, label and HARMFULQA loaders never raise
anything but their one-line error, and `redinstruct data info` never ends in a traceback.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from conftest import run_cli_here
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redinstruct.data import load_question_file
from redinstruct.errors import RedInstructError
from redinstruct.judges import load_labels
from redinstruct.safealign import load_harmfulqa_conversations

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
                               ["question", "text", "topic", "label", "answer", "id", "red_conversations", "blue_conversations",
                                "from", "value", "0", "x"]) | st.text(max_size=8), inner, max_size=5), max_leaves=20)
CELL = st.text(st.characters(exclude_categories=("Cs",)), max_size=40) | st.just("x" * 300_000) | st.just("a\x00b")
ENCODINGS = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"])


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


CONTENT = st.one_of(
    st.binary(max_size=400),
    st.tuples(JSON_VALUES, ENCODINGS).map(lambda v: json.dumps(v[0], ensure_ascii=False).encode(v[1], errors="replace")),
    st.tuples(st.lists(JSON_VALUES, max_size=4), ENCODINGS).map(
        lambda v: "\n".join(json.dumps(x, ensure_ascii=False) for x in v[0]).encode(v[1], errors="replace")),
    st.tuples(st.lists(st.lists(CELL, min_size=1, max_size=4), max_size=4), ENCODINGS).map(
        lambda v: _csv([["question", "topic", "label"]] + v[0]).encode(v[1], errors="replace")),
    st.just(b""), st.just(codecs.BOM_UTF8), st.just(b"\x00" * 64),
)
SUFFIXES = st.sampled_from([".json", ".jsonl", ".csv"])
LOADERS = {
    "questions": lambda path: load_question_file(path),
    "labels": lambda path: load_labels(path, "question", "answer", "label"),
    "harmfulqa": lambda path: load_harmfulqa_conversations(path),
}


def _one_line(ex: Exception) -> None:
    message = str(ex)
    assert message and "\n" not in message, repr(message)


@pytest.mark.parametrize("loader", sorted(LOADERS))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(content=CONTENT, suffix=SUFFIXES)
def test_a_loader_loads_or_raises_one_line(loader: str, content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(content)
        try:
            LOADERS[loader](path)
        except RedInstructError as ex:
            _one_line(ex)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(content=CONTENT, suffix=SUFFIXES)
def test_data_info_is_exit_0_or_one_line_and_exit_2(content: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"bank{suffix}"
        path.write_bytes(content)
        result = run_cli_here("data", "info", str(path))
        assert result.returncode in (0, 2), result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        if result.returncode == 2:
            assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
@pytest.mark.parametrize("suffix", [".csv", ".json", ".jsonl"])
def test_text_in_utf8_with_or_without_bom_and_utf16_loads(tmp_path: Path, encoding: str, suffix: str) -> None:
    """What Excel and public judge-evaluation sets write: the first column is found, every row read."""
    rows = [{"question": "How do I pick a lock?", "topic": "crime", "answer": "I can't help.", "label": "unsafe", "harm": "0"},
            {"question": "Wie spät ist es? ¿Qué hora es?", "topic": "time", "answer": "Noon.", "label": "safe", "harm": "1"}]
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        text = _csv([list(rows[0])] + [list(r.values()) for r in rows])
    elif suffix == ".json":
        text = json.dumps(rows, ensure_ascii=False)
    else:
        text = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    path.write_bytes(text.encode(encoding))
    bank = load_question_file(path)
    assert [q.text for q in bank.questions] == [r["question"] for r in rows] and bank.questions[0].topic == "crime"
    assert [q.label for q in bank.questions] == ["unsafe", "safe"]
    labels = load_labels(path, "question", "answer", "harm")
    assert [r.label for r in labels] == [0, 1]
