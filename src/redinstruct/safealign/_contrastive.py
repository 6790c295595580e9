"""A contrastive representation stage before SAFE-ALIGN (after DCR, arXiv 2603.03323).

Before the safety fine-tuning, a few steps push the model's representations of truly harmful prompts
and of safe prompts that merely sound unsafe apart, so that the refusal the next stage teaches has a
line to follow instead of trigger words. The representation is the hidden state of the last prompt
token (the one the reply starts from) at two thirds of the model's depth, L2-normalised. The loss is
supervised contrastive (Khosla et al., 2020) over batches holding both kinds, plus a retain term that
keeps the representations of ordinary prompts where the base model had them.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from .._progress import Progress

TEMPERATURE = 0.1
TOKENS_PER_CHUNK = 2048  # padded tokens per forward pass


def representation_layer(model: Any) -> int:
    return max(1, (2 * int(model.config.num_hidden_layers)) // 3)


class _Reached(Exception):
    """Raised once the representation layer has run: the layers above it and the vocabulary projection are not needed."""


def _decoder_layers(model: Any) -> Any:
    """The decoder's list of layers (through a PEFT wrapper too); None where the architecture does not expose one."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    return getattr(decoder, "layers", None)


def layer_output(model: Any, batch: dict[str, torch.Tensor], layer: int) -> torch.Tensor:
    """hidden_states[layer] (the output of decoder layer `layer` - 1), computed only up to that layer."""
    layers = _decoder_layers(model)
    if layers is None or not 1 <= layer <= len(layers):
        return model(**batch, output_hidden_states=True, logits_to_keep=1).hidden_states[layer]
    captured: list[torch.Tensor] = []

    def stop(_module: Any, _inputs: Any, output: Any) -> None:
        captured.append(output[0] if isinstance(output, tuple) else output)
        raise _Reached

    handle = layers[layer - 1].register_forward_hook(stop)
    try:
        model(**batch)
    except _Reached:
        pass
    finally:
        handle.remove()
    return captured[0]


def prompt_representations(model: Any, tokenizer: Any, prompts: Sequence[str], chat_format: str, layer: int, bf16: bool = False) -> torch.Tensor:
    """L2-normalised hidden states of each prompt's last token (left padding, so it is the last column)."""
    from ._frontier import left_padding, validation_prompt

    texts = [validation_prompt(tokenizer, chat_format, p) for p in prompts]
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    # similar lengths together: a 400-token CoU prompt must not pad twenty 20-token prompts to its length
    order = sorted(range(len(texts)), key=lengths.__getitem__)
    chunks: list[list[int]] = [[]]
    for i in order:
        if chunks[-1] and lengths[i] * (len(chunks[-1]) + 1) > TOKENS_PER_CHUNK:
            chunks.append([])
        chunks[-1].append(i)
    hidden = []
    for chunk in chunks:
        with left_padding(tokenizer):
            batch = tokenizer([texts[i] for i in chunk], return_tensors="pt", padding=True, add_special_tokens=False)
        batch = {k: v.to(model.device) for k, v in batch.items()}
        with torch.autocast(model.device.type, dtype=torch.bfloat16, enabled=bf16):
            hidden.append(layer_output(model, batch, layer)[:, -1, :])
    states = torch.cat(hidden)[torch.tensor(order, device=model.device).argsort()]  # back to the prompts' order
    return F.normalize(states.float(), dim=-1)


def supervised_contrastive_loss(z: torch.Tensor, labels: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """SupCon: each anchor's same-label rows are its positives, every other row the denominator."""
    n = len(z)
    similarity = z @ z.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    similarity = similarity.masked_fill(self_mask, float("-inf"))
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    counts = positives.sum(1)
    per_anchor = -(log_prob.masked_fill(~positives, 0.0).sum(1)) / counts.clamp(min=1)
    return per_anchor[counts > 0].mean()


def separation(z: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean cosine within a kind minus mean cosine across kinds (higher: further apart)."""
    sim = z @ z.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~torch.eye(len(z), dtype=torch.bool, device=z.device)
    return float(sim[same & off_diagonal].mean() - sim[~same].mean())


def contrastive_stage(model: Any, tokenizer: Any, harmful: Sequence[str], safe: Sequence[str], retain: Sequence[str], chat_format: str,
                      steps: int, lr: float, log_path: Path | None, batch_size: int = 16, retain_weight: float = 1.0, seed: int = 0,
                      bf16: bool = False) -> None:
    """Train `model` in place for `steps` steps; each step logs the losses and the separation of its batch."""
    rng = random.Random(seed)
    layer = representation_layer(model)
    anchors: torch.Tensor | None = None
    retain_pool = list(retain)
    if retain_pool:
        with torch.no_grad():  # where the base model puts ordinary prompts: the retain term keeps them there
            anchors = torch.cat([prompt_representations(model, tokenizer, retain_pool[i : i + 32], chat_format, layer, bf16)
                                 for i in range(0, len(retain_pool), 32)])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    half = max(2, batch_size // 2)
    quiet = None if log_path else io.StringIO()  # one process reports the stage
    with Progress("contrastive stage", steps, unit="step", stream=quiet) as progress, \
            (log_path.open("a", encoding="utf-8") if log_path else contextlib.nullcontext()) as log:
        for step in range(1, steps + 1):
            prompts = rng.sample(list(harmful), min(half, len(harmful))) + rng.sample(list(safe), min(half, len(safe)))
            labels = torch.tensor([1] * min(half, len(harmful)) + [0] * min(half, len(safe)), device=model.device)
            z = prompt_representations(model, tokenizer, prompts, chat_format, layer, bf16)
            contrast = supervised_contrastive_loss(z, labels)
            loss = contrast
            kept = 0.0
            if anchors is not None:
                picked = rng.sample(range(len(retain_pool)), min(half, len(retain_pool)))
                current = prompt_representations(model, tokenizer, [retain_pool[i] for i in picked], chat_format, layer, bf16)
                drift = (1 - (current * anchors[picked]).sum(-1)).mean()  # cosine distance from the base's representation
                loss = loss + retain_weight * drift
                kept = float(drift.detach())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if log is not None:
                log.write(json.dumps({"step": 0, "contrastive_step": step, "contrastive_loss": float(contrast.detach()),
                                      "retain_drift": kept, "separation": separation(z.detach(), labels)}) + "\n")
            progress.advance()
    optimizer.zero_grad(set_to_none=True)
