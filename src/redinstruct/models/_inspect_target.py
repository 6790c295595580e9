"""A target on an inspect provider: Anthropic, Google, Ollama, vLLM in-process, inspect's own HF batching, ..."""

from __future__ import annotations

from typing import Any

from inspect_ai.model import ChatMessage, GenerateConfig, ModelOutput, get_model

from ._resolve import ModelSpec
from ._limits import API_MAX_RETRIES, API_TIMEOUT_S, ENGINE_ARG, run_max_connections


class InspectTarget:
    """inspect's Model for the spec (local providers loaded once per process), with bounded retries and timeouts."""

    engine = "inspect provider"

    def __init__(self, spec: ModelSpec, max_connections: int | None = None):
        if spec.provider == "hf":
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # per-tensor bars are noise
        args = {k: v for k, v in spec.model_args.items() if k != ENGINE_ARG}
        connections = max_connections or run_max_connections(0) or None
        config = GenerateConfig(max_retries=API_MAX_RETRIES, timeout=API_TIMEOUT_S, max_connections=connections)
        self.model: Any = get_model(spec.inspect_name, config=config, memoize=spec.is_local, **args)
        self.name = str(self.model)
        self.concurrency = connections or self.model.api.max_connections()

    async def generate(self, input: str | list[ChatMessage], config: GenerateConfig | None = None) -> ModelOutput:
        return await self.model.generate(input, config=config or GenerateConfig())

    async def aclose(self) -> None:
        """Nothing to close: inspect's providers keep their own clients."""
