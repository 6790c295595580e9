"""The engine's parts: requests and results, the growing key/value cache, rows (one reply each) and lanes (rows decoded together)."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

# a shared prefix is computed once only when it is at least this long
MIN_SHARED_PREFIX = 16
# speculation: longest draft, and the n-gram sizes looked up (longest first)
MAX_DRAFT = 12
NGRAMS = (3, 2)
# a forward pass costs about this many tokens' worth of work beyond its tokens (measured on CPU)
_PASS_OVERHEAD_TOKENS = 24
# fold finished rows out of the cache once this share of the batch is finished
_COMPACT_SHARE = 0.25


@dataclass(frozen=True)
class GenerationRequest:
    prompt: str
    max_new_tokens: int
    stop: tuple[str, ...] = ()
    temperature: float = 0.0  # 0: greedy; above 0: sampled (no speculation for that row)
    seed: int | None = None  # a sampled row's own random stream, so a seeded retry can be replayed


@dataclass(frozen=True)
class GenerationResult:
    text: str
    stop_reason: str  # "stop" (end of text or a stop string) or "max_tokens"
    input_tokens: int
    output_tokens: int
    seconds: float


class GrowingLayer(DynamicLayer):
    """A cache layer written in place into a buffer that grows by half when full."""

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        super().lazy_initialization(key_states, value_states)
        self.length = 0
        self.key_buffer = key_states.new_zeros((*key_states.shape[:-2], 0, key_states.shape[-1]))
        self.value_buffer = value_states.new_zeros((*value_states.shape[:-2], 0, value_states.shape[-1]))

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.key_buffer.shape[-2]:
            self._resize(max(end + 64, self.key_buffer.shape[-2] * 3 // 2))
        self.key_buffer[..., self.length : end, :] = key_states
        self.value_buffer[..., self.length : end, :] = value_states
        self.length = end
        self._expose()
        return self.keys, self.values

    def _expose(self) -> None:
        self.keys, self.values = self.key_buffer[..., : self.length, :], self.value_buffer[..., : self.length, :]

    def _resize(self, capacity: int) -> None:
        shape = (*self.key_buffer.shape[:-2], capacity, self.key_buffer.shape[-1])
        keys, values = self.key_buffer.new_zeros(shape), self.value_buffer.new_zeros(shape)
        keys[..., : self.length, :] = self.key_buffer[..., : self.length, :]
        values[..., : self.length, :] = self.value_buffer[..., : self.length, :]
        self.key_buffer, self.value_buffer = keys, values

    def get_seq_length(self) -> int:
        return self.length if self.is_initialized else 0

    def batch_repeat_interleave(self, repeats: int) -> None:
        self.key_buffer = self.key_buffer.repeat_interleave(repeats, dim=0)
        self.value_buffer = self.value_buffer.repeat_interleave(repeats, dim=0)
        self._expose()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self.key_buffer, self.value_buffer = self.key_buffer[indices], self.value_buffer[indices]
        self._expose()

    def reshape_rows(self, start: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Slots [start, length) placed right-aligned in `width` slots (zeros on the left)."""
        kept = self.length - start
        shape = (*self.key_buffer.shape[:-2], width, self.key_buffer.shape[-1])
        keys, values = self.key_buffer.new_zeros(shape), self.value_buffer.new_zeros(shape)
        keys[..., width - kept :, :] = self.key_buffer[..., start : self.length, :]
        values[..., width - kept :, :] = self.value_buffer[..., start : self.length, :]
        return keys, values

    def replace(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        self.key_buffer, self.value_buffer, self.length = keys, values, keys.shape[-2]
        self._expose()


def new_cache(model: Any) -> DynamicCache:
    """A DynamicCache made of growing layers (models with other layer kinds are not served)."""
    cache = DynamicCache(config=model.config)
    if any(type(layer) is not DynamicLayer for layer in cache.layers):
        raise NotImplementedError("only full-attention decoder models are served by the redinstruct engine")
    cache.layers = [GrowingLayer() for _ in cache.layers]
    return cache


@dataclass
class Row:
    request: GenerationRequest
    future: "Future[GenerationResult]"
    ids: list[int]
    queued_at: float
    generated: list[int] = field(default_factory=list)
    next_position: int = 0
    last: int = -1  # the newest token: chosen, not yet in the cache
    done: bool = False
    accept_rate: float = 0.5
    rng: torch.Generator | None = None  # sampled rows only
    _index: dict[tuple[int, ...], int] = field(default_factory=dict)

    @property
    def sampled(self) -> bool:
        return self.request.temperature > 0

    def index_prompt(self) -> None:
        for n in NGRAMS:
            for end in range(n, len(self.ids)):
                self._index[tuple(self.ids[end - n : end])] = end

    def sequence_at(self, i: int) -> int:
        return self.ids[i] if i < len(self.ids) else self.generated[i - len(self.ids)]

    @property
    def length(self) -> int:
        return len(self.ids) + len(self.generated)

    def append(self, token: int) -> None:
        self.generated.append(token)
        end = self.length - 1  # the n-grams that end just before the new token now have a continuation
        for n in NGRAMS:
            if end >= n:
                self._index[tuple(self.sequence_at(i) for i in range(end - n, end))] = end

    def draft(self, limit: int) -> list[int]:
        """Tokens that followed the newest n-gram where it last occurred before."""
        if limit <= 0:
            return []
        for n in NGRAMS:
            if self.length < n:
                continue
            start = self._index.get(tuple(self.sequence_at(i) for i in range(self.length - n, self.length)))
            if start is not None:
                return [self.sequence_at(i) for i in range(start, min(start + limit, self.length))]
        return []


def shared_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of token sequences."""
    first, n = sequences[0], min(len(s) for s in sequences)
    for i in range(n):
        token = first[i]
        if any(s[i] != token for s in sequences):
            return i
    return n


def similar_length(a: int, b: int) -> bool:
    """Prompts whose lengths are within a factor of two share a lane: little attention is spent on padding."""
    return max(a, b) <= 2 * min(a, b) + MIN_SHARED_PREFIX


def group_by_length(rows: list[Row]) -> list[list[Row]]:
    """Rows in classes of similar prompt length (shortest first); each class is prefilled together."""
    ordered = sorted(rows, key=lambda row: (len(row.ids), row.ids))
    groups: list[list[Row]] = [[ordered[0]]]
    for row in ordered[1:]:
        if similar_length(len(groups[-1][0].ids), len(row.ids)):
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def choose_draft_width(drafts: list[list[int]], accept_rates: list[float]) -> int:
    """The draft width that maximizes expected tokens per unit of work for this pass."""
    rows = len(drafts)
    best_width, best_value = 0, rows / (_PASS_OVERHEAD_TOKENS + rows)
    for width in sorted({len(d) for d in drafts if d}):
        expected = rows + sum(rate * min(len(d), width) for d, rate in zip(drafts, accept_rates))
        value = expected / (_PASS_OVERHEAD_TOKENS + rows * (width + 1))
        if value > best_value:
            best_width, best_value = width, value
    return best_width


def choose_token(row: Row, logits: torch.Tensor) -> int:
    """The row's next token from its logits: the argmax, or a draw at the row's temperature."""
    if not row.sampled:
        return int(logits.argmax())
    if row.rng is None:
        row.rng = torch.Generator(device=logits.device)
        row.rng.manual_seed(row.request.seed if row.request.seed is not None else int(torch.seed()) % 2**63)
    probs = torch.softmax(logits.float() / row.request.temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=row.rng))


class Lane:
    """Rows of similar prompt length, decoded together: one cache, one mask, one pass per step.

    Short prompts do not attend over the padding of long ones (a plain question beside a CoU
    prompt), and each lane picks its own draft width.
    """

    def __init__(self, rows: list[Row], cache: DynamicCache, mask: torch.Tensor) -> None:
        self.rows, self.cache, self.mask = rows, cache, mask

    def accepts(self, rows: list[Row]) -> bool:
        return bool(self.rows) and similar_length(len(self.rows[0].ids), max(len(row.ids) for row in rows))

    def merge(self, rows: list[Row], cache: DynamicCache, mask: torch.Tensor) -> None:
        width = max(self.mask.shape[1], mask.shape[1])
        for mine, theirs in zip(self.cache.layers, cache.layers):
            k1, v1 = mine.reshape_rows(0, width)
            k2, v2 = theirs.reshape_rows(0, width)
            mine.replace(torch.cat([k1, k2]), torch.cat([v1, v2]))
        pad = lambda m: torch.nn.functional.pad(m, (width - m.shape[1], 0))  # noqa: E731
        self.mask = torch.cat([pad(self.mask), pad(mask)])
        self.rows += rows

    def drop_finished(self, force: bool = False) -> None:
        """Fold finished rows out of the batch (and slots no row attends to out of the cache)."""
        finished = sum(row.done for row in self.rows)
        if not finished or not (force or finished >= max(1, int(len(self.rows) * _COMPACT_SHARE))):
            return
        keep = [i for i, row in enumerate(self.rows) if not row.done]
        self.rows = [self.rows[i] for i in keep]
        if not keep:
            return
        index = torch.tensor(keep, device=self.mask.device)
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        used = self.mask.any(dim=0).nonzero()
        first = int(used[0]) if len(used) else 0
        if first >= 64:
            width = self.mask.shape[1] - first
            for layer in self.cache.layers:
                layer.replace(*layer.reshape_rows(first, width))
            self.mask = self.mask[:, first:]
