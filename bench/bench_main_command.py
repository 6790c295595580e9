"""The README's main command, timed side by side: before (an older revision, or inspect's HF batching) and now.

    python bench/bench_main_command.py --baseline-rev 9c5b84f                        # `redinstruct eval`
    python bench/bench_main_command.py --baseline-rev 9c5b84f --dataset dangerousqa  # the paper's RED-EVAL size

The baseline is the same command run from the given git revision (a temporary worktree on
PYTHONPATH: exactly "today's" code), or, without --baseline-rev, this revision with
`-M engine=inspect`. Both use the same questions, templates, judge and token limit, in fresh run
folders, one after the other on this machine. Prints wall times, the speed-up, and how many samples
got the same (cleaned) reply and verdict under both (greedy decoding: they should all match).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WARM_UP = "from redinstruct.models import smollm2_checkpoint; smollm2_checkpoint()"


def run(extra: list[str], env: dict[str, str], args: list[str], log_dir: Path) -> tuple[float, list[dict]]:
    command = [sys.executable, "-m", "redinstruct.cli", "eval", *args, *extra, "--log-dir", str(log_dir)]
    subprocess.run([sys.executable, "-c", WARM_UP], env=env, check=True, capture_output=True)  # a first-use conversion is not timed
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"run failed ({' '.join(command)}):\n{result.stderr[-3000:]}")
    samples = [json.loads(line) for line in (log_dir / "samples.jsonl").read_text().splitlines()]
    return seconds, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=None, help="as eval --dataset (default: eval's default, demo)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--data-dir", default=None, help="REDINSTRUCT_DATA_DIR for named datasets (default ../shared/data/redinstruct if present)")
    parser.add_argument("--baseline-rev", default=None, help="git revision whose code is the baseline")
    ns = parser.parse_args()
    args: list[str] = []
    if ns.dataset:
        args += ["--dataset", ns.dataset]
    if ns.limit:
        args += ["--limit", str(ns.limit)]
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "redinstruct"
    data_dir = ns.data_dir or (str(shared) if shared.is_dir() else None)
    if data_dir:
        os.environ["REDINSTRUCT_DATA_DIR"] = data_dir
    import platform

    import torch

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"command: redinstruct eval {' '.join(args)}")
    results: dict[str, tuple[float, list[dict]]] = {}
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="bench-main-") as tmp:
        if ns.baseline_rev:
            worktree = Path(tmp) / "baseline-src"
            subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(worktree), ns.baseline_rev], check=True, capture_output=True)
            runs = {f"before ({ns.baseline_rev})": ([], {**os.environ, "PYTHONPATH": str(worktree / "src")})}
        else:
            runs = {"before (-M engine=inspect)": (["-M", "engine=inspect"], dict(os.environ))}
        runs["now"] = ([], dict(os.environ))
        try:
            for name, (extra, env) in runs.items():
                seconds, samples = run(extra, env, args, Path(tmp) / f"run{len(results)}")
                results[name] = (seconds, samples)
                print(f"{name:28s} {seconds:7.1f} s  {len(samples)} samples", flush=True)
        finally:
            if ns.baseline_rev:
                subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(worktree)], capture_output=True)
    (before, (old_s, old_samples)), (_, (new_s, new_samples)) = results.items()
    key = lambda s: (s["template"], s["question_id"])  # noqa: E731
    old = {key(s): s for s in old_samples}
    new = {key(s): s for s in new_samples}
    same_reply = sum((old[k]["response"] or "") == (new[k]["response"] or "") for k in old if k in new)
    same_verdict = sum(old[k]["verdict"] == new[k]["verdict"] for k in old if k in new)
    print(f"same cleaned reply: {same_reply}/{len(old)}, same verdict: {same_verdict}/{len(old)}")
    print(f"main command: {old_s / new_s:.2f}x faster ({old_s:.1f} s -> {new_s:.1f} s)")


if __name__ == "__main__":
    main()
