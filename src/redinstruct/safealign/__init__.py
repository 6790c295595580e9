"""SAFE-ALIGN (RED-INSTRUCT phase 2): fine-tuning on blue (safe) and red (harmful) conversations."""

from ._align import STRATEGIES, AlignConfig, align
from ._data import Conversation, load_general_conversations, load_harmfulqa_conversations
from ._losses import IGNORE_INDEX, BlueRedLoss, blue_loss, blue_red_loss, per_sample_nll
from ._render import encode_conversation
from ._align import base_model_path
from ._arguments import bf16_helps

__all__ = [
    "base_model_path",
    "bf16_helps",
    "IGNORE_INDEX",
    "STRATEGIES",
    "AlignConfig",
    "BlueRedLoss",
    "Conversation",
    "align",
    "blue_loss",
    "blue_red_loss",
    "encode_conversation",
    "load_general_conversations",
    "load_harmfulqa_conversations",
    "per_sample_nll",
]
