"""Models: names, the packaged offline model, and targets (`open_target` picks the engine that serves a model)."""

from .._shutdown import close_local_engines
from ._engine import PrefixSharingGenerator
from ._engine_parts import GenerationRequest
from ._openai_http import Completion, Endpoint, GenerationError, OpenAIHTTPClient, server_endpoint
from ._packaged import SMOLLM2_ALIAS, smollm2_checkpoint, smollm2_gguf_path
from ._resolve import RAW_CHAT_TEMPLATE, ModelSpec, resolve_model
from ._limits import DEFAULT_MAX_CONNECTIONS, run_connections
from ._target import (CLIENT, ENGINES, INSPECT, LOCAL, EngineChoice, Target, api_key_variable, check_model_ready,
                      check_reachable, choose_engine, open_target)

__all__ = [
    "CLIENT",
    "DEFAULT_MAX_CONNECTIONS",
    "ENGINES",
    "INSPECT",
    "LOCAL",
    "Completion",
    "Endpoint",
    "EngineChoice",
    "GenerationError",
    "GenerationRequest",
    "ModelSpec",
    "OpenAIHTTPClient",
    "PrefixSharingGenerator",
    "RAW_CHAT_TEMPLATE",
    "SMOLLM2_ALIAS",
    "Target",
    "api_key_variable",
    "check_model_ready",
    "check_reachable",
    "choose_engine",
    "close_local_engines",
    "open_target",
    "resolve_model",
    "run_connections",
    "server_endpoint",
    "smollm2_checkpoint",
    "smollm2_gguf_path",
]
