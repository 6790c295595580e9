"""Model names, the packaged offline model, and building inspect models for a run."""

from ._build import api_key_variable, build_model, check_model_ready, check_reachable
from ._packaged import SMOLLM2_ALIAS, smollm2_checkpoint, smollm2_gguf_path
from ._resolve import RAW_CHAT_TEMPLATE, ModelSpec, resolve_model

__all__ = [
    "api_key_variable",
    "build_model",
    "check_model_ready",
    "check_reachable","RAW_CHAT_TEMPLATE", "SMOLLM2_ALIAS", "ModelSpec", "resolve_model", "smollm2_checkpoint", "smollm2_gguf_path"]
