"""The contrastive stage's cost per step: the old representation pass against the current one, same process.

Old: one left-padded batch through the whole model with every hidden state and the vocabulary projection
over every position, in fp32. Current (`prompt_representations`): prompts batched by length, the forward
stopped at the representation layer, bf16 autocast where the CPU has bf16 units. Both run forward and
backward over the same prompts (a step's harmful, safe and retain prompts, from a distilled run folder's
training data), and the representations are compared.

    python bench/bench_contrastive.py --run runs/preset/helpful5 --prompts 16 --repeats 2

The old pass keeps the logits of every position for the backward pass: 24 prompts of up to 512 tokens
took more than 13 GB, so the default is 16.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, AutoTokenizer

from redinstruct.safealign import bf16_helps
from redinstruct.safealign._align import base_model_path
from redinstruct.safealign._contrastive import prompt_representations, representation_layer
from redinstruct.safealign._frontier import left_padding, validation_prompt


def old_representations(model, tokenizer, prompts: list[str], layer: int) -> torch.Tensor:
    texts = [validation_prompt(tokenizer, "model", p) for p in prompts]
    with left_padding(tokenizer):
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    return F.normalize(model(**batch, output_hidden_states=True).hidden_states[layer][:, -1, :].float(), dim=-1)


def step_prompts(run: Path, n: int, seed: int) -> list[str]:
    """A step's mix: harmful questions (plain and wrapped) and general prompts, as the stage samples them."""
    rng = random.Random(seed)
    harmful = [turns[0]["value"] for q in json.loads((run / "data" / "harmfulqa.json").read_text())
               for turns in q["blue_conversations"].values() if turns]
    general = [c["conversations"][0]["value"] for c in json.loads((run / "data" / "general.json").read_text())]
    third = n // 3
    return rng.sample(harmful, min(third, len(harmful))) + rng.sample(general, min(n - third, len(general)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a reproduce run folder with distilled data (data/harmfulqa.json, data/general.json)")
    parser.add_argument("--prompts", type=int, default=16, help="prompts per step (the preset: 8 harmful + 8 safe, then 8 retain)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    path = base_model_path("smollm2")
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    layer, bf16 = representation_layer(model), bf16_helps()
    timings: dict[str, list[float]] = {"old": [], "current": []}
    for repeat in range(args.repeats):
        prompts = step_prompts(Path(args.run), args.prompts, repeat)
        for name in ("old", "current"):
            model.zero_grad(set_to_none=True)
            start = time.perf_counter()
            z = old_representations(model, tokenizer, prompts, layer) if name == "old" else \
                prompt_representations(model, tokenizer, prompts, "model", layer, bf16)
            z.sum().backward()
            timings[name].append(time.perf_counter() - start)
        with torch.no_grad():
            gap = (old_representations(model, tokenizer, prompts, layer) - prompt_representations(model, tokenizer, prompts, "model", layer, bf16))
        print(f"repeat {repeat}: old {timings['old'][-1]:.1f} s, current {timings['current'][-1]:.1f} s; "
              f"largest representation difference {gap.abs().max():.4f} (bf16 {'on' if bf16 else 'off'})")
    old, current = sum(timings["old"]), sum(timings["current"])
    print(f"forward + backward of {args.prompts} prompts: old {old / args.repeats:.1f} s, current {current / args.repeats:.1f} s: "
          f"{old / current:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
