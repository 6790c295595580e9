"""Why does DPO + pairs make SmolLM2 less safe? (issue #37, item 5)

Reads the contrastive pairs a `reproduce --preset smollm2-helpful` run distilled (DIR/data/pairs.jsonl) and:

1. judges the pairs' sides with the harm judge (the cross-encoder, as RED-EVAL does): what the chosen
   side teaches on harmful questions (the RPO term is NLL on it) and what the rejected side pushes away;
2. trains DPO variants from the base model, each changing one suspect (the borderline pairs, the RPO
   term, beta), and runs RED-EVAL (DangerousQA 1-40, Standard, the cross-encoder) on each, with the base
   model measured in the same run.

    REDINSTRUCT_DATA_DIR=../shared/data python bench/dpo_diagnosis.py --run runs/preset/helpful3 --work runs/dpo-diag

Prints one table; every variant's model and RED-EVAL folder stay under --work (rerun to resume).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

VARIANTS = {
    # name: (pair kinds, RPO weight, beta)
    "all pairs, RPO 1.0, beta 0.1 (the old preset)": (("harmful", "borderline"), 1.0, 0.1),
    "harmful pairs only, RPO 1.0": (("harmful",), 1.0, 0.1),  # the borderline pairs: do they teach answering everything?
    "all pairs, no RPO": (("harmful", "borderline"), 0.0, 0.1),  # the NLL on the chosen side: what does it teach?
    "all pairs, RPO 1.0, beta 0.5": (("harmful", "borderline"), 1.0, 0.5),  # a stronger pull to the reference model
    "balanced pairs, RPO 1.0": (("harmful", "borderline=harmful"), 1.0, 0.1),  # as many borderline pairs as harmful ones
}


def select_pairs(pairs: list[dict], kinds: tuple[str, ...]) -> list[dict]:
    """The plain pairs of the named kinds; `borderline=harmful`: the first borderline pairs, as many as harmful ones."""
    plain = [p for p in pairs if "wrapper" not in p]
    out = [p for p in plain if p["kind"] in kinds]
    if "borderline=harmful" in kinds:
        out += [p for p in plain if p["kind"] == "borderline"][: sum(p["kind"] == "harmful" for p in plain)]
    return out


def judge_sides(pairs: list[dict]) -> list[str]:
    from redinstruct.judges import get_judge

    judge = get_judge("crossencoder")
    lines = []
    for kind in ("harmful", "borderline"):
        mine = [p for p in pairs if p["kind"] == kind and "wrapper" not in p]
        if not mine:
            continue
        for side in ("chosen", "rejected"):
            results = judge.score([p["prompt"] for p in mine], [p[side] for p in mine])
            harmful = sum(r.verdict == "harmful" for r in results)
            lines.append(f"| {kind} | {side} | {len(mine)} | {harmful} ({100 * harmful / len(mine):.0f}%) |")
    return ["| pairs | side | n | judged harmful |", "|---|---|---|---|", *lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a reproduce run folder of the smollm2-helpful preset")
    parser.add_argument("--work", required=True)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--only", nargs="*", help="variant numbers (1-based) to train; default all")
    parser.add_argument("--judge-only", action="store_true", help="only judge the pairs' sides (part 1); train nothing")
    parser.add_argument("--xstest", action="store_true", help="also measure over-refusal: XSTest, 10 prompts of each type")
    args = parser.parse_args()

    from redinstruct.redeval import EvalConfig, run_redeval
    from redinstruct.safealign import AlignConfig, align, bf16_helps

    run, work = Path(args.run), Path(args.work)
    pairs = [json.loads(line) for line in (run / "data" / "pairs.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    print("\n".join(judge_sides(pairs)), flush=True)
    if args.judge_only:
        return
    work.mkdir(parents=True, exist_ok=True)
    models, names = ["smollm2"], ["SmolLM2"]
    chosen = [list(VARIANTS)[int(n) - 1] for n in args.only] if args.only else list(VARIANTS)
    for n, name in enumerate(chosen, 1):
        kinds, rpo, beta = VARIANTS[name]
        target = work / f"v{list(VARIANTS).index(name) + 1}"
        pair_file = work / f"pairs-v{list(VARIANTS).index(name) + 1}.jsonl"
        pair_file.write_text("".join(json.dumps(p) + "\n" for p in select_pairs(pairs, kinds)), encoding="utf-8")
        if not (target / "model.safetensors").is_file():
            print(f"[{n}/{len(chosen)}] training: {name}", flush=True)
            # data: the run's HarmfulQA file with its plain conversations only (as the old preset trained: the harmful
            # pairs, deduplicated against the pairs file), so the pairs file decides the rest
            plain = work / "harmfulqa-plain.json"
            records = json.loads((run / "data" / "harmfulqa.json").read_text(encoding="utf-8"))
            plain.write_text(json.dumps([{**r, "blue_conversations": {"0": r["blue_conversations"].get("0")},
                                          "red_conversations": {"0": r["red_conversations"].get("0")}} for r in records]), encoding="utf-8")
            align(AlignConfig(base="smollm2", data=[str(plain)], out=str(target), strategy="dpo", pairs=[str(pair_file)],
                              chat_template="model", lr=args.lr, batch_size=4, max_steps=args.steps, max_length=512,
                              preference_sft_weight=rpo, beta=beta, bf16=bf16_helps(), logging_steps=10))
        models.append(f"hf/{target}")
        names.append(name)
    run_redeval(EvalConfig(models=models, names=names, datasets=["dangerousqa"], templates=["standard"], judge="crossencoder",
                           limit=args.limit, max_tokens=96, log_dir=str(work / "redeval")), echo=lambda m: print(m, flush=True))
    summary = json.loads((work / "redeval" / "summary.json").read_text(encoding="utf-8"))
    runs = summary["runs"] if isinstance(summary, dict) and "runs" in summary else summary
    if args.xstest:  # the first 10 prompts of every XSTest type, safe prompts and unsafe contrasts, as the preset takes them
        from redinstruct.reproduce import over_refusal_bank

        bank = over_refusal_bank("xstest", 10, work)
        run_redeval(EvalConfig(models=models, names=names, datasets=[bank], templates=["standard"], judge="crossencoder",
                               max_tokens=96, log_dir=str(work / "over-refusal")), echo=lambda m: print(m, flush=True))
        over = {r["model"]: r.get("over_refusal") or {} for r in json.loads((work / "over-refusal" / "summary.json").read_text(encoding="utf-8"))}
        for r in runs:
            r["xstest_safe_refused"] = over.get(r["model"], {}).get("refusal_rate")
    print("\n| model | ASR, DangerousQA 1-40, Standard | refused (compliance judge) | XSTest safe prompts refused |\n|---|---|---|---|")
    share = lambda x: "n/a" if x is None else f"{100 * x:.1f}%"  # noqa: E731
    for r in runs:
        print(f"| {r['model']} | {100 * r['asr']:.1f}% [{100 * r['ci_low']:.1f}-{100 * r['ci_high']:.1f}] | "
              f"{share((r.get('refusal_unsafe') or {}).get('refusal_rate'))} | {share(r.get('xstest_safe_refused')) if args.xstest else 'not run'} |")


if __name__ == "__main__":
    main()
