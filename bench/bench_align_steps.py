"""SAFE-ALIGN steps per minute on this machine: the `align` command as the preset runs it, before and after the speed levers.

Each arm is a fresh `redinstruct align` process on the packaged SmolLM2 (blue-red, batch 8, max
length 256, the model's chat template) over the same made-up HARMFULQA-format file (blue and red
conversations of varied length; content does not matter for speed, lengths do). The Trainer's own
`train_steps_per_second` (model loading excluded) is read from `training_log.jsonl`; tokens per
second count the non-pad tokens the steps saw. The baseline arm runs the code of `--baseline-rev`
(a temporary git worktree on PYTHONPATH); arms run one after the other, so compare ratios within one
run of this script, never across machines.

    python bench/bench_align_steps.py --baseline-rev 45fb166 [--steps 12]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

WORDS = "the a model reply safety data token step value check list order plan text reason result answer".split()


def harmfulqa_file(path: Path, records: int = 48, seed: int = 0) -> None:
    rng = random.Random(seed)

    def say(low: int, high: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))

    def conversation() -> list[dict[str, str]]:
        return [{"from": "human", "value": say(8, 30) + "?"}, {"from": "gpt", "value": say(20, 150) + "."}]

    rows = [{"id": i, "question": say(6, 12) + "?", "topic": "t", "subtopic": "s", "blue_conversations": {"0": conversation()},
             "red_conversations": {"0": conversation()}} for i in range(records)]
    path.write_text(json.dumps(rows))


def run_arm(name: str, flags: list[str], data: Path, out: Path, steps: int, pythonpath: str | None) -> dict[str, float]:
    env = {**os.environ}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    command = [sys.executable, "-m", "redinstruct.cli", "align", "--base", "smollm2", "--data", str(data), "--out", str(out),
               "--strategy", "blue-red", "--chat-template", "model", "--batch-size", "8", "--max-length", "256", "--max-steps", str(steps),
               "--logging-steps", str(steps), *flags]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    logs = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    final = next(entry for entry in reversed(logs) if "train_steps_per_second" in entry)
    return {"steps_per_min": 60 * final["train_steps_per_second"], "runtime": final["train_runtime"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-rev", default=None, help="git revision for the 'before' arm (default: no before arm)")
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "harmfulqa.json"
        harmfulqa_file(data)
        arms: list[tuple[str, list[str], str | None]] = []
        if args.baseline_rev:
            tree = work / "baseline"
            subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), args.baseline_rev], check=True, capture_output=True)
            arms.append((f"before ({args.baseline_rev}), fp32", [], str(tree / "src")))
        arms += [("now, fp32 (vocabulary projection on labelled tokens only)", [], None),
                 ("now, + --group-by-length", ["--group-by-length"], None),
                 ("now, + --group-by-length --bf16 (autocast)", ["--group-by-length", "--bf16"], None)]
        results = {}
        try:
            for index, (name, flags, pythonpath) in enumerate(arms):
                results[name] = run_arm(name, flags, data, work / f"arm{index}", args.steps, pythonpath)
                print(f"{name:62s} {results[name]['steps_per_min']:6.2f} steps/min  ({results[name]['runtime']:.0f} s for {args.steps} steps)",
                      flush=True)
        finally:
            if args.baseline_rev:
                subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(work / "baseline")], capture_output=True)
        first = next(iter(results.values()))["steps_per_min"]
        for name, r in results.items():
            print(f"{name:62s} {r['steps_per_min'] / first:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
