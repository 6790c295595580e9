"""The target: whatever answers for a model, behind one `generate`; `open_target` is the one place an engine is chosen.

Three engines serve a model:

- `local`: redinstruct's batched engine for `hf/` checkpoints (and the packaged SmolLM2);
- `client`: redinstruct's lean client for OpenAI-compatible servers (`openai-api/`, `vllm/` with a URL,
  and `openai/` when asked for);
- `inspect`: an inspect provider, for everything else (Anthropic, Google, ...) and on request.

Everything downstream (RED-EVAL's runs, conversations, LLM judges, HARMFULQA's generator) asks the
target to generate and never which engine it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol

from inspect_ai.model import ChatMessage, GenerateConfig, ModelOutput

from .._secrets import redact
from ..errors import ModelError
from ._limits import ENGINE_ARG
from ._openai_http import Endpoint, server_endpoint
from ._resolve import ModelSpec

LOCAL, CLIENT, INSPECT = "local", "client", "inspect"
_OLD_NAME = "redinstruct"  # -M engine=redinstruct, before the engines had names of their own: local or client
ENGINES = (LOCAL, CLIENT, INSPECT)
PREFLIGHT_TIMEOUT_S = 30
# inspect's model providers (inspect_ai 0.3.x); a provider from another installed inspect plugin is looked up when opened
INSPECT_PROVIDERS = frozenset({
    "anthropic", "azureai", "bedrock", "cloudflare", "deepseek", "fireworks", "google", "grok", "groq", "hf", "hf-inference-providers",
    "litellm-proxy", "llama-cpp-python", "meta", "mistral", "mockllm", "moonshot", "nnterp", "none", "ollama", "openai", "openai-api",
    "openai-api-completions", "openrouter", "perplexity", "sagemaker", "sambanova", "sglang", "together", "transformer_lens", "vllm",
    "vllm-completions",
})
# the environment variable each API provider reads its key from (openai-api/<service>/... reads <SERVICE>_API_KEY)
_KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "google": "GOOGLE_API_KEY", "mistral": "MISTRAL_API_KEY",
                  "groq": "GROQ_API_KEY", "together": "TOGETHER_API_KEY", "openrouter": "OPENROUTER_API_KEY", "grok": "XAI_API_KEY"}


class Target(Protocol):
    """A model ready to answer: `generate` as inspect's Model has it, whatever engine serves it."""

    name: str  # the inspect model name (logs)
    engine: str  # which engine serves it, in words (logs)
    concurrency: int  # requests worth having in flight at once

    async def generate(self, input: str | list[ChatMessage], config: GenerateConfig | None = None) -> ModelOutput: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class EngineChoice:
    engine: str  # local, client or inspect
    endpoint: Endpoint | None = None  # the server, for the client


def choose_engine(spec: ModelSpec) -> EngineChoice:
    """The engine that serves `spec`, from its provider and `-M` arguments; a one-line ModelError for a choice that cannot work."""
    asked = spec.model_args.get(ENGINE_ARG)
    if asked is not None and asked not in (*ENGINES, _OLD_NAME):
        raise ModelError(f"-M {ENGINE_ARG}={asked} is not an engine: use {', '.join(ENGINES)}")
    if spec.provider == "hf":
        if asked == CLIENT:
            raise ModelError(f"-M {ENGINE_ARG}={CLIENT} is for OpenAI-compatible servers, not the local checkpoint '{spec.name}'")
        return EngineChoice(INSPECT if asked == INSPECT else LOCAL)
    if asked == LOCAL:
        raise ModelError(f"-M {ENGINE_ARG}={LOCAL} is for hf/ checkpoints, not '{spec.name}'")
    if asked == INSPECT:
        return EngineChoice(INSPECT)
    endpoint = server_endpoint(spec, chosen=asked in (CLIENT, _OLD_NAME))
    return EngineChoice(CLIENT, endpoint) if endpoint is not None else EngineChoice(INSPECT)


def api_key_variable(spec: ModelSpec) -> str | None:
    """The variable holding the API key this model needs, or None for local providers and unknown ones."""
    provider = spec.provider.removesuffix("-completions")
    if provider == "openai-api":
        service = spec.inspect_name.split("/")[1] if spec.inspect_name.count("/") >= 2 else ""
        return f"{service.upper().replace('-', '_')}_API_KEY" if service else None
    return _KEY_VARIABLES.get(provider)


def _plugin_providers_installed() -> bool:
    """Whether an inspect plugin other than this package is installed (its providers are not in the list above)."""
    return any(ep.name != "redinstruct" for ep in entry_points(group="inspect_ai"))


def check_model_ready(spec: ModelSpec) -> EngineChoice:
    """Before any work: the provider exists, its API key is set, the engine can serve it; returns the engine chosen."""
    if spec.provider not in INSPECT_PROVIDERS and not _plugin_providers_installed():
        raise ModelError(f"unknown model provider '{spec.provider}' in '{spec.name}': use smollm2, hf/, openai/, anthropic/, vllm/, "
                         "ollama/, openai-api/<service>/, ...")
    variable = api_key_variable(spec)
    azure = spec.provider == "openai" and any(os.environ.get(v) for v in ("AZURE_OPENAI_API_KEY", "AZUREAI_OPENAI_API_KEY"))
    if spec.provider == "hf":
        check_checkpoint(spec)
    given = spec.model_args.get("api_key") or "@" in str(spec.model_args.get("base_url", "")).split("://", 1)[-1].split("/", 1)[0]
    if variable and not os.environ.get(variable) and not azure and not given:  # -M api_key, or a user:password in -M base_url
        raise ModelError(f"model '{spec.name}' needs an API key: set {variable} in the environment")
    return choose_engine(spec)


def check_checkpoint(spec: ModelSpec) -> None:
    """An `hf/` model's checkpoint can be found (a folder with config.json, or a hub id that can be fetched); ModelError otherwise.

    Cheap: only config.json is read (or fetched), so a typo fails before a run folder exists.
    """
    path = spec.model_args.get("model_path") or spec.inspect_name.split("/", 1)[1]
    local = Path(str(path)).expanduser()
    if local.is_absolute() or str(path).startswith((".", "~")) or local.exists():
        if not (local / "config.json").is_file():
            raise ModelError(f"cannot load model '{spec.name}': no checkpoint at {local} (a folder with config.json)")
        return
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(str(path), "config.json"), str):
        return
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ModelError(f"cannot load model '{spec.name}': '{path}' is not a local folder and not in the Hugging Face cache "
                         "(HF_HUB_OFFLINE is set)")
    try:
        from huggingface_hub.utils import logging as hub_logging
        from transformers import AutoConfig

        hub_logging.set_verbosity_error()  # its retry warnings would bury the one error line
        AutoConfig.from_pretrained(str(path), trust_remote_code=bool(spec.model_args.get("trust_remote_code")))
    except Exception as ex:
        raise ModelError(f"cannot load model '{spec.name}': {first_line(ex)}") from None


def first_line(ex: BaseException) -> str:
    text = str(ex).strip().splitlines()
    return redact(text[0] if text else type(ex).__name__)


def open_target(spec: ModelSpec, max_connections: int | None = None) -> Target:
    """The target for `spec` on the engine `choose_engine` picks; load and connection failures become one-line ModelErrors.

    Local checkpoints are loaded once per process (and path and arguments); clients are built fresh, so a
    changed base URL or key in the environment is always honoured.
    """
    choice = check_model_ready(spec)
    try:
        if choice.engine == LOCAL:
            from ._local_target import local_target

            return local_target(spec)
        if choice.engine == CLIENT:
            from ._client_target import ClientTarget

            assert choice.endpoint is not None
            return ClientTarget(spec, choice.endpoint, max_connections)
        from ._inspect_target import InspectTarget

        return InspectTarget(spec, max_connections)
    except ModelError:
        raise
    except Exception as ex:
        raise ModelError(f"cannot load model '{spec.name}': {first_line(ex)}") from None


async def check_reachable(target: Target, name: str) -> None:
    """One tiny request, no retries: fail fast with a clear error when an API is down or refuses us."""
    config = GenerateConfig(max_tokens=1, max_retries=0, timeout=PREFLIGHT_TIMEOUT_S, attempt_timeout=PREFLIGHT_TIMEOUT_S)
    try:
        await target.generate("Reply with OK.", config=config)
    except Exception as ex:
        raise ModelError(f"cannot reach model '{name}': {type(ex).__name__}: {first_line(ex)}") from None

