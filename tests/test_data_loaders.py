import hashlib
import json
from pathlib import Path

import pytest

from redinstruct.data import DATASETS, content_id, load_question_file, load_questions
from redinstruct.data import _registry
from redinstruct.errors import DatasetError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_flat_json_list_like_dangerousqa(tmp_path):
    bank = load_question_file(write(tmp_path / "flat.json", json.dumps(["How to A?", "How to B?", "  "])))
    assert [q.text for q in bank.questions] == ["How to A?", "How to B?"]
    assert {q.topic for q in bank.questions} == {"uncategorized"}
    assert bank.name == "flat" and bank.questions[0].source == "flat"


def test_nested_topic_subtopic_json_like_harmfulqa(tmp_path):
    data = {"Chemistry": {"Organic": ["q1", "q2"], "Inorganic": ["q3"]}, "Law": {"Tax": ["q4"]}}
    bank = load_question_file(write(tmp_path / "nested.json", json.dumps(data)))
    assert [(q.topic, q.subtopic, q.text) for q in bank.questions] == [
        ("Chemistry", "Organic", "q1"),
        ("Chemistry", "Organic", "q2"),
        ("Chemistry", "Inorganic", "q3"),
        ("Law", "Tax", "q4"),
    ]


def test_jsonl_with_chosen_columns(tmp_path):
    lines = [{"goal": "g1", "cat": "A", "sub": "x"}, {"goal": "g2", "cat": "B"}]
    path = write(tmp_path / "b.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n")
    bank = load_question_file(path, text_column="goal", topic_column="cat", subtopic_column="sub")
    assert [(q.text, q.topic, q.subtopic) for q in bank.questions] == [("g1", "A", "x"), ("g2", "B", "uncategorized")]


def test_csv_autodetects_question_and_category_columns_and_keeps_ids(tmp_path):
    path = write(tmp_path / "c.csv", 'id,Question,category\n7,"How, exactly?",Crime\n8,Other?,Fraud\n')
    bank = load_question_file(path)
    assert [(q.id, q.text, q.topic) for q in bank.questions] == [("7", "How, exactly?", "Crime"), ("8", "Other?", "Fraud")]


def test_ids_are_stable_and_independent_of_order(tmp_path):
    a = load_question_file(write(tmp_path / "a.json", json.dumps(["first", "second"])))
    b = load_question_file(write(tmp_path / "b.json", json.dumps(["second", "first"])))
    assert {q.text: q.id for q in a.questions} == {q.text: q.id for q in b.questions}
    assert a.questions[0].id == content_id("first", "uncategorized", "uncategorized")


def test_duplicates_reported_kept_or_dropped(tmp_path):
    path = write(tmp_path / "d.json", json.dumps(["Same  question?", "other", "same question?"]))
    kept = load_question_file(path)
    assert len(kept) == 3 and len(kept.duplicates) == 1
    assert len(set(q.id for q in kept.questions)) == 3, "duplicates still get distinct ids"
    dropped = load_question_file(path, drop_duplicates=True)
    assert [q.text for q in dropped.questions] == ["Same  question?", "other"] and dropped.dropped_duplicates == 1


def test_named_datasets_resolve_through_data_dir(shared_data, capfd):
    """The slices in tests/data/shared: not the canonical files, so resolution warns and goes on."""
    dq = load_questions("dangerousqa")
    assert len(dq) == 12
    assert "differs from the canonical dangerousqa (sha256 mismatch)" in capfd.readouterr().err
    hq = load_questions("harmfulqa")
    assert len(hq) == 17 and len(hq.topics()) == 2
    assert len({(q.topic, q.subtopic) for q in hq.questions}) == 4
    assert sum(len(g) - 1 for g in hq.duplicates) == 1
    assert len(load_questions("harmfulqa", drop_duplicates=True)) == 16


@pytest.mark.shared
def test_full_named_datasets(full_shared_data, monkeypatch, capfd):
    monkeypatch.setenv("REDINSTRUCT_DATA_DIR", str(full_shared_data / "redinstruct"))
    dq = load_questions("dangerousqa")
    assert len(dq) == 200
    hq = load_questions("harmfulqa")
    assert len(hq) == 1960 and len(hq.topics()) == 10
    assert len({(q.topic, q.subtopic) for q in hq.questions}) == 98
    assert sum(len(g) - 1 for g in hq.duplicates) == 22
    assert len(load_questions("harmfulqa", drop_duplicates=True)) == 1938
    assert "sha256 mismatch" not in capfd.readouterr().err, "the shared files are the canonical ones"


def test_demo_bank_is_small_and_packaged():
    demo = load_questions("demo")
    assert 1 <= len(demo) <= 20 and len(demo.topics()) >= 3
    assert "smoke" in DATASETS["demo"].description


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("bad.json", "[1, 2", "malformed JSON"),
        ("bad.jsonl", '{"question": "a"}\nnot json\n', "line 2"),
        ("mixed.json", json.dumps(["a", {"b": 1}]), "only strings or only objects"),
        ("nocol.jsonl", json.dumps({"foo": "a"}) + "\n", "name it one of question, text"),
        ("empty.json", "[]", "no questions"),
        ("x.txt", "hello", "unsupported dataset file type"),
        ("nested.json", json.dumps({"T": {"S": "not a list"}}), "list of question strings"),
    ],
)
def test_malformed_files_give_clear_errors(tmp_path, name, text, message):
    with pytest.raises(DatasetError, match=message):
        load_question_file(write(tmp_path / name, text))


def test_missing_text_column_named_by_user(tmp_path):
    path = write(tmp_path / "c.csv", "question\nq\n")
    with pytest.raises(DatasetError, match="no text column 'prompt'"):
        load_question_file(path, text_column="prompt")


def test_unknown_name_lists_choices():
    with pytest.raises(DatasetError, match="unknown dataset 'nosuch'.*dangerousqa"):
        load_questions("nosuch")


def point_dataset_at(monkeypatch, name, port, tmp_path, sha256=None):
    """Make named dataset `name` download from 127.0.0.1:`port`, with empty data and cache folders."""
    spec = DATASETS[name]
    url = f"http://127.0.0.1:{port}/{spec.filename}"
    monkeypatch.setitem(_registry.DATASETS, name, _registry.NamedDataset(spec.name, spec.filename, spec.description, url, sha256 or spec.sha256))
    monkeypatch.setenv("REDINSTRUCT_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("REDINSTRUCT_CACHE_DIR", str(tmp_path / "cache"))


def _serve_bytes(payload: bytes):
    """A real HTTP server on 127.0.0.1 that serves `payload` at any path."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_download_is_verified_and_cached(tmp_path, monkeypatch, shared_data):
    payload = (shared_data / "redinstruct" / "dangerousqa.json").read_bytes()
    server = _serve_bytes(payload)
    try:
        # the slice stands in for the canonical file: pin its own hash
        point_dataset_at(monkeypatch, "dangerousqa", server.server_address[1], tmp_path, sha256=hashlib.sha256(payload).hexdigest())
        path = _registry.dataset_path("dangerousqa")
        assert path == tmp_path / "cache" / "data" / "dangerousqa.json" and path.read_bytes() == payload
        server.shutdown()
        assert _registry.dataset_path("dangerousqa") == path, "second resolution comes from the cache"
    finally:
        server.server_close()


def test_download_with_wrong_hash_is_refused(tmp_path, monkeypatch):
    server = _serve_bytes(b'["tampered"]')
    try:
        point_dataset_at(monkeypatch, "harmfulqa", server.server_address[1], tmp_path)
        with pytest.raises(DatasetError, match="sha256"):
            _registry.dataset_path("harmfulqa")
        assert not (tmp_path / "cache" / "data" / "harmfulqa.json").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_offline_and_absent_says_how_to_provide_the_file(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:  # a port on 127.0.0.1 with nothing listening: a real refused connection
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    point_dataset_at(monkeypatch, "harmfulqa", port, tmp_path)
    with pytest.raises(DatasetError, match="not available offline.*REDINSTRUCT_DATA_DIR"):
        load_questions("harmfulqa")


def test_borderline_banks_are_disjoint_and_no_near_copy_of_xstest(shared_data):
    """The training bank `borderline` and the validation bank `borderline-val` share no prompt, and none of
    either is an XSTest prompt or close to one: MiniLM cosine below 0.75 (this checks the 30-prompt test slice;
    against the 250 shared XSTest prompts the closest pair is 0.71)."""
    import csv

    import numpy as np

    from redinstruct.data import load_questions
    from redinstruct.judges._embedding import SentenceEmbedder

    train = [q.text for q in load_questions("borderline").questions]
    val = [q.text for q in load_questions("borderline-val").questions]
    assert len(train) >= 150 and len(val) >= 40 and not set(train) & set(val)
    with (shared_data / "xstest" / "xstest_prompts.csv").open(encoding="utf-8") as f:
        xstest = [row["prompt"] for row in csv.DictReader(f)]
    embed = SentenceEmbedder()
    ours, theirs = embed.encode(train + val), embed.encode(xstest)
    closest = float(np.max(np.asarray(ours) @ np.asarray(theirs).T))
    assert closest < 0.75, closest
    assert float(np.max(np.asarray(embed.encode(val)) @ np.asarray(embed.encode(train)).T)) < 0.9
