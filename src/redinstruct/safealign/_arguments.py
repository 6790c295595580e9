"""The trainer settings every SAFE-ALIGN strategy shares (transformers' Trainer and TRL's DPO / KTO)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def bf16_helps() -> bool:
    """Whether bf16 autocast speeds training here: a GPU that supports it, or a CPU with bf16 units (AVX-512 BF16 or
    AMX); on other CPUs bf16 is emulated and slower than fp32."""
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def training_arguments(config: Any, out: Path) -> dict[str, Any]:
    """`config` is an AlignConfig (its epochs, steps, batch, precision, logging and seed)."""
    import dataclasses

    import torch
    from transformers import TrainingArguments

    # transformers renamed gradient_checkpointing to activation_checkpointing during 5.x
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    return dict(
        output_dir=str(out),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.lr,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        bf16=config.bf16,
        **{checkpointing: config.gradient_checkpointing},
        logging_steps=config.logging_steps,
        save_steps=config.save_steps,
        save_total_limit=2,
        report_to=[],
        seed=config.seed,
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
    )
