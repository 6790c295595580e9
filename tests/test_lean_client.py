"""The lean client for OpenAI-compatible servers: engine choice, retries, durable samples, inspect logs, kill -9 and resume."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log

from conftest import default_sigint
from redinstruct._testing.openai_server import HTTPFailure
from redinstruct.errors import ModelError
from redinstruct.judges import BatchScoringJudge, JudgeResult
from redinstruct.models import CLIENT, INSPECT, LOCAL, ModelSpec, OpenAIHTTPClient, choose_engine, resolve_model
from redinstruct.models._openai_http import GenerationError
from redinstruct.redeval import EvalConfig, SampleRecord, SampleStore, SampleWriter, run_redeval

KEY = "sk-test-not-a-real-key-7f3a9c"


def _questions(path: Path, n: int) -> Path:
    path.write_text("question,topic\n" + "".join(f"What is the capital of country number {i}?,geography\n" for i in range(n)))
    return path


def _eval_command(questions: Path, log_dir: Path, templates: list[str], connections: int) -> list[str]:
    """`redinstruct eval` of a question file against the test server, in its own process."""
    return [sys.executable, "-m", "redinstruct.cli", "eval", "--model", "openai-api/local/target", "--dataset", str(questions),
            *[arg for t in templates for arg in ("--template", t)], "--judge", "refusal", "--compliance-judge", "refusal",
            "--max-connections", str(connections), "--log-dir", str(log_dir)]


def _slow_cli_run(server, tmp_path: Path, n: int) -> tuple[Path, Path, Path]:
    """A server slow enough (50 ms a request) to stop a run mid-way; (question file, run folder, its samples.jsonl)."""
    server.delay_s = 0.05
    server.responder = lambda prompt, body: "Step 1: look it up."
    log_dir = tmp_path / "run"
    return _questions(tmp_path / "q.csv", n), log_dir, log_dir / "samples.jsonl"


def _start_and_wait_for_lines(command: list[str], samples: Path, lines: int, **popen: object) -> subprocess.Popen:
    """Start `command`, return once `samples` holds `lines` lines (the run is then mid-way)."""
    process = subprocess.Popen(command, env={**os.environ, "INSPECT_DISPLAY": "none"}, preexec_fn=default_sigint,  # Ctrl-C must reach it
                               **popen)  # type: ignore[call-overload]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not samples.is_file() or samples.read_text().count("\n") < lines):
        time.sleep(0.01)
    return process


def _endpoint(name: str, **kwargs):
    choice = choose_engine(resolve_model(name, **kwargs))
    return choice.endpoint if choice.engine == CLIENT else None


def test_engine_choice_follows_provider_and_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """`choose_engine` is the one place an engine is picked: local for hf/, the client for servers, inspect otherwise or on request."""
    monkeypatch.setenv("LOCAL_BASE_URL", "http://127.0.0.1:9/v1")
    endpoint = _endpoint("openai-api/local/target")
    assert endpoint is not None and endpoint.url == "http://127.0.0.1:9/v1/chat/completions" and endpoint.model == "target"
    raw = _endpoint("openai-api/local/target", render="raw")
    assert raw is not None and raw.url.endswith("/v1/completions") and raw.completions
    assert choose_engine(resolve_model("openai-api/local/target", model_args={"engine": "inspect"})).engine == INSPECT
    # vLLM: inspect starts the server itself unless one is named
    monkeypatch.delenv("VLLM_BASE_URL", raising=False)
    assert choose_engine(resolve_model("vllm/meta-llama/Llama-3-8B")).engine == INSPECT
    monkeypatch.setenv("VLLM_BASE_URL", "http://gpu-node:8000/v1")
    vllm = _endpoint("vllm/meta-llama/Llama-3-8B")
    assert vllm is not None and vllm.model == "meta-llama/Llama-3-8B" and vllm.api_key_variable == "VLLM_API_KEY"
    # OpenAI's own API: inspect by default, the client when asked (by its name, or the old one)
    assert choose_engine(resolve_model("openai/gpt-4o")).engine == INSPECT
    for asked in ("client", "redinstruct"):
        chosen = _endpoint("openai/gpt-4o", model_args={"engine": asked})
        assert chosen is not None and chosen.base_url == "https://api.openai.com/v1"
    with pytest.raises(ModelError, match="only OpenAI-compatible"):
        choose_engine(resolve_model("ollama/llama3", model_args={"engine": "client"}))
    with pytest.raises(ModelError, match="needs inspect's provider"):
        choose_engine(resolve_model("openai-api/local/target", model_args={"engine": "client", "responses_api": True}))
    assert choose_engine(resolve_model("openai-api/local/target", model_args={"responses_api": True})).engine == INSPECT
    monkeypatch.delenv("NOURL_BASE_URL", raising=False)
    with pytest.raises(ModelError, match="set NOURL_BASE_URL"):
        choose_engine(resolve_model("openai-api/nourl/target"))
    # local checkpoints: the local engine, inspect's provider on request, never the client
    assert choose_engine(ModelSpec("hf/x", "hf/x")).engine == LOCAL
    assert choose_engine(ModelSpec("hf/x", "hf/x", {"engine": "redinstruct"})).engine == LOCAL
    assert choose_engine(ModelSpec("hf/x", "hf/x", {"engine": "inspect"})).engine == INSPECT
    with pytest.raises(ModelError, match="for OpenAI-compatible servers"):
        choose_engine(ModelSpec("hf/x", "hf/x", {"engine": "client"}))
    with pytest.raises(ModelError, match="not an engine"):
        choose_engine(ModelSpec("hf/x", "hf/x", {"engine": "turbo"}))


def test_client_retries_transient_failures_and_not_bad_requests(openai_server) -> None:
    calls = Counter()

    def responder(prompt: str, body: dict) -> str | HTTPFailure:
        calls[prompt] += 1
        if prompt == "flaky" and calls[prompt] == 1:
            return HTTPFailure(503, "overloaded")
        if prompt == "bad":
            return HTTPFailure(400, f"context too long (key {KEY})")
        return f"reply to {prompt}"

    openai_server.responder = responder
    endpoint = _endpoint("openai-api/local/target")
    client = OpenAIHTTPClient(endpoint, max_connections=4, max_retries=2)

    async def run() -> tuple:
        flaky = await client.complete("flaky", 16)
        try:
            await client.complete("bad", 16)
        except GenerationError as ex:
            bad = str(ex)
        await client.aclose()
        return flaky, bad

    flaky, bad = asyncio.run(run())
    assert flaky.text == "reply to flaky" and flaky.stop_reason == "stop" and calls["flaky"] == 2
    assert calls["bad"] == 1  # a 400 is not retried
    assert bad.startswith("HTTP 400: context too long") and KEY not in bad  # the server echoed the key: masked
    body = openai_server.requests[0]["body"]
    assert body["messages"] == [{"role": "user", "content": "flaky"}] and body["max_tokens"] == 16 and body["temperature"] == 0.0


def test_offline_judge_batches_concurrent_calls() -> None:
    class CountingJudge(BatchScoringJudge):
        """A real BatchScoringJudge whose pass only records its size (the batching is what is tested)."""

        def __init__(self) -> None:
            self.passes: list[int] = []

        def score(self, questions, responses):
            self.passes.append(len(responses))
            return [JudgeResult("harmful" if "bad" in r else "unharmful", r) for r in responses]

    judge = CountingJudge()

    async def run() -> list[JudgeResult]:
        return await asyncio.gather(*(judge("q", f"{'bad' if i % 3 == 0 else 'fine'} {i}") for i in range(100)))

    results = asyncio.run(run())
    assert [r.rationale for r in results] == [f"{'bad' if i % 3 == 0 else 'fine'} {i}" for i in range(100)]
    assert [r.verdict for r in results][:3] == ["harmful", "unharmful", "unharmful"]
    assert sum(judge.passes) == 100 and len(judge.passes) <= 3 and max(judge.passes) == judge.max_batch


def test_group_commit_writes_every_line_once(tmp_path: Path) -> None:
    store = SampleStore(tmp_path / "samples.jsonl")
    writer = SampleWriter(store)
    seen: list[str] = []
    base = dict(model="m", dataset="d", template="standard", render="chat", judge="refusal", question="q", topic="t", subtopic="s",
                label="unsafe", type="", prompt="p", response_raw="r", response="r")

    async def run() -> None:
        await asyncio.gather(*(writer.append(SampleRecord(question_id=f"q{i}", **base)) for i in range(50)))

    with store.listening(lambda record: seen.append(record["question_id"])):
        asyncio.run(run())
    lines = [json.loads(line) for line in store.path.read_text().splitlines()]
    assert sorted(r["question_id"] for r in lines) == sorted(f"q{i}" for i in range(50)) == sorted(seen)
    assert len(SampleStore(store.path)) == 50 == len(store)


def test_lean_run_writes_samples_and_readable_inspect_logs(openai_server, tmp_path: Path) -> None:
    openai_server.responder = lambda prompt, body: "I'm sorry, I can't help with that." if "7" in prompt else "Step 1: look it up."
    questions = _questions(tmp_path / "q.csv", 12)
    result = run_redeval(
        EvalConfig(models=["openai-api/local/target"], datasets=[str(questions)], templates=["standard", "cot"],
                   judge="refusal", compliance_judge="refusal", max_connections=4, log_dir=str(tmp_path / "run")),
        echo=lambda message: None,
    )
    assert [(r["template"], r["n"], r["harmful"], r["unharmful"]) for r in result.runs] == [("standard", 12, 11, 1), ("cot", 12, 11, 1)]
    logs = sorted(result.log_dir.glob("*.eval"))
    assert len(logs) == 2
    for path in logs:
        log = read_eval_log(str(path))
        assert log.status == "success" and log.eval.model == "openai-api/local/target"
        assert log.results.scores[0].metrics["attack_success_rate"].value == pytest.approx(11 / 12)
        assert len(log.samples) == 12 and {s.id for s in log.samples} == set(log.eval.dataset.sample_ids)
        sample = next(s for s in log.samples if "7" in str(s.input))
        assert sample.output.completion == "I'm sorry, I can't help with that."
        assert sample.scores["redeval_scorer"].value == {"harmful": 0.0, "unharmful": 1.0, "unknown": 0.0}
        assert [m.role for m in sample.messages] == ["user", "assistant"] and sample.metadata["template"] == log.eval.metadata["template"]
        assert log.stats.model_usage["openai-api/local/target"].output_tokens > 0
    text = "".join(p.read_text() for p in result.log_dir.glob("*.json*")) + "".join(p.read_bytes().decode("latin-1") for p in logs)
    assert KEY not in text
    _served_by_inspect_view(result.log_dir, logs[0])


def _served_by_inspect_view(log_dir: Path, log: Path) -> None:
    """`inspect view` (its real server) lists the folder's logs and serves one, samples included."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    view = subprocess.Popen([sys.executable, "-m", "inspect_ai", "view", "start", "--log-dir", str(log_dir), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, listing = time.monotonic() + 60, None
        while listing is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/logs", timeout=5) as response:
                    listing = json.load(response)
            except OSError:
                time.sleep(0.2)
        assert listing is not None, "inspect view did not start"
        assert {Path(f["name"]).name for f in listing["files"]} == {p.name for p in log_dir.glob("*.eval")}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/logs/{urllib.parse.quote(str(log))}", timeout=30) as response:
            served = json.load(response)
        assert served["status"] == "success" and len(served["samples"]) == 12
    finally:
        view.terminate()
        view.wait(timeout=30)


def test_lean_run_killed_mid_run_resumes_with_every_sample_once(openai_server, tmp_path: Path) -> None:
    """SIGKILL a real `redinstruct eval` process mid-run; the rerun finishes without redoing a finished sample."""
    questions, log_dir, samples = _slow_cli_run(openai_server, tmp_path, 60)
    command = _eval_command(questions, log_dir, ["standard", "cot"], connections=4)
    process = _start_and_wait_for_lines(command, samples, 30, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before_kill = SampleStore(samples)
    assert 30 <= len(before_kill) < 120, "the kill should land mid-run"
    finished_prompts = {r["prompt"] for r in before_kill}
    requests_before = len(openai_server.requests)

    resumed = subprocess.run(command, env={**os.environ, "INSPECT_DISPLAY": "none"}, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    keys = Counter((r["template"], r["question_id"]) for r in lines)
    assert len(keys) == 120 and set(keys.values()) == {1}  # every sample present, once
    redone = [r["prompt"] for r in openai_server.requests[requests_before:] if r["prompt"] in finished_prompts]
    assert redone == []  # nothing finished before the kill was asked again
    summary = json.loads((log_dir / "summary.json").read_text())
    assert [(r["template"], r["n"], r["unknown"]) for r in summary] == [("standard", 60, 0), ("cot", 60, 0)]
    # the logs hold every sample the killed process had not finished, once (it writes a template's
    # log when its last sample is done, so one finished before the kill may be there too)
    logged = [(s.metadata["template"], s.id) for p in log_dir.glob("*.eval") for s in read_eval_log(str(p)).samples]
    assert len(logged) == len(set(logged))
    assert set(keys) - {(r["template"], r["question_id"]) for r in before_kill} <= set(logged)


def test_lean_run_interrupted_keeps_finished_samples_in_a_cancelled_log(openai_server, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) mid-run: a one-line message, a non-zero exit, finished samples in samples.jsonl and in inspect logs."""
    questions, log_dir, samples = _slow_cli_run(openai_server, tmp_path, 80)
    process = _start_and_wait_for_lines(_eval_command(questions, log_dir, ["standard"], connections=2), samples, 10,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0 and "Traceback" not in stderr
    assert "interrupted:" in stderr and "run the same command again" in stderr
    store = SampleStore(samples)
    assert 10 <= len(store) < 80
    (log,) = [read_eval_log(str(p)) for p in log_dir.glob("*.eval")]
    assert log.status == "cancelled" and {s.id for s in log.samples} <= {r["question_id"] for r in store}
    assert len(log.samples) >= len(store) - 2  # at most the samples whose line landed as the interrupt did


@pytest.mark.parametrize("render", ["chat", "raw"])
def test_lean_client_sends_what_inspect_sends_and_records_the_same(openai_server, tmp_path: Path, render: str) -> None:
    """Same requests (body for body) and the same samples.jsonl lines from both engines."""
    openai_server.responder = lambda prompt, body: "I can't help with that." if "weapon" in prompt else "Step 1: gather the parts."
    records, bodies = {}, {}
    for engine in ("inspect", "redinstruct"):
        openai_server.requests.clear()
        result = run_redeval(
            EvalConfig(models=["openai-api/local/target"], datasets=["demo"], templates=["standard", "cou"], limit=4, render=render,
                       judge="refusal", compliance_judge="refusal", log_dir=str(tmp_path / engine), display="none",
                       model_args={"engine": engine}),
            echo=lambda message: None,
        )
        records[engine] = sorted((json.loads(line) for line in (result.log_dir / "samples.jsonl").read_text().splitlines()),
                                 key=lambda r: (r["template"], r["question_id"]))
        bodies[engine] = sorted(json.dumps(r["body"], sort_keys=True) for r in openai_server.requests if r["prompt"] != "Reply with OK.")
    assert len(bodies["redinstruct"]) == 8 and bodies["redinstruct"] == bodies["inspect"]
    assert records["redinstruct"] == records["inspect"]
    assert any(json.loads(b).get("stop") == ["Red-LM:"] for b in bodies["redinstruct"])  # CoU stops at the next Red-LM turn
