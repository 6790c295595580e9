"""DPO and KTO (beyond the paper) with TRL's trainers, on blue-versus-red replies to the same Red-LM turns."""

from __future__ import annotations

import json
from typing import Any

from ._data import ContrastivePair, Conversation, load_pairs


def _messages(turns: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]} for t in turns]


def file_pairs(pairs: list[ContrastivePair]) -> list[dict[str, Any]]:
    """A pairs file's pairs in TRL's conversational format."""
    return [{"prompt": [{"role": "user", "content": p.prompt}], "chosen": [{"role": "assistant", "content": p.chosen}],
             "rejected": [{"role": "assistant", "content": p.rejected}]} for p in pairs]


def all_pairs(conversations: list[Conversation], pair_files: list[str]) -> list[dict[str, Any]]:
    """Blue-versus-red pairs of the conversations, then those of the pair files, each once."""
    seen, out = set(), []
    for pair in preference_pairs(conversations) + file_pairs([p for path in pair_files for p in load_pairs(path)]):
        key = json.dumps(pair, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(pair)
    return out


def preference_pairs(conversations: list[Conversation]) -> list[dict[str, Any]]:
    """One pair per assistant position where a blue and a red conversation share the Red-LM turns so far.

    prompt: the conversation up to that Red-LM turn (earlier replies from the blue side),
    chosen: the blue reply, rejected: the red reply (TRL's conversational format).
    """
    blue = {c.source: c.turns for c in conversations if c.kind == "blue"}
    red = {c.source: c.turns for c in conversations if c.kind == "red"}
    pairs = []
    for source in blue.keys() & red.keys():
        b, r = blue[source], red[source]
        for i in range(min(len(b), len(r))):
            if b[i]["from"] != "gpt" or r[i]["from"] != "gpt":
                continue
            human_b = [t["value"] for t in b[:i] if t["from"] == "human"]
            human_r = [t["value"] for t in r[:i] if t["from"] == "human"]
            if human_b != human_r or not human_b:
                break
            pairs.append(
                {
                    "prompt": _messages(b[:i]),
                    "chosen": [{"role": "assistant", "content": b[i]["value"]}],
                    "rejected": [{"role": "assistant", "content": r[i]["value"]}],
                }
            )
    return sorted(pairs, key=lambda p: str(p["prompt"]))  # a fixed order, whatever the set order


def kto_examples(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """KTO is unpaired: each blue reply is desirable, each red one undesirable."""
    out = []
    for pair in pairs:
        out.append({"prompt": pair["prompt"], "completion": pair["chosen"], "label": True})
        out.append({"prompt": pair["prompt"], "completion": pair["rejected"], "label": False})
    return out


def train_preference(strategy: str, model: Any, tokenizer: Any, conversations: list[Conversation], config: Any, out: Any, callbacks: list[Any]) -> Any:
    """Run TRL's DPOTrainer or KTOTrainer; returns the trainer, after training."""
    from datasets import Dataset

    from ..errors import RedInstructError
    from ._arguments import training_arguments

    pairs = all_pairs(conversations, config.pairs)
    if not pairs:
        raise RedInstructError(f"strategy {strategy} needs blue and red conversations with the same Red-LM turns, or --pairs FILE")
    common = {**training_arguments(config, out), "max_length": config.max_length, "beta": config.beta}
    if strategy == "dpo":
        from trl import DPOConfig, DPOTrainer

        if config.preference_sft_weight:  # RPO (Pang et al., 2024): the chosen reply's NLL beside the DPO loss
            common.update(loss_type=["sigmoid", "sft"], loss_weights=[1.0, config.preference_sft_weight])
        trainer = DPOTrainer(model=model, args=DPOConfig(**common), train_dataset=Dataset.from_list(pairs),
                             processing_class=tokenizer, callbacks=callbacks)
    else:
        from trl import KTOConfig, KTOTrainer

        trainer = KTOTrainer(model=model, args=KTOConfig(**common), train_dataset=Dataset.from_list(kto_examples(pairs)),
                             processing_class=tokenizer, callbacks=callbacks)
    resume = config.resume and any(out.glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    return trainer
