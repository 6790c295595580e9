"""Where and at what precision the offline judges' encoders run.

`auto` (the default): a GPU when one is visible; bfloat16 where the hardware computes it natively
(any CUDA GPU; CPUs with AMX or AVX-512 BF16, through oneDNN), float32 elsewhere. On CPUs with
bf16 units that halves the judges' time per reply (docs/benchmarks.md, "Judge throughput"); the
verdicts were re-measured against float32 (docs/judges.md). `REDINSTRUCT_JUDGE_PRECISION=fp32`
(or `bf16`) forces one, e.g. to reproduce a run made on another machine exactly.
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from typing import Any, ContextManager

from ..errors import JudgeError

PRECISION_ENV = "REDINSTRUCT_JUDGE_PRECISION"
PRECISIONS = ("auto", "fp32", "bf16")


def cpu_has_bf16() -> bool:
    """oneDNN's own check: AMX or AVX-512 BF16 (emulated bf16 on AVX2 would be slower than float32)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@lru_cache(maxsize=1)
def inference_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def asked_precision() -> str:
    """The environment's setting, checked (get_judge calls it, so a bad value stops a run before its first sample)."""
    asked = os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"
    if asked not in PRECISIONS:
        raise JudgeError(f"{PRECISION_ENV} must be one of {', '.join(PRECISIONS)}, not '{asked}'")
    return asked


def judge_precision() -> str:
    """fp32 or bf16, as the environment asks and the hardware allows."""
    asked = asked_precision()
    if asked != "auto":
        return asked
    return "bf16" if inference_device() == "cuda" or cpu_has_bf16() else "fp32"


def inference_autocast(device: str | None = None) -> ContextManager[Any]:
    """The autocast context for one encoder pass at `judge_precision()`."""
    import torch

    if judge_precision() != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type="cuda" if (device or inference_device()).startswith("cuda") else "cpu", dtype=torch.bfloat16)
