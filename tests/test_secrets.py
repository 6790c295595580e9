from redinstruct._secrets import redact


def test_secret_environment_values_are_masked(monkeypatch):
    monkeypatch.setenv("MYSERVICE_API_KEY", "sk-abcdef-123456")
    monkeypatch.setenv("HF_TOKEN", "hf_zyxwvu987")
    monkeypatch.setenv("SHORT_KEY", "1")  # too short to mask safely
    text = "auth failed for sk-abcdef-123456 and hf_zyxwvu987 (retry 1)"
    assert redact(text) == "auth failed for *** and *** (retry 1)"
