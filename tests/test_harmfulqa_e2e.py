"""HARMFULQA generation end to end, offline, with the packaged SmolLM2 on a tiny configuration."""

import json
import shutil

import pytest

from redinstruct.data import load_questions
from redinstruct.errors import RunFailed
from redinstruct.harmfulqa import STAGES, GenerateSettings, generate_harmfulqa, generation_stats
from redinstruct.harmfulqa._store import StageFile
from redinstruct.harmfulqa._tries import is_finished
from conftest import clean_exit, run_cli_here

TINY = dict(topics=1, subtopics_per_topic=2, questions_per_subtopic=2, conversations_per_question=1, turns=1, max_tokens=64, retries=1)


@pytest.fixture(scope="module")
def generated(tiny_generation):
    """The tiny run (`redinstruct harmfulqa generate` in its own process, TINY's settings)."""
    out, result = tiny_generation
    assert result.returncode == 0, result.stderr[-2000:]
    return out, result


def test_tiny_harmfulqa_generation_exits_zero(tiny_generation):
    out, result = tiny_generation
    clean_exit(result)
    assert (out / "harmfulqa.json").is_file() and "generator calls this run:" in result.stdout


def test_every_stage_runs(generated):
    out, result = generated
    lines = {line.split(":")[0]: line for line in result.stdout.splitlines() if ": wanted " in line}
    assert list(lines) == ["topics", "subtopics", "questions", "blue", "red"]
    assert lines["topics"].startswith("topics: wanted 1, got 1") and ", got 0" not in lines["blue"]
    assert int(result.stdout.split("generator calls this run: ")[1].split()[0]) > 0
    for stage in ("topics", "subtopics", "questions", "blue", "red"):
        assert (out / f"{stage}.jsonl").is_file(), stage


def test_output_follows_the_public_schema(generated):
    out, _ = generated
    records = json.loads((out / "harmfulqa.json").read_text())
    assert records, "at least one question survives"
    for i, record in enumerate(records):
        assert set(record) == {"id", "question_id", "topic", "subtopic", "question", "blue_conversations", "red_conversations"}
        assert record["id"] == i and record["question"].endswith("?")
        for key in ("blue_conversations", "red_conversations"):
            assert list(record[key]) == ["0"]
            conversation = record[key]["0"]
            if conversation is not None:
                assert [t["from"] for t in conversation] == ["human", "gpt"] * (len(conversation) // 2)
                assert all(isinstance(t["value"], str) and t["value"] for t in conversation)
        blue, red = record["blue_conversations"]["0"], record["red_conversations"]["0"]
        if blue and red:  # a red conversation pairs with its blue one: the same Red-LM turns
            assert [t["value"] for t in red if t["from"] == "human"] == [t["value"] for t in blue if t["from"] == "human"]
    import datasets

    loaded = datasets.load_dataset("json", data_files=str(out / "harmfulqa.json"), split="train")
    assert loaded.num_rows == len(records)


def test_questions_export_loads_in_red_eval(generated):
    out, _ = generated
    bank = load_questions(str(out / "questions.json"))
    records = json.loads((out / "harmfulqa.json").read_text())
    assert sorted(q.text for q in bank.questions) == sorted(r["question"] for r in records)


def _failed_units(out) -> dict[str, int]:
    return {stage: sum(not is_finished(r) for r in StageFile(out, stage).records.values()) for stage in STAGES}


def test_second_run_redoes_only_the_failed_units(generated, tmp_path):
    out, _ = generated
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    before = {p.name: p.read_text() for p in copy.glob("*.jsonl")}
    failed = _failed_units(copy)
    ran = generate_harmfulqa(GenerateSettings(model="smollm2", out=str(copy), **TINY), echo=lambda m: None)
    assert [ran[s] for s in STAGES[:4]] == [failed[s] for s in STAGES[:4]]  # finished units are never asked again
    assert ran["red"] >= failed["red"]  # plus red conversations for blue ones that now succeeded
    if not any(failed.values()):
        assert ran["generator_calls"] == 0
    for name, text in before.items():  # append-only: nothing finished is lost or rewritten
        assert (copy / name).read_text().startswith(text)


def test_a_unit_cut_short_is_redone_and_nothing_else(generated, tmp_path):
    out, _ = generated
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    blue = copy / "blue.jsonl"
    lines = blue.read_text().splitlines(keepends=True)
    blue.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # a kill mid-write
    failed_before = _failed_units(copy)["blue"]
    ran = generate_harmfulqa(GenerateSettings(model="smollm2", out=str(copy), stages=["blue"], **{**TINY, "retries": 0}), echo=lambda m: None)
    assert ran["blue"] == 1 + failed_before
    assert blue.read_text().splitlines()[: len(lines) - 1] == [line.rstrip("\n") for line in lines[:-1]]


def test_stats_command(generated):
    out, _ = generated
    stats = generation_stats(out)
    assert stats["stages"]["topics"] == 1 and stats["stages"]["questions"] >= 1
    assert set(stats["turns_per_conversation"]) == {"blue", "red"}
    result = run_cli_here("harmfulqa", "stats", str(out))
    assert result.returncode == 0 and '"per_topic"' in result.stdout


def test_bad_stage_and_folder_errors(tmp_path):
    result = run_cli_here("harmfulqa", "stats", str(tmp_path))
    assert result.returncode == 2 and "not a HARMFULQA generation folder" in result.stderr
    result = run_cli_here("harmfulqa", "generate", "--model", "smollm2", "--out", str(tmp_path / "x"), "--stages", "topics,nonsense")
    assert result.returncode == 2 and "unknown stage(s) nonsense" in result.stderr


def test_failed_calls_are_retried_on_the_next_run(tmp_path, openai_server):
    """An API error is kept as the unit's error (never as data) and that unit runs again next time."""
    from redinstruct._testing.openai_server import HTTPFailure

    def broken(prompt, body):
        return HTTPFailure(400, "bad request") if "subtopics" in prompt else "1. Toxicology\n2. Law"

    openai_server.responder = broken
    settings = GenerateSettings(model="openai-api/local/gen", out=str(tmp_path), stages=["topics", "subtopics"], topics=2,
                                subtopics_per_topic=2)
    with pytest.raises(RunFailed, match="harmfulqa subtopics: nothing usable .*2 generation errors"):
        generate_harmfulqa(settings, echo=lambda m: None)
    assert generation_stats(tmp_path)["stages"]["subtopics"] == 0
    openai_server.responder = lambda prompt, body: "1. Alpha studies\n2. Beta studies"
    second = generate_harmfulqa(settings, echo=lambda m: None)
    assert second["topics"] == 0 and second["subtopics"] == 2
    assert generation_stats(tmp_path)["stages"]["subtopics"] == 4
