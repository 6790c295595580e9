"""Throughput of `redinstruct eval` against an OpenAI-compatible server that waits 200 ms per request.

200 DangerousQA questions (standard template, refusal judge) at --max-connections 1, 8 and 32.
Prints the achieved speed-up over 1 connection against the ideal (= the connection count).
Two clocks: the sample phase (first to last request, from the server's own log) and the whole
call (inspect start-up and file writing included). Run: python bench/bench_api_concurrency.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("REDINSTRUCT_DATA_DIR", str(HERE.parent.parent / "shared" / "data" / "redinstruct"))
os.environ.setdefault("INSPECT_DISPLAY", "none")

import contextlib  # noqa: E402
import json  # noqa: E402
from typing import Iterator  # noqa: E402
import subprocess  # noqa: E402
import urllib.request  # noqa: E402

from redinstruct.redeval import EvalConfig, run_redeval  # noqa: E402

DELAY_S = 0.2
N = 200
CONNECTIONS = (1, 8, 32)
SLOW_DELAY_S = 1.0


def server_times(base_url: str) -> list[float]:
    with urllib.request.urlopen(base_url + "/stats") as response:
        requests = json.load(response)["requests"]
    return [r["time"] for r in requests if r["prompt"] != "Reply with OK."]


def measure(base_url: str, connections: int, log_samples: bool, delay: float = DELAY_S) -> tuple[float, float]:
    seen = len(server_times(base_url))
    with tempfile.TemporaryDirectory() as log_dir:
        start = time.monotonic()
        result = run_redeval(
            EvalConfig(
                models=["openai-api/local/target"], datasets=["dangerousqa"], templates=["standard"],
                limit=N, max_connections=connections, log_dir=log_dir, display="none", log_samples=log_samples,
            ),
            echo=lambda message: None,
        )
        total = time.monotonic() - start
    assert result.runs[0]["n"] == N and result.runs[0]["unknown"] == 0
    times = server_times(base_url)[seen:]
    assert len(times) == N
    phase = max(times) + delay - min(times)
    return phase, total


def main() -> None:
    with serve(DELAY_S) as base_url:
        for log_samples in (True, False):
            results = {c: measure(base_url, c, log_samples) for c in CONNECTIONS}
            report(results, log_samples)
    # at a slower, more API-like latency the per-sample overhead matters less: compare 32
    # connections with the zero-overhead bound N * delay / 32
    with serve(SLOW_DELAY_S) as base_url:
        phase, _ = measure(base_url, 32, True, SLOW_DELAY_S)
    bound = N * SLOW_DELAY_S / 32
    print(f"\n{SLOW_DELAY_S * 1000:.0f} ms per request, 32 connections: phase {phase:.2f} s, "
          f"zero-overhead bound {bound:.2f} s = {100 * bound / phase:.1f}% of ideal")


@contextlib.contextmanager
def serve(delay: float) -> Iterator[str]:
    """The server runs in its own process, so it does not compete with the client for the GIL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "redinstruct._testing.openai_server", "--delay", str(delay), "--reply", "Step 1: do it."],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        base_url = server.stdout.readline().strip()
        os.environ["LOCAL_BASE_URL"] = base_url
        os.environ["LOCAL_API_KEY"] = "bench-key-not-secret"
        yield base_url
    finally:
        server.terminate()


def report(results: dict[int, tuple[float, float]], log_samples: bool) -> None:
    base_phase, base_total = results[1]
    print(f"\n{N} samples, {DELAY_S * 1000:.0f} ms per request, log_samples={log_samples}; ideal speed-up = connections")
    print(f"{'conn':>4} {'phase s':>8} {'speed-up':>9} {'% ideal':>8} | {'total s':>8} {'speed-up':>9} {'% ideal':>8}")
    for c, (phase, total) in results.items():
        sp, st = base_phase / phase, base_total / total
        print(f"{c:>4} {phase:>8.2f} {sp:>9.2f} {100 * sp / c:>7.1f}% | {total:>8.2f} {st:>9.2f} {100 * st / c:>7.1f}%")


if __name__ == "__main__":
    sys.exit(main())
