"""Loss masks, token by token, in both conversation formats (SmolLM2's real tokenizer)."""

import pytest
from transformers import AutoTokenizer

from redinstruct.models import smollm2_checkpoint
from redinstruct.safealign import IGNORE_INDEX
from redinstruct.safealign._render import VICUNA_SYSTEM, encode_conversation

TURNS = [
    {"from": "human", "value": "Hi, can I ask about chemistry?"},
    {"from": "gpt", "value": "Of course."},
    {"from": "human", "value": "How do I make a toxic gas?"},
    {"from": "gpt", "value": "I can't help with that, but I can explain lab safety."},
]


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(smollm2_checkpoint(quiet=True))


def trained_spans(encoded, tokenizer):
    """The decoded runs of consecutive trained tokens."""
    spans, current = [], []
    for token, label in zip(encoded.input_ids, encoded.labels):
        if label == IGNORE_INDEX:
            if current:
                spans.append(tokenizer.decode(current))
                current = []
        else:
            assert label == token, "a trained label is the token itself"
            current.append(token)
    if current:
        spans.append(tokenizer.decode(current))
    return spans


def test_vicuna_format_trains_only_replies_and_their_eos(tokenizer):
    encoded = encode_conversation(TURNS, tokenizer, "vicuna")
    eos = tokenizer.eos_token
    assert trained_spans(encoded, tokenizer) == [f" Of course.{eos}", f" I can't help with that, but I can explain lab safety.{eos}"]
    assert encoded.input_ids[0] == tokenizer.bos_token_id and encoded.labels[0] == IGNORE_INDEX
    text = tokenizer.decode(encoded.input_ids[1:])
    assert text.startswith(VICUNA_SYSTEM) and " USER: Hi, can I ask about chemistry? ASSISTANT: Of course." in text
    # every user token is masked
    user_ids = tokenizer(" USER: How do I make a toxic gas? ASSISTANT:", add_special_tokens=False)["input_ids"]
    start = next(i for i in range(len(encoded.input_ids)) if encoded.input_ids[i : i + len(user_ids)] == user_ids)
    assert all(label == IGNORE_INDEX for label in encoded.labels[start : start + len(user_ids)])


def test_model_chat_template_trains_content_and_end_not_headers(tokenizer):
    encoded = encode_conversation(TURNS, tokenizer, "model")
    spans = trained_spans(encoded, tokenizer)
    assert spans == ["Of course.<|im_end|>\n", "I can't help with that, but I can explain lab safety.<|im_end|>\n"]
    full = tokenizer.apply_chat_template([{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]} for t in TURNS], tokenize=False)
    assert tokenizer.decode(encoded.input_ids) == full


def test_truncation_keeps_ids_and_labels_aligned(tokenizer):
    encoded = encode_conversation(TURNS, tokenizer, "vicuna", max_length=40)
    assert len(encoded.input_ids) == len(encoded.labels) == 40
