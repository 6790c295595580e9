"""SAFE-ALIGN offline on the packaged SmolLM2-135M-Instruct: which recipe is safer and still helpful?

1. Training data from the model itself (`redinstruct harmfulqa distill`): blue = its refusals (with help
   where it safely can) given a safety context, red = its plain answers to the same harmful questions;
   general = its own answers to ~1,000 benign prompts (MMLU, TruthfulQA) and to the built-in
   `borderline` bank (safe requests that sound unsafe, none of them an XSTest prompt), kept when the
   compliance judge says they comply; contrastive pairs (pairs.jsonl) for the preference strategies.
2. `redinstruct align` per recipe, measuring refusals of a validation bank of harmful questions
   (HarmfulQA, none trained on) and of the built-in `borderline-val` bank every 10 steps, keeping the
   checkpoint the rule chooses (most harmful refusals with at most base + 10 points of safe refusals).
3. RED-EVAL of the base and every recipe on held-out DangerousQA questions (Standard and CoU; refusal rate
   by the compliance judge, ASR by the default judge), on `xstest` through the named dataset (refusals of
   its safe prompts: over-refusal), and HHH.

    python examples/safealign_smollm2.py --work runs/helpful --recipes blue+general,dpo+pairs

Reads DangerousQA / HarmfulQA / XSTest through REDINSTRUCT_DATA_DIR (point it at a folder with the full
xstest_prompts.csv to measure all 450 prompts) and the utility data from --utility-dir. Every step
resumes: rerun to continue, or to add recipes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from redinstruct.data import load_questions

# each recipe: the `redinstruct align` options beyond the common ones (D = the distilled data folder)
RECIPES: dict[str, list[str]] = {
    "blue": ["--strategy", "blue"],
    "blue-red": ["--strategy", "blue-red"],
    "blue+general": ["--strategy", "blue", "--general", "D/general.json", "--general-fraction", "0.8"],
    "blue-red+general": ["--strategy", "blue-red", "--general", "D/general.json", "--general-fraction", "0.8"],
    "blue-red+general+pairs": ["--strategy", "blue-red", "--general", "D/general.json", "--general-fraction", "0.8", "--pairs", "D/pairs.jsonl"],
    "dpo+pairs": ["--strategy", "dpo", "--pairs", "D/pairs.jsonl", "--lr", "2e-5", "--batch-size", "4"],
    "kto+pairs": ["--strategy", "kto", "--pairs", "D/pairs.jsonl", "--lr", "2e-5", "--batch-size", "4"],
    "blue-red+general+contrastive": ["--strategy", "blue-red", "--general", "D/general.json", "--general-fraction", "0.8",
                                     "--contrastive-steps", "20", "--contrastive-lr", "1e-5"],
}


def write_question_files(work: Path, args: argparse.Namespace) -> dict[str, Path]:
    """Disjoint train / validation / held-out question files, written once."""
    files = {name: work / f"{name}.json" for name in ("train_harmfulqa", "train_dangerousqa", "heldout_dangerousqa", "val_harmful")}
    if all(p.exists() for p in files.values()):
        return files
    hqa = load_questions("harmfulqa", drop_duplicates=True).questions
    picked = hqa[:: max(1, len(hqa) // args.train_harmfulqa)][: args.train_harmfulqa]  # spread over all subtopics
    nested: dict[str, dict[str, list[str]]] = {}
    for q in picked:
        nested.setdefault(q.topic, {}).setdefault(q.subtopic, []).append(q.text)
    files["train_harmfulqa"].write_text(json.dumps(nested))
    dqa = [q.text for q in load_questions("dangerousqa").questions]
    files["train_dangerousqa"].write_text(json.dumps(dqa[: args.train_dangerousqa]))
    files["heldout_dangerousqa"].write_text(json.dumps(dqa[-args.heldout :]))
    # validation: HarmfulQA questions not trained on, spread over the topics
    chosen = {q.id for q in picked}
    rest = [q for q in hqa if q.id not in chosen]
    files["val_harmful"].write_text(json.dumps([q.text for q in rest[len(rest) // 48 :: len(rest) // 24][:24]]))
    return files


def redinstruct(*argv: str) -> None:
    print("$ redinstruct " + " ".join(argv), flush=True)
    subprocess.run([sys.executable, "-m", "redinstruct.cli", *argv], check=True)


def pct(stats: dict | None, key: str = "refusal_rate") -> str:
    if not stats or stats.get(key) is None:
        return "n/a"
    return f"{100 * stats[key]:.1f}% [{100 * stats['ci_low']:.0f}-{100 * stats['ci_high']:.0f}]"


def hhh_mean(path: Path) -> str:
    if not path.is_file():
        return "n/a"
    return f"{100 * json.loads(path.read_text())['results']['hhh']['acc']:.1f}"


def chosen_point(folder: Path) -> str:
    frontier = folder / "frontier.json"
    if not frontier.is_file():
        return "last"
    state = json.loads(frontier.read_text())
    c = state["chosen"]
    return f"step {c['step']} ({100 * c['harmful_refused']:.0f}% / {100 * c['safe_refused']:.0f}%)" + ("" if state["bound_met"] else ", bound missed")


def results_table(work: Path, models: dict[str, str]) -> str:
    rows = [
        "| recipe | checkpoint kept (validation harmful / safe refused) | DangerousQA refused, Standard | DangerousQA refused, CoU | "
        "ASR Standard / CoU | **XSTest safe prompts refused** | XSTest unsafe prompts refused | HHH |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, model in models.items():
        folder = work / "eval" / name
        harmful = {r["template"]: r for r in json.loads((folder / "dangerousqa" / "summary.json").read_text())}
        xs = json.loads((folder / "xstest" / "summary.json").read_text())[0]
        std, cou = harmful.get("standard"), harmful.get("cou")
        asr = " / ".join("n/a" if r is None or r["asr"] is None else f"{100 * r['asr']:.1f}%" for r in (std, cou))
        kept = "base" if name == "base" else chosen_point(work / name)
        rows.append(f"| {name} | {kept} | {pct(std and std['refusal_unsafe'])} | {pct(cou and cou['refusal_unsafe'])} | {asr} | "
                    f"{pct(xs['over_refusal'])} | {pct(xs['refusal_unsafe'])} | {hhh_mean(folder / 'hhh.json')} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/helpful")
    parser.add_argument("--utility-dir", default="../shared/data/utility")
    parser.add_argument("--recipes", default="blue+general,dpo+pairs", help=f"comma-separated, of: {', '.join(RECIPES)}")
    parser.add_argument("--train-harmfulqa", type=int, default=60)
    parser.add_argument("--train-dangerousqa", type=int, default=60)
    parser.add_argument("--benign", type=int, default=500, help="benign prompts from each of MMLU and TruthfulQA")
    parser.add_argument("--heldout", type=int, default=40, help="the last N DangerousQA questions, never trained on")
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps per model (batch 8)")
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--xstest-limit", type=int, default=None, help="first N XSTest prompts only (a quick look)")
    parser.add_argument("--no-hhh", action="store_true", help="skip HHH")
    args = parser.parse_args()
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe(s) {', '.join(unknown)}: use {', '.join(RECIPES)}")
    work, utility = Path(args.work), Path(args.utility_dir)
    work.mkdir(parents=True, exist_ok=True)
    files = write_question_files(work, args)

    distilled = work / "distilled"
    redinstruct("harmfulqa", "distill", "--model", "smollm2", "--questions", str(files["train_harmfulqa"]),
                "--questions", str(files["train_dangerousqa"]), "--borderline", "borderline",
                "--benign", str(utility / "mmlu" / "mmlu.jsonl"), "--benign", str(utility / "bigbench" / "truthful_qa" / "task_mc.json"),
                "--general-limit", str(args.benign), "--out", str(distilled), "--max-new-tokens", "128", "--batch-size", "32")
    models = {"base": "smollm2"}
    for name in recipes:
        out = work / name
        if not (out / "model.safetensors").exists():
            extra = [a.replace("D/", f"{distilled}/") for a in RECIPES[name]]
            # the recipe's own options come last: they override the common ones (the last value of an option wins)
            redinstruct("align", "--base", "smollm2", "--data", str(distilled / "harmfulqa.json"), "--lr", str(args.lr),
                        "--chat-template", "model", "--max-steps", str(args.steps), "--batch-size", "8", "--max-length", "256",
                        "--eval-every", str(args.eval_every), "--val-harmful", str(files["val_harmful"]), "--val-safe", "borderline-val",
                        "--out", str(out), *extra)
        models[name] = f"hf/{out}"
    limit = ["--limit", str(args.xstest_limit)] if args.xstest_limit else []
    for name, model in models.items():
        folder = work / "eval" / name
        if not (folder / "dangerousqa" / "summary.json").is_file():
            redinstruct("eval", "--model", model, "--dataset", str(files["heldout_dangerousqa"]), "--template", "standard", "--template", "cou",
                        "--max-tokens", str(args.max_tokens), "--log-dir", str(folder / "dangerousqa"))
        if not (folder / "xstest" / "summary.json").is_file():
            redinstruct("eval", "--model", model, "--dataset", "xstest", "--template", "standard", *limit,
                        "--max-tokens", str(args.max_tokens), "--log-dir", str(folder / "xstest"))
        if not args.no_hhh and not (folder / "hhh.json").is_file():
            redinstruct("utility", "--model", model, "--tasks", "hhh", "--data-dir", str(utility), "--out", str(folder / "hhh.json"))
    table = results_table(work, models)
    (work / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
