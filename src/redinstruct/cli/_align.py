"""`redinstruct align`: SAFE-ALIGN a model."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from ._app import app, console, split_values


@app.command("align")
def align_command(
    base: Annotated[str, typer.Option(help="Base model: a local path, a hub id, or smollm2")],
    data: Annotated[list[str], typer.Option(help="HarmfulQA JSON (ours or the public dataset); repeat for several")],
    out: Annotated[str, typer.Option(help="Output folder: an HF checkpoint plus training_log.jsonl")],
    strategy: Annotated[str, typer.Option(help="blue (strategy A: NLL on blue) or blue-red (strategy B: plus clipped ascent on red)")] = "blue",
    general: Annotated[Optional[list[str]], typer.Option("--general", "--mix-general", help="Helpful conversations to mix in (as the paper mixed ShareGPT): ShareGPT turns, or prompt/response rows (JSON, JSONL, CSV); repeat for several")] = None,
    general_fraction: Annotated[Optional[float], typer.Option(help="Share of general conversations among those trained with NLL (0-1, sampled, repeated if short); default: all of them once")] = None,
    chat_template: Annotated[str, typer.Option(help="vicuna (the paper's format) or model (the base model's chat template)")] = "vicuna",
    lora: Annotated[bool, typer.Option("--lora", help="Train LoRA adapters (peft) instead of all weights")] = False,
    merge: Annotated[bool, typer.Option("--merge", help="With --lora: save merged weights")] = False,
    epochs: Annotated[float, typer.Option(help="Training epochs")] = 1.0,
    max_steps: Annotated[int, typer.Option(help="Stop after N optimizer steps (overrides --epochs)")] = -1,
    lr: Annotated[float, typer.Option(help="Learning rate")] = 2e-5,
    batch_size: Annotated[int, typer.Option(help="Per-device batch size")] = 8,
    grad_accum: Annotated[int, typer.Option(help="Gradient accumulation steps")] = 1,
    max_length: Annotated[int, typer.Option(help="Maximum tokens per conversation")] = 1024,
    bf16: Annotated[bool, typer.Option("--bf16", help="bf16 mixed precision: autocast over fp32 weights (a GPU, or a CPU with bf16 units: ~1.5x faster)")] = False,
    group_by_length: Annotated[bool, typer.Option("--group-by-length", help="Batches of similar length (less padding; each batch keeps its red share)")] = False,
    gradient_checkpointing: Annotated[bool, typer.Option("--gradient-checkpointing", help="Trade compute for memory")] = False,
    tau: Annotated[float, typer.Option(help="blue-red: red samples with NLL below tau get gradient ascent")] = 1.0,
    lambda_ascent: Annotated[float, typer.Option(help="blue-red: weight of the ascent term")] = 0.1,
    lambda_descent: Annotated[float, typer.Option(help="blue-red: weight of descent on red samples at or above tau (0: none)")] = 0.0,
    red_fraction: Annotated[float, typer.Option(help="blue-red: share of red samples in each batch")] = 0.5,
    logging_steps: Annotated[int, typer.Option(help="Log (training_log.jsonl) every N steps")] = 10,
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps (for --resume)")] = 200,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out")] = False,
    pairs: Annotated[Optional[list[str]], typer.Option(help="Contrastive pairs (pairs.jsonl from 'harmfulqa distill'): dpo / kto train on them beside the blue-red pairs; blue / blue-red learn their chosen replies")] = None,
    eval_every: Annotated[int, typer.Option(help="Every N steps, measure refusals of --val-harmful and --val-safe and keep the checkpoint the rule chooses (0: off)")] = 0,
    val_harmful: Annotated[Optional[str], typer.Option(help="Validation harmful questions (dataset name or file), disjoint from every test set")] = None,
    val_safe: Annotated[Optional[str], typer.Option(help="Validation safe prompts that sound unsafe (e.g. borderline-val), disjoint from every test set")] = None,
    val_max_new_tokens: Annotated[int, typer.Option(help="New tokens per validation reply")] = 40,
    safe_margin: Annotated[float, typer.Option(help="Checkpoint rule: most harmful refusals among checkpoints refusing at most base + this share of safe prompts")] = 0.10,
    beta: Annotated[float, typer.Option(help="dpo / kto: beta, the pull towards the reference model")] = 0.1,
    preference_sft_weight: Annotated[float, typer.Option(help="dpo: also train the chosen reply's NLL with this weight (RPO); 0: plain DPO")] = 0.0,
    contrastive_steps: Annotated[int, typer.Option(help="First N steps of a contrastive representation stage (DCR-style): harmful questions vs --contrastive-safe prompts (0: off)")] = 0,
    contrastive_lr: Annotated[float, typer.Option(help="Learning rate of the contrastive stage")] = 1e-5,
    contrastive_safe: Annotated[str, typer.Option(help="Safe prompts that sound unsafe for the contrastive stage (dataset name or file)")] = "borderline",
) -> None:
    """SAFE-ALIGN: fine-tune a causal LM on blue (and red) conversations."""
    from ..safealign import AlignConfig, align

    path = align(AlignConfig(
        base=base, data=split_values(data), out=out, strategy=strategy, mix_general=split_values(general), general_fraction=general_fraction, chat_template=chat_template,
        lora=lora, merge=merge, epochs=epochs, max_steps=max_steps, lr=lr, batch_size=batch_size, grad_accum=grad_accum,
        max_length=max_length, bf16=bf16, group_by_length=group_by_length, gradient_checkpointing=gradient_checkpointing, tau=tau, lambda_ascent=lambda_ascent,
        lambda_descent=lambda_descent, red_fraction=red_fraction, logging_steps=logging_steps, save_steps=save_steps, resume=resume,
        pairs=split_values(pairs), eval_every=eval_every, val_harmful=val_harmful, val_safe=val_safe, val_max_new_tokens=val_max_new_tokens,
        safe_margin=safe_margin, beta=beta, preference_sft_weight=preference_sft_weight, contrastive_steps=contrastive_steps, contrastive_lr=contrastive_lr, contrastive_safe=contrastive_safe,
    ))
    from .._distributed import is_main_process

    if not is_main_process():  # one process of a multi-process launch reports; it also saved
        return
    console.print(f"saved {path} (training log: {path / 'training_log.jsonl'})", highlight=False)
    frontier = path / "frontier.json"
    if eval_every and frontier.is_file():
        state = json.loads(frontier.read_text(encoding="utf-8"))
        chosen, base = state["chosen"], state["base"]
        console.print(f"kept the checkpoint of step {chosen['step']}: refuses {100 * chosen['harmful_refused']:.0f}% of validation harmful and "
                      f"{100 * chosen['safe_refused']:.0f}% of validation safe prompts (base {100 * base['harmful_refused']:.0f}% / "
                      f"{100 * base['safe_refused']:.0f}%)" + ("" if state["bound_met"] else "; no checkpoint met the safe-prompt bound"),
                      highlight=False)
