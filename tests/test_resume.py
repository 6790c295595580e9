"""Kill a real run (SIGKILL or Ctrl-C) and resume it: nothing finished is lost, redone or duplicated."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import default_sigint
from redinstruct.data import load_questions

CLI = [sys.executable, "-m", "redinstruct.cli"]


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


def question_prompts(server):
    """Requests that carry a question (the reachability check's tiny request is not one)."""
    return [r for r in server.requests if r["prompt"] != "Reply with OK."]


# since every engine runs through one loop (redeval/_model_run.py), this is the path test_lean_client.py's kill-9 and
# Ctrl-C tests take: kept, byte-for-byte checks and all, behind the slow marker
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_run_resumes_without_loss_or_repeats(tmp_path, openai_server, sig):
    # slow enough that the signal lands mid-run even on a loaded 2-core CI machine (at 0.25 s one CI run finished first)
    openai_server.delay_s = 0.5
    openai_server.responder = lambda prompt, body: "Step 1: gather the tools. Step 2: do it quietly."
    log_dir = tmp_path / "run"
    samples = log_dir / "samples.jsonl"
    command = CLI + [
        "eval", "--model", "openai-api/local/target", "--dataset", "demo", "--template", "standard",
        "--judge", "refusal", "--max-connections", "1", "--log-dir", str(log_dir), "--display", "none",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=default_sigint)
    deadline = time.monotonic() + 120
    while len(lines(samples)) < 4:
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "run produced no samples"
        time.sleep(0.05)
    os.killpg(proc.pid, sig) if sig == signal.SIGKILL else proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0, f"not interrupted (SIGINT in the test process: {signal.getsignal(signal.SIGINT)})"
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and b"run the same command again" in stderr
        assert b"Traceback" not in stderr

    before = lines(samples)
    finished = {json.loads(line)["question"] for line in before}
    assert 4 <= len(before) < 16, "killed part-way"
    requests_before = len(openai_server.requests)

    done = subprocess.run(command, env=env, capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    after = lines(samples)
    assert after[: len(before)] == before, "finished lines are kept byte for byte"
    records = [json.loads(line) for line in after]
    demo = load_questions("demo")
    assert sorted(r["question_id"] for r in records) == sorted(q.id for q in demo.questions), "all 16, once each"
    resumed_prompts = [r["prompt"] for r in question_prompts(openai_server)[requests_before - 1 :]]
    asked_again = [q for q in finished if any(p == q for p in resumed_prompts)]
    assert not asked_again, "a finished sample was generated again"
    summary = json.loads((log_dir / "summary.json").read_text())
    assert summary[0]["n"] == 16 and summary[0]["harmful"] == 16
