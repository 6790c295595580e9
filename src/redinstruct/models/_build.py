"""Build inspect models from specs, turning load and connection failures into one-line errors."""

from __future__ import annotations

from inspect_ai.model import GenerateConfig, Model, get_model

from .._secrets import redact
from ..errors import ModelError
from ._resolve import ModelSpec

PREFLIGHT_TIMEOUT_S = 30
# inspect retries transient API errors forever unless told otherwise; these bound a bad outage
API_MAX_RETRIES = 6
API_TIMEOUT_S = 600


def _first_line(ex: BaseException) -> str:
    text = str(ex).strip().splitlines()
    return redact(text[0] if text else type(ex).__name__)


def build_model(spec: ModelSpec, config: GenerateConfig | None = None) -> Model:
    """`get_model` for a spec; a bad provider, path or missing SDK becomes a ModelError.

    Local models are memoized (loading weights is slow); API clients are built fresh, so a changed
    base URL or key in the environment is always honoured.
    """
    if spec.provider == "hf":
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # inspect shows progress; per-tensor bars are noise
    base = GenerateConfig(max_retries=API_MAX_RETRIES, timeout=API_TIMEOUT_S)
    config = base.merge(config) if config is not None else base
    try:
        return get_model(spec.inspect_name, config=config, memoize=spec.is_local, **spec.model_args)
    except Exception as ex:
        raise ModelError(f"cannot load model '{spec.name}': {_first_line(ex)}") from None


async def check_reachable(model: Model, name: str) -> None:
    """One tiny request, no retries: fail fast with a clear error when an API is down or refuses us."""
    config = GenerateConfig(max_tokens=1, max_retries=0, timeout=PREFLIGHT_TIMEOUT_S, attempt_timeout=PREFLIGHT_TIMEOUT_S)
    try:
        await model.generate("Reply with OK.", config=config)
    except Exception as ex:
        raise ModelError(f"cannot reach model '{name}': {type(ex).__name__}: {_first_line(ex)}") from None
