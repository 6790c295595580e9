"""Which process of a multi-process launch (torchrun, accelerate launch, deepspeed) this one is.

Launchers set RANK and WORLD_SIZE for every process they start; a plain run has neither and is
the main (and only) process. Read from the environment, so a question asked before training
starts (may I write this file?) has the same answer the trainer will give.
"""

from __future__ import annotations

import os
from typing import Any


def world_size() -> int:
    return max(1, int(os.environ.get("WORLD_SIZE", "1") or 1))


def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def is_main_process() -> bool:
    """The process that writes files, prints results and saves."""
    return rank() == 0


def sharded_training() -> bool:
    """Launched with FSDP or DeepSpeed: each process holds a shard of the weights (accelerate says so in every
    process's environment)."""
    return any(os.environ.get(flag, "").lower() in ("1", "true") for flag in ("ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"))


def sum_over_processes(values: list[float], device: object = "cpu") -> list[float]:
    """Element-wise sums over all processes (every process must call it, in the same order); the values themselves in one."""
    import torch.distributed as dist

    if world_size() == 1 or not (dist.is_available() and dist.is_initialized()):
        return list(values)
    import torch

    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return [float(v) for v in tensor.cpu()]


def end_processes(trainer: Any) -> None:
    """Leave a multi-process run together: wait for every process (the main one may still be saving), drop the
    trainer's wrapped models, whose process-group threads are joined when they are freed, then close the group.

    Freed while a peer has already gone, a DDP model's gloo group can wait for it forever (seen on CPU, about one
    launch in ten): here every process frees its own while all of them are still there.
    """
    import gc

    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()
    trainer.model_wrapped = trainer.model
    trainer.accelerator.free_memory()
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()
