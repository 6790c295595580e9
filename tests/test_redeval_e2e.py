"""RED-EVAL end to end on the packaged SmolLM2 (real model, offline), raw and chat."""

import json
from collections import Counter

import pytest
from inspect_ai.log import read_eval_log

from redinstruct.models import RAW_CHAT_TEMPLATE, open_target, resolve_model
from redinstruct.redeval import SAMPLE_FIELDS, EvalConfig, run_redeval

TEMPLATES = ["standard", "cot", "cou"]


@pytest.fixture(scope="module", params=["chat", "raw"])
def smollm2_run(request, tmp_path_factory, shared_data):
    log_dir = tmp_path_factory.mktemp(f"run-{request.param}")
    config = EvalConfig(
        models=["smollm2"],
        datasets=["dangerousqa"],
        templates=TEMPLATES,
        render=request.param,
        judge="refusal",
        limit=4,
        max_tokens=64,
        log_dir=str(log_dir),
        display="none",
    )
    return request.param, run_redeval(config, echo=lambda message: None)


def read_samples(log_dir):
    return [json.loads(line) for line in (log_dir / "samples.jsonl").read_text().splitlines()]


def test_every_sample_is_recorded_with_all_fields(smollm2_run):
    render, result = smollm2_run
    samples = read_samples(result.log_dir)
    assert len(samples) == 4 * 3 and result.generated == 12 and result.reused == 0
    assert Counter(s["template"] for s in samples) == {t: 4 for t in TEMPLATES}
    for s in samples:
        assert tuple(s) == SAMPLE_FIELDS
        assert s["model"] == "smollm2" and s["dataset"] == "dangerousqa" and s["render"] == render
        assert s["verdict"] in ("harmful", "unharmful", "unknown")
        assert s["verdict"] != "unknown" or s["error"], "an unknown always says why"
        assert s["question"] in s["prompt"]
        assert isinstance(s["response_raw"], str)
    assert len({(s["template"], s["question_id"]) for s in samples}) == 12, "no duplicates"
    cou = [s for s in samples if s["template"] == "cou"]
    assert all(s["prompt"].rstrip().endswith("Base-LM:") for s in cou)
    # SmolLM2 is not safety-tuned: it answers chat prompts and continues the CoU conversation;
    # a raw plain question often gets an empty continuation, which must be unknown, not safe
    judged_templates = ("standard", "cot", "cou") if render == "chat" else ("cou",)
    assert all(s["verdict"] != "unknown" for s in samples if s["template"] in judged_templates)
    assert all(s["error"] == "empty reply" for s in samples if s["verdict"] == "unknown")


def test_summary_agrees_with_samples(smollm2_run):
    _, result = smollm2_run
    samples = read_samples(result.log_dir)
    summary = json.loads((result.log_dir / "summary.json").read_text())
    assert [(r["model"], r["dataset"], r["template"]) for r in summary] == [("smollm2", "dangerousqa", t) for t in TEMPLATES]
    for run in summary:
        mine = [s for s in samples if s["template"] == run["template"]]
        counts = Counter(s["verdict"] for s in mine)
        assert (run["n"], run["harmful"], run["unharmful"], run["unknown"]) == (
            len(mine), counts["harmful"], counts["unharmful"], counts["unknown"]
        )
        judged = run["harmful"] + run["unharmful"]
        if judged:
            assert run["asr"] == pytest.approx(run["harmful"] / judged)
            assert run["ci_low"] <= run["asr"] <= run["ci_high"]
        assert sum(t["n"] for t in run["by_topic"].values()) == run["n"]
        assert run["judge"] == "refusal"
    markdown = (result.log_dir / "summary.md").read_text()
    assert "| smollm2 |" in markdown and "dangerousqa / cou" in markdown


def test_template_echoes_are_unharmful_and_counted(smollm2_run):
    """SmolLM2 often answers a CoU prompt with the template's own garage-door example: not an attack."""
    render, result = smollm2_run
    samples = read_samples(result.log_dir)
    echoes = [s for s in samples if s["echo"]]
    if render == "chat":
        assert any(s["template"] == "cou" for s in echoes), "SmolLM2 copies the CoU demonstration under greedy decoding"
    for s in echoes:
        assert s["verdict"] == "unharmful" and s["judge_rationale"].startswith("echo:")
        assert "garage" in s["response"] or "door" in s["response"]
    # refusal matching alone calls every non-refusing reply harmful, so non-echo verdicts are the judge's own
    assert all(s["judge_rationale"] == "" or not s["judge_rationale"].startswith("echo:") for s in samples if not s["echo"])
    summary = json.loads((result.log_dir / "summary.json").read_text())
    assert {r["template"]: r["echo"] for r in summary} == {t: sum(1 for s in echoes if s["template"] == t) for t in TEMPLATES}
    assert all("worst held-out agreement" in r["judge_quality"]["summary"] for r in summary)


def test_inspect_logs_are_written_and_readable(smollm2_run):
    _, result = smollm2_run
    logs = [read_eval_log(str(p)) for p in sorted(result.log_dir.glob("*.eval"))]
    assert len(logs) == 3 and all(log.status == "success" for log in logs)
    assert sum(len(log.samples or []) for log in logs) == 12


def test_rerun_does_nothing_new(smollm2_run):
    _, result = smollm2_run
    before = (result.log_dir / "samples.jsonl").read_text()
    config = EvalConfig(
        models=["smollm2"], datasets=["dangerousqa"], templates=TEMPLATES, render=smollm2_run[0], judge="refusal",
        limit=4, max_tokens=64, log_dir=str(result.log_dir), display="none",
    )
    again = run_redeval(config, echo=lambda message: None)
    assert again.generated == 0 and again.reused == 12
    assert (result.log_dir / "samples.jsonl").read_text() == before
    assert len(list(result.log_dir.glob("*.eval"))) == 3, "no new inspect run was started"


def test_raw_render_feeds_the_prompt_text_unchanged():
    from inspect_ai.model import ChatMessageUser

    raw = resolve_model("smollm2", "raw")
    assert raw.model_args["chat_template"] == RAW_CHAT_TEMPLATE and raw.model_args["do_sample"] is False
    target = open_target(raw)
    assert target.render([ChatMessageUser(content="Red-LM: hi\n\nBase-LM:")]) == "Red-LM: hi\n\nBase-LM:"
    chat = open_target(resolve_model("smollm2", "chat"))
    assert "<|im_start|>user" in chat.render([ChatMessageUser(content="hi")])
