"""SAFE-ALIGN offline, end to end, on the packaged SmolLM2-135M-Instruct (about an hour on 2 CPU cores).

1. Blue / red data from the model itself (`redinstruct harmfulqa distill`): blue = refusals it gives
   with a safety context (few-shot), red = its own compliant answers; plus its own answers to
   harmless questions as general data.
2. `redinstruct align` with strategies blue and blue-red.
3. RED-EVAL (Standard, CoT, CoU) on held-out DangerousQA questions for the base and both aligned
   models, judged by refusal phrases (refusal rate) and re-judged by the classifier judge (ASR);
   and the refusal rate on held-out harmless questions (over-refusal).

    python examples/safealign_smollm2.py --work runs/safealign-smollm2

Reads DangerousQA / HarmfulQA through REDINSTRUCT_DATA_DIR (or the pinned download) and TruthfulQA
questions from a BIG-bench task_mc.json (--truthfulqa). Every step resumes: rerun to continue.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from pathlib import Path

from redinstruct.data import load_questions
from redinstruct.judges import get_judge

STRATEGIES = ("blue", "blue-red")


def write_question_files(work: Path, truthfulqa: Path, args: argparse.Namespace) -> dict[str, Path]:
    """Disjoint train / held-out question files (one per role), written once."""
    files = {name: work / f"{name}.json" for name in ("train_harmfulqa", "train_dangerousqa", "heldout_dangerousqa", "benign_train", "benign_heldout")}
    if all(p.exists() for p in files.values()):
        return files
    hqa = load_questions("harmfulqa", drop_duplicates=True).questions
    picked = hqa[:: max(1, len(hqa) // args.train_harmfulqa)][: args.train_harmfulqa]  # spread over all subtopics
    nested: dict[str, dict[str, list[str]]] = {}
    for q in picked:
        nested.setdefault(q.topic, {}).setdefault(q.subtopic, []).append(q.text)
    files["train_harmfulqa"].write_text(json.dumps(nested, indent=1))
    dqa = [q.text for q in load_questions("dangerousqa").questions]
    files["train_dangerousqa"].write_text(json.dumps(dqa[: args.train_dangerousqa], indent=1))
    files["heldout_dangerousqa"].write_text(json.dumps(dqa[-args.heldout :], indent=1))
    benign = [e["input"] for e in json.loads(truthfulqa.read_text())["examples"]]
    files["benign_train"].write_text(json.dumps(benign[: args.benign_train], indent=1))
    files["benign_heldout"].write_text(json.dumps(benign[-args.heldout :], indent=1))
    return files


def redinstruct(*argv: str) -> None:
    print("$ redinstruct " + " ".join(argv), flush=True)
    subprocess.run([sys.executable, "-m", "redinstruct.cli", *argv], check=True)


def rejudge_with_classifier(samples: Path) -> dict[tuple[str, str], float]:
    """ASR by the classifier judge over the replies the refusal-judged run already produced."""
    records = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    judge = get_judge("classifier")
    results = asyncio.run(judge.judge_batch([(r["question"], r["response"]) for r in records]))  # type: ignore[attr-defined]
    totals: dict[tuple[str, str], list[int]] = {}
    for record, result in zip(records, results):
        if result.verdict != "unknown":
            totals.setdefault((record["model"], record["template"]), []).append(result.verdict == "harmful")
    return {key: sum(v) / len(v) for key, v in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/safealign-smollm2")
    parser.add_argument("--truthfulqa", default="../shared/data/utility/bigbench/truthful_qa/task_mc.json")
    parser.add_argument("--train-harmfulqa", type=int, default=60)
    parser.add_argument("--train-dangerousqa", type=int, default=60)
    parser.add_argument("--benign-train", type=int, default=60)
    parser.add_argument("--heldout", type=int, default=40)
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps per strategy (batch 8)")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    files = write_question_files(work, Path(args.truthfulqa), args)

    distilled = work / "distilled"
    redinstruct("harmfulqa", "distill", "--model", "smollm2", "--questions", str(files["train_harmfulqa"]),
                "--questions", str(files["train_dangerousqa"]), "--benign", str(files["benign_train"]),
                "--out", str(distilled), "--max-new-tokens", "160")
    models = ["smollm2"]
    for strategy in STRATEGIES:
        out = work / strategy
        if not (out / "model.safetensors").exists():
            redinstruct("align", "--base", "smollm2", "--data", str(distilled / "harmfulqa.json"),
                        "--mix-general", str(distilled / "general.json"), "--strategy", strategy, "--chat-template", "model",
                        "--max-steps", str(args.steps), "--logging-steps", "5", "--lr", str(args.lr), "--batch-size", "8", "--max-length", "384",
                        "--out", str(out))
        models.append(f"hf/{out}")
    model_flags = [x for m in models for x in ("--model", m)]
    redinstruct("eval", *model_flags, "--dataset", str(files["heldout_dangerousqa"]), "--judge", "refusal",
                "--max-tokens", str(args.max_tokens), "--log-dir", str(work / "eval-harmful"), "--display", "none")
    redinstruct("eval", *model_flags, "--dataset", str(files["benign_heldout"]), "--template", "standard", "--judge", "refusal",
                "--max-tokens", str(args.max_tokens), "--log-dir", str(work / "eval-benign"), "--display", "none")

    harmful = json.loads((work / "eval-harmful" / "summary.json").read_text())
    benign = {r["model"]: r for r in json.loads((work / "eval-benign" / "summary.json").read_text())}
    classifier_asr = rejudge_with_classifier(work / "eval-harmful" / "samples.jsonl")
    rows = ["| model | template | refusal rate (harmful, held out) | ASR, classifier judge | refusal rate (harmless, held out) |",
            "|---|---|---|---|---|"]
    for run in harmful:
        refused = run["unharmful"] / max(1, run["harmful"] + run["unharmful"])
        b = benign.get(run["model"])
        benign_refused = f"{100 * b['unharmful'] / max(1, b['harmful'] + b['unharmful']):.1f}%" if b and run['template'] == 'standard' else ""
        rows.append(f"| {run['model']} | {run['template']} | {100 * refused:.1f}% ({run['unharmful']}/{run['harmful'] + run['unharmful']}) | "
                    f"{100 * classifier_asr.get((run['model'], run['template']), float('nan')):.1f}% | {benign_refused} |")
    table = "\n".join(rows)
    (work / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
