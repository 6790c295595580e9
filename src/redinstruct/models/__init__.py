"""Model names, the packaged offline model, and building inspect models for a run."""

from .._engines import close_local_engines
from ._build import api_key_variable, build_model, check_model_ready, check_reachable
from ._lean_model import LeanModel, build_judge_model, lean_client, run_connections
from ._openai_http import Completion, Endpoint, GenerationError, OpenAIHTTPClient, lean_endpoint
from ._packaged import SMOLLM2_ALIAS, smollm2_checkpoint, smollm2_gguf_path
from ._resolve import RAW_CHAT_TEMPLATE, ModelSpec, resolve_model
from ._engine import GenerationRequest, PrefixSharingGenerator
from ._lean_model import DEFAULT_MAX_CONNECTIONS

__all__ = [
    "GenerationRequest",
    "PrefixSharingGenerator",
    "DEFAULT_MAX_CONNECTIONS",
    "Completion",
    "Endpoint",
    "GenerationError",
    "LeanModel",
    "ModelSpec",
    "OpenAIHTTPClient",
    "RAW_CHAT_TEMPLATE",
    "SMOLLM2_ALIAS",
    "api_key_variable",
    "build_judge_model",
    "build_model",
    "check_model_ready",
    "check_reachable",
    "close_local_engines",
    "lean_client",
    "lean_endpoint",
    "resolve_model",
    "run_connections",
    "smollm2_checkpoint",
    "smollm2_gguf_path",
]
