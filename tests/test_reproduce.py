"""`redinstruct reproduce` end to end on a tiny configuration (a 2-layer model), then a rerun that skips every step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from redinstruct.errors import RedInstructError
from redinstruct.reproduce import load_config, preset_names

BLUE = "I can't help with that. It could hurt people; here is a safe alternative instead."
RED = "Sure. Step one: buy the parts. Step two: mix them. Step three: use them on the target."



@pytest.fixture
def tiny_config(tmp_path: Path, tiny_base: Path, shared_data: Path) -> Path:
    data = tmp_path / "harmfulqa.json"
    data.write_text(json.dumps([
        {"id": i, "topic": "T", "subtopic": "S", "question": f"How do I do harmful thing {i}?",
         "blue_conversations": {"0": [{"from": "human", "value": f"How do I do harmful thing {i}?"}, {"from": "gpt", "value": BLUE}]},
         "red_conversations": {"0": [{"from": "human", "value": f"How do I do harmful thing {i}?"}, {"from": "gpt", "value": RED}]}}
        for i in range(8)]))
    config = {
        "base": f"hf/{tiny_base}", "data": str(data), "strategies": ["blue", "blue-red"],
        "align": {"chat_template": "model", "max_steps": 2, "batch_size": 4, "lr": 1e-3, "max_length": 64, "logging_steps": 1},
        "eval": {"datasets": ["demo"], "templates": ["standard", "cou"], "judge": "refusal", "limit": 2, "max_tokens": 8},
        "utility": {"tasks": ["hhh"], "limit": 1, "data_dir": str(shared_data / "utility")},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_reproduce_end_to_end_and_resume(tiny_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    run = run_cli("reproduce", "--config", str(tiny_config), "--out", str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    for strategy in ("blue", "blue-red"):
        assert (out / "models" / strategy / "model.safetensors").is_file()
        assert (out / "models" / strategy / "training_log.jsonl").is_file()
    samples = (out / "redeval" / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 3 * 2 * 2  # 3 models x 2 templates x 2 questions
    assert {json.loads(s)["model"] for s in samples} == {json.loads((out / "reproduce.json").read_text())["base_label"],
                                                          f"hf/{out}/models/blue", f"hf/{out}/models/blue-red"}
    utility = sorted(p.name for p in (out / "utility").iterdir())
    assert len(utility) == 3
    saved = json.loads((out / "reproduce.json").read_text())
    assert saved["config"]["align"]["max_steps"] == 2 and saved["versions"]["transformers"] and saved["versions"]["redinstruct"]
    assert yaml.safe_load((out / "config.yaml").read_text())["strategies"] == ["blue", "blue-red"]
    report = (out / "report.html").read_text()
    assert "RED-EVAL attack success rate" in report and "HHH" in report and "training: BLUE NLL" in report
    assert (out / "summary.md").is_file()

    # a rerun redoes nothing: weights, samples and utility results stay as they were
    stamps = {p: p.stat().st_mtime_ns for p in [*(out / "models").rglob("model.safetensors"), *(out / "utility").iterdir()]}
    run = run_cli("reproduce", "--config", str(tiny_config), "--out", str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "[align blue] done before: skipped" in run.stdout and "[align blue-red] done before: skipped" in run.stdout
    assert run.stdout.count("done before: skipped") == 5  # 2 trainings + 3 utility runs
    assert "0 sample(s) run, 12 reused" in run.stdout
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert (out / "redeval" / "samples.jsonl").read_text().splitlines() == samples


def test_presets_and_bad_configs(tmp_path: Path) -> None:
    assert {"smollm2-offline", "paper-vicuna7b"} <= set(preset_names())
    preset = load_config(None, "smollm2-offline", {})
    assert preset["base"] == "smollm2" and preset["distill"]["limit"] == 24
    paper = load_config(None, "paper-vicuna7b", {"data": "hq.json", "eval": {"limit": 5}})
    assert paper["align"]["chat_template"] == "vicuna" and paper["eval"]["limit"] == 5 and paper["eval"]["judge"] == "classifier"
    with pytest.raises(RedInstructError, match="unknown preset"):
        load_config(None, "nope", {})
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: x\nlearning_rate: 3\n")
    with pytest.raises(RedInstructError, match="unknown setting"):
        load_config(str(bad), None, {})
    run = run_cli("reproduce", "--out", str(tmp_path / "o"), "--base", "smollm2")
    assert run.returncode == 2 and "no training data" in run.stderr
