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


def test_no_run_file_keeps_a_key_given_on_the_command_line(tmp_path, openai_server) -> None:
    """A key in the environment, a password in -M base_url's userinfo: neither is in any file the run writes."""
    from redinstruct.redeval import EvalConfig, run_redeval

    password = "url-password-must-not-leak-1234"
    host = openai_server.base_url.split("://", 1)[1]
    log_dir = tmp_path / "run"
    run_redeval(EvalConfig(models=["openai-api/local/target"], datasets=["demo"], templates=["standard"], limit=2, judge="refusal",
                           compliance_judge="refusal", model_args={"base_url": f"http://user:{password}@{host}"}, log_dir=str(log_dir)),
                echo=lambda message: None)
    import zipfile

    key = "sk-test-not-a-real-key-7f3a9c"  # the fixture's LOCAL_API_KEY
    written = [p for p in log_dir.rglob("*") if p.is_file()]
    assert {p.suffix for p in written} >= {".json", ".jsonl", ".eval", ".md"}
    for path in written:
        blobs = [path.read_bytes()]
        if path.suffix == ".eval":
            with zipfile.ZipFile(path) as archive:
                blobs += [archive.read(name) for name in archive.namelist()]
        for blob in blobs:
            assert password.encode() not in blob and key.encode() not in blob, path.name
