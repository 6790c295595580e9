"""Judge models on the lean client: `generate(input, config)` like an inspect Model, for OpenAI-compatible servers."""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Any, Iterator

from inspect_ai.model import ChatMessage, GenerateConfig, Model, ModelOutput

from ._build import API_MAX_RETRIES, API_TIMEOUT_S, build_model
from ._openai_http import Endpoint, OpenAIHTTPClient, lean_endpoint
from ._resolve import ModelSpec

DEFAULT_MAX_CONNECTIONS = 10  # inspect's default per model API
# a run's --max-connections, for the judge clients it creates: judging keeps pace with generation
_RUN_MAX_CONNECTIONS: ContextVar[int | None] = ContextVar("redinstruct_max_connections", default=None)


@contextlib.contextmanager
def run_connections(max_connections: int | None) -> Iterator[None]:
    """Judge clients first used inside this block allow `max_connections` requests at once."""
    token = _RUN_MAX_CONNECTIONS.set(max_connections)
    try:
        yield
    finally:
        _RUN_MAX_CONNECTIONS.reset(token)


def run_max_connections(default: int = DEFAULT_MAX_CONNECTIONS) -> int:
    return _RUN_MAX_CONNECTIONS.get() or default


def lean_client(endpoint: Endpoint, max_connections: int | None = None) -> OpenAIHTTPClient:
    """A client with inspect's retry and timeout settings; connections: given, else the run's, else 10."""
    return OpenAIHTTPClient(endpoint, max_connections or run_max_connections(), API_MAX_RETRIES, API_TIMEOUT_S)


def _message_dicts(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.text} for m in messages]


class LeanModel:
    """The part of inspect's Model that judges use, sent through `OpenAIHTTPClient`."""

    def __init__(self, spec: ModelSpec, endpoint: Endpoint, max_connections: int | None = None):
        self.spec, self.endpoint = spec, endpoint
        self.max_connections = max_connections  # None: the run's, else 10
        self.client: OpenAIHTTPClient | None = None

    def __str__(self) -> str:
        return self.spec.inspect_name

    async def generate(self, input: str | list[ChatMessage], config: GenerateConfig | None = None) -> ModelOutput:
        config = config or GenerateConfig()
        if self.client is None:
            self.client = lean_client(self.endpoint, self.max_connections)
        prompt: Any = input if isinstance(input, str) else _message_dicts(input)
        completion = await self.client.complete(  # a GenerationError is the caller's to report (judges: unknown)
            prompt, config.max_tokens or 512, config.temperature, config.stop_seqs,
            max_retries=config.max_retries, timeout_s=config.timeout, seed=config.seed,
        )
        return ModelOutput.from_content(completion.model or self.endpoint.model, completion.text, stop_reason=completion.stop_reason)  # type: ignore[arg-type]


def build_judge_model(spec: ModelSpec, max_connections: int | None = None) -> Model | LeanModel:
    """A judge's (or generator's) model: the lean client for OpenAI-compatible servers, else inspect's model."""
    endpoint = lean_endpoint(spec)
    return LeanModel(spec, endpoint, max_connections) if endpoint is not None else build_model(spec)
