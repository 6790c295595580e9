"""`redinstruct align`: load a causal LM, build the blue/red data, train, save an HF checkpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._distributed import end_processes, is_main_process, sharded_training, world_size
from ..errors import RedInstructError
from ._data import Conversation, load_general_conversations, load_harmfulqa_conversations, load_pairs, mix_general, pair_conversations
from ._losses import DEFAULT_LAMBDA_ASCENT, DEFAULT_TAU
from ._arguments import training_arguments

STRATEGIES = ("blue", "blue-red", "dpo", "kto")


@dataclass
class AlignConfig:
    base: str
    data: list[str]
    out: str
    strategy: str = "blue"
    mix_general: list[str] = field(default_factory=list)  # helpful conversations (`--general`)
    general_fraction: float | None = None  # their share of the NLL-trained conversations; None: all of them
    chat_template: str = "vicuna"  # or "model"
    lora: bool = False
    merge: bool = False
    epochs: float = 1.0
    max_steps: int = -1
    lr: float = 2e-5
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 1024
    bf16: bool = False  # bf16 mixed precision (autocast; the weights and optimizer stay fp32)
    group_by_length: bool = False  # batches of similar length (less padding), each batch's red share kept
    gradient_checkpointing: bool = False
    tau: float = DEFAULT_TAU
    lambda_ascent: float = DEFAULT_LAMBDA_ASCENT
    lambda_descent: float = 0.0
    red_fraction: float = 0.5  # share of red samples in each blue-red batch
    logging_steps: int = 10
    save_steps: int = 200
    resume: bool = False
    seed: int = 0
    pairs: list[str] = field(default_factory=list)  # contrastive preference pairs (`harmfulqa distill`'s pairs.jsonl)
    eval_every: int = 0  # measure validation refusal rates every N steps and keep the checkpoint the rule chooses
    val_harmful: str | None = None  # validation harmful questions (a dataset name or file)
    val_safe: str | None = None  # validation safe prompts that sound unsafe
    val_max_new_tokens: int = 40
    safe_margin: float = 0.10  # the rule's bound: refuse at most base + this share of the safe prompts
    beta: float = 0.1  # dpo / kto: strength of the pull towards the reference model
    preference_sft_weight: float = 0.0  # dpo: add NLL on the chosen reply with this weight (RPO); 0: plain DPO
    contrastive_steps: int = 0  # a contrastive representation stage first (DCR-style): harmful vs safe-but-scary prompts
    contrastive_lr: float = 1e-5
    contrastive_safe: str = "borderline"  # the safe prompts that sound unsafe, for that stage


def base_model_path(base: str) -> str:
    """A local path or hub id; `smollm2` is the packaged model."""
    if base == "smollm2":  # the packaged model's alias (models.SMOLLM2_ALIAS; not imported: it pulls in inspect_ai)
        from ..models import smollm2_checkpoint

        return str(smollm2_checkpoint())
    return base[3:] if base.startswith("hf/") else base


def training_conversations(config: AlignConfig) -> list[Conversation]:
    conversations = [c for path in config.data for c in load_harmfulqa_conversations(path)]
    if config.strategy == "blue":
        conversations = [c for c in conversations if c.kind == "blue"]
    if config.strategy not in ("dpo", "kto"):  # NLL strategies learn the pairs' chosen replies; blue-red ascends the rejected ones
        pairs = [c for path in config.pairs for c in pair_conversations(load_pairs(path), rejected=config.strategy == "blue-red")]
        conversations = _unique(conversations + pairs)
    general = [c for path in config.mix_general for c in load_general_conversations(path)]
    if config.general_fraction is not None and not general:
        raise RedInstructError("--general-fraction needs --general FILE")
    conversations += mix_general(conversations, general, config.general_fraction, config.seed)
    if not conversations:
        raise RedInstructError("no training conversations in the given --data")
    if config.strategy != "blue" and not any(c.kind == "red" for c in conversations):
        raise RedInstructError(f"strategy {config.strategy} needs red conversations in --data")
    return conversations


def _unique(conversations: list[Conversation]) -> list[Conversation]:
    """Without repeats of the same turns and kind (a pairs file and its HarmfulQA file share their harmful side)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for c in conversations:
        key = (c.kind, json.dumps(c.turns, sort_keys=True))
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def validation_settings(config: AlignConfig) -> Any:
    """The periodic validation, or None; its banks are read here so a bad file fails before training."""
    if not config.eval_every and not config.val_harmful and not config.val_safe:
        return None
    if config.eval_every < 1 or not config.val_harmful or not config.val_safe:
        raise RedInstructError("periodic validation needs all of --eval-every N (N >= 1), --val-harmful FILE and --val-safe FILE")
    if not 0 <= config.safe_margin <= 1:
        raise RedInstructError("--safe-margin must be between 0 and 1")
    from ..data import load_prompt_texts
    from ._frontier import ValidationSettings

    return ValidationSettings(config.eval_every, load_prompt_texts(config.val_harmful), load_prompt_texts(config.val_safe),
                              config.val_max_new_tokens, config.safe_margin)


MIN_LOG_POINTS = 20


def logging_interval(config: AlignConfig, examples: int) -> int:
    """`logging_steps`, lowered so that a short run still logs at least MIN_LOG_POINTS points (curves need them)."""
    import math

    per_epoch = math.ceil(examples / max(1, config.batch_size * config.grad_accum))
    total = config.max_steps if config.max_steps > 0 else math.ceil(per_epoch * config.epochs)
    return max(1, min(config.logging_steps, total // MIN_LOG_POINTS))


def align(config: AlignConfig) -> Path:
    """Train and save; returns the output folder (a standard HF checkpoint plus training_log.jsonl)."""
    if config.strategy not in STRATEGIES:
        raise RedInstructError(f"unknown strategy '{config.strategy}': use {', '.join(STRATEGIES)}")
    if config.chat_template not in ("vicuna", "model"):
        raise RedInstructError("--chat-template must be vicuna or model")
    conversations = training_conversations(config)
    validation = validation_settings(config)
    if sharded_training() and (validation is not None or config.merge):
        # both change the saved weights in the main process alone, which holds only its shard under FSDP / ZeRO-3
        raise RedInstructError("--eval-every and --merge need whole weights in each process: launch with "
                               "configs/accelerate/multi_gpu.yaml (data parallel), not FSDP or ZeRO-3")
    config = replace(config, logging_steps=logging_interval(config, len(conversations)))

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments

    from ._trainer import EncodedConversations, JsonlLogCallback, PadCollator, ProgressCallback, Reordered, SafeAlignTrainer, mixed_order

    path = base_model_path(config.base)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)  # --bf16 is autocast over fp32 weights
    except Exception as ex:
        raise RedInstructError(f"cannot load base model '{config.base}': {str(ex).splitlines()[0] if str(ex) else ex}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if config.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"))

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if is_main_process():
        _write_data_counts(out, conversations, config)
    if config.contrastive_steps and not (config.resume and any(out.glob("checkpoint-*"))):  # a checkpoint already holds its result
        _contrastive(config, model, tokenizer, conversations, out)
    callbacks: list[Any] = [JsonlLogCallback(out / "training_log.jsonl"), ProgressCallback(f"align {config.strategy}")]
    frontier = None
    if validation is not None:
        from ._frontier import FrontierCallback

        frontier = FrontierCallback(validation, tokenizer, config.chat_template, out)
        callbacks.append(frontier)
    if config.strategy in ("dpo", "kto"):
        from ._preference import train_preference

        if config.chat_template != "model":
            raise RedInstructError(f"strategy {config.strategy} uses the model's chat template: pass --chat-template model")
        return _finish(train_preference(config.strategy, model, tokenizer, conversations, config, out, callbacks), frontier, tokenizer, out, config)

    dataset = EncodedConversations(conversations, tokenizer, config.chat_template, config.max_length)  # type: ignore[arg-type]
    is_red = [item["is_red"] for item in dataset.items]
    # the order is cut into optimizer steps of the global batch: launchers deal consecutive per-device batches to the
    # processes in turn, so each step holds the red share, and N processes train on what one would at N x the batch
    lengths = [len(item["input_ids"]) for item in dataset.items] if config.group_by_length else None
    order = mixed_order(is_red, global_batch(config), config.red_fraction if config.strategy == "blue-red" else 0.0, config.seed, lengths)
    args = TrainingArguments(**training_arguments(config, out), remove_unused_columns=False)
    trainer = SafeAlignTrainer(
        model=model,
        args=args,
        train_dataset=Reordered(dataset, order),
        data_collator=PadCollator(tokenizer.pad_token_id),
        callbacks=callbacks,
        strategy=config.strategy,
        tau=config.tau,
        lambda_ascent=config.lambda_ascent,
        lambda_descent=config.lambda_descent,
    )
    resume = config.resume and any(out.glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    return _finish(trainer, frontier, tokenizer, out, config)


def global_batch(config: AlignConfig) -> int:
    """Samples per optimizer step, over all processes."""
    return config.batch_size * config.grad_accum * world_size()


def _finish(trainer: Any, frontier: Any, tokenizer: Any, out: Path, config: AlignConfig) -> Path:
    """Keep the chosen checkpoint and save once; every process then leaves the process group.

    Whole-model copies (one process, DDP): the main process saves its copy. Sharded weights (FSDP,
    ZeRO-3): every process takes part in the Trainer's save, which gathers the shards and writes once.
    """
    if sharded_training():
        trainer.save_model(str(out))
        if is_main_process():
            tokenizer.save_pretrained(out)
    elif is_main_process():
        if frontier is not None:
            frontier.finish(trainer.model, trainer.state.global_step)
        _save(trainer.model, tokenizer, out, config)
    end_processes(trainer)
    return out


def _contrastive(config: AlignConfig, model: Any, tokenizer: Any, conversations: list[Conversation], out: Path) -> None:
    """The contrastive stage: the data's harmful questions against `contrastive_safe`, general prompts retained."""
    import random

    from ..data import load_prompt_texts
    from ._contrastive import contrastive_stage

    def first_question(c: Conversation) -> str:
        return next(t["value"] for t in c.turns if t["from"] == "human")

    harmful = list(dict.fromkeys(first_question(c) for c in conversations if c.kind in ("blue", "red")))
    safe = load_prompt_texts(config.contrastive_safe)
    general = list(dict.fromkeys(first_question(c) for c in conversations if c.kind == "general"))
    random.Random(config.seed).shuffle(general)
    if len(harmful) < 2 or len(safe) < 2:
        raise RedInstructError("the contrastive stage needs at least 2 harmful questions in --data and 2 prompts in --contrastive-safe")
    # every process runs the same seeded stage on the same prompts (the trainer then starts from rank 0's copy); one logs it
    contrastive_stage(model, tokenizer, harmful, safe, general[:256], config.chat_template, config.contrastive_steps, config.contrastive_lr,
                      out / "training_log.jsonl" if is_main_process() else None, batch_size=max(4, 2 * config.batch_size), seed=config.seed,
                      bf16=config.bf16)


def _write_data_counts(out: Path, conversations: list[Conversation], config: AlignConfig) -> None:
    """training_data.json: how many conversations of each kind went into training, and from where."""
    import json
    from collections import Counter

    counts = Counter(c.kind for c in conversations)
    (out / "training_data.json").write_text(json.dumps({
        "blue": counts["blue"], "red": counts["red"], "general": counts["general"],
        "data": config.data, "general_files": config.mix_general, "general_fraction": config.general_fraction,
        "pairs_files": config.pairs,
        "world_size": world_size(), "per_device_batch_size": config.batch_size, "grad_accum": config.grad_accum,
        "global_batch": global_batch(config),
    }, indent=1))


def _save(model: Any, tokenizer: Any, out: Path, config: AlignConfig) -> Path:
    if config.lora and config.merge:
        model = model.merge_and_unload()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
