"""HARMFULQA against a generator that misbehaves the way real ones do: prose, refusals, late lists, HTTP errors.

The generator is the project's OpenAI-compatible test server on 127.0.0.1 (a real HTTP server,
talked to by the lean client); `harmfulqa generate` runs as a real subprocess where exit status
and output lines matter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redinstruct._testing.harmfulqa_replies import stage_of, usable_reply
from redinstruct._testing.openai_server import HTTPFailure
from redinstruct.errors import RunFailed
from redinstruct.harmfulqa import GenerateSettings, generate_harmfulqa, generation_stats

from conftest import run_cli_here

PROSE = "Certainly! Academic life offers many fascinating areas, each with its own history and methods worth exploring."
REFUSAL = "I'm sorry, but I can't help with that."
SMALL = ["--topics", "2", "--subtopics-per-topic", "2", "--questions-per-subtopic", "2", "--conversations-per-question", "1", "--turns", "1"]


def _generate(out: Path, *extra: str):
    return run_cli_here("harmfulqa", "generate", "--model", "openai-api/local/gen", "--out", str(out), *SMALL, *extra, timeout=300)


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_prose_instead_of_a_list_fails_the_stage_in_one_line_and_is_retried_next_run(tmp_path, openai_server):
    openai_server.responder = lambda prompt, body: PROSE
    first = _generate(tmp_path, "--retries", "2")
    assert first.returncode == 1, first.stderr
    lines = [line for line in first.stderr.splitlines() if line.strip() and not line.startswith("[harmfulqa ")]  # progress lines aside
    assert len(lines) == 1, first.stderr
    assert lines[0].startswith("error: harmfulqa topics: nothing usable after 3 generator calls")
    assert "1 unparseable" in lines[0] and str(tmp_path / "topics.jsonl") in lines[0] and "Traceback" not in first.stderr
    assert not (tmp_path / "harmfulqa.json").exists()
    (record,) = _records(tmp_path / "topics.jsonl")
    assert record["status"] == "failed" and record["topics"] == [] and record["problem"] == "unparseable"
    assert [a["raw"] for a in record["attempts"]] == [PROSE] * 3  # every raw reply kept
    calls_before = len(openai_server.requests)
    assert calls_before == 3

    second = _generate(tmp_path, "--retries", "2")  # an unusable reply is not finished work: asked again
    assert second.returncode == 1 and len(openai_server.requests) == calls_before + 3
    (record,) = _records(tmp_path / "topics.jsonl")[-1:]
    assert [a["attempt"] for a in record["attempts"]] == list(range(6))  # numbering carries on: fresh seeds
    seeds = [a["seed"] for a in record["attempts"]]
    assert seeds[0] is None and len(set(seeds[1:])) == 5

    openai_server.responder = lambda prompt, body: usable_reply(prompt)
    third = _generate(tmp_path)
    assert third.returncode == 0, third.stderr
    assert (tmp_path / "harmfulqa.json").is_file() and json.loads((tmp_path / "harmfulqa.json").read_text())
    assert "topics: wanted 2, got 2" in third.stdout and "generator calls this run:" in third.stdout


def test_a_list_after_two_bad_replies_is_used_with_its_seed_recorded_and_sent(tmp_path, openai_server):
    answered = {"topics": 0}

    def late_list(prompt, body):
        if stage_of(prompt) == "topics":
            answered["topics"] += 1
            if answered["topics"] <= 2:
                return PROSE if answered["topics"] == 1 else ""
        return usable_reply(prompt)

    openai_server.responder = late_list
    settings = GenerateSettings(model="openai-api/local/gen", out=str(tmp_path), topics=2, subtopics_per_topic=2,
                                questions_per_subtopic=2, conversations_per_question=1, turns=1)
    ran = generate_harmfulqa(settings, echo=lambda m: None)
    assert ran["topics"] == 1
    (record,) = _records(tmp_path / "topics.jsonl")
    assert record["status"] == "done" and len(record["topics"]) == 2
    assert [a["problem"] for a in record["attempts"]] == ["unparseable", "empty", None]
    topic_bodies = [r["body"] for r in openai_server.requests if stage_of(r["prompt"]) == "topics"]
    assert "seed" not in topic_bodies[0] and topic_bodies[0]["temperature"] == 0.7
    assert [b["seed"] for b in topic_bodies[1:]] == [a["seed"] for a in record["attempts"][1:]]
    stats = generation_stats(tmp_path)
    assert stats["per_stage"]["topics"] == {**stats["per_stage"]["topics"], "wanted": 2, "got": 2, "failed": 0, "attempts": 3}
    assert stats["stages"]["red_conversations"] == 8  # every later stage ran on the usable list
    assert all("aiohttp" in r["user_agent"] for r in openai_server.requests)  # the lean client, as in eval


def test_a_subtopic_that_always_refuses_is_counted_and_only_it_is_retried(tmp_path, openai_server):
    def one_refuses(prompt, body):
        stage = stage_of(prompt)
        if stage == "questions" and "first-refused" in prompt:
            return "1. " + REFUSAL + "\n2. " + REFUSAL
        if stage == "subtopics":
            topic = prompt.split('"')[1]
            return f"1. first-refused {topic}\n2. Answered studies {topic}"
        return usable_reply(prompt)

    openai_server.responder = one_refuses
    first = _generate(tmp_path, "--retries", "1")
    assert first.returncode == 0, first.stderr  # below target, not empty: a summary per stage, exit 0
    assert "questions: wanted 8, got 4; 4 units, 2 failed (2 refused, 0 unparseable, 0 generation errors), 6 attempts" in first.stdout
    stats = generation_stats(tmp_path)["per_stage"]["questions"]
    assert stats["refused"] == 2 and stats["failed"] == 2
    summary = run_cli_here("harmfulqa", "stats", str(tmp_path))
    assert summary.returncode == 0 and json.loads(summary.stdout)["per_stage"]["questions"]["refused"] == 2

    before = len(openai_server.requests)
    second = _generate(tmp_path, "--retries", "1")
    assert second.returncode == 0
    retried = [r["prompt"] for r in openai_server.requests[before:]]
    assert len(retried) == 4 and all(stage_of(p) == "questions" and "first-refused" in p for p in retried)


def test_http_errors_fail_the_stage_and_keep_the_finished_ones(tmp_path, openai_server):
    def blue_broken(prompt, body):
        if stage_of(prompt) == "blue":
            return HTTPFailure(400, "context length exceeded")
        return usable_reply(prompt)

    openai_server.responder = blue_broken
    run = _generate(tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith("error: harmfulqa blue: nothing usable after 8 generator calls")
    assert "8 generation errors" in run.stderr and "Traceback" not in run.stderr
    blue = _records(tmp_path / "blue.jsonl")
    assert all(r["status"] == "failed" and "HTTP 400" in r["error"] for r in blue)
    assert all(len(r["attempts"]) == 1 for r in blue)  # an error the server means is not asked again in the same run
    records = json.loads((tmp_path / "harmfulqa.json").read_text())
    assert len(records) == 8 and all(r["blue_conversations"]["0"] is None for r in records)  # the questions are kept

    openai_server.responder = lambda prompt, body: usable_reply(prompt)
    before = len(openai_server.requests)
    again = _generate(tmp_path)
    assert again.returncode == 0
    stages = {stage_of(r["prompt"]) for r in openai_server.requests[before:]}
    assert stages == {"blue", "red"}  # topics, subtopics and questions were finished: never redone


def test_the_library_raises_run_failed(tmp_path, openai_server):
    openai_server.responder = lambda prompt, body: REFUSAL
    settings = GenerateSettings(model="openai-api/local/gen", out=str(tmp_path), topics=2, retries=0)
    with pytest.raises(RunFailed, match="harmfulqa topics: nothing usable after 1 generator calls .*1 refused"):
        generate_harmfulqa(settings, echo=lambda m: None)


def test_inspect_engine_is_one_flag_away(tmp_path, openai_server):
    openai_server.responder = lambda prompt, body: usable_reply(prompt)
    run = _generate(tmp_path, "-M", "engine=inspect", "--stages", "topics")
    assert run.returncode == 0, run.stderr
    assert openai_server.requests and all("aiohttp" not in r["user_agent"] for r in openai_server.requests)


def test_bad_retries_is_one_line(tmp_path):
    run = run_cli_here("harmfulqa", "generate", "--model", "smollm2", "--out", str(tmp_path), "--retries", "-1")
    assert run.returncode == 2 and run.stderr.strip() == "error: --retries must be at least 0"


@pytest.mark.parametrize("problem", ["missing", "latin-1", "empty"])
def test_a_bad_seed_topics_file_is_one_line_and_leaves_nothing(tmp_path, problem):
    seeds = tmp_path / "seeds.txt"
    if problem == "latin-1":
        seeds.write_bytes("Sécurité\nChimie\n".encode("latin-1"))
    elif problem == "empty":
        seeds.write_text("\n  \n")
    out = tmp_path / "out"
    run = run_cli_here("harmfulqa", "generate", "--model", "smollm2", "--out", str(out), "--seed-topics", str(seeds))
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1 and "seed-topics" in run.stderr, run.stderr
    assert not out.exists(), "no folder, no generation.json before every input is checked"


def test_a_missing_prompts_folder_is_one_line_and_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    run = run_cli_here("harmfulqa", "generate", "--model", "smollm2", "--out", str(out), "--prompts-dir", str(tmp_path / "nope"))
    assert run.returncode == 2 and "is not a folder" in run.stderr and not out.exists()
