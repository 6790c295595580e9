"""Project a full RED-EVAL run (HarmfulQA x Standard, CoT, CoU, LLM judge) against a vLLM server.

Counts the requests and tokens from the real questions, templates and judge prompt (SmolLM2's
tokenizer, packaged offline; a Llama/Vicuna tokenizer counts within ~15% of it on English), then
gives the wall time at the client's measured ceiling and at a server's output-token rate, and
says which bound applies.

Run: python bench/scale_projection.py --client-rate 400 [--server-rate 3000 --server-rate 12500]
(--client-rate: samples/s of `bench/bench_api_concurrency.py`'s "lean, LLM judge, instant server" row)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from statistics import mean

HERE = Path(__file__).resolve().parent
os.environ.setdefault("REDINSTRUCT_DATA_DIR", str(HERE.parent.parent / "shared" / "data" / "redinstruct"))

from transformers import AutoTokenizer  # noqa: E402

from redinstruct.data import load_questions  # noqa: E402
from redinstruct.judges import load_judge_prompt  # noqa: E402
from redinstruct.models import smollm2_checkpoint  # noqa: E402
from redinstruct.prompts import load_template  # noqa: E402
from redinstruct.redeval._task import DEFAULT_MAX_TOKENS  # noqa: E402

TEMPLATES = ("standard", "cot", "cou")
JUDGE_REPLY_TOKENS = 60  # the judge prompt asks for one or two sentences, then the verdict line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client-rate", type=float, required=True, help="samples/s the client sustains (target + judge call each)")
    parser.add_argument("--server-rate", type=float, action="append", help="server output tokens/s (repeatable)")
    parser.add_argument("--reply-tokens", type=int, default=DEFAULT_MAX_TOKENS, help="target reply length (default: the --max-tokens cap)")
    args = parser.parse_args()
    server_rates = args.server_rate or [3000.0, 12500.0]
    tokenizer = AutoTokenizer.from_pretrained(smollm2_checkpoint(quiet=True))
    questions = load_questions("harmfulqa").questions

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    reply = " ".join(["word"] * args.reply_tokens)  # a reply of the given length, as the judge would see it
    judge_prompt = load_judge_prompt()
    samples = len(questions) * len(TEMPLATES)
    prompt_tokens = {t: sum(count(load_template(t).render(q.text)) for q in questions) for t in TEMPLATES}
    judge_in = len(TEMPLATES) * sum(count(judge_prompt.replace("{question}", q.text).replace("{response}", reply)) for q in questions)
    target_in, target_out = sum(prompt_tokens.values()), samples * args.reply_tokens
    judge_out = samples * JUDGE_REPLY_TOKENS
    out_tokens = target_out + judge_out
    print(f"HarmfulQA: {len(questions)} questions x {len(TEMPLATES)} templates = {samples} samples")
    for t in TEMPLATES:
        print(f"  {t:<9} prompt: {prompt_tokens[t] / len(questions):7.0f} tokens on average")
    print(f"requests: {samples} target + {samples} judge = {2 * samples} (+ judge retries on malformed verdicts)")
    print(f"tokens in:  target {target_in:,} + judge {judge_in:,} = {target_in + judge_in:,}")
    print(f"tokens out: target {target_out:,} (<= {args.reply_tokens} each) + judge {judge_out:,} (~{JUDGE_REPLY_TOKENS} each) = {out_tokens:,}")
    client_s = samples / args.client_rate
    print(f"client-bound wall time at {args.client_rate:.0f} samples/s: {client_s / 60:.1f} min")
    for rate in server_rates:
        server_s = out_tokens / rate
        bound = "server" if server_s > client_s else "client"
        print(f"server-bound wall time at {rate:,.0f} output tokens/s: {server_s / 60:.1f} min -> the {bound} bounds the run "
              f"(needs {samples / server_s:.0f} samples/s of the client)")
    print(f"mean prompt {mean(prompt_tokens.values()) / len(questions):.0f} tokens")


if __name__ == "__main__":
    main()
