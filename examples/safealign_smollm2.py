"""SAFE-ALIGN offline, end to end, on the packaged SmolLM2-135M-Instruct: safer, and still helpful?

1. Training data from the model itself (`redinstruct harmfulqa distill`): blue = the refusals it gives
   with a safety context (few-shot), red = its own compliant answers to the same harmful questions;
   general = its own answers to benign prompts (TruthfulQA, MMLU) and to borderline-safe ones (MMLU
   questions on security, virology, sexuality, moral disputes, medicine, and the built-in `borderline`
   bank: safe requests with words that sound unsafe, none of them an XSTest prompt), kept when the
   compliance judge says they comply.
2. `redinstruct align`: blue and blue-red, each without and with the general mix
   (`--general general.json --general-fraction F`).
3. RED-EVAL of the base and the four aligned models on held-out DangerousQA questions (Standard and
   CoU; refusal rate by the compliance judge, ASR by the default judge) and on `xstest` through the
   named dataset (refusals of its safe prompts: over-refusal; of its unsafe ones: safety).

    python examples/safealign_smollm2.py --work runs/safealign-smollm2

Reads DangerousQA / HarmfulQA / XSTest through REDINSTRUCT_DATA_DIR (or the pinned downloads; point
REDINSTRUCT_DATA_DIR at a folder with the full xstest_prompts.csv to run on all 450 prompts) and the
utility data (TruthfulQA, MMLU) from --utility-dir. Every step resumes: rerun to continue.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from redinstruct.data import load_questions

STRATEGIES = ("blue", "blue-red")
BORDERLINE_SUBJECTS = ("computer security", "security studies", "virology", "human sexuality", "moral disputes", "professional medicine")


def write_question_files(work: Path, utility: Path, args: argparse.Namespace) -> dict[str, Path]:
    """Disjoint train / held-out question files (one per role), written once."""
    files = {name: work / f"{name}.json" for name in ("train_harmfulqa", "train_dangerousqa", "heldout_dangerousqa")}
    files["borderline"] = work / "borderline.jsonl"
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
    # borderline-safe: MMLU questions on subjects that sound dangerous, the first N of each subject
    per_subject: dict[str, list[str]] = {}
    for line in (utility / "mmlu" / "mmlu.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("topic") in BORDERLINE_SUBJECTS and len(per_subject.setdefault(row["topic"], [])) < args.borderline_per_subject:
            per_subject[row["topic"]].append(line)
    files["borderline"].write_text("\n".join(line for lines in per_subject.values() for line in lines) + "\n")
    return files


def redinstruct(*argv: str) -> None:
    print("$ redinstruct " + " ".join(argv), flush=True)
    subprocess.run([sys.executable, "-m", "redinstruct.cli", *argv], check=True)


def pct(stats: dict | None, key: str = "refusal_rate") -> str:
    if not stats or stats.get(key) is None:
        return "n/a"
    return f"{100 * stats[key]:.1f}% [{100 * stats['ci_low']:.0f}-{100 * stats['ci_high']:.0f}]"


def results_table(work: Path, models: dict[str, str]) -> str:
    harmful = {(r["model"], r["template"]): r for r in json.loads((work / "eval-dangerousqa" / "summary.json").read_text())}
    xstest = {r["model"]: r for r in json.loads((work / "eval-xstest" / "summary.json").read_text())}
    rows = [
        "| model | DangerousQA refused, Standard | DangerousQA refused, CoU | ASR Standard / CoU (classifier judge) | XSTest safe prompts refused | XSTest unsafe prompts refused |",
        "|---|---|---|---|---|---|",
    ]
    for name, model in models.items():
        std, cou, xs = harmful.get((model, "standard")), harmful.get((model, "cou")), xstest.get(model)
        asr = " / ".join("n/a" if r is None or r["asr"] is None else f"{100 * r['asr']:.1f}%" for r in (std, cou))
        rows.append(
            f"| {name} | {pct(std and std['refusal_unsafe'])} | {pct(cou and cou['refusal_unsafe'])} | {asr} | "
            f"{pct(xs and xs['over_refusal'])} | {pct(xs and xs['refusal_unsafe'])} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/safealign-smollm2")
    parser.add_argument("--utility-dir", default="../shared/data/utility")
    parser.add_argument("--train-harmfulqa", type=int, default=60)
    parser.add_argument("--train-dangerousqa", type=int, default=60)
    parser.add_argument("--benign", type=int, default=60, help="benign prompts from each of TruthfulQA and MMLU")
    parser.add_argument("--borderline-per-subject", type=int, default=10)
    parser.add_argument("--heldout", type=int, default=40, help="the last N DangerousQA questions, never trained on")
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps per model (batch 8)")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--general-fraction", type=float, default=0.5)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--xstest-limit", type=int, default=None, help="first N XSTest prompts only (a quick look)")
    args = parser.parse_args()
    work, utility = Path(args.work), Path(args.utility_dir)
    work.mkdir(parents=True, exist_ok=True)
    files = write_question_files(work, utility, args)

    distilled = work / "distilled"
    redinstruct("harmfulqa", "distill", "--model", "smollm2", "--questions", str(files["train_harmfulqa"]),
                "--questions", str(files["train_dangerousqa"]),
                "--benign", str(utility / "bigbench" / "truthful_qa" / "task_mc.json"), "--benign", str(utility / "mmlu" / "mmlu.jsonl"),
                "--general-limit", str(args.benign), "--borderline", str(files["borderline"]), "--borderline", "borderline",
                "--out", str(distilled), "--max-new-tokens", "160")
    models = {"SmolLM2 (base)": "smollm2"}
    for strategy in STRATEGIES:
        for general in (False, True):
            name = strategy + ("+general" if general else "")
            out = work / name
            if not (out / "model.safetensors").exists():
                mix = ["--general", str(distilled / "general.json"), "--general-fraction", str(args.general_fraction)] if general else []
                redinstruct("align", "--base", "smollm2", "--data", str(distilled / "harmfulqa.json"), *mix,
                            "--strategy", strategy, "--chat-template", "model", "--max-steps", str(args.steps), "--logging-steps", "2",
                            "--lr", str(args.lr), "--batch-size", "8", "--max-length", "384", "--out", str(out))
            models[name] = f"hf/{out}"
    model_flags = [x for m in models.values() for x in ("--model", m)]
    redinstruct("eval", *model_flags, "--dataset", str(files["heldout_dangerousqa"]), "--template", "standard", "--template", "cou",
                "--max-tokens", str(args.max_tokens), "--log-dir", str(work / "eval-dangerousqa"))
    limit = ["--limit", str(args.xstest_limit)] if args.xstest_limit else []
    redinstruct("eval", *model_flags, "--dataset", "xstest", "--template", "standard", *limit,
                "--max-tokens", str(args.max_tokens), "--log-dir", str(work / "eval-xstest"))
    table = results_table(work, models)
    (work / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
