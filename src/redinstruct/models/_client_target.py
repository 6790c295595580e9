"""A target on the lean client: OpenAI-compatible servers (vLLM, TGI, llama.cpp, LM Studio, hosted APIs)."""

from __future__ import annotations

from typing import Any

from inspect_ai.model import ChatCompletionChoice, ChatMessage, ChatMessageAssistant, GenerateConfig, ModelOutput, ModelUsage

from ._openai_http import Completion, Endpoint, OpenAIHTTPClient
from ._resolve import ModelSpec
from ._limits import API_MAX_RETRIES, API_TIMEOUT_S, run_max_connections

DEFAULT_REPLY_TOKENS = 512  # a request that names no limit


def _message_dicts(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.text} for m in messages]


def completion_output(completion: Completion) -> ModelOutput:
    """The client's completion as inspect's ModelOutput (text, stop reason, usage, time)."""
    reply = ChatMessageAssistant(content=completion.text, source="generate", model=completion.model)
    usage = ModelUsage(input_tokens=completion.input_tokens, output_tokens=completion.output_tokens,
                       total_tokens=completion.input_tokens + completion.output_tokens)
    return ModelOutput(model=completion.model, choices=[ChatCompletionChoice(message=reply, stop_reason=completion.stop_reason)],  # type: ignore[arg-type]
                       usage=usage, time=completion.seconds)


class ClientTarget:
    """Requests as inspect would send them (one user turn, or the messages), through one pooled `OpenAIHTTPClient`."""

    engine = "redinstruct's OpenAI-compatible client"

    def __init__(self, spec: ModelSpec, endpoint: Endpoint, max_connections: int | None = None):
        self.spec, self.endpoint = spec, endpoint
        self.name = spec.inspect_name
        self._max_connections = max_connections  # None: the run's (when first used), else 10
        self._client: OpenAIHTTPClient | None = None

    @property
    def client(self) -> OpenAIHTTPClient:
        if self._client is None:
            self._client = OpenAIHTTPClient(self.endpoint, self._max_connections or run_max_connections(), API_MAX_RETRIES, API_TIMEOUT_S)
        return self._client

    @property
    def concurrency(self) -> int:
        return self.client.max_connections

    async def generate(self, input: str | list[ChatMessage], config: GenerateConfig | None = None) -> ModelOutput:
        """One completion; a GenerationError (after retries) is the caller's to record."""
        config = config or GenerateConfig()
        prompt: Any = input if isinstance(input, str) else _message_dicts(input)
        completion = await self.client.complete(prompt, config.max_tokens or DEFAULT_REPLY_TOKENS, config.temperature, config.stop_seqs,
                                                max_retries=config.max_retries, timeout_s=config.timeout, seed=config.seed)
        return completion_output(completion)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
