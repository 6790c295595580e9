"""Throughput of `harmfulqa generate` against a fast OpenAI-compatible server: lean client vs inspect's engine, one run.

The server (`redinstruct._testing.openai_server --harmfulqa`, its own process) waits a fixed time
per request and answers each stage prompt in the format that stage parses. The pipeline's stages
run one after another and a red conversation's turns one after another, so the zero-overhead
bound is, per stage, the larger of its waves (calls / connections, rounded up) and its longest
chain of calls, times the wait. "% of ideal" = bound / wall time of the whole call.

Run: python bench/bench_harmfulqa_generation.py   (about 2 minutes)
Then the paper-size projection (10 topics x 10 subtopics x 20 questions, 5 blue + 5 red
conversations of 4 turns) at the larger configuration's measured call rate.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

os.environ.setdefault("INSPECT_DISPLAY", "none")

from redinstruct.harmfulqa import GenerateSettings, generate_harmfulqa  # noqa: E402

DELAY, CONNECTIONS = 0.2, 32


@dataclass(frozen=True)
class Config:
    label: str
    topics: int
    subtopics: int
    questions: int
    conversations: int
    turns: int

    def calls(self) -> list[tuple[int, int]]:
        """(calls, longest chain) per stage, when every reply is usable and blue conversations come in one call."""
        q = self.topics * self.subtopics * self.questions
        return [(1, 1), (self.topics, 1), (self.topics * self.subtopics, 1), (q * self.conversations, 1),
                (q * self.conversations * self.turns, self.turns)]

    def bound(self, delay: float, connections: int) -> float:
        return delay * sum(max(math.ceil(calls / connections), chain) for calls, chain in self.calls())

    @property
    def total_calls(self) -> int:
        return sum(calls for calls, _ in self.calls())


TINY = Config("tiny (1 x 2 x 2, 1 conv, 2 turns)", 1, 2, 2, 1, 2)
LARGER = Config("larger (4 x 5 x 5, 2 conv, 2 turns)", 4, 5, 5, 2, 2)
PAPER = Config("paper (10 x 10 x 20, 5 conv, 4 turns)", 10, 10, 20, 5, 4)


def measure(config: Config, engine: str) -> dict[str, float]:
    server = subprocess.Popen([sys.executable, "-m", "redinstruct._testing.openai_server", "--delay", str(DELAY), "--harmfulqa"],
                              stdout=subprocess.PIPE, text=True)
    try:
        os.environ["LOCAL_BASE_URL"] = server.stdout.readline().strip()
        os.environ["LOCAL_API_KEY"] = "bench-key-not-secret"
        with tempfile.TemporaryDirectory() as out:
            settings = GenerateSettings(model="openai-api/local/gen", out=out, topics=config.topics, subtopics_per_topic=config.subtopics,
                                        questions_per_subtopic=config.questions, conversations_per_question=config.conversations,
                                        turns=config.turns, max_connections=CONNECTIONS, model_args={"engine": engine})
            start = time.monotonic()
            ran = generate_harmfulqa(settings, echo=lambda m: None)
            wall = time.monotonic() - start
    finally:
        server.terminate()
        server.wait()
    assert ran["generator_calls"] == config.total_calls, (ran, config.total_calls)
    return {"wall": wall, "calls": ran["generator_calls"], "rate": ran["generator_calls"] / wall,
            "pct": 100 * config.bound(DELAY, CONNECTIONS) / wall}


def main() -> None:
    print(f"{'configuration':<38} {'engine':<10} {'calls':>6} {'wall s':>7} {'bound s':>8} {'calls/s':>8} {'% ideal':>8}")
    results = {}
    for config in (TINY, LARGER):
        for engine in ("redinstruct", "inspect"):
            m = measure(config, engine)
            results[(config.label, engine)] = m
            name = "lean" if engine == "redinstruct" else "inspect"
            print(f"{config.label:<38} {name:<10} {m['calls']:>6} {m['wall']:>7.2f} {config.bound(DELAY, CONNECTIONS):>8.2f} "
                  f"{m['rate']:>8.1f} {m['pct']:>7.1f}%", flush=True)
    rate = results[(LARGER.label, "redinstruct")]["rate"]
    print(f"\npaper size: {PAPER.total_calls} generator calls; at {rate:.0f} calls/s (lean, {CONNECTIONS} connections x "
          f"{DELAY * 1000:.0f} ms) {PAPER.total_calls / rate / 60:.1f} min; the bound at that setting "
          f"{PAPER.bound(DELAY, CONNECTIONS) / 60:.1f} min")
    for engine, name in (("redinstruct", "lean"), ("inspect", "inspect")):
        print(f"{name}, {LARGER.label}, {CONNECTIONS} connections at {DELAY * 1000:.0f} ms: "
              f"{results[(LARGER.label, engine)]['pct']:.1f}% of ideal")


if __name__ == "__main__":
    sys.exit(main())
