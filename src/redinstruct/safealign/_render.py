"""Conversations -> token ids and labels, with loss only on assistant (Base-LM) tokens.

Red-LM turns are the user, Base-LM turns the assistant. Each piece of the rendered text is
tokenized on its own and the pieces are joined, so the label mask lines up with the text exactly
(no guessing where a turn starts after whole-string tokenization).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

from ._losses import IGNORE_INDEX

ChatFormat = Literal["vicuna", "model"]
VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def _pieces_vicuna(turns: Sequence[dict[str, str]], eos: str) -> list[tuple[str, bool]]:
    """Vicuna v1.1 (FastChat): system line, `USER: ... ASSISTANT: ...</s>` (the paper's format)."""
    pieces: list[tuple[str, bool]] = [(VICUNA_SYSTEM, False)]
    for turn in turns:
        if turn["from"] == "human":
            pieces.append((f" USER: {turn['value']} ASSISTANT:", False))
        else:
            pieces.append((f" {turn['value']}{eos}", True))
    return pieces


def _pieces_chat_template(turns: Sequence[dict[str, str]], tokenizer: Any) -> list[tuple[str, bool]]:
    """The model's own chat template; an assistant turn's header is context, its content and end are trained."""
    messages = [{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]} for t in turns]
    pieces: list[tuple[str, bool]] = []
    rendered = ""
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            header = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
            full = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
            if not header.startswith(rendered) or not full.startswith(header):
                raise ValueError("the chat template does not render conversations prefix by prefix")
            pieces += [(header[len(rendered) :], False), (full[len(header) :], True)]
            rendered = full
        else:
            full = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
            if not full.startswith(rendered):
                raise ValueError("the chat template does not render conversations prefix by prefix")
            pieces.append((full[len(rendered) :], False))
            rendered = full
    return pieces


def encode_conversation(
    turns: Sequence[dict[str, str]], tokenizer: Any, chat_format: ChatFormat = "vicuna", max_length: int = 1024
) -> Encoded:
    """Token ids and labels (-100 outside assistant replies), cut to `max_length`."""
    if chat_format == "vicuna":
        pieces = _pieces_vicuna(turns, tokenizer.eos_token or "</s>")
        ids: list[int] = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    else:
        pieces = _pieces_chat_template(turns, tokenizer)
        ids = []
    labels = [IGNORE_INDEX] * len(ids)
    for text, trained in pieces:
        if not text:
            continue
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if trained else [IGNORE_INDEX] * len(piece)
    return Encoded(ids[:max_length], labels[:max_length])
