"""A target on redinstruct's local engine: an `hf/` checkpoint loaded with transformers, generated in continuous batches.

It takes the model arguments inspect's `hf/` provider takes (device, dtype and other `from_pretrained`
keywords, tokenizer, chat_template, batch_size, ...) and renders messages with the tokenizer's chat
template as that provider does, so a prompt is the same text on either engine.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from inspect_ai.model import (ChatCompletionChoice, ChatMessage, ChatMessageAssistant, ChatMessageUser, GenerateConfig, ModelOutput,
                              ModelUsage)

from ._engine import GenerationRequest, PrefixSharingGenerator
from ._resolve import ModelSpec
from ._limits import ENGINE_ARG

DEFAULT_BATCH_SIZE = 64
# requests worth having in flight: the engine, not the caller, decides what runs together
ENGINE_CONCURRENCY = 256
DEFAULT_MAX_NEW_TOKENS = 2048
# arguments that shape how the target renders and batches; every other one goes to `from_pretrained`
_OWN_ARGS = ("device", "tokenizer", "tokenizer_path", "model_path", "batch_size", "chat_template", "use_chat_template",
             "tokenizer_call_args", "enable_thinking", "do_sample", "trust_remote_code", "auto_model_class", "hidden_states", ENGINE_ARG)


def _device(asked: str | None) -> str:
    import torch

    if asked:
        return asked
    if torch.cuda.is_available():
        return "cuda:0"
    return "mps" if torch.backends.mps.is_available() else "cpu"


class LocalTarget:
    """Greedy requests (temperature 0 or none) decode greedily; a temperature above 0 samples from the request's seed."""

    engine = "redinstruct's local engine (continuous batching, shared prefixes)"
    concurrency = ENGINE_CONCURRENCY

    def __init__(self, path: str, model_args: dict[str, Any]):
        import transformers
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-tensor bars are noise
        args = dict(model_args)
        own = {name: args.pop(name, None) for name in _OWN_ARGS}
        trust = bool(own["trust_remote_code"])
        loader = getattr(transformers, own["auto_model_class"] or "AutoModelForCausalLM")
        self.name = f"hf/{path}"
        self.model = loader.from_pretrained(own["model_path"] or path, device_map=_device(own["device"]), trust_remote_code=trust, **args)
        tokenizer_source = own["tokenizer"] or own["tokenizer_path"] or own["model_path"] or path
        self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_source, trust_remote_code=trust)
        self.tokenizer.pad_token = self.tokenizer.eos_token  # batching needs a pad token; most causal LMs have none
        self.tokenizer.padding_side = "left"
        self.chat_template = own["chat_template"] if isinstance(own["chat_template"], str) else self.tokenizer.chat_template
        if own["use_chat_template"] is False:
            self.chat_template = None
        self.enable_thinking = own["enable_thinking"]
        self.tokenizer_call_args = dict(own["tokenizer_call_args"] or {})
        self.sample_by_default = own["do_sample"] is True
        eos = self.model.generation_config.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None:
            eos_ids.append(self.tokenizer.eos_token_id)
        self.generator = PrefixSharingGenerator(self.model, self.tokenizer, int(own["batch_size"] or DEFAULT_BATCH_SIZE), eos_ids)

    def render(self, messages: list[ChatMessage]) -> str:
        """The prompt text: the chat template over the messages (as inspect's hf/ provider renders them)."""
        dicts = [{"role": m.role, "content": m.text} for m in messages]
        if self.chat_template is None:
            return "".join(f"{m['role']}: {m['content']}\n" for m in dicts)
        return str(self.tokenizer.apply_chat_template(dicts, chat_template=self.chat_template, add_generation_prompt=True, tokenize=False,
                                                      enable_thinking=self.enable_thinking))

    async def generate(self, input: str | list[ChatMessage], config: GenerateConfig | None = None) -> ModelOutput:
        config = config or GenerateConfig()
        messages = [ChatMessageUser(content=input)] if isinstance(input, str) else list(input)
        prompt = self.render(messages)
        ids = self.tokenizer(prompt, **self.tokenizer_call_args)["input_ids"]
        temperature = config.temperature if config.temperature is not None else (1.0 if self.sample_by_default else 0.0)
        request = GenerationRequest(prompt, config.max_tokens or DEFAULT_MAX_NEW_TOKENS, tuple(config.stop_seqs or ()),
                                    temperature=temperature, seed=config.seed)
        result = await asyncio.wrap_future(self.generator.submit(request, list(ids)))
        choice = ChatCompletionChoice(message=ChatMessageAssistant(content=result.text, model=self.name, source="generate"),
                                      stop_reason=result.stop_reason)  # type: ignore[arg-type]
        usage = ModelUsage(input_tokens=result.input_tokens, output_tokens=result.output_tokens,
                           total_tokens=result.input_tokens + result.output_tokens)
        return ModelOutput(model=self.name, choices=[choice], usage=usage, time=result.seconds)

    async def aclose(self) -> None:
        """The loaded model stays for the next run in this process; commands stop the engine's thread when they end."""


_LOADED: dict[tuple[str, str], LocalTarget] = {}
_LOADING = threading.Lock()


def local_target(spec: ModelSpec) -> LocalTarget:
    """One loaded copy of a checkpoint per path and arguments (loading weights is slow)."""
    path = spec.inspect_name.split("/", 1)[1]
    key = (path, repr(sorted(spec.model_args.items())))
    with _LOADING:
        if key not in _LOADED:
            _LOADED[key] = LocalTarget(path, spec.model_args)
        return _LOADED[key]
