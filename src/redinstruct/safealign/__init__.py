"""SAFE-ALIGN (RED-INSTRUCT phase 2): fine-tuning on blue (safe) and red (harmful) conversations."""

from ._losses import IGNORE_INDEX, BlueRedLoss, blue_loss, blue_red_loss, per_sample_nll

__all__ = ["IGNORE_INDEX", "BlueRedLoss", "blue_loss", "blue_red_loss", "per_sample_nll"]
