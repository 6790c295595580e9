"""Which lm-eval tasks a `--tasks` name means, offline (our YAMLs over local files) and online (lm-eval's own)."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from ..errors import RedInstructError
from ._convert import BBH_SOURCES, HHH_SUBSETS

TASKS = ("hhh", "truthfulqa", "mmlu", "bbh")
DEFAULT_FEWSHOT = {"hhh": 0, "truthfulqa": 0, "mmlu": 5, "bbh": 3}  # the paper's settings
# offline: user task -> converted files (one lm-eval task each, named redinstruct_<file>)
LOCAL_TASKS = {
    "hhh": [f"hhh_{s}" for s in HHH_SUBSETS],
    "truthfulqa": ["truthfulqa_mc1"],
    "mmlu": ["mmlu"],
    "bbh": [f"bbh_{b}" for b in BBH_SOURCES],
}
LOCAL_GROUPS = {"hhh": "redinstruct_hhh", "bbh": "redinstruct_bbh"}
# online: lm-eval's standard tasks (need the hub)
ONLINE_TASKS = {
    "hhh": ["bigbench_hhh_alignment_multiple_choice"],
    "truthfulqa": ["truthfulqa_mc1", "truthfulqa_mc2"],
    "mmlu": ["mmlu"],
    "bbh": ["bbh_fewshot"],
}
DATA_PLACEHOLDER = "@DATA_DIR@"


def parse_tasks(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise RedInstructError(f"unknown utility task(s) {', '.join(unknown)}: use {', '.join(TASKS)}")
    if not names:
        raise RedInstructError(f"no --tasks given: use some of {', '.join(TASKS)}")
    return list(dict.fromkeys(names))


def parse_fewshot(values: list[str], tasks: list[str]) -> dict[str, int]:
    """`5` (every task) or `mmlu=5,bbh=3`; tasks not named keep the paper's count."""
    shots = {t: DEFAULT_FEWSHOT[t] for t in tasks}
    for value in values:
        name, _, count = value.rpartition("=")
        if not count.isdigit():
            raise RedInstructError(f"--num-fewshot '{value}': use N or TASK=N with N >= 0")
        if not name:
            shots = {t: int(count) for t in tasks}
        elif name in shots:
            shots[name] = int(count)
        else:
            raise RedInstructError(f"--num-fewshot names '{name}', which is not among --tasks ({', '.join(tasks)})")
    return shots


def packaged_yaml_dir() -> Path:
    return Path(str(resources.files("redinstruct.utility") / "tasks"))


def materialize_yamls(data_dir: Path, target: Path, shots: dict[str, int]) -> Path:
    """Copies of the packaged YAMLs reading `data_dir`, with the chosen few-shot counts."""
    target.mkdir(parents=True, exist_ok=True)
    file_shots = {f: shots[t] for t, files in LOCAL_TASKS.items() if t in shots for f in files}
    for source in packaged_yaml_dir().iterdir():
        if not (source.name.endswith(".yaml") or source.name.endswith("_yaml")):
            continue
        text = source.read_text(encoding="utf-8").replace(DATA_PLACEHOLDER, data_dir.as_posix())
        stem = source.name.removeprefix("redinstruct_").removesuffix(".yaml")
        if stem in file_shots:
            text = re.sub(r"(?m)^num_fewshot: \d+$", f"num_fewshot: {file_shots[stem]}", text)
        (target / source.name).write_text(text, encoding="utf-8")
    return target


def local_task_names(tasks: list[str]) -> list[str]:
    """lm-eval names to request offline: groups where we have one (they add the unweighted mean)."""
    return [LOCAL_GROUPS.get(t) or f"redinstruct_{LOCAL_TASKS[t][0]}" for t in tasks]
