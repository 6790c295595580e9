"""Shared fixtures: the test data, an isolated cache, and a local OpenAI-compatible server.

The default run uses only what the repository holds: `tests/data/shared/` has small slices of the
third-party sets (made by tests/data/make_shared_subset.py; see tests/data/README.md). Tests
marked `shared` read the full sets in ../shared/data and run only when asked: `pytest -m shared`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT / "tests" / "data" / "shared"  # slices, in the repository
FULL_SHARED_DATA = REPO_ROOT.parent / "shared" / "data"  # the full sets, beside a developer's clone
REDINSTRUCT_DATA = SHARED_DATA / "redinstruct"

# One cache for the whole test session, so the packaged GGUF is converted once and never read from
# (or written to) the developer's real cache: every test run proves the first-use conversion works.
_SESSION_CACHE = tempfile.mkdtemp(prefix="redinstruct-test-cache-")
# removed when this process exits: each run (and each xdist worker) left ~0.5 GB behind in /tmp, 85 GB after 166 runs
atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)
os.environ["REDINSTRUCT_CACHE_DIR"] = _SESSION_CACHE
os.environ["REDINSTRUCT_DATA_DIR"] = str(REDINSTRUCT_DATA)
os.environ.setdefault("INSPECT_DISPLAY", "none")
os.environ["HF_HUB_OFFLINE"] = "1"  # nothing in the tests may download weights or data
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
if os.environ.get("PYTEST_XDIST_WORKER"):
    # one thread per worker (and per CLI process it starts): two workers on two cores, not four
    # threads spinning over two cores; set before anything imports torch
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["MKL_NUM_THREADS"] = "1"


CLI = [sys.executable, "-m", "redinstruct.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`redinstruct ARGS` in a fresh process (as a user runs it), output captured."""
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def run_cli_here(*args: str, env: dict[str, str] | None = None, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """`redinstruct ARGS` inside this test process: for the many bad-input checks, which need no fresh interpreter.

    The same entry point as the command (`redinstruct.cli.main`: one error line, the exit code), without
    the ~4 s of imports a new process pays. Clean exits of real processes are checked with `run_cli`.
    `timeout` is accepted for symmetry with `run_cli` and not enforced.
    """
    import contextlib
    import io

    from redinstruct.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv = dict(os.environ), sys.argv
    os.environ.update(env or {})
    sys.argv = ["redinstruct", *args]
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as ex:
        code = ex.code
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["redinstruct", *args], code if isinstance(code, int) else 1, out.getvalue(), err.getvalue())


def chromium_browser():
    """Headless Chromium under Selenium (Debian's chromium and chromium-driver); skipped without them, a failure under CI."""
    chromium, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser test: install the Debian packages chromium and chromium-driver")
        pytest.skip("chromium / chromedriver not installed (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage", "--window-size=1300,2000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def default_sigint() -> None:
    """preexec_fn for a child that must get Ctrl-C as from a terminal: an ignored SIGINT (left by an
    in-process test, or by the xdist worker) is inherited, and Python then never raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def clean_exit(result: subprocess.CompletedProcess[str]) -> None:
    """Exit 0 with no traceback and no native abort (a thread left inside torch at interpreter exit)."""
    assert result.returncode == 0, result.stderr[-2000:]
    assert "terminate called" not in result.stderr and "Traceback" not in result.stderr


def pytest_report_header(config: pytest.Config) -> str:
    return f"redinstruct test cache: {_SESSION_CACHE}; test data: {SHARED_DATA}"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Slices of the third-party sets, shaped like ../shared/data."""
    return SHARED_DATA


@pytest.fixture(scope="session")
def full_shared_data() -> Path:
    """The full third-party sets (tests marked `shared` only)."""
    if not (FULL_SHARED_DATA / "redinstruct").is_dir():
        pytest.fail(f"the full shared data is not at {FULL_SHARED_DATA}: tests marked 'shared' need it beside the clone")
    return FULL_SHARED_DATA


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator["OpenAICompatibleServer"]:
    """A fresh server; `openai-api/local/<name>` models talk to it."""
    from redinstruct._testing.openai_server import OpenAICompatibleServer

    server = OpenAICompatibleServer().start()
    monkeypatch.setenv("LOCAL_BASE_URL", server.base_url)
    monkeypatch.setenv("LOCAL_API_KEY", "sk-test-not-a-real-key-7f3a9c")
    try:
        yield server
    finally:
        server.stop()


# the tiny HARMFULQA configuration on the packaged model, as `harmfulqa generate` options
TINY_GENERATION = ["--topics", "1", "--subtopics-per-topic", "2", "--questions-per-subtopic", "2", "--conversations-per-question", "1",
                   "--turns", "1", "--max-tokens", "64", "--retries", "1"]  # one retry keeps the run short; retries are tested on the test server


@pytest.fixture(scope="session")
def tiny_generation(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The tiny configuration run once as a fresh `redinstruct` process (repeated clean exits: tests/test_clean_exit.py)."""
    out = tmp_path_factory.mktemp("hq-tiny")
    return out, run_cli("harmfulqa", "generate", "--model", "smollm2", "--out", str(out), *TINY_GENERATION)


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A 2-layer Llama with SmolLM2's tokenizer, saved like any HF checkpoint."""
    path = tmp_path_factory.mktemp("tiny-base")
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from redinstruct.models import smollm2_checkpoint

    tokenizer = AutoTokenizer.from_pretrained(smollm2_checkpoint(quiet=True))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


from redinstruct._testing.openai_server import OpenAICompatibleServer  # noqa: E402  (type for fixtures)


# property-based tests: no example database left in the checkout, no per-example deadline on a loaded 2-core machine.
# The default run draws the same examples every time (derandomize), so CI never fails on a draw it did not make before;
# `HYPOTHESIS_PROFILE=explore pytest tests/test_escaping.py` draws new ones (and more of them) to look for new failures.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("redinstruct", database=None, deadline=None, derandomize=True)
_hypothesis_settings.register_profile("explore", database=None, deadline=None, max_examples=2000)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "redinstruct"))
