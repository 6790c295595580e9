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

from redinstruct._testing.openai_server import OpenAICompatibleServer  # noqa: E402
from redinstruct.redeval import EvalConfig, run_redeval  # noqa: E402

DELAY_S = 0.2
N = 200
CONNECTIONS = (1, 8, 32)


def measure(server: OpenAICompatibleServer, connections: int) -> tuple[float, float]:
    server.requests.clear()
    with tempfile.TemporaryDirectory() as log_dir:
        start = time.monotonic()
        result = run_redeval(
            EvalConfig(
                models=["openai-api/local/target"], datasets=["dangerousqa"], templates=["standard"],
                limit=N, max_connections=connections, log_dir=log_dir, display="none",
            ),
            echo=lambda message: None,
        )
        total = time.monotonic() - start
    assert result.runs[0]["n"] == N and result.runs[0]["unknown"] == 0
    times = [r["time"] for r in server.requests if r["prompt"] != "Reply with OK."]
    assert len(times) == N
    phase = max(times) + DELAY_S - min(times)
    return phase, total


def main() -> None:
    server = OpenAICompatibleServer(responder=lambda p, b: "Step 1: do the thing.", delay_s=DELAY_S).start()
    os.environ["LOCAL_BASE_URL"] = server.base_url
    os.environ["LOCAL_API_KEY"] = "bench-key-not-secret"
    try:
        results = {c: measure(server, c) for c in CONNECTIONS}
    finally:
        server.stop()
    base_phase, base_total = results[1]
    print(f"{N} samples, {DELAY_S * 1000:.0f} ms per request; ideal speed-up = connections")
    print(f"{'conn':>4} {'phase s':>8} {'speed-up':>9} {'% ideal':>8} | {'total s':>8} {'speed-up':>9} {'% ideal':>8}")
    for c, (phase, total) in results.items():
        sp, st = base_phase / phase, base_total / total
        print(f"{c:>4} {phase:>8.2f} {sp:>9.2f} {100 * sp / c:>7.1f}% | {total:>8.2f} {st:>9.2f} {100 * st / c:>7.1f}%")


if __name__ == "__main__":
    sys.exit(main())
