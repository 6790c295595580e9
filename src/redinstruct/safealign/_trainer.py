"""The SAFE-ALIGN trainer: transformers' Trainer with the strategy A / B loss in `compute_loss`."""

from __future__ import annotations

import inspect
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch.utils.data import Dataset, SequentialSampler
from transformers import Trainer, TrainerCallback

from .._distributed import sum_over_processes
from .._progress import Progress

from ._data import Conversation
from ._losses import DEFAULT_LAMBDA_ASCENT, DEFAULT_TAU, IGNORE_INDEX, blue_loss, blue_red_loss, per_sample_nll, per_sample_nll_from_hidden
from ._render import ChatFormat, encode_conversation


class EncodedConversations(Dataset):
    """Conversations encoded once; `is_red` marks harmful-reply samples."""

    def __init__(self, conversations: Sequence[Conversation], tokenizer: Any, chat_format: ChatFormat, max_length: int):
        self.items = []
        for c in conversations:
            encoded = encode_conversation(c.turns, tokenizer, chat_format, max_length)
            if any(label != IGNORE_INDEX for label in encoded.labels[1:]):  # something left to learn after the cut
                self.items.append({"input_ids": encoded.input_ids, "labels": encoded.labels, "is_red": c.kind == "red"})

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


def mixed_order(is_red: Sequence[bool], batch_size: int, red_fraction: float, seed: int = 0, lengths: Sequence[int] | None = None,
                group_batches: int = 32) -> list[int]:
    """An index order whose consecutive batches each hold about `red_fraction` red samples.

    With `lengths`, batches are grouped by length: within each run of `group_batches` batches, the red
    and the blue samples are sorted by length and dealt out again with each batch's red share kept, and
    the batches are shuffled, so a batch pads little and the order stays mixed.
    """
    rng = random.Random(seed)
    red = [i for i, r in enumerate(is_red) if r]
    blue = [i for i, r in enumerate(is_red) if not r]
    rng.shuffle(red)
    rng.shuffle(blue)
    per_batch_red = max(0, min(batch_size, round(batch_size * red_fraction))) if red else 0
    order: list[int] = []
    while red or blue:
        take_red = min(per_batch_red, len(red)) if blue else len(red[:batch_size])
        take_blue = min(batch_size - take_red, len(blue))
        if take_red + take_blue == 0:
            take_red = min(batch_size, len(red))
        batch = red[:take_red] + blue[:take_blue]
        del red[:take_red], blue[:take_blue]
        rng.shuffle(batch)
        order += batch
    if lengths is None:
        return order
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    grouped: list[int] = []
    for start in range(0, len(batches), group_batches):
        window = batches[start : start + group_batches]
        reds = sorted((i for b in window for i in b if is_red[i]), key=lambda i: lengths[i])
        blues = sorted((i for b in window for i in b if not is_red[i]), key=lambda i: lengths[i])
        dealt = []
        for b in window:  # the same red and blue counts per batch, now neighbours in length
            n_red = sum(is_red[i] for i in b)
            dealt.append(reds[:n_red] + blues[: len(b) - n_red])
            del reds[:n_red], blues[: len(b) - n_red]
        rng.shuffle(dealt)
        grouped += [i for b in dealt for i in b]
    return grouped


class Reordered(Dataset):
    def __init__(self, base: Dataset, order: list[int]):
        self.base, self.order = base, order

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> Any:
        return self.base[self.order[i]]


@dataclass
class PadCollator:
    pad_token_id: int

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(features), width), dtype=torch.long)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            ids[row, :n] = torch.tensor(f["input_ids"])
            labels[row, :n] = torch.tensor(f["labels"])
            mask[row, :n] = 1
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": labels,
            "is_red": torch.tensor([bool(f["is_red"]) for f in features]),
        }


class SafeAlignTrainer(Trainer):
    """Strategy `blue` (A) or `blue-red` (B); logs blue NLL, red NLL and the red fraction at or above tau.

    The logged values are over every sample since the last log, on all processes together: each
    process keeps sums and counts, and `log` adds them up across processes before dividing.
    """

    def __init__(
        self,
        *args: Any,
        strategy: str = "blue",
        tau: float = DEFAULT_TAU,
        lambda_ascent: float = DEFAULT_LAMBDA_ASCENT,
        lambda_descent: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        # compute_loss returns a per-batch mean, not a sum over num_items_in_batch: the Trainer must divide it by the
        # accumulation steps itself (it skips that for models that accept loss kwargs, which made --grad-accum N
        # take N times the step)
        self.model_accepts_loss_kwargs = False
        self.strategy = strategy
        self.tau, self.lambda_ascent, self.lambda_descent = tau, lambda_ascent, lambda_descent
        self._sums = [0.0] * _STATS
        self._labelled_only: bool | None = None  # decided on the first batch

    def _labelled_logits_only(self, model: Any) -> bool:
        if self._labelled_only is None:
            forward = getattr(getattr(model, "get_base_model", lambda: model)(), "forward", None)
            takes = forward is not None and "logits_to_keep" in inspect.signature(forward).parameters
            self._labelled_only = bool(takes and self.args.world_size == 1 and hasattr(model, "get_output_embeddings")
                                       and model.get_output_embeddings() is not None)
        return self._labelled_only

    def _get_train_sampler(self, *args: Any, **kwargs: Any) -> SequentialSampler:
        return SequentialSampler(self.train_dataset)  # the dataset is already in mixed batch order

    def compute_loss(self, model: Any, inputs: dict[str, torch.Tensor], return_outputs: bool = False, num_items_in_batch: Any = None) -> Any:
        is_red = inputs.pop("is_red").bool()
        labels = inputs.pop("labels")
        if self._labelled_logits_only(model) and not return_outputs:
            # one process: project only the labelled positions onto the vocabulary (a sharded or wrapped model keeps
            # the full projection, which happens inside its own forward)
            outputs = model(**inputs, output_hidden_states=True, logits_to_keep=1)
            nll = per_sample_nll_from_hidden(outputs.hidden_states[-1], model.get_output_embeddings(), labels)
        else:
            outputs = model(**inputs)
            nll = per_sample_nll(outputs.logits, labels)
        if self.strategy == "blue":
            loss = blue_loss(nll)
            is_red = torch.zeros_like(is_red)
        else:
            loss = blue_red_loss(nll, is_red, self.tau, self.lambda_ascent, self.lambda_descent).loss
        detached = nll.detach().float()
        red = is_red.to(detached.device)
        values = (detached[~red].sum(), (~red).sum(), detached[red].sum(), red.sum(), (red & (detached >= self.tau)).sum())
        self._sums = [total + float(value) for total, value in zip(self._sums, values)]
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
        # every process reaches each log call (the Trainer gathers the loss there too), so the sums can be reduced here
        blue_sum, blue_n, red_sum, red_n, above_n = sum_over_processes(self._sums, self.args.device)
        self._sums = [0.0] * _STATS
        if blue_n:
            logs["blue_nll"] = blue_sum / blue_n
        if red_n and self.strategy != "blue":
            logs["red_nll"] = red_sum / red_n
            logs["red_above_tau"] = above_n / red_n
        super().log(logs, *args, **kwargs)


_STATS = 5  # sums since the last log: blue NLL, blue samples, red NLL, red samples, red samples at or above tau


class JsonlLogCallback(TrainerCallback):
    """Every logging step as one line of `training_log.jsonl` (appended, so resumed runs continue it)."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if logs and state.is_world_process_zero:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")


class ProgressCallback(TrainerCallback):
    """Training steps as redinstruct progress: a bar on a terminal, a line per tenth of the run in a log."""

    def __init__(self, label: str):
        self.label = label
        self.progress: Progress | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.is_world_process_zero:
            self.progress = Progress(self.label, max(0, state.max_steps - state.global_step), unit="step")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.progress is not None:
            self.progress.advance()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.progress is not None:
            self.progress.close()
