"""Write `tests/data/shared/`: small slices of `../shared/data` that the default test run needs.

Run from the repository root with the shared data beside the clone:
    python tests/data/make_shared_subset.py [--source ../shared/data]
The slices are deterministic (leading rows), so rerunning gives the same files.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE / "shared"
DANGEROUSQA_ROWS = 12
HARMFULQA_TOPICS, HARMFULQA_SUBTOPICS, HARMFULQA_QUESTIONS = 2, 2, 4
JAILJUDGE_ROWS, SAFERLHF_ROWS = 300, 160
BIGBENCH_EXAMPLES, TRUTHFULQA_EXAMPLES, MMLU_ROWS = 12, 12, 40
XSTEST_PER_TYPE = 3  # prompts of each type (5 safe types, 5 unsafe contrasts) and their labelled replies


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _csv_head(source: Path, target: Path, rows: int) -> None:
    with source.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        kept = [next(reader)] + [row for _, row in zip(range(rows), reader)]
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=HERE.parents[2] / "shared" / "data")
    src = parser.parse_args().source

    dq = json.loads((src / "redinstruct" / "dangerousqa.json").read_text(encoding="utf-8"))
    _write_json(TARGET / "redinstruct" / "dangerousqa.json", dq[:DANGEROUSQA_ROWS])

    hq = json.loads((src / "redinstruct" / "harmfulqa.json").read_text(encoding="utf-8"))
    nested: dict[str, dict[str, list[str]]] = {}
    for topic in list(hq)[:HARMFULQA_TOPICS]:
        for subtopic in list(hq[topic])[:HARMFULQA_SUBTOPICS]:
            nested.setdefault(topic, {})[subtopic] = hq[topic][subtopic][:HARMFULQA_QUESTIONS]
    first_topic, first_sub = next(iter(nested)), next(iter(nested[next(iter(nested))]))
    nested[first_topic][first_sub].append(nested[first_topic][first_sub][0])  # one exact duplicate, as the full set has
    _write_json(TARGET / "redinstruct" / "harmfulqa.json", nested)

    labels = src / "judge-labels"
    _csv_head(labels / "jailbreakeval_JAILJUDGEmini.csv", TARGET / "judge-labels" / "jailbreakeval_JAILJUDGEmini.csv", JAILJUDGE_ROWS)
    _csv_head(labels / "jailbreakeval_Safe-RLHFmini.csv", TARGET / "judge-labels" / "jailbreakeval_Safe-RLHFmini.csv", SAFERLHF_ROWS)

    _xstest_slice(src / "xstest", TARGET / "xstest")

    from redinstruct.utility._convert import source_files

    for name, task in sorted(source_files(src / "utility").items()):
        if name == "mmlu":
            continue
        data = json.loads(task.read_text(encoding="utf-8"))
        keep = TRUTHFULQA_EXAMPLES if name.startswith("truthfulqa") else BIGBENCH_EXAMPLES
        data["examples"] = data.get("examples", [])[:keep]
        _write_json(TARGET / task.relative_to(src), data)

    lines = (src / "utility" / "mmlu" / "mmlu.jsonl").read_text(encoding="utf-8").splitlines()
    header = next(line for line in lines if json.loads(line).get("question") == "question")
    # rows spread over the file (it is sorted by subject), and one of its stray header rows
    spread = lines[:: len(lines) // MMLU_ROWS][:MMLU_ROWS]
    kept = spread[: MMLU_ROWS // 2] + [header] + spread[MMLU_ROWS // 2 :]
    (TARGET / "utility" / "mmlu").mkdir(parents=True, exist_ok=True)
    (TARGET / "utility" / "mmlu" / "mmlu.jsonl").write_text("\n".join(kept) + "\n", encoding="utf-8")


def _xstest_slice(source: Path, target: Path) -> None:
    """The first XSTEST_PER_TYPE prompts of every type, and every model's human-labelled replies to them."""
    with (source / "xstest_prompts.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, prompts = list(reader.fieldnames or []), list(reader)
    per_type: dict[str, int] = {}
    kept = []
    for row in prompts:
        per_type[row["type"]] = per_type.get(row["type"], 0) + 1
        if per_type[row["type"]] <= XSTEST_PER_TYPE:
            kept.append(row)
    target.mkdir(parents=True, exist_ok=True)
    with (target / "xstest_prompts.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept)
    wanted = {row["prompt"] for row in kept}
    for completions in sorted(source.glob("xstest_v2_completions_*.csv")):
        with completions.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields, rows = list(reader.fieldnames or []), [r for r in reader if r["prompt"] in wanted]
        with (target / completions.name).open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
