"""The CLI as a user meets it: bad input is one line on stderr and exit code 2, never a traceback."""

import json
import os
import re
import socket
import subprocess
import sys

import pytest
from conftest import CLI, run_cli, run_cli_here

def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_clean_failure(result, message):
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0], result.stderr


@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "broken.json").write_text('["unterminated"')
    (tmp_path / "noslot.txt").write_text("Answer this.")
    return tmp_path


def test_unknown_dataset(tmp_path):
    """In a real process (the checks below run the same entry point in this one)."""
    assert_clean_failure(run_cli("eval", "--dataset", "nosuch", "--log-dir", str(tmp_path / "r")), "unknown dataset 'nosuch'")


def test_malformed_dataset_file(bad_files):
    assert_clean_failure(run_cli_here("eval", "--dataset", str(bad_files / "broken.json")), "malformed JSON")


def test_unreadable_dataset_file(tmp_path):
    path = tmp_path / "secret.json"
    path.write_text("[]")
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: use a directory, which cannot be read as a file
        path = tmp_path / "dir.json"
        path.mkdir()
    assert_clean_failure(run_cli_here("eval", "--dataset", str(path)), "dataset")


def test_template_without_slot(bad_files):
    assert_clean_failure(run_cli_here("eval", "--template", str(bad_files / "noslot.txt")), "has no {question} slot")


def test_llm_judge_without_model():
    assert_clean_failure(run_cli_here("eval", "--judge", "llm"), "needs a judge model")


def test_unknown_judge():
    assert_clean_failure(run_cli_here("eval", "--judge", "oracle"), "unknown judge 'oracle'")


def test_unknown_model_names(tmp_path):
    assert_clean_failure(run_cli_here("eval", "--model", "gpt-4", "--log-dir", str(tmp_path / "a")), "unknown model 'gpt-4'")
    assert_clean_failure(run_cli_here("eval", "--model", "nosuchprovider/x", "--log-dir", str(tmp_path / "b")), "unknown model provider 'nosuchprovider'")
    assert not (tmp_path / "b").exists(), "a bad model name leaves no run folder behind"
    assert_clean_failure(run_cli_here("eval", "--model", f"hf/{tmp_path}/no-model-here", "--log-dir", str(tmp_path / "c")), "cannot load model")
    assert_clean_failure(run_cli_here("eval", "--model", "hf/nonexistent-org/no-such-model", "--log-dir", str(tmp_path / "d")),
                         "not in the Hugging Face cache")  # HF_HUB_OFFLINE is set for the tests
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists(), "a checkpoint that is not there leaves no run folder"


def test_bad_input_is_refused_before_any_work(tmp_path):
    no_key = {k: "" for k in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZUREAI_OPENAI_API_KEY")}
    assert_clean_failure(run_cli_here("eval", "--model", "openai/gpt-4o-mini", "--log-dir", str(tmp_path / "a"), env=no_key), "set OPENAI_API_KEY")
    assert_clean_failure(run_cli_here("eval", "--model", "openai-api/my-server/m", "--log-dir", str(tmp_path / "b")), "set MY_SERVER_API_KEY")
    assert_clean_failure(run_cli_here("eval", "--judge", "llamaguard", "--judge-model", "openai/guard", "--log-dir", str(tmp_path / "c"), env=no_key),
                         "set OPENAI_API_KEY")
    assert_clean_failure(run_cli_here("eval", "--max-tokens", "0", "--log-dir", str(tmp_path / "d")), "--max-tokens must be at least 1")
    assert not any((tmp_path / d).exists() for d in "abcd")


def test_raw_render_on_a_chat_only_api():
    assert_clean_failure(run_cli_here("eval", "--model", "openai/gpt-4o", "--render", "raw"), "no plain-completion API")


def test_unreachable_api_fails_fast_and_keeps_the_key_secret(tmp_path):
    key = "sk-live-THIS-MUST-NOT-LEAK-123456"
    env = {"LOCAL_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1", "LOCAL_API_KEY": key}
    result = run_cli_here("eval", "--model", "openai-api/local/m", "--limit", "2", "--log-dir", str(tmp_path / "r"), env=env)
    assert_clean_failure(result, "cannot reach model 'openai-api/local/m'")
    assert key not in result.stderr + result.stdout


def test_usage_errors_exit_2():
    result = run_cli_here("eval", "--limit", "notanumber")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_data_commands(shared_data):
    listing = run_cli_here("data", "list")
    assert listing.returncode == 0 and "dangerousqa" in listing.stdout and "smoke" in listing.stdout
    info = run_cli_here("data", "info", "harmfulqa")  # the slice in tests/data/shared
    assert info.returncode == 0 and "17 questions" in info.stdout and "1 exact duplicates" in info.stdout


@pytest.mark.shared
def test_data_info_on_the_full_harmfulqa(full_shared_data):
    info = run_cli("data", "info", "harmfulqa", env={"REDINSTRUCT_DATA_DIR": str(full_shared_data / "redinstruct")})
    assert info.returncode == 0 and "1960 questions" in info.stdout and "22 exact duplicates" in info.stdout


def test_eval_against_an_api_with_the_llm_judge(tmp_path, openai_server):
    """Target and judge are both API models (on the local server); the run's files carry the verdicts."""

    def responder(prompt, body):
        if body["model"] == "judge":
            return "The reply refuses.\n[[A]]" if "cannot help" in prompt else "It gives the steps.\n[[B]]"
        return "Sorry, I cannot help with that." if "Wi-Fi" in prompt else "Step 1: do it."

    openai_server.responder = responder
    log_dir = tmp_path / "r"
    result = run_cli_here(
        "eval", "--model", "openai-api/local/target", "--template", "standard,cou", "--judge", "llm",
        "--judge-model", "openai-api/local/judge", "--log-dir", str(log_dir), "--display", "none",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    samples = [json.loads(line) for line in (log_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 32
    wifi = [s for s in samples if "Wi-Fi" in s["question"]]
    assert len(wifi) == 2 and all(s["verdict"] == "unharmful" for s in wifi)
    assert all(s["verdict"] == "harmful" for s in samples if "Wi-Fi" not in s["question"])
    assert all(s["judge"] == "llm:openai-api/local/judge" and s["judge_rationale"] for s in samples)
    summary = json.loads((log_dir / "summary.json").read_text())
    assert [r["harmful"] for r in summary] == [15, 15] and [r["unharmful"] for r in summary] == [1, 1]
    everything = "".join(p.read_text(errors="ignore") for p in log_dir.iterdir() if p.suffix in (".jsonl", ".json", ".md"))
    everything += result.stdout + result.stderr
    assert "sk-test-not-a-real-key" not in everything
    # the inspect logs are zip files: the key must not be inside them either
    import zipfile

    import inspect_ai._util.zipfile  # noqa: F401  (inspect writes zstd entries; this teaches zipfile to read them, whatever ran before)

    for log in log_dir.glob("*.eval"):
        with zipfile.ZipFile(log) as z:
            assert all(b"sk-test-not-a-real-key" not in z.read(name) for name in z.namelist())


def test_raw_render_uses_the_completions_endpoint(tmp_path, openai_server):
    openai_server.responder = lambda prompt, body: "(Internal thought: fine) Here is how.\nRed-LM: thanks"
    log_dir = tmp_path / "r"
    result = run_cli_here(
        "eval", "--model", "openai-api/local/target", "--template", "cou", "--render", "raw", "--limit", "2",
        "--log-dir", str(log_dir), "--display", "none",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    paths = {r["path"] for r in openai_server.requests if r["prompt"] != "Reply with OK."}
    assert paths == {"/v1/completions"}
    samples = [json.loads(line) for line in (log_dir / "samples.jsonl").read_text().splitlines()]
    assert [s["response"] for s in samples] == ["Here is how."] * 2 and all(s["render"] == "raw" for s in samples)


def test_changing_the_judge_in_a_used_log_dir_is_refused(tmp_path, openai_server):
    log_dir = tmp_path / "r"
    first = run_cli_here("eval", "--model", "openai-api/local/t", "--limit", "1", "--template", "standard", "--judge", "refusal", "--log-dir", str(log_dir), "--display", "none")
    assert first.returncode == 0, first.stderr[-2000:]
    second = run_cli_here("eval", "--model", "openai-api/local/t", "--limit", "1", "--template", "standard", "--log-dir", str(log_dir),
                     "--judge", "llm", "--judge-model", "openai-api/local/j")
    assert_clean_failure(second, "holds a run with judge='refusal'")


def test_inspect_cli_resolves_the_registered_task(tmp_path, openai_server):
    """RED-EVAL is an inspect task: `inspect eval redinstruct/red_eval` works too."""
    openai_server.responder = lambda prompt, body: "I'm sorry, I can't help with that."
    inspect = os.path.join(os.path.dirname(sys.executable), "inspect")
    result = subprocess.run(
        [inspect, "eval", "redinstruct/red_eval", "--model", "openai-api/local/t", "-T", "dataset=demo", "-T", "template=standard",
         "-T", "limit=3", "-T", "judge=refusal", "--log-dir", str(tmp_path), "--display", "none"],
        capture_output=True, text=True, timeout=180, env={**os.environ},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    from inspect_ai.log import read_eval_log

    (log_path,) = tmp_path.glob("*.eval")
    log = read_eval_log(str(log_path))
    assert log.status == "success" and len(log.samples) == 3
    metrics = log.results.scores[0].metrics
    assert metrics["attack_success_rate"].value == 0.0 and metrics["unknown"].value == 0.0


def test_main_command_on_the_packaged_model(tmp_path):
    """`redinstruct eval` on smollm2 and the demo bank, through the CLI (short replies to stay fast)."""
    result = run_cli("eval", "--limit", "2", "--max-tokens", "16", "--log-dir", str(tmp_path), timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "RED-EVAL attack success rate" in result.stdout and "smoke set" in result.stdout
    for template in ("standard", "cot", "cou"):
        assert f"│ smollm2 │ demo    │ {template}" in result.stdout
    assert "6 sample(s) run now" in result.stdout
    # output is not a terminal here: progress comes as lines, naming the model as typed, counting up to the total
    lines = re.findall(r"^\[eval smollm2\] (\d+)/6 samples \(\d+%\)(.*)$", result.stderr, re.M)
    assert len(lines) >= 2 and [int(n) for n, _ in lines] == sorted(int(n) for n, _ in lines)
    assert lines[-1][0] == "6" and "done in" in lines[-1][1]
    assert any("ETA" in rest for n, rest in lines if n != "6")
    screen = result.stdout + result.stderr
    assert "samples_file" not in screen and "question_ids" not in screen and "hf/" not in screen


@pytest.mark.slow
def test_main_command_with_no_arguments(tmp_path):
    """The README's main command exactly: all 16 demo questions x 3 templates, default settings."""
    result = subprocess.run(CLI + ["eval"], capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "logs" / "redeval").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [(r["template"], r["n"]) for r in summary] == [("standard", 16), ("cot", 16), ("cou", 16)]


def test_eval_adds_the_corrected_asr_from_a_calibration(tmp_path, openai_server):
    # refusal matching: the two "fake ..." questions among the first 8 are refused, 6 answered
    openai_server.responder = lambda prompt, body: "I'm sorry, I can't." if "fake" in prompt else "Step 1: do it."
    calibration = tmp_path / "cal.json"
    calibration.write_text(json.dumps({"judge": "refusal", "metrics": {"tp": 90, "fn": 10, "tn": 60, "fp": 40}}))
    log_dir = tmp_path / "r"
    result = run_cli_here(
        "eval", "--model", "openai-api/local/t", "--template", "standard", "--judge", "refusal", "--limit", "8",
        "--judge-calibration", str(calibration), "--log-dir", str(log_dir), "--display", "none",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = json.loads((log_dir / "summary.json").read_text())
    assert run["asr"] == 0.75
    # observed 0.75 with se 0.9, sp 0.6: (0.75 + 0.6 - 1) / 0.5 = 0.7
    assert run["asr_corrected"] == pytest.approx(0.7) and run["judge_sensitivity"] == 0.9 and run["judge_specificity"] == 0.6
    assert run["asr_corrected_ci_low"] < 0.7 < run["asr_corrected_ci_high"]
    # the summary names the judge with its own measured figures and the user's calibration
    assert run["judge_quality"]["calibration"]["agreement"] == pytest.approx(150 / 200)
    assert run["judge_quality"]["offline"] and "worst held-out agreement" in run["judge_quality"]["summary"]
    assert "for numbers you publish" in " ".join(result.stdout.split())
    assert "corrected" in (log_dir / "summary.md").read_text()
    bad = run_cli_here("eval", "--model", "openai-api/local/t", "--judge", "refusal", "--judge-calibration", str(tmp_path / "missing.json"))
    assert_clean_failure(bad, "cannot read judge calibration")


def test_rubric_scores_are_kept_per_sample(tmp_path, openai_server):
    def responder(prompt, body):
        if body["model"] == "grader":
            return "Detailed.\nrefused: 0\nconvincing: 5\nspecific: 4" if "Step" in prompt else "Refused.\nrefused: 1\nconvincing: 1\nspecific: 1"
        return "I won't help." if "Wi-Fi" in prompt else "Step 1: do it."

    openai_server.responder = responder
    log_dir = tmp_path / "r"
    result = run_cli_here(
        "eval", "--model", "openai-api/local/t", "--template", "standard", "--judge", "rubric", "--judge-model",
        "openai-api/local/grader", "--log-dir", str(log_dir), "--display", "none",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    samples = [json.loads(line) for line in (log_dir / "samples.jsonl").read_text().splitlines()]
    scores = {s["judge_score"] for s in samples}
    assert scores == {7 / 8, 0.0}
    assert all((s["verdict"] == "harmful") == (s["judge_score"] == 7 / 8) for s in samples)


def test_eval_help_shows_what_runs_by_default():
    text = " ".join(run_cli("eval", "--help", env={"COLUMNS": "200"}).stdout.split())
    for default in ("(smollm2)", "(demo)", "(standard,cot,cou)", "[default: crossencoder]"):
        assert default in text, default
