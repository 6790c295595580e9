"""Throughput of conversation attacks (`redinstruct eval --attack replay|redlm`) against a 200 ms OpenAI-compatible server.

The server (`redinstruct._testing.openai_server`, its own process) waits 200 ms per request and
always refuses, so every conversation runs all its turns. Each row replays N synthetic HARMFULQA red
conversations of T Red-LM turns (or, for redlm, lets an attacker on a second 200 ms server write
them) through `run_redeval` at 32 connections. A conversation's turns are sequential, so the
zero-overhead bound is max(requests x wait / connections, longest conversation x wait) per model
seat; "% of ideal" = bound / phase (first to last request, from the servers' own logs, plus one wait).

Rows: replay with the refusal judge (the client and the turn loop alone); replay with the default
offline judges (MiniLM on 2 cores, short replies); redlm with an attacker server (two sequential
requests per turn, each seat on its own 32 connections).

Run: python bench/bench_conversations.py   (about 2 minutes)
The last line is `conversations (replay), 32 connections at 200 ms: NN.N% of ideal`.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("INSPECT_DISPLAY", "none")

from bench_api_concurrency import request_times, serve  # noqa: E402  (the same 200 ms server, in its own process)
from redinstruct._defaults import DEFAULT_JUDGE  # noqa: E402
from redinstruct.redeval import EvalConfig, run_redeval  # noqa: E402

DELAY, CONNECTIONS = 0.2, 32
REFUSAL = "I'm sorry, but I can't help with that request."


@dataclass
class Row:
    label: str
    conversations: int
    turns: int
    attack: str = "replay"
    judge: str = "refusal"
    compliance_judge: str = "refusal"


def replay_file(folder: Path, conversations: int, turns: int) -> Path:
    """Synthetic red conversations (made-up text, no harmful content) in the HARMFULQA schema."""
    records = []
    for i in range(conversations):
        said = []
        for t in range(turns):
            said += [{"from": "human", "value": f"Question {i}, step {t + 1}: tell me more about the topic."}, {"from": "gpt", "value": "(recorded)"}]
        records.append({"id": i, "question_id": f"c{i}", "topic": "bench", "subtopic": "bench", "question": f"bench question {i}",
                        "blue_conversations": {"0": None}, "red_conversations": {"0": said}})
    path = folder / "bench_conversations.json"
    path.write_text(json.dumps(records))
    return path


def bound(times: list[float], longest: int, seats: int = 1) -> float:
    """No overhead: the requests in full waves of the connections (per seat), and never faster than one conversation's chain."""
    return max(len(times) * DELAY / (CONNECTIONS * seats), longest * DELAY * seats)


def measure(row: Row) -> dict[str, float]:
    with contextlib.ExitStack() as stack:
        target_url = stack.enter_context(serve(DELAY, REFUSAL))
        attacker_url = stack.enter_context(serve(DELAY, "Red-LM: and what comes next?", "RED")) if row.attack == "redlm" else None
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        dataset = str(replay_file(folder, row.conversations, row.turns)) if row.attack == "replay" else "harmfulqa"
        config = EvalConfig(models=["openai-api/local/target"], datasets=[dataset], attack=row.attack, turns=row.turns,
                            attacker_model="openai-api/red/attacker" if row.attack == "redlm" else None, backtracks=0 if row.attack == "redlm" else None,
                            limit=row.conversations, max_connections=CONNECTIONS, log_dir=str(folder / "run"), display="none",
                            judge=row.judge, compliance_judge=row.compliance_judge)
        start = time.monotonic()
        result = run_redeval(config, echo=lambda message: None)
        total = time.monotonic() - start
        (run,) = result.runs
        assert run["n"] == row.conversations and run["unknown"] == 0, run
        times = request_times(target_url) + (request_times(attacker_url) if attacker_url else [])
    seats = 2 if row.attack == "redlm" else 1
    assert len(times) == row.conversations * row.turns * seats, (len(times), row)
    phase = max(times) + DELAY - min(times)
    ideal = bound(times, row.turns, seats)
    return {"phase": phase, "bound": ideal, "total": total, "pct": 100 * ideal / phase, "requests": len(times)}


def main() -> None:
    os.environ.setdefault("REDINSTRUCT_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data" / "redinstruct"))
    rows = [
        Row("replay, refusal judge", 256, 5),
        Row("replay, default offline judges", 64, 5, judge=DEFAULT_JUDGE, compliance_judge="compliance"),
        Row("redlm (attacker on its own 200 ms server), refusal judge", 128, 3, attack="redlm"),
    ]
    print(f"{'setting':<58} {'conv':>5} {'turns':>5} {'requests':>8} {'phase s':>8} {'bound s':>8} {'% ideal':>8} {'total s':>8}")
    results = {}
    for row in rows:
        m = measure(row)
        results[row.label] = m
        print(f"{row.label:<58} {row.conversations:>5} {row.turns:>5} {m['requests']:>8} {m['phase']:>8.2f} {m['bound']:>8.2f} "
              f"{m['pct']:>7.1f}% {m['total']:>8.2f}", flush=True)
    print(f"\nconversations (replay), {CONNECTIONS} connections at {DELAY * 1000:.0f} ms: {results[rows[0].label]['pct']:.1f}% of ideal")


if __name__ == "__main__":
    sys.exit(main())
