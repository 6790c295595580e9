from pathlib import Path

import pytest
from conftest import REPO_ROOT, run_cli_here

from redinstruct._secrets import redact


def test_secret_environment_values_are_masked(monkeypatch):
    monkeypatch.setenv("MYSERVICE_API_KEY", "sk-abcdef-123456")
    monkeypatch.setenv("HF_TOKEN", "hf_zyxwvu987")
    monkeypatch.setenv("SHORT_KEY", "1")  # too short to mask safely
    text = "auth failed for sk-abcdef-123456 and hf_zyxwvu987 (retry 1)"
    assert redact(text) == "auth failed for *** and *** (retry 1)"


def test_credentials_given_as_model_arguments_are_masked() -> None:
    from redinstruct._secrets import redact_args, remember_model_args

    remember_model_args({"api_key": "sk-given-as-an-argument-42", "base_url": "http://alice:pa55word-in-url@10.0.0.1/v1", "dtype": "bf16"})
    assert redact("key sk-given-as-an-argument-42, url http://alice:pa55word-in-url@10.0.0.1/v1") == "key ***, url http://***@10.0.0.1/v1"
    assert redact_args({"api_key": "sk-given-as-an-argument-42", "dtype": "bf16"}) == {"api_key": "***", "dtype": "bf16"}


KEY = "sk-must-not-leak-given-each-way-4242"
REPLAY = REPO_ROOT / "tests" / "data" / "red_conversations.json"


def _written(folder: Path) -> list[tuple[Path, bytes]]:
    """Every file under `folder`, and every entry of every .eval archive (zip) among them."""
    import zipfile

    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        out.append((path, path.read_bytes()))
        if path.suffix == ".eval":
            with zipfile.ZipFile(path) as archive:
                out += [(path / name, archive.read(name)) for name in archive.namelist()]
    return out


@pytest.mark.parametrize("way", ["env", "model-arg", "url"])
def test_no_file_a_run_writes_keeps_a_key(tmp_path: Path, openai_server, monkeypatch: pytest.MonkeyPatch, way: str) -> None:
    """eval (and its report), a conversation attack and HARMFULQA, with the key in the environment, as -M api_key
    or as the password of -M base_url: the server gets it, no file under the output folders holds it."""
    import base64

    monkeypatch.delenv("LOCAL_API_KEY")
    host = openai_server.base_url.split("://", 1)[1]
    args = {"env": [], "model-arg": ["-M", f"api_key={KEY}"], "url": ["-M", f"base_url=http://user:{KEY}@{host}"]}[way]
    env = {"LOCAL_API_KEY": KEY} if way == "env" else {}
    openai_server.responder = lambda prompt, body: "1. Toxicology\n2. Law\n3. What is the dose that harms?" if "list" in prompt.lower() \
        else "I'm sorry, I can't help with that."
    model = ["--model", "openai-api/local/target", *args]
    runs = {
        "eval": ["eval", *model, "--dataset", "demo", "--template", "standard", "--limit", "2", "--judge", "refusal",
                 "--compliance-judge", "refusal"],
        "replay": ["eval", *model, "--attack", "replay", "--dataset", str(REPLAY), "--limit", "1", "--judge", "refusal",
                   "--compliance-judge", "refusal"],
        "harmfulqa": ["harmfulqa", "generate", *model, "--stages", "topics,subtopics", "--topics", "1", "--subtopics-per-topic", "1"],
    }
    for name, command in runs.items():
        out = tmp_path / name
        result = run_cli_here(*command, "--log-dir" if command[0] == "eval" else "--out", str(out), env=env)
        assert result.returncode == 0, (name, result.stderr[-1500:])
        assert KEY not in result.stdout + result.stderr
    report = run_cli_here("report", str(tmp_path / "eval"), "--out", str(tmp_path / "report" / "report.html"), env=env)
    assert report.returncode == 0, report.stderr
    seen = {r["authorization"] for r in openai_server.requests}
    expected = f"Basic {base64.b64encode(f'user:{KEY}'.encode()).decode()}" if way == "url" else f"Bearer {KEY}"
    assert expected in seen, "the key was used"
    written = _written(tmp_path)
    assert {p.suffix for p, _ in written} >= {".json", ".jsonl", ".eval", ".md", ".html", ".tex"}
    leaks = [str(p.relative_to(tmp_path)) for p, blob in written if KEY.encode() in blob]
    assert leaks == []


def test_a_key_in_an_error_message_is_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that cannot be reached: the one error line names the model, never the key given with -M."""
    result = run_cli_here("eval", "--model", "openai-api/local/m", "-M", f"api_key={KEY}", "-M", "base_url=http://127.0.0.1:9/v1",
                          "--limit", "1", "--log-dir", str(tmp_path / "r"))
    assert result.returncode == 2 and "cannot reach model" in result.stderr and KEY not in result.stderr + result.stdout
