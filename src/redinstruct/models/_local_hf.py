"""inspect's HF provider with redinstruct's generation engine for greedy, plain-text requests."""

from __future__ import annotations

import asyncio
from typing import Any

from inspect_ai._util.registry import RegistryInfo, registry_tag
from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    GenerateConfig,
    ModelInfo,
    ModelOutput,
    ModelUsage,
    set_model_info,
)
from inspect_ai.model._providers.hf import HuggingFaceAPI
from inspect_ai.tool import ToolChoice, ToolInfo

from ._engine import GenerationRequest, PrefixSharingGenerator

DEFAULT_BATCH_SIZE = 64
# requests inspect may have in flight: the engine, not inspect, decides what runs together
ENGINE_MAX_CONNECTIONS = 256
DEFAULT_MAX_NEW_TOKENS = 2048


class PrefixSharingHF(HuggingFaceAPI):
    """Same loading, chat templates and model args as inspect's `hf/` provider.

    Greedy requests without tools, logprobs or hidden states go through
    `PrefixSharingGenerator`; anything else falls back to inspect's own path.
    """

    def __init__(self, model_name: str, config: GenerateConfig = GenerateConfig(), **model_args: Any) -> None:
        super().__init__(model_name=model_name, config=config, **model_args)
        eos = self.model.generation_config.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None:
            eos_ids.append(self.tokenizer.eos_token_id)
        self.engine = PrefixSharingGenerator(self.model, self.tokenizer, self.batch_size or DEFAULT_BATCH_SIZE, eos_ids)

    def _engine_can_serve(self, tools: list[ToolInfo], config: GenerateConfig) -> bool:
        return not (tools or self.do_sample or config.logprobs or self.hidden_states or (config.num_choices or 1) > 1)

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        if not self._engine_can_serve(tools, config):
            return await super().generate(input, tools, tool_choice, config)
        prompt = self.hf_chat(input, tools)
        ids = self.tokenizer(prompt, **self.tokenizer_call_args)["input_ids"]
        # a temperature above 0 samples (HARMFULQA's retries send one with a seed, so they can be replayed)
        request = GenerationRequest(prompt, config.max_tokens or DEFAULT_MAX_NEW_TOKENS, tuple(config.stop_seqs or ()),
                                    temperature=config.temperature or 0.0, seed=config.seed)
        result = await asyncio.wrap_future(self.engine.submit(request, list(ids)))
        choice = ChatCompletionChoice(
            message=ChatMessageAssistant(content=result.text, model=self.model_name, source="generate"),
            stop_reason=result.stop_reason,  # type: ignore[arg-type]
        )
        usage = ModelUsage(input_tokens=result.input_tokens, output_tokens=result.output_tokens,
                           total_tokens=result.input_tokens + result.output_tokens)
        return ModelOutput(model=self.model_name, choices=[choice], usage=usage, time=result.seconds)

    def max_connections(self) -> int:
        return ENGINE_MAX_CONNECTIONS


def load_prefix_sharing_hf(model_name: str, config: GenerateConfig, **model_args: Any) -> PrefixSharingHF:
    """Build the provider, tagged so inspect names the model `hf/<model_name>` in logs.

    The name stays the checkpoint's path: inspect resolves model info by name after every
    generation (`get_model("hf/<name>")`), and a name that is not a loadable path sends it to the hub.
    """
    api = PrefixSharingHF(model_name, config=config, **model_args)
    registry_tag(PrefixSharingHF, api, RegistryInfo(type="modelapi", name="redinstruct/hf"), model_name)
    # without this, inspect's first usage event builds a second copy of the model to look up its info
    context = getattr(api.model.config, "max_position_embeddings", None)
    set_model_info(f"hf/{model_name}", ModelInfo(model=model_name, context_length=context))
    return api
