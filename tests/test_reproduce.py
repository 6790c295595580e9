"""`redinstruct reproduce` end to end on a tiny configuration (a 2-layer model), then a rerun that skips every step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import run_cli, run_cli_here

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
    general = tmp_path / "helpful.csv"
    general.write_text("prompt,response\nWhat is 2 + 2?,4.\nHow do I kill a Python process?,Run kill with its process id.\n")
    config = {
        "base": f"hf/{tiny_base}", "name": "Tiny", "names": {"blue-red": "Tiny-STARLING"}, "data": str(data), "strategies": ["blue", "blue-red", "blue+general"], "general": str(general),
        "align": {"chat_template": "model", "max_steps": 2, "batch_size": 4, "lr": 1e-3, "max_length": 64, "logging_steps": 1,
                  "general_fraction": 0.5},
        "eval": {"datasets": ["demo"], "templates": ["standard", "cou"], "judge": "refusal", "limit": 2, "max_tokens": 8},
        "over_refusal": {"dataset": "xstest", "per_type": 1},
        "validation": {"every": 1, "harmful": {"questions": ["demo"], "skip": 8, "limit": 2}, "safe": "borderline-val", "max_new_tokens": 4},
        "utility": {"tasks": ["hhh"], "limit": 1, "data_dir": str(shared_data / "utility")},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_reproduce_end_to_end_and_resume(tiny_config: Path, tmp_path: Path, tiny_base: Path) -> None:
    out = tmp_path / "exp"
    run = run_cli("reproduce", "--config", str(tiny_config), "--out", str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    for strategy in ("blue", "blue-red"):
        assert (out / "models" / strategy / "model.safetensors").is_file()
        assert (out / "models" / strategy / "training_log.jsonl").is_file()
    samples = (out / "redeval" / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 4 * 2 * 2  # 4 models x 2 templates x 2 questions
    # display names in results (the config's name, then "<base> + <strategy>" or the config's names); paths in reproduce.json
    assert {json.loads(s)["model"] for s in samples} == {"Tiny", "Tiny + blue", "Tiny-STARLING", "Tiny + blue+general"}
    manifest = json.loads((out / "reproduce.json").read_text())
    assert manifest["base_label"] == "Tiny" and manifest["base_model"] == f"hf/{tiny_base}" and manifest["names"]["blue"] == "Tiny + blue"
    # the general mix: 8 blue conversations, general ones as many (fraction 0.5; the 2 rows repeated), none without +general
    mixed = json.loads((out / "models" / "blue+general" / "training_data.json").read_text())
    assert (mixed["blue"], mixed["general"], mixed["general_fraction"]) == (8, 8, 0.5)
    assert json.loads((out / "models" / "blue" / "training_data.json").read_text())["general"] == 0
    # over-refusal: one prompt of each XSTest type in the test slice (5 safe, 5 unsafe contrasts) per model
    refusal_samples = [json.loads(s) for s in (out / "over-refusal" / "samples.jsonl").read_text().splitlines()]
    assert len(refusal_samples) == 4 * 10 and sum(s["label"] == "safe" for s in refusal_samples) == 4 * 5
    utility = sorted(p.name for p in (out / "utility").iterdir())
    assert len(utility) == 4
    saved = json.loads((out / "reproduce.json").read_text())
    assert saved["config"]["align"]["max_steps"] == 2 and saved["versions"]["transformers"] and saved["versions"]["redinstruct"]
    assert yaml.safe_load((out / "config.yaml").read_text())["strategies"] == ["blue", "blue-red", "blue+general"]
    report = (out / "report.html").read_text()
    assert "RED-EVAL attack success rate" in report and "HHH" in report and "training: blue NLL" in report and "training: share of red samples at or above tau" in report
    assert "over-refusal xstest / standard" in report and 'class="plot scatter"' in report
    assert "Tiny + blue" in report and f"hf/{out}" not in report.split("Configuration")[0]  # names, not paths, above the config
    # checkpoints on the frontier: the base and both steps measured, one kept, one curve per strategy in the report
    frontier = json.loads((out / "models" / "blue" / "frontier.json").read_text())
    assert [p["step"] for p in frontier["points"]] == [1, 2] and frontier["chosen"]["step"] in (1, 2) and frontier["harmful_prompts"] == 2
    assert json.loads((out / "data" / "val_harmful.json").read_text()) and 'data-plot="frontier"' in report
    # short runs log every step: a curve per strategy with every one of its (2) steps
    assert len((out / "models" / "blue" / "training_log.jsonl").read_text().splitlines()) >= 2
    summary = (out / "summary.md").read_text()
    assert "over-refusal xstest / standard" in summary and "Over-refusal: safe prompts refused" in summary

    # a rerun redoes nothing: weights, samples and utility results stay as they were
    stamps = {p: p.stat().st_mtime_ns for p in [*(out / "models").rglob("model.safetensors"), *(out / "utility").iterdir()]}
    run = run_cli_here("reproduce", "--config", str(tiny_config), "--out", str(out))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "[align blue] done before: skipped" in run.stdout and "[align blue-red] done before: skipped" in run.stdout
    assert run.stdout.count("done before: skipped") == 7  # 3 trainings + 4 utility runs
    assert "0 sample(s) run, 16 reused" in run.stdout and "0 sample(s) run, 40 reused" in run.stdout
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert (out / "redeval" / "samples.jsonl").read_text().splitlines() == samples


def test_a_test_question_in_the_training_data_stops_the_run(tmp_path: Path) -> None:
    """A RED-EVAL question trained on (here inside a CoU wrapper) measures memory, not safety: one line, exit 2, no model."""
    from redinstruct.data import load_questions

    question = load_questions("demo").questions[1].text
    data = tmp_path / "harmfulqa.json"
    data.write_text(json.dumps([{"id": 0, "topic": "T", "subtopic": "S", "question": "q",
                                 "blue_conversations": {"cou": [{"from": "human", "value": f"Red-LM: {question}\n\nBase-LM:"}, {"from": "gpt", "value": BLUE}]}}]))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"base": "smollm2", "data": str(data), "strategies": ["blue"],
                                      "eval": {"datasets": ["demo"], "templates": ["standard"], "limit": 2}}))
    run = run_cli_here("reproduce", "--config", str(config), "--out", str(tmp_path / "o"))
    assert run.returncode == 2 and "1 test question(s) of demo are also in the training data" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "o" / "models").exists()


def test_presets_and_bad_configs(tmp_path: Path) -> None:
    assert {"smollm2-offline", "paper-vicuna7b"} <= set(preset_names())
    from redinstruct.reproduce._run import split_strategy

    assert split_strategy("blue-red+general+pairs") == ("blue-red", {"+general", "+pairs"}) == split_strategy("blue-red+pairs+general")
    assert split_strategy("dpo") == ("dpo", set())
    helpful = load_config(None, "smollm2-helpful", {})
    # DPO + pairs raised ASR above the base's interval: it left the preset; the best recipe found starts with the
    # contrastive stage; the training data carries the attack's wrappers
    assert helpful["strategies"] == ["blue-red+general"] and helpful["distill"]["harm_judge"] == "crossencoder"
    assert helpful["align"]["contrastive_steps"] > 0 and "borderline" in helpful["distill"]["borderline"]
    assert helpful["distill"]["wrap"] == ["cou", "cot", "conversation"] and helpful["align"]["bf16"] == "auto"
    with pytest.raises(RedInstructError, match="unknown wrapper"):
        load_config(None, "smollm2-helpful", {"distill": {"wrap": "cou,coq"}})
    with pytest.raises(RedInstructError, match="unknown judge 'nope'"):
        load_config(None, "smollm2-helpful", {"distill": {"harm_judge": "nope"}})
    with pytest.raises(RedInstructError, match="needs a judge model"):
        load_config(None, "smollm2-helpful", {"distill": {"harm_judge": "llm"}})
    assert helpful["validation"]["safe"] == "borderline-val" and helpful["over_refusal"]["per_type"] >= 10 and helpful["eval"]["limit"] >= 40
    preset = load_config(None, "smollm2-offline", {})
    assert preset["base"] == "smollm2" and preset["distill"]["limit"] == 24
    paper = load_config(None, "paper-vicuna7b", {"data": "hq.json", "eval": {"limit": 5}})
    assert paper["align"]["chat_template"] == "vicuna" and paper["eval"]["limit"] == 5 and paper["eval"]["judge"] == "crossencoder"
    with pytest.raises(RedInstructError, match="unknown preset"):
        load_config(None, "nope", {})
    with pytest.raises(RedInstructError, match="quote a name that holds a comma"):
        load_config(None, "smollm2-helpful", {"names": {"blue-red+general": None}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: x\nlearning_rate: 3\n")
    with pytest.raises(RedInstructError, match="unknown setting"):
        load_config(str(bad), None, {})
    run = run_cli_here("reproduce", "--out", str(tmp_path / "o"), "--base", "smollm2")
    assert run.returncode == 2 and "no training data" in run.stderr
