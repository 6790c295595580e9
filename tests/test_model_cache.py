"""The converted packaged model is shared safely: two processes that start together convert once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = "from redinstruct.models import smollm2_checkpoint; print(smollm2_checkpoint())"


def test_two_processes_convert_once_and_share_the_copy(tmp_path: Path) -> None:
    env = {**os.environ, "REDINSTRUCT_CACHE_DIR": str(tmp_path / "cache")}
    runs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [(p.wait(timeout=600), p.stdout.read(), p.stderr.read()) for p in runs]  # type: ignore[union-attr]
    assert all(code == 0 for code, _, _ in results), [err[-1500:] for _, _, err in results]
    paths = {out.strip() for _, out, _ in results}
    assert len(paths) == 1, "both processes use the same converted copy"
    assert sum("Converting the packaged" in err for _, _, err in results) == 1, "the second waited and reused it"
    target = Path(paths.pop())
    marker = json.loads((target / "redinstruct-converted.json").read_text())
    assert "site-packages" not in json.dumps(marker), "the key is the GGUF's version and size, not where a venv keeps it"
    assert (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".convert-")], "no temporary folder is left"

    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(target).num_hidden_layers == 30
    # a later process (say, another virtual environment with the same package) reuses it without converting
    again = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stdout.strip() == str(target) and "Converting" not in again.stderr
