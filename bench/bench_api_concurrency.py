"""Throughput of `redinstruct eval` against fast OpenAI-compatible servers, engine by engine, in one run.

The server (`redinstruct._testing.openai_server`, its own process) waits a fixed time per request,
like a serving engine with spare capacity. Each row runs N DangerousQA/HarmfulQA questions
(standard template) through `run_redeval` and compares the sample phase (first to last request, from
the server's own log, plus one request's wait) with the zero-overhead bound: N x wait / connections
(+ one wait when every sample also waits for an LLM judge). "% of ideal" = bound / phase: 100% means
the client added nothing. This is stricter than the speed-up over a measured 1-connection run,
whose own per-request overhead would flatter the ratio.

Rows: the lean client (default for openai-api/ and vllm/ servers) and inspect's engine
(-M engine=inspect) at 32 connections x 200 ms and 128 connections x 1,000 ms with the refusal
judge (client machinery only); the lean client with an LLM judge on the same server (two requests
per sample); the lean client with the default offline judges on distinct ~180-word replies
(MiniLM embeddings on 2 cores); and an instant server (the client's own ceiling, samples/s over
the whole call, for the full HarmfulQA x 3 templates with an LLM judge).

Run: python bench/bench_api_concurrency.py [--quick]   (about 4 minutes; --quick skips inspect's rows)
The last lines are `default offline judges, 32 connections at 200 ms: NN.N% of ideal (judges at PRECISION)` (the judges'
bound), then the 128 x 1 s and 32 x 200 ms lines of the lean client with the refusal judge (the client's).
REDINSTRUCT_JUDGE_PRECISION=fp32 measures the judges without bf16.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
os.environ.setdefault("REDINSTRUCT_DATA_DIR", str(HERE.parent.parent / "shared" / "data" / "redinstruct"))
os.environ.setdefault("INSPECT_DISPLAY", "none")

from redinstruct._defaults import DEFAULT_JUDGE  # noqa: E402
from redinstruct.judges._inference import judge_precision  # noqa: E402
from redinstruct.redeval import EvalConfig, run_redeval  # noqa: E402

N = 256  # a multiple of 32 and 128: the bound has no partial wave
SHORT_REPLY = "Step 1: do it.\n[[B]]"  # the LLM judge reads [[B]] on the last line: harmful
LONG_REPLY = " ".join(
    ["Here is a careful overview of the steps involved, the materials people usually gather, the order in which",
     "they are done, and the mistakes that are most often made along the way, with a note on why each step matters."] * 5
)  # ~180 words, a typical reply length at --max-tokens 256


@dataclass
class Row:
    label: str
    delay: float
    connections: int
    engine: str = "redinstruct"
    judge: str = "refusal"
    compliance_judge: str = "refusal"
    judge_model: str | None = None
    reply: str = SHORT_REPLY
    n: int = N  # questions (per template)
    templates: tuple[str, ...] = ("standard",)

    @property
    def samples(self) -> int:
        return self.n * len(self.templates)

    @property
    def bound(self) -> float:
        """Zero client overhead: full waves of `connections`, plus the judge's wait when an LLM judges."""
        waits = 2 if self.judge_model else 1
        return self.samples * self.delay / self.connections + (waits - 1) * self.delay


@contextlib.contextmanager
def serve(delay: float, reply: str, service: str = "LOCAL") -> Iterator[str]:
    """The server runs in its own process, so it does not compete with the client for the GIL; openai-api/<service>/ models reach it."""
    server = subprocess.Popen(
        [sys.executable, "-m", "redinstruct._testing.openai_server", "--delay", str(delay), "--reply", reply, "--vary"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = server.stdout.readline().strip()
        os.environ[f"{service}_BASE_URL"] = base_url
        os.environ[f"{service}_API_KEY"] = "bench-key-not-secret"
        yield base_url
    finally:
        server.terminate()
        server.wait()


def request_times(base_url: str) -> list[float]:
    with urllib.request.urlopen(base_url + "/stats") as response:
        requests = json.load(response)["requests"]
    return [r["time"] for r in requests if r["prompt"] != "Reply with OK."]


def measure(row: Row) -> dict[str, float]:
    with serve(row.delay, row.reply) as base_url, tempfile.TemporaryDirectory() as log_dir:
        config = EvalConfig(
            models=["openai-api/local/target"], datasets=["harmfulqa" if row.n > 200 else "dangerousqa"],
            templates=list(row.templates), limit=row.n, max_connections=row.connections, log_dir=log_dir, display="none",
            judge=row.judge, judge_model=row.judge_model, compliance_judge=row.compliance_judge,
            model_args={"engine": row.engine},
        )
        cpu, start = time.process_time(), time.monotonic()
        result = run_redeval(config, echo=lambda message: None)
        total, cpu = time.monotonic() - start, time.process_time() - cpu
        assert [(run["n"], run["unknown"]) for run in result.runs] == [(row.n, 0)] * len(row.templates), result.runs
        assert len(list(Path(log_dir).glob("*.eval"))) == len(row.templates)
        times = request_times(base_url)
    expected = row.samples * (2 if row.judge_model else 1)
    assert len(times) == expected, (len(times), expected)
    phase = max(times) + row.delay - min(times)
    return {"phase": phase, "total": total, "cpu_ms": 1000 * cpu / row.samples, "pct": 100 * row.bound / phase}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip inspect's engine (the slow rows)")
    args = parser.parse_args()
    rows = [
        Row("lean, refusal judge", 0.2, 32),
        Row("lean, refusal judge", 1.0, 128),
        Row("lean, LLM judge on the same server", 0.2, 32, judge="llm", judge_model="openai-api/local/judge"),
        Row("lean, default offline judges, ~180-word replies", 0.2, 32, judge=DEFAULT_JUDGE, compliance_judge="compliance", reply=LONG_REPLY),
        # the client's ceiling: the full HarmfulQA x 3 templates with an LLM judge, against an instant server
        Row("lean, LLM judge, instant server, HarmfulQA x 3", 0.0, 128, judge="llm", judge_model="openai-api/local/judge",
            n=1960, templates=("standard", "cot", "cou")),
    ]
    if not args.quick:
        rows += [
            Row("inspect engine, refusal judge", 0.2, 32, engine="inspect"),
            Row("inspect engine, refusal judge", 1.0, 128, engine="inspect"),
            Row("inspect engine, LLM judge, instant server", 0.0, 128, engine="inspect", judge="llm",
                judge_model="openai-api/local/judge", n=512),
        ]
    print(f"{'setting':<50} {'wait':>6} {'conn':>5} {'n':>5} {'phase s':>8} {'bound s':>8} {'% ideal':>8} {'total s':>8} {'CPU ms/sample':>14}")
    results = {}
    for row in rows:
        m = measure(row)
        results[(row.label, row.delay, row.connections)] = m
        ideal = f"{m['pct']:>7.1f}%" if row.delay else f"{row.samples / m['total']:>4.0f}/s*"
        print(f"{row.label:<50} {row.delay * 1000:>4.0f}ms {row.connections:>5} {row.samples:>5} {m['phase']:>8.2f} {row.bound:>8.2f} "
              f"{ideal:>8} {m['total']:>8.2f} {m['cpu_ms']:>14.2f}", flush=True)
    print("* instant server: samples per second over the whole call (start-up, judging and log writing included)")
    offline = results[("lean, default offline judges, ~180-word replies", 0.2, 32)]
    print(f"\ndefault offline judges, 32 connections at 200 ms: {offline['pct']:.1f}% of ideal (judges at {judge_precision()})")
    slow = results[("lean, refusal judge", 1.0, 128)]
    print(f"128 connections at 1000 ms: {slow['pct']:.1f}% of ideal")
    fast = results[("lean, refusal judge", 0.2, 32)]
    print(f"32 connections at 200 ms: {fast['pct']:.1f}% of ideal")


if __name__ == "__main__":
    sys.exit(main())
