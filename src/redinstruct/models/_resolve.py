"""Model names: inspect's `provider/model` names plus our alias for the packaged SmolLM2."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelError
from ..prompts import Render
from .._secrets import remember_model_args
from ._packaged import SMOLLM2_ALIAS, smollm2_checkpoint

# A chat template that emits the prompt text unchanged: "raw" rendering for local HF models.
RAW_CHAT_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"

# providers that run in this process (no API to reach before a run)
LOCAL_PROVIDERS = frozenset({"hf", "vllm", "vllm-completions", "llama-cpp-python", "mockllm", "transformer_lens", "nnterp", "none"})
# raw (completion) rendering: the provider to use instead of a chat-only one
_RAW_PROVIDER = {"vllm": "vllm-completions", "openai-api": "openai-api-completions"}
_RAW_CAPABLE = frozenset({"hf", "vllm-completions", "openai-api-completions"})


@dataclass(frozen=True)
class ModelSpec:
    """How to build one target model: `name` is what the user typed; `label` (`--name`) what results show."""

    name: str
    inspect_name: str
    model_args: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    @property
    def display(self) -> str:
        """The name in tables, legends, summaries and samples.jsonl: the label, else the name as typed."""
        return self.label or self.name

    @property
    def provider(self) -> str:
        return self.inspect_name.split("/", 1)[0]

    @property
    def is_local(self) -> bool:
        return self.provider in LOCAL_PROVIDERS

    @property
    def greedy_temperature(self) -> float | None:
        """The temperature a greedy request sends: none for hf/ (greedy through do_sample=False), else 0."""
        return None if self.provider == "hf" else 0.0


def resolve_model(name: str, render: Render = "chat", model_args: dict[str, Any] | None = None) -> ModelSpec:
    """Map a user model name to an inspect model name and model args for the chosen render mode."""
    args = dict(model_args or {})
    remember_model_args(args)  # a key or URL password given as -M is masked in every file and message from now on
    if name == SMOLLM2_ALIAS:
        inspect_name = f"hf/{smollm2_checkpoint()}"
    elif "/" in name:
        inspect_name = name
    else:
        raise ModelError(
            f"unknown model '{name}': use '{SMOLLM2_ALIAS}' or an inspect model name such as "
            "hf/<path or hub id>, openai/<model>, vllm/<model>, ollama/<model>, openai-api/<service>/<model>"
        )
    provider = inspect_name.split("/", 1)[0]
    if provider == "hf":
        # greedy decoding: reproducible numbers (inspect's HF provider samples unless told not to)
        args.setdefault("do_sample", False)
    if render == "raw":
        if provider in _RAW_PROVIDER:
            provider = _RAW_PROVIDER[provider]
            inspect_name = provider + "/" + inspect_name.split("/", 1)[1]
        if provider not in _RAW_CAPABLE:
            raise ModelError(
                f"model '{name}' has no plain-completion API for --render raw: use --render chat, "
                "or an hf/, vllm/ or openai-api/ model"
            )
        if provider == "hf":
            args.setdefault("chat_template", RAW_CHAT_TEMPLATE)
    return ModelSpec(name, inspect_name, args)
