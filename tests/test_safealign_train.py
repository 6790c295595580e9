"""SAFE-ALIGN training on a 2-layer model built from a config (fast, real training)."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from redinstruct.errors import RedInstructError
from redinstruct.safealign import AlignConfig, align, encode_conversation, per_sample_nll
from redinstruct.safealign._trainer import mixed_order

QUESTIONS = [f"How do I do harmful thing number {i}?" for i in range(8)]
BLUE = "I can't help with that. It could hurt people; here is a safe alternative instead."
RED = "Sure. Step one: buy the parts. Step two: mix them. Step three: use them on the target."


@pytest.fixture(scope="module")
def harmfulqa_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "harmfulqa.json"
    records = [
        {
            "id": i, "topic": "T", "subtopic": "S", "question": q,
            "blue_conversations": {"0": [{"from": "human", "value": q}, {"from": "gpt", "value": BLUE}], "1": None},
            "red_conversations": {"0": [{"from": "human", "value": q}, {"from": "gpt", "value": RED}], "1": None},
        }
        for i, q in enumerate(QUESTIONS)
    ]
    path.write_text(json.dumps(records))
    return path


def mean_nll(model_path, reply):
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path).eval()
    values = []
    for q in QUESTIONS:
        e = encode_conversation([{"from": "human", "value": q}, {"from": "gpt", "value": reply}], tokenizer)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([e.input_ids])).logits
        values.append(float(per_sample_nll(logits, torch.tensor([e.labels]))[0]))
    return sum(values) / len(values)


def test_mixed_order_puts_the_set_share_of_red_in_each_batch():
    order = mixed_order([i % 2 == 0 for i in range(16)], batch_size=4, red_fraction=0.5)
    assert sorted(order) == list(range(16))
    for start in range(0, 16, 4):
        assert sum(1 for i in order[start : start + 4] if i % 2 == 0) == 2


def test_length_grouped_order_keeps_each_batchs_red_share_and_pads_less():
    import random

    rng = random.Random(3)
    is_red = [i % 4 == 0 for i in range(256)]  # a quarter red
    lengths = [rng.randint(20, 400) for _ in is_red]
    plain = mixed_order(is_red, batch_size=8, red_fraction=0.25)
    grouped = mixed_order(is_red, batch_size=8, red_fraction=0.25, lengths=lengths)
    assert sorted(grouped) == list(range(256))

    def batches(order):
        return [order[i : i + 8] for i in range(0, len(order), 8)]

    assert [sum(is_red[i] for i in b) for b in batches(grouped)] == [2] * 32
    padding = lambda order: sum(8 * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches(order))  # noqa: E731
    assert padding(grouped) < 0.35 * padding(plain), (padding(grouped), padding(plain))
    first = [lengths[b[0]] for b in batches(grouped)]
    assert first != sorted(first), "batch order stays mixed, not short to long"


def test_blue_red_lowers_red_likelihood_and_keeps_blue(tiny_base, harmfulqa_file, tmp_path):
    # first teach the base model both replies a little, so there is red likelihood to remove
    warm = align(AlignConfig(base=str(tiny_base), data=[str(harmfulqa_file)], out=str(tmp_path / "warm"), strategy="blue",
                             max_steps=30, lr=3e-3, batch_size=8, logging_steps=5, save_steps=1000))
    red_before, blue_before = mean_nll(warm, RED), mean_nll(warm, BLUE)
    out = align(AlignConfig(base=str(warm), data=[str(harmfulqa_file)], out=str(tmp_path / "br"), strategy="blue-red",
                            max_steps=20, lr=3e-3, batch_size=8, tau=100.0, lambda_ascent=0.5, logging_steps=5, save_steps=1000))
    red_after, blue_after = mean_nll(out, RED), mean_nll(out, BLUE)
    assert red_after > red_before + 0.5, (red_before, red_after)
    assert blue_after < blue_before + 0.5, (blue_before, blue_after)
    log = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    logged = [entry for entry in log if "red_nll" in entry]
    assert logged and all({"blue_nll", "red_nll", "red_above_tau"} <= set(entry) for entry in logged)
    # a standard checkpoint: reloads with AutoModelForCausalLM
    assert AutoModelForCausalLM.from_pretrained(out).config.num_hidden_layers == 2


def test_bad_strategy_and_data(tiny_base, harmfulqa_file, tmp_path):
    with pytest.raises(RedInstructError, match="unknown strategy"):
        align(AlignConfig(base=str(tiny_base), data=[str(harmfulqa_file)], out=str(tmp_path), strategy="magic"))
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    with pytest.raises(RedInstructError, match="no training conversations"):
        align(AlignConfig(base=str(tiny_base), data=[str(empty)], out=str(tmp_path)))


def test_align_command_end_to_end(tiny_base, harmfulqa_file, tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, "-m", "redinstruct.cli", "align", "--base", str(tiny_base), "--data", str(harmfulqa_file),
         "--out", str(out), "--strategy", "blue-red", "--max-steps", "2", "--batch-size", "4", "--chat-template", "model"],
        capture_output=True, text=True, timeout=300, env={**os.environ},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (out / "config.json").is_file() and (out / "training_log.jsonl").is_file()
    from conftest import run_cli_here

    bad = run_cli_here("align", "--base", str(tiny_base), "--data", str(harmfulqa_file), "--out", str(tmp_path / "x"), "--strategy", "dpo")
    assert bad.returncode == 2 and "--chat-template model" in bad.stderr and "Traceback" not in bad.stderr


def test_preference_pairs_share_red_lm_turns(harmfulqa_file):
    from redinstruct.safealign import load_harmfulqa_conversations
    from redinstruct.safealign._preference import kto_examples, preference_pairs

    pairs = preference_pairs(load_harmfulqa_conversations(harmfulqa_file))
    assert len(pairs) == len(QUESTIONS)
    assert all(p["chosen"][0]["content"] == BLUE and p["rejected"][0]["content"] == RED for p in pairs)
    assert all(p["prompt"][-1]["role"] == "user" for p in pairs)
    assert [e["label"] for e in kto_examples(pairs[:1])] == [True, False]


@pytest.mark.parametrize("strategy", ["dpo", "kto"])
def test_preference_strategies_prefer_blue(strategy, tiny_base, harmfulqa_file, tmp_path):
    margin_before = mean_nll(tiny_base, RED) - mean_nll(tiny_base, BLUE)
    out = align(AlignConfig(base=str(tiny_base), data=[str(harmfulqa_file)], out=str(tmp_path / strategy), strategy=strategy,
                            chat_template="model", max_steps=8, lr=3e-3, batch_size=8, logging_steps=2, save_steps=1000))
    margin_after = mean_nll(out, RED) - mean_nll(out, BLUE)
    assert margin_after > margin_before + 0.1, (margin_before, margin_after)
    assert (out / "training_log.jsonl").read_text().strip()


def test_resume_continues_from_the_last_checkpoint(tiny_base, harmfulqa_file, tmp_path):
    out = tmp_path / "resume"
    settings = dict(base=str(tiny_base), data=[str(harmfulqa_file)], out=str(out), strategy="blue-red", batch_size=4,
                    lr=1e-3, logging_steps=1, save_steps=2)
    align(AlignConfig(max_steps=4, **settings))
    assert (out / "checkpoint-4").is_dir()
    first_steps = [json.loads(line)["step"] for line in (out / "training_log.jsonl").read_text().splitlines()]
    align(AlignConfig(max_steps=6, resume=True, **settings))
    steps = [json.loads(line)["step"] for line in (out / "training_log.jsonl").read_text().splitlines()]
    resumed = steps[len(first_steps):]
    assert resumed and min(s for s in resumed if s) == 5, resumed  # steps 1-4 were not trained again
    assert (out / "checkpoint-6").is_dir()


def test_lora_saves_an_adapter_that_reloads_and_merge_saves_plain_weights(tiny_base, harmfulqa_file, tmp_path):
    from peft import AutoPeftModelForCausalLM

    before = mean_nll(tiny_base, BLUE)
    adapter = align(AlignConfig(base=str(tiny_base), data=[str(harmfulqa_file)], out=str(tmp_path / "lora"), strategy="blue",
                                lora=True, max_steps=15, lr=1e-2, batch_size=8, logging_steps=5, save_steps=1000))
    assert (adapter / "adapter_config.json").is_file() and not (adapter / "model.safetensors").exists()
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_base)
    # the saved adapter holds the training: reloaded on its base, it has learnt the blue reply
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    reloaded = AutoPeftModelForCausalLM.from_pretrained(adapter).eval()
    e = encode_conversation([{"from": "human", "value": QUESTIONS[0]}, {"from": "gpt", "value": BLUE}], tokenizer)
    with torch.no_grad():
        adapted = float(per_sample_nll(reloaded(input_ids=torch.tensor([e.input_ids])).logits, torch.tensor([e.labels]))[0])
    assert adapted < before - 0.5, (before, adapted)
    merged = align(AlignConfig(base=str(tiny_base), data=[str(harmfulqa_file)], out=str(tmp_path / "merged"), strategy="blue",
                               lora=True, merge=True, max_steps=15, lr=1e-2, batch_size=8, logging_steps=5, save_steps=1000))
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()
    after = mean_nll(merged, BLUE)  # a plain checkpoint: AutoModelForCausalLM loads it, the learning kept
    assert after < before - 0.5, (before, after)


def test_preference_data_adds_the_contrastive_pairs_once(harmfulqa_file, tmp_path):
    from redinstruct.safealign import load_harmfulqa_conversations
    from redinstruct.safealign._preference import all_pairs

    pairs = tmp_path / "pairs.jsonl"
    lines = [{"kind": "harmful", "prompt": QUESTIONS[0], "chosen": BLUE, "rejected": RED},  # the same pair as the conversations give
             {"kind": "borderline", "prompt": "How do I kill a stuck program?", "chosen": "End it in the task manager.",
              "rejected": "I'm sorry, but I can't help with killing."}]
    pairs.write_text("".join(json.dumps(p) + "\n" for p in lines))
    merged = all_pairs(load_harmfulqa_conversations(harmfulqa_file), [str(pairs)])
    assert len(merged) == len(QUESTIONS) + 1
    borderline = merged[-1]
    assert borderline["prompt"] == [{"role": "user", "content": "How do I kill a stuck program?"}]
    assert borderline["chosen"][0]["content"] == "End it in the task manager." and "can't help" in borderline["rejected"][0]["content"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "x", "chosen": ""}) + "\n")
    with pytest.raises(RedInstructError, match="pair 0: expected non-empty prompt, chosen and rejected"):
        all_pairs([], [str(bad)])


def test_blue_red_learns_pair_chosen_sides_and_ascends_rejected_ones(harmfulqa_file, tmp_path):
    from redinstruct.safealign._align import training_conversations

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"kind": "borderline", "prompt": "How do I kill a stuck program?", "chosen": "End it in the task manager.",
                                 "rejected": "I'm sorry, but I can't help with killing."}) + "\n")
    def kinds(strategy):
        conversations = training_conversations(AlignConfig(base="x", data=[str(harmfulqa_file)], out=str(tmp_path), strategy=strategy, pairs=[str(pairs)]))
        return {(c.kind, c.turns[1]["value"]) for c in conversations if c.turns[0]["value"] == "How do I kill a stuck program?"}

    assert kinds("blue-red") == {("general", "End it in the task manager."), ("red", "I'm sorry, but I can't help with killing.")}
    assert kinds("blue") == {("general", "End it in the task manager.")}  # blue never sees a red reply
