"""Local HF generation on the packaged SmolLM2: batched versus one prompt at a time.

32 DangerousQA prompts (chat template), 64 new tokens each (forced with min_new_tokens so both
arms generate the same amount). Prints tokens/s of each and their ratio, first straight through
transformers, then through `redinstruct eval` (inspect's HF provider, --max-connections 32 vs 1).
Run: python bench/bench_hf_batching.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("REDINSTRUCT_DATA_DIR", str(HERE.parent.parent / "shared" / "data" / "redinstruct"))
os.environ.setdefault("INSPECT_DISPLAY", "none")

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from redinstruct.data import load_questions  # noqa: E402
from redinstruct.models import smollm2_checkpoint  # noqa: E402
from redinstruct.redeval import EvalConfig, run_redeval  # noqa: E402

N_PROMPTS = 32
NEW_TOKENS = 64


def direct(model, tokenizer, prompts: list[str], batch_size: int) -> float:
    """tokens/s generating all prompts in batches of `batch_size`."""
    tokenizer.padding_side = "left"
    start = time.monotonic()
    generated = 0
    for i in range(0, len(prompts), batch_size):
        batch = tokenizer(prompts[i : i + batch_size], return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = model.generate(**batch, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        generated += (out.shape[1] - batch["input_ids"].shape[1]) * out.shape[0]
    return generated / (time.monotonic() - start)


def via_redinstruct(connections: int) -> float:
    """tokens/s of a whole `redinstruct eval` sample phase (output tokens from the inspect logs)."""
    from inspect_ai.log import read_eval_log

    with tempfile.TemporaryDirectory() as log_dir:
        start = time.monotonic()
        run_redeval(
            EvalConfig(models=["smollm2"], datasets=["dangerousqa"], templates=["standard"], limit=N_PROMPTS,
                       max_tokens=NEW_TOKENS, max_connections=connections, log_dir=log_dir, display="none"),
            echo=lambda message: None,
        )
        elapsed = time.monotonic() - start
        tokens = 0
        for path in Path(log_dir).glob("*.eval"):
            usage = read_eval_log(str(path)).stats.model_usage
            tokens += sum(u.output_tokens for u in usage.values())
    return tokens / elapsed


def main() -> None:
    path = smollm2_checkpoint()
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path)
    questions = [q.text for q in load_questions("dangerousqa").questions[:N_PROMPTS]]
    prompts = [tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True) for q in questions]
    direct(model, tokenizer, prompts[:2], 2)  # warm-up
    one = direct(model, tokenizer, prompts, 1)
    batched = direct(model, tokenizer, prompts, N_PROMPTS)
    print(f"transformers, {N_PROMPTS} prompts x {NEW_TOKENS} tokens: one at a time {one:.1f} tok/s, "
          f"batched {batched:.1f} tok/s, ratio {batched / one:.2f}x")
    tool_one = via_redinstruct(1)
    tool_batched = via_redinstruct(N_PROMPTS)
    print(f"redinstruct eval (load + generate + judge), max-connections 1: {tool_one:.1f} tok/s, "
          f"{N_PROMPTS}: {tool_batched:.1f} tok/s, ratio {tool_batched / tool_one:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
