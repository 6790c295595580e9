"""Build inspect models from specs, turning load and connection failures into one-line errors."""

from __future__ import annotations

import os
from typing import Any

from inspect_ai.model import GenerateConfig, Model, ModelAPI, get_model

from .._secrets import redact
from ..errors import ModelError
from ._resolve import ModelSpec

PREFLIGHT_TIMEOUT_S = 30
# inspect retries transient API errors forever unless told otherwise; these bound a bad outage
API_MAX_RETRIES = 6
API_TIMEOUT_S = 600
# `-M engine=...` for hf/ models: redinstruct's prefix-sharing generator (default) or inspect's own batching
ENGINE_ARG = "engine"
ENGINES = ("redinstruct", "inspect")


def _first_line(ex: BaseException) -> str:
    text = str(ex).strip().splitlines()
    return redact(text[0] if text else type(ex).__name__)


# the environment variable each API provider reads its key from (openai-api/<service>/... reads <SERVICE>_API_KEY)
_KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "google": "GOOGLE_API_KEY", "mistral": "MISTRAL_API_KEY",
                  "groq": "GROQ_API_KEY", "together": "TOGETHER_API_KEY", "openrouter": "OPENROUTER_API_KEY", "grok": "XAI_API_KEY"}


def api_key_variable(spec: ModelSpec) -> str | None:
    """The variable holding the API key this model needs, or None for local providers and unknown ones."""
    provider = spec.provider.removesuffix("-completions")
    if provider == "openai-api":
        service = spec.inspect_name.split("/")[1] if spec.inspect_name.count("/") >= 2 else ""
        return f"{service.upper().replace('-', '_')}_API_KEY" if service else None
    return _KEY_VARIABLES.get(provider)


def check_model_ready(spec: ModelSpec) -> None:
    """Before any work: the provider exists and its API key is in the environment (named when missing)."""
    from inspect_ai._util.registry import registry_find, registry_unqualified_name
    from inspect_ai.model import get_model  # noqa: F401  (imports inspect's provider registry)

    found = registry_find(lambda info: info.type == "modelapi" and registry_unqualified_name(info) == spec.provider)
    if not found:
        raise ModelError(f"unknown model provider '{spec.provider}' in '{spec.name}': use smollm2, hf/, openai/, anthropic/, vllm/, ollama/, openai-api/<service>/, ...")
    variable = api_key_variable(spec)
    azure = spec.provider == "openai" and any(os.environ.get(v) for v in ("AZURE_OPENAI_API_KEY", "AZUREAI_OPENAI_API_KEY"))
    if variable and not os.environ.get(variable) and not azure:
        raise ModelError(f"model '{spec.name}' needs an API key: set {variable} in the environment")


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
    args = dict(spec.model_args)
    engine = args.pop(ENGINE_ARG, "redinstruct" if spec.provider == "hf" else "inspect")
    if engine == "redinstruct" and spec.provider != "hf":
        from ._openai_http import lean_endpoint

        lean_endpoint(spec)  # a clear error for providers the lean client cannot speak
        engine = "inspect"  # outside RED-EVAL's sample loop (which uses the lean client) inspect serves API models
    if engine not in ENGINES:
        raise ModelError(f"-M {ENGINE_ARG}={engine} is not available for '{spec.name}': use -M {ENGINE_ARG}=inspect, or redinstruct for hf/ models")
    try:
        if engine == "redinstruct":
            from ._local_hf import ENGINE_MAX_CONNECTIONS

            # every request in flight at once (inspect's adaptive start of ~20 would starve the batch)
            if config.max_connections is None:
                config = config.merge(GenerateConfig(max_connections=ENGINE_MAX_CONNECTIONS))
            return Model(_local_engine_api(spec.inspect_name.split("/", 1)[1], config, args), config, args)
        return get_model(spec.inspect_name, config=config, memoize=spec.is_local, **args)
    except ModelError:
        raise
    except Exception as ex:
        raise ModelError(f"cannot load model '{spec.name}': {_first_line(ex)}") from None


_LOCAL_APIS: dict[tuple[str, str], ModelAPI] = {}


def _local_engine_api(path: str, config: GenerateConfig, args: dict[str, Any]) -> ModelAPI:
    """One loaded copy of a local model per path and arguments (loading weights is slow)."""
    from ._local_hf import load_prefix_sharing_hf

    key = (path, repr(sorted(args.items())))
    if key not in _LOCAL_APIS:
        _LOCAL_APIS[key] = load_prefix_sharing_hf(path, config, **args)
    return _LOCAL_APIS[key]


async def check_reachable(model: Model, name: str) -> None:
    """One tiny request, no retries: fail fast with a clear error when an API is down or refuses us."""
    config = GenerateConfig(max_tokens=1, max_retries=0, timeout=PREFLIGHT_TIMEOUT_S, attempt_timeout=PREFLIGHT_TIMEOUT_S)
    try:
        await model.generate("Reply with OK.", config=config)
    except Exception as ex:
        raise ModelError(f"cannot reach model '{name}': {type(ex).__name__}: {_first_line(ex)}") from None

