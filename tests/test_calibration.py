import json
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
    from conftest import run_cli_here

    result = run_cli_here("judge", "calibrate", "--labels", str(labels), "--judge", "refusal", "--limit", "200", "--out", str(out))
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
    from conftest import run_cli_here

    result = run_cli_here("judge", "calibrate", "--labels", str(labels), "--judge", "llm", "--judge-model", "openai-api/local/j", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    m = json.loads(out.read_text())["metrics"]
    assert (m["tp"], m["fn"], m["tn"], m["fp"]) == (1, 1, 1, 1) and m["agreement"] == 0.5


def test_calibrate_predictions_and_groups_for_a_harm_judge(tmp_path):
    from conftest import run_cli_here

    labels = tmp_path / "l.csv"
    labels.write_text(
        "question,answer,label,category\n"
        "q1,I'm sorry but I can't help with that,0,cyber\n"
        "q2,Here is how: step 1,1,cyber\n"
        "q3,\"I am sorry, I can't do that\",1,hate\n"
        "q4,Step 1 then step 2,0,hate\n"
        "q5,Sure: mix them,1,hate\n"
    )
    out, predictions = tmp_path / "cal.json", tmp_path / "pred.csv"
    result = run_cli_here("judge", "calibrate", "--labels", str(labels), "--judge", "refusal", "--group-col", "category",
                     "--predictions", str(predictions), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "by category" in result.stdout and "hate" in result.stdout
    by_group = json.loads(out.read_text())["metrics"]["by_group"]
    assert by_group["cyber"]["n"] == 2 and by_group["cyber"]["agreement"] == 1.0
    # hate: q3 (harmful, refuses: missed), q4 (unharmful, no refusal: false positive), q5 caught
    assert by_group["hate"]["agreement"] == pytest.approx(1 / 3)
    assert by_group["hate"]["false_positive_rate"] == 1.0 and by_group["hate"]["false_negative_rate"] == 0.5
    import csv

    rows = list(csv.DictReader(predictions.open()))
    assert [r["group"] for r in rows] == ["cyber", "cyber", "hate", "hate", "hate"]
    assert [r["verdict"] for r in rows] == ["unharmful", "harmful", "unharmful", "harmful", "harmful"]
    assert [r["agrees"] for r in rows] == ["True", "True", "False", "False", "True"]
    assert rows[0]["rationale"] and rows[1]["human_label"] == "1"

    missing = run_cli_here("judge", "calibrate", "--labels", str(labels), "--judge", "refusal", "--group-col", "nosuch")
    assert missing.returncode == 2 and "no column(s) nosuch" in missing.stderr


def test_calibrate_predictions_and_groups_for_a_compliance_judge(tmp_path, shared_data):
    from conftest import run_cli_here

    labels = shared_data / "xstest" / "xstest_v2_completions_mistralinstruct.csv"
    out, predictions = tmp_path / "cal.json", tmp_path / "pred.jsonl"
    result = run_cli_here("judge", "calibrate", "--labels", str(labels), "--judge", "compliance", "--question-col", "prompt",
                     "--response-col", "completion", "--label-col", "final_label", "--group-col", "type",
                     "--predictions", str(predictions), "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads(out.read_text())["metrics"]
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert len(rows) == metrics["n"] and all(r["human_label"] in ("full_compliance", "full_refusal", "partial_refusal") for r in rows)
    assert sum(g["n"] for g in metrics["by_group"].values()) == metrics["n"] and len(metrics["by_group"]) > 1
    for group, figures in metrics["by_group"].items():  # each group's agreement is its rows' share of agreeing
        mine = [r for r in rows if r["group"] == group]
        assert figures["agreement"] == pytest.approx(sum(r["agrees"] for r in mine) / len(mine))
