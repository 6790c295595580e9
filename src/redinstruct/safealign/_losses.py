"""SAFE-ALIGN objectives as small pure functions over logits and labels.

Strategy A (`blue`): mean NLL of assistant tokens. Strategy B (`blue-red`): blue samples add
their NLL; red samples whose NLL is below `tau` add `-lambda_ascent * NLL` (gradient ascent on
harmful replies the model still finds likely); red samples at or above `tau` add nothing, or
`+lambda_descent * NLL` when that is set. The clip at `tau` is what keeps ascent from collapsing
the model: once a red reply is unlikely enough, it stops being pushed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE_INDEX = -100
DEFAULT_TAU = 1.0
DEFAULT_LAMBDA_ASCENT = 0.1


def per_sample_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token NLL over each sample's labelled tokens: shape (batch,). Labels are unshifted."""
    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:]
    mask = shift_labels != IGNORE_INDEX
    token_nll = torch.nn.functional.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)),
        shift_labels.clamp(min=0).reshape(-1),
        reduction="none",
    ).view_as(shift_labels)
    counts = mask.sum(dim=1)
    return (token_nll * mask).sum(dim=1) / counts.clamp(min=1)


def per_sample_nll_from_hidden(hidden: torch.Tensor, lm_head: torch.nn.Module, labels: torch.Tensor) -> torch.Tensor:
    """`per_sample_nll` from the final hidden states, with the vocabulary projection computed only where a label is.

    The same values as projecting every position (up to float summation order) at a fraction of the cost: on
    SmolLM2 the 49,152-word projection and its softmax over every padded and prompt position were about a
    third of a training step.
    """
    shift_labels = labels[:, 1:]
    mask = shift_labels != IGNORE_INDEX
    logits = lm_head(hidden[:, :-1][mask]).float()
    token_nll = torch.nn.functional.cross_entropy(logits, shift_labels[mask], reduction="none")
    rows = mask.nonzero()[:, 0]
    sums = torch.zeros(labels.size(0), dtype=token_nll.dtype, device=token_nll.device).index_add(0, rows, token_nll)
    return sums / mask.sum(dim=1).clamp(min=1)


@dataclass(frozen=True)
class BlueRedLoss:
    loss: torch.Tensor
    blue_nll: float | None
    red_nll: float | None
    red_above_tau: float | None  # fraction of red samples at or above tau (no longer pushed)


def blue_red_loss(
    nll: torch.Tensor,
    is_red: torch.Tensor,
    tau: float = DEFAULT_TAU,
    lambda_ascent: float = DEFAULT_LAMBDA_ASCENT,
    lambda_descent: float = 0.0,
) -> BlueRedLoss:
    """Strategy B over a batch of per-sample NLLs; `is_red` marks harmful-reply samples."""
    is_red = is_red.bool()
    blue_term = torch.where(is_red, torch.zeros_like(nll), nll)
    below = is_red & (nll < tau)
    above = is_red & ~below
    red_term = torch.where(below, -lambda_ascent * nll, torch.zeros_like(nll))
    if lambda_descent:
        red_term = red_term + torch.where(above, lambda_descent * nll, torch.zeros_like(nll))
    loss = (blue_term + red_term).mean()
    n_red = int(is_red.sum())
    n_blue = len(nll) - n_red
    detached = nll.detach()
    return BlueRedLoss(
        loss=loss,
        blue_nll=float(detached[~is_red].mean()) if n_blue else None,
        red_nll=float(detached[is_red].mean()) if n_red else None,
        red_above_tau=float(above.sum()) / n_red if n_red else None,
    )


def blue_loss(nll: torch.Tensor) -> torch.Tensor:
    """Strategy A: the batch mean of per-sample NLLs (blue and general data only)."""
    return nll.mean()
