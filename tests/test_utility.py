"""Utility evaluation through lm-eval on local copies of HHH, TruthfulQA, MMLU and BBH (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli, run_cli_here

from redinstruct.errors import RedInstructError
from redinstruct.utility import parse_fewshot, parse_tasks
from redinstruct.utility._convert import BBH_SOURCES, HHH_SUBSETS, convert_local, convert_rows, source_files
from redinstruct.utility._tasks import LOCAL_TASKS, ONLINE_TASKS, local_task_names, materialize_yamls, packaged_yaml_dir

ALL_FILES = [f for files in LOCAL_TASKS.values() for f in files]


@pytest.fixture(scope="module")
def utility_dir(shared_data: Path) -> Path:
    return shared_data / "utility"



def test_hhh_conversion_keeps_every_item_and_the_right_answer(utility_dir: Path) -> None:
    files = source_files(utility_dir)
    counts = {s: len(convert_rows(f"hhh_{s}", files[f"hhh_{s}"])) for s in HHH_SUBSETS}
    assert counts == {s: len(json.loads(files[f"hhh_{s}"].read_text())["examples"]) for s in HHH_SUBSETS}
    first = convert_rows("hhh_harmless", files["hhh_harmless"])[0]
    assert first["choices"][first["gold"]].startswith("Sorry, I'm not interested in helping you with that")
    assert first["question"].startswith("Q: ") and first["question"].endswith("\nA:")


def test_mmlu_conversion_drops_header_rows_and_mixes_subjects(utility_dir: Path) -> None:
    rows = convert_rows("mmlu", source_files(utility_dir)["mmlu"])
    assert len(rows) == 40  # the slice's 41 lines less its stray header row
    assert all(r["choices"] == ["A", "B", "C", "D"] and 0 <= r["gold"] < 4 for r in rows)
    assert len({r["subject"] for r in rows[:50]}) > 10  # a --limit samples across subjects


@pytest.mark.shared
def test_full_utility_sets_convert_to_the_papers_counts(full_shared_data: Path) -> None:
    files = source_files(full_shared_data / "utility")
    counts = {s: len(convert_rows(f"hhh_{s}", files[f"hhh_{s}"])) for s in HHH_SUBSETS}
    assert counts == {"harmless": 58, "helpful": 59, "honest": 61, "other": 43}  # the paper's table
    rows = convert_rows("mmlu", files["mmlu"])
    assert len(rows) == 14042  # 14,044 lines less the two stray header rows
    assert len({r["subject"] for r in rows[:50]}) > 10


def test_bbh_conversion_keeps_only_multiple_choice_examples(utility_dir: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "task.json"
    mixed.write_text(json.dumps({"task_prefix": "Answer.", "examples": [
        {"input": "2+2?", "target": "4"},  # generative: no choices to score
        {"input": "Sky?", "target_scores": {"green": 0, "blue": 1}},
    ]}))
    (row,) = convert_rows("bbh_x", mixed)
    assert row["choices"] == ["green", "blue"] and row["gold"] == 1 and row["preamble"] == "Answer.\n\n"
    files = source_files(utility_dir)
    shapes = convert_rows("bbh_geometric_shapes", files["bbh_geometric_shapes"])
    assert "\n  choice: " in shapes[0]["question"]  # append_choices_to_input honoured


def test_missing_local_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RedInstructError, match="lacks the files for: hhh_harmless"):
        convert_local(tmp_path, ["hhh_harmless"])


def test_every_task_has_a_yaml_and_lm_eval_loads_them(utility_dir: Path, tmp_path: Path) -> None:
    from lm_eval.tasks import TaskManager

    shipped = {p.name.removeprefix("redinstruct_").removesuffix(".yaml") for p in packaged_yaml_dir().glob("redinstruct_*.yaml")}
    assert shipped == set(ALL_FILES) | {"hhh_group", "bbh_group"}
    converted = convert_local(utility_dir, ALL_FILES)
    manager = TaskManager(include_path=str(materialize_yamls(converted, tmp_path, parse_fewshot(["mmlu=2"], ["mmlu", "bbh"]))), include_defaults=False)
    assert {f"redinstruct_{f}" for f in ALL_FILES} <= set(manager.all_tasks)
    assert {"redinstruct_hhh", "redinstruct_bbh"} <= set(manager.all_groups)
    loaded = manager.load(["redinstruct_hhh_other", "redinstruct_mmlu", "redinstruct_bbh_snarks"])
    tasks = {t.config.task: t for t in loaded["tasks"].values()} if isinstance(loaded, dict) and "tasks" in loaded else None
    if tasks is None:  # older return shape: {name: task}
        tasks = {getattr(t, "config").task: t for t in _flatten(loaded)}
    assert len(list(tasks["redinstruct_hhh_other"].eval_docs)) == len(convert_rows("hhh_other", source_files(utility_dir)["hhh_other"]))
    assert tasks["redinstruct_mmlu"].config.num_fewshot == 2  # the override reached the YAML
    assert tasks["redinstruct_bbh_snarks"].config.num_fewshot == 3


def _flatten(obj: object) -> list[object]:
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _flatten(v)]
    return [obj] if hasattr(obj, "config") else []


def test_online_task_names_exist_in_lm_eval() -> None:
    from lm_eval.tasks import TaskManager

    manager = TaskManager()
    known = set(manager.all_tasks) | set(manager.all_groups)
    for names in ONLINE_TASKS.values():
        assert set(names) <= known, names


def test_task_and_fewshot_parsing() -> None:
    assert parse_tasks(["mmlu", "hhh", "mmlu"]) == ["mmlu", "hhh"]
    with pytest.raises(RedInstructError, match="unknown utility task"):
        parse_tasks(["gsm8k"])
    assert parse_fewshot([], ["hhh", "mmlu", "bbh"]) == {"hhh": 0, "mmlu": 5, "bbh": 3}
    assert parse_fewshot(["1", "mmlu=4"], ["hhh", "mmlu"]) == {"hhh": 1, "mmlu": 4}
    with pytest.raises(RedInstructError, match="not among --tasks"):
        parse_fewshot(["bbh=3"], ["hhh"])
    with pytest.raises(RedInstructError, match="use N or TASK=N"):
        parse_fewshot(["mmlu=x"], ["mmlu"])
    assert local_task_names(["hhh", "mmlu"]) == ["redinstruct_hhh", "redinstruct_mmlu"]


def test_every_task_runs_offline_on_smollm2(utility_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "base.json"
    run = run_cli("utility", "--model", "smollm2", "--tasks", "hhh,truthfulqa,mmlu,bbh", "--limit", "1",
               "--num-fewshot", "bbh=0,mmlu=1", "--data-dir", str(utility_dir), "--out", str(out))
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["settings"]["num_fewshot"] == {"hhh": 0, "truthfulqa": 0, "mmlu": 1, "bbh": 0}
    assert result["settings"]["limit"] == 1 and result["settings"]["chat_template"] is False
    scores = result["results"]
    expected = {f"hhh_{s}" for s in HHH_SUBSETS} | {"hhh", "truthfulqa_mc1", "mmlu", "bbh"} | {f"bbh_{b}" for b in BBH_SOURCES}
    assert expected <= set(scores)
    for task in expected:
        assert 0.0 <= scores[task]["acc"] <= 1.0, task
    for task in expected - {"hhh", "bbh"}:
        assert scores[task]["n"] == 1, task
    # the group scores are the unweighted mean of their subtasks, as in the paper's HHH table
    assert scores["hhh"]["acc"] == pytest.approx(sum(scores[f"hhh_{s}"]["acc"] for s in HHH_SUBSETS) / 4)
    assert "hhh_harmless" in run.stdout and "acc" in run.stdout


def test_hhh_is_reproducible_and_compare_prints_the_difference(utility_dir: Path, tmp_path: Path) -> None:
    paths = []
    for n in range(2):
        paths.append(tmp_path / f"hhh{n}.json")
        run = run_cli_here("utility", "--model", "smollm2", "--tasks", "hhh", "--limit", "4", "--data-dir", str(utility_dir), "--out", str(paths[-1]))
        assert run.returncode == 0, run.stderr[-2000:]
    first, second = (json.loads(p.read_text())["results"] for p in paths)
    assert first == second
    # a result with one task changed: compare must show that difference and warn about the settings
    changed = json.loads(paths[1].read_text())
    changed["model"] = "aligned"
    changed["results"]["hhh_harmless"]["acc"] = first["hhh_harmless"]["acc"] + 0.5
    changed["settings"]["chat_template"] = True
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    run = run_cli_here("utility", "compare", str(paths[0]), str(tmp_path / "changed.json"))
    assert run.returncode == 0, run.stderr
    line = next(l for l in run.stdout.splitlines() if "hhh_harmless" in l)
    assert "+50.0" in line
    assert "settings differ, chat_template" in run.stdout


def test_utility_bad_input_is_one_line(tmp_path: Path, utility_dir: Path) -> None:
    run = run_cli_here("utility", "--model", "smollm2", "--tasks", "gsm8k", "--data-dir", str(utility_dir))
    assert run.returncode == 2 and run.stderr.startswith("error: unknown utility task") and "Traceback" not in run.stderr
    run = run_cli_here("utility", "--model", "openai/gpt-4o", "--tasks", "hhh", "--data-dir", str(utility_dir))
    assert run.returncode == 2 and "local weights" in run.stderr
    (tmp_path / "x.json").write_text("[1]")
    run = run_cli_here("utility", "compare", str(tmp_path / "x.json"), str(tmp_path / "x.json"))
    assert run.returncode == 2 and "not a 'redinstruct utility' result" in run.stderr
    run = run_cli_here("utility", "--model", "smollm2", "--tasks", "hhh", "--data-dir", str(tmp_path))
    assert run.returncode == 2 and "lacks the files" in run.stderr
