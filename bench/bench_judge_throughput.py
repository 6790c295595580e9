"""Offline judge throughput: the question-aware cross-encoder vs the reply-only classifier, same run.

Judges the same labelled replies (JAILJUDGEmini from --data-dir, else the small test subset) with
each judge in turn, in batches as `judge calibrate` does, for several alternating rounds (the first
is a warm-up), and prints replies/s of each, ms per reply and the median ratio.

    python bench/bench_judge_throughput.py [--data-dir ../shared/data] [--n 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from redinstruct.judges import get_judge, load_label_sources

HERE = Path(__file__).resolve().parent


def rate(judge, pairs) -> float:
    """Replies per second for one batch pass over `pairs`."""
    start = time.perf_counter()
    asyncio.run(judge.judge_batch(pairs))
    return len(pairs) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data_dir = Path(args.data_dir) if Path(args.data_dir).is_dir() else HERE.parent / "tests" / "data"
    rows = [r for rows in load_label_sources(data_dir).values() for r in rows][: args.n]
    pairs = [(r.question, r.response) for r in rows]
    judges = {"classifier": get_judge("classifier"), "crossencoder": get_judge("crossencoder")}
    rate(judges["crossencoder"], pairs[:16]), rate(judges["classifier"], pairs[:16])  # load and warm up both
    rates: dict[str, list[float]] = {name: [] for name in judges}
    for _ in range(args.rounds):
        for name, judge in judges.items():
            rates[name].append(rate(judge, pairs))
    print(f"{len(pairs)} replies from {data_dir}, {args.rounds} alternating rounds")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"  {name}: {median:.1f} replies/s ({1000 / median:.1f} ms per reply)")
    ratios = [c / x for c, x in zip(rates["crossencoder"], rates["classifier"])]
    print(f"crossencoder / classifier throughput, median ratio: {statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
