"""SAFE-ALIGN training speed: `blue-red` (our Trainer subclass) against TRL's plain SFTTrainer.

Same model (the packaged SmolLM2-135M-Instruct, or --model), same conversations (64 single-turn
question / reply pairs, half marked red), same batch size, sequence cap, precision and optimizer.
Each arm trains --steps optimizer steps after --warmup untimed ones; tokens/s counts the non-pad
tokens the timed steps processed. The arms alternate (ours, TRL, ours, TRL, ...) and the script
prints each round and the median ratio (ours / TRL; 1.0 = same speed).
Run: python bench/bench_safealign_throughput.py [--rounds 3] [--steps 8] [--device cuda --bf16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback, TrainingArguments

from redinstruct.safealign._data import Conversation
from redinstruct.safealign._trainer import EncodedConversations, PadCollator, Reordered, SafeAlignTrainer, mixed_order

WORDS = "the a model reply safety data token step value check list order plan text reason result answer".split()


def conversations(n: int, seed: int = 0) -> list[Conversation]:
    """Harmless filler with varied lengths: content does not matter for speed, lengths do."""
    import random

    rng = random.Random(seed)
    out = []
    for i in range(n):
        question = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))) + "?"
        reply = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 160))) + "."
        out.append(Conversation([{"from": "human", "value": question}, {"from": "gpt", "value": reply}], "red" if i % 2 else "blue", f"b{i}"))
    return out


class StepClock(TrainerCallback):
    """Wall time of the steps after `warmup` (synchronizing the GPU at the edges)."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.elapsed = warmup, None, 0.0

    def _sync(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == self.warmup:
            self._sync()
            self.start = time.perf_counter()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._sync()
        self.elapsed = time.perf_counter() - self.start


class CountingCollator:
    """Wraps a collator; counts the non-pad tokens of batches after the warm-up."""

    def __init__(self, inner: Any, warmup_batches: int):
        self.inner, self.skip, self.tokens = inner, warmup_batches, 0

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        batch = self.inner(features)
        if self.skip > 0:
            self.skip -= 1
        else:
            self.tokens += int(batch["attention_mask"].sum())
        return batch


def common_args(args: argparse.Namespace, out: str) -> dict[str, Any]:
    return dict(
        output_dir=out, max_steps=args.warmup + args.steps, per_device_train_batch_size=args.batch_size, learning_rate=1e-5,
        bf16=args.bf16, logging_steps=10_000, save_strategy="no", report_to=[], disable_tqdm=True, seed=0,
        use_cpu=args.device == "cpu", dataloader_num_workers=0,
    )


def load(args: argparse.Namespace) -> tuple[Any, Any]:
    tokenizer = AutoTokenizer.from_pretrained(args.model_path)
    dtype = torch.bfloat16 if args.bf16 else torch.float32
    if args.random_init:  # same architecture, no weights needed (speed does not depend on them)
        from transformers import AutoConfig

        torch.manual_seed(0)
        return AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.model_path), dtype=dtype), tokenizer
    return AutoModelForCausalLM.from_pretrained(args.model_path, dtype=dtype), tokenizer


def run_ours(args: argparse.Namespace, data: list[Conversation]) -> float:
    model, tokenizer = load(args)
    dataset = EncodedConversations(data, tokenizer, "model", args.max_length)
    order = mixed_order([i["is_red"] for i in dataset.items], args.batch_size, 0.5)
    clock, collator = StepClock(args.warmup), CountingCollator(PadCollator(tokenizer.pad_token_id), args.warmup)
    with tempfile.TemporaryDirectory() as out:
        trainer = SafeAlignTrainer(
            model=model, args=TrainingArguments(**common_args(args, out), remove_unused_columns=False),
            train_dataset=Reordered(dataset, order), data_collator=collator, callbacks=[clock], strategy="blue-red",
        )
        trainer.train()
    return collator.tokens / clock.elapsed


def run_trl(args: argparse.Namespace, data: list[Conversation]) -> float:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = load(args)
    rows = [{"prompt": [{"role": "user", "content": c.turns[0]["value"]}], "completion": [{"role": "assistant", "content": c.turns[1]["value"]}]} for c in data]
    clock = StepClock(args.warmup)
    with tempfile.TemporaryDirectory() as out:
        config = SFTConfig(**common_args(args, out), max_length=args.max_length, packing=False, completion_only_loss=True)
        trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer, callbacks=[clock])
        trainer.data_collator = CountingCollator(trainer.data_collator, args.warmup)
        trainer.train()
        return trainer.data_collator.tokens / clock.elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="smollm2 or a local checkpoint path")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--random-init", action="store_true", help="build the model from its config.json (no weights)")
    args = parser.parse_args()
    if args.model == "smollm2":
        from redinstruct.models import smollm2_checkpoint

        args.model_path = str(smollm2_checkpoint())
    else:
        args.model_path = args.model
    data = conversations(args.batch_size * (args.warmup + args.steps))  # each arm sees every sample once
    ratios = []
    for n in range(args.rounds):
        ours, trl = run_ours(args, data), run_trl(args, data)
        ratios.append(ours / trl)
        print(f"round {n + 1}: blue-red {ours:,.0f} tokens/s, TRL SFTTrainer {trl:,.0f} tokens/s, ratio {ours / trl:.3f}", flush=True)
    print(f"median ratio (blue-red / SFTTrainer) over {args.rounds} rounds: {statistics.median(ratios):.3f} "
          f"[{args.device}, {'bf16' if args.bf16 else 'fp32'}, batch {args.batch_size}, max_length {args.max_length}]")


if __name__ == "__main__":
    main()
