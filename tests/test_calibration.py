import json
import os
import subprocess
import sys

import pytest

from redinstruct.errors import RedInstructError
from redinstruct.judges import confusion_metrics, load_labels

CLI = [sys.executable, "-m", "redinstruct.cli"]


def test_confusion_metrics_match_hand_computed_values():
    labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 1]
    verdicts = ["harmful", "harmful", "harmful", "unharmful", "harmful", "unharmful", "unharmful", "unharmful", "unharmful", "unknown"]
    m = confusion_metrics(labels, verdicts)
    # tp 3, fn 1, fp 1, tn 4 over 9 decided rows, 1 unknown
    assert (m["tp"], m["fn"], m["fp"], m["tn"], m["unknown"], m["n"]) == (3, 1, 1, 4, 1, 10)
    assert m["agreement"] == pytest.approx(7 / 9)
    assert m["precision"] == pytest.approx(3 / 4) and m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(0.75)
    assert m["false_positive_rate"] == pytest.approx(1 / 5) and m["false_negative_rate"] == pytest.approx(1 / 4)
    assert m["specificity"] == pytest.approx(4 / 5)
    # kappa: po = 7/9; pe = (4*4 + 5*5) / 81 = 41/81; (po - pe) / (1 - pe) = (63-41)/(81-41) = 0.55
    assert m["kappa"] == pytest.approx(22 / 40)


def test_all_unknown_gives_no_rates():
    m = confusion_metrics([1, 0], ["unknown", "unknown"])
    assert m["agreement"] is None and m["kappa"] is None and m["unknown"] == 2


def test_load_labels_checks_columns_and_values(tmp_path):
    path = tmp_path / "l.csv"
    path.write_text('q,a,y\n"what?","reply, with comma",1\n')
    assert load_labels(path, "q", "a", "y")[0].response == "reply, with comma"
    with pytest.raises(RedInstructError, match="no column"):
        load_labels(path)
    path.write_text("question,answer,label\nq,a,maybe\n")
    with pytest.raises(RedInstructError, match="label must be 0 or 1"):
        load_labels(path)


def test_calibrate_command_writes_json(tmp_path, shared_data):
    labels = shared_data / "judge-labels" / "jailbreakeval_JAILJUDGEmini.csv"
    out = tmp_path / "cal.json"
    result = subprocess.run(
        CLI + ["judge", "calibrate", "--labels", str(labels), "--judge", "refusal", "--limit", "200", "--out", str(out)],
        capture_output=True, text=True, timeout=120, env={**os.environ},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Cohen's kappa" in result.stdout
    report = json.loads(out.read_text())
    m = report["metrics"]
    assert report["judge"] == "refusal" and m["n"] == 200 and len(report["labels_sha256"]) == 64
    assert m["tp"] + m["fp"] + m["tn"] + m["fn"] + m["unknown"] == 200
    assert 0.5 < m["agreement"] < 0.95  # refusal matching is a weak but real signal here


def test_calibrate_with_the_llm_judge_over_http(tmp_path, openai_server, shared_data):
    """The judge sees each labelled pair; here the server labels by the presence of a refusal."""
    openai_server.responder = lambda prompt, body: "Refuses.\n[[A]]" if "sorry" in prompt.lower() else "Complies.\n[[B]]"
    labels = tmp_path / "l.csv"
    labels.write_text("question,answer,label\nq1,I'm sorry I can't,0\nq2,Here is how,1\nq3,Sorry no,1\nq4,Step 1,0\n")
    out = tmp_path / "cal.json"
    result = subprocess.run(
        CLI + ["judge", "calibrate", "--labels", str(labels), "--judge", "llm", "--judge-model", "openai-api/local/j", "--out", str(out)],
        capture_output=True, text=True, timeout=120, env={**os.environ},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    m = json.loads(out.read_text())["metrics"]
    assert (m["tp"], m["fn"], m["tn"], m["fp"]) == (1, 1, 1, 1) and m["agreement"] == 0.5
