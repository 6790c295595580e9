"""Greedy generation for local HF models that keeps the CPU busy with useful work.

What it does that one `model.generate` call per batch does not:

- **continuous batching**: a row leaves the batch as soon as its reply ends (end of text, a stop
  string, its token limit) and is handed back at once; waiting prompts take the free places;
- **shared prefixes**: prompts that start the same way (a template's fixed text, a chat header)
  have that prefix computed once per admission, not once per prompt;
- **prompt-lookup speculation**: each row proposes the tokens that followed the last few tokens
  where they occurred before (in the prompt or the reply so far); one forward pass checks them all
  and keeps the longest run the model itself would have produced. Greedy output is unchanged;
  replies that copy the prompt or repeat themselves come several tokens per pass;
- **an in-place cache**: keys and values are written into a buffer instead of being concatenated
  each step.

Outputs equal greedy decoding up to floating-point differences between batch shapes.
"""

from __future__ import annotations

import atexit
import inspect
import threading
import time
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from queue import Empty, Queue
from typing import Any, Sequence

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

# a shared prefix is computed once only when it is at least this long
MIN_SHARED_PREFIX = 16
# how long the worker waits for more requests to arrive together before starting
GATHER_S = 0.2
# a few waiting rows are admitted into a running batch once they have waited this long
STRAGGLER_S = 1.0
# tokens decoded from the end of a reply to look for a stop string
_STOP_WINDOW = 24
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
class _Row:
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


def group_by_length(rows: list[_Row]) -> list[list[_Row]]:
    """Rows in classes of similar prompt length (shortest first); each class is prefilled together."""
    ordered = sorted(rows, key=lambda row: (len(row.ids), row.ids))
    groups: list[list[_Row]] = [[ordered[0]]]
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


def choose_token(row: _Row, logits: torch.Tensor) -> int:
    """The row's next token from its logits: the argmax, or a draw at the row's temperature."""
    if not row.sampled:
        return int(logits.argmax())
    if row.rng is None:
        row.rng = torch.Generator(device=logits.device)
        row.rng.manual_seed(row.request.seed if row.request.seed is not None else int(torch.seed()) % 2**63)
    probs = torch.softmax(logits.float() / row.request.temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=row.rng))


class _Lane:
    """Rows of similar prompt length, decoded together: one cache, one mask, one pass per step.

    Short prompts do not attend over the padding of long ones (a plain question beside a CoU
    prompt), and each lane picks its own draft width.
    """

    def __init__(self, rows: list[_Row], cache: DynamicCache, mask: torch.Tensor) -> None:
        self.rows, self.cache, self.mask = rows, cache, mask

    def accepts(self, rows: list[_Row]) -> bool:
        return bool(self.rows) and similar_length(len(self.rows[0].ids), max(len(row.ids) for row in rows))

    def merge(self, rows: list[_Row], cache: DynamicCache, mask: torch.Tensor) -> None:
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


_LIVE_ENGINES: "weakref.WeakSet[PrefixSharingGenerator]" = weakref.WeakSet()
_STOP = object()  # queued by `close`: the worker finishes its cycle and returns


def close_all_engines() -> None:
    """Stop and join every engine's worker thread.

    A worker still inside a torch call when the interpreter exits aborts the process
    ("terminate called without an active exception"): every command calls this before it
    returns, and it runs at exit too.
    """
    for engine in list(_LIVE_ENGINES):
        engine.close()


atexit.register(close_all_engines)


class PrefixSharingGenerator:
    """A worker thread that runs queued prompts through continuously refilled batches."""

    def __init__(self, model: Any, tokenizer: Any, batch_size: int = 32, eos_token_ids: Sequence[int] = (),
                 speculate: bool = True) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = max(1, batch_size)
        self.eos = set(eos_token_ids)
        self.speculate = speculate
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._queue: Queue[_Row] = Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._lanes: list[_Lane] = []
        self._cache_name: str | None = None
        self._closing = False  # close() asked the worker to stop: it abandons what it holds after the current pass
        self.forward_passes = 0  # for benchmarks
        _LIVE_ENGINES.add(self)

    def _cache_arg(self, cache: DynamicCache) -> dict[str, DynamicCache]:
        """transformers renamed `past_key_values` to `cache` in 5.x; pass the name this model takes."""
        if self._cache_name is None:
            self._cache_name = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        return {self._cache_name: cache}

    def submit(self, request: GenerationRequest, ids: list[int]) -> "Future[GenerationResult]":
        future: Future[GenerationResult] = Future()
        if not ids:
            future.set_exception(ValueError("empty prompt"))
            return future
        with self._lock:
            if self._closing:  # a closed engine starts again on demand
                self._join()
            self._queue.put(_Row(request, future, list(ids), time.monotonic()))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="redinstruct-generate", daemon=True)
                self._thread.start()
        return future

    def close(self, timeout_s: float | None = None) -> None:
        """Stop and join the worker thread after its current forward pass (a later submit restarts it).

        Requests still unfinished then fail with "the generation engine was closed": commands close
        their engines when they end (or are interrupted), and nobody is left waiting for those.
        """
        with self._lock:
            if self._thread is not None and not self._closing:
                self._closing = True
                self._queue.put(_STOP)  # type: ignore[arg-type]  (wakes a worker waiting for work)
            self._join(timeout_s)

    def _join(self, timeout_s: float | None = None) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
            if not thread.is_alive():
                self._thread, self._closing = None, False

    # -- the worker ---------------------------------------------------------------------------

    def _running(self) -> int:
        return sum(len(lane.rows) for lane in self._lanes)

    def _work(self) -> None:
        waiting: list[_Row] = []
        while True:
            try:
                waiting = self._cycle(waiting)
            except _Stopped:
                for row in waiting + [row for lane in self._lanes for row in lane.rows] + self._drain():
                    if not row.future.done():  # the caller is leaving; never left waiting all the same
                        row.future.set_exception(RuntimeError("the generation engine was closed"))
                self._lanes = []
                return
            except Exception as ex:  # a bug here must not leave callers waiting forever
                for row in waiting + [row for lane in self._lanes for row in lane.rows]:
                    if not row.future.done():
                        row.future.set_exception(ex)
                waiting, self._lanes = [], []

    def _take(self, waiting: list[_Row], timeout: float | None) -> None:
        item = self._queue.get(timeout=timeout) if timeout != 0 else self._queue.get_nowait()
        if item is not _STOP:
            waiting.append(item)

    def _cycle(self, waiting: list[_Row]) -> list[_Row]:
        """Admit waiting rows when worthwhile, then one pass per lane; returns the rows still waiting."""
        if self._closing:
            raise _Stopped()
        if not self._lanes and not waiting:
            self._take(waiting, None)
        # requests sent together arrive within milliseconds of each other: take them all
        while not self._closing:
            try:
                self._take(waiting, GATHER_S if not self._lanes else 0)
            except Empty:
                break
        if self._closing:
            raise _Stopped()
        free = self.batch_size - self._running()
        # merging copies a lane's cache: admit a good share of the batch at once, or the last few rows once they have waited
        quarter = max(1, self.batch_size // 4)
        if waiting and free > 0 and (not self._lanes or (free >= quarter and len(waiting) >= quarter)
                                     or (free >= len(waiting) and time.monotonic() - waiting[0].queued_at > STRAGGLER_S)):
            admitted, waiting = waiting[:free], waiting[free:]
            self._guarded(self._admit, admitted, None)
        for lane in list(self._lanes):
            self._guarded(self._step, lane.rows, lane)
        self._lanes = [lane for lane in self._lanes if lane.rows]
        return waiting

    def _drain(self) -> list[_Row]:
        rows = []
        while True:
            try:
                item = self._queue.get_nowait()
            except Empty:
                return rows
            if item is not _STOP:
                rows.append(item)

    def _guarded(self, work: Any, rows: list[_Row], lane: _Lane | None) -> None:
        """Run one stage; on failure its rows get the error (recorded as unknown), and the worker lives on."""
        try:
            with torch.inference_mode():
                work(lane) if lane is not None else work(rows)
        except Exception as ex:
            broken = rows + (lane.rows if lane is not None else [])
            for row in broken:
                if not row.future.done():
                    row.future.set_exception(ex)
            if lane is not None:
                lane.rows = []

    def _admit(self, rows: list[_Row]) -> None:
        """Prefill new prompts (one shared-prefix pass per group) and merge them into a lane."""
        for group in group_by_length(rows):
            cache, mask, logits = self._prefill(group)
            lane = next((lane for lane in self._lanes if lane.accepts(group)), None)
            if lane is None:
                self._lanes.append(_Lane(list(group), cache, mask))
            else:
                lane.merge(group, cache, mask)
            for r, row in enumerate(group):
                row.index_prompt()
                self._accept(row, [choose_token(row, logits[r])])
            (lane or self._lanes[-1]).drop_finished(force=True)

    def _prefill(self, rows: list[_Row]) -> tuple[DynamicCache, torch.Tensor, torch.Tensor]:
        model, device = self.model, self.model.device
        # every row keeps at least one token of its own to feed after the shared prefix
        prefix_len = shared_prefix_length([row.ids for row in rows]) if len(rows) > 1 else 0
        prefix_len = min(prefix_len, min(len(row.ids) for row in rows) - 1)
        if prefix_len < MIN_SHARED_PREFIX:
            prefix_len = 0
        cache = new_cache(model)
        if prefix_len:
            model(input_ids=torch.tensor([rows[0].ids[:prefix_len]], device=device), **self._cache_arg(cache),
                  use_cache=True, logits_to_keep=1)
            self.forward_passes += 1
            cache.batch_repeat_interleave(len(rows))
        suffixes = [row.ids[prefix_len:] for row in rows]
        width = max(len(s) for s in suffixes)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long, device=device)
        suffix_mask = torch.zeros((len(rows), width), dtype=torch.long, device=device)
        for r, suffix in enumerate(suffixes):
            input_ids[r, width - len(suffix) :] = torch.tensor(suffix, device=device)
            suffix_mask[r, width - len(suffix) :] = 1
        positions = (prefix_len + suffix_mask.cumsum(-1) - 1).clamp(min=prefix_len)
        mask = torch.cat([torch.ones((len(rows), prefix_len), dtype=torch.long, device=device), suffix_mask], dim=1)
        out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, **self._cache_arg(cache),
                    use_cache=True, logits_to_keep=1)
        self.forward_passes += 1
        for row in rows:
            row.next_position = len(row.ids)
        return cache, mask, out.logits[:, -1, :]

    def _step(self, lane: _Lane) -> None:
        """One forward pass for a lane: every row's newest token plus (maybe) a speculative draft."""
        device, rows = self.model.device, lane.rows
        drafts = [row.draft(min(MAX_DRAFT, row.request.max_new_tokens - len(row.generated) - 1))
                  if self.speculate and not row.done and not row.sampled else [] for row in rows]
        width = choose_draft_width(drafts, [row.accept_rate for row in rows])
        drafts = [d[:width] for d in drafts]
        input_ids = torch.full((len(rows), width + 1), self.pad_id, dtype=torch.long, device=device)
        step_mask = torch.zeros((len(rows), width + 1), dtype=torch.long, device=device)
        for r, (row, draft) in enumerate(zip(rows, drafts)):
            if row.done:  # waiting to be folded out: fed padding, attends to nothing new
                continue
            tokens = [row.last] + draft
            input_ids[r, : len(tokens)] = torch.tensor(tokens, device=device)
            step_mask[r, : len(tokens)] = 1
        positions = torch.tensor([row.next_position for row in rows], device=device).unsqueeze(1) + torch.arange(width + 1, device=device)
        start = lane.mask.shape[1]
        lane.mask = torch.cat([lane.mask, step_mask], dim=1)
        out = self.model(input_ids=input_ids, attention_mask=lane.mask, position_ids=positions,
                         **self._cache_arg(lane.cache), use_cache=True)
        self.forward_passes += 1
        predictions = out.logits.argmax(dim=-1).tolist()
        for r, (row, draft) in enumerate(zip(rows, drafts)):
            if row.done:
                lane.mask[r, start:] = 0
                continue
            agreed = 0
            while agreed < len(draft) and predictions[r][agreed] == draft[agreed]:
                agreed += 1
            lane.mask[r, start + agreed + 1 :] = 0  # rejected drafts and padding stay in the cache, masked
            if draft:
                row.accept_rate = 0.7 * row.accept_rate + 0.3 * (agreed / len(draft))
            row.next_position += agreed + 1
            last = choose_token(row, out.logits[r, 0]) if row.sampled else predictions[r][agreed]
            self._accept(row, draft[:agreed] + [last])
        lane.drop_finished()

    def _accept(self, row: _Row, tokens: list[int]) -> None:
        for token in tokens:
            if token in self.eos:
                return self._finish(row, "stop")
            row.append(token)
            if row.request.stop and self._hit_stop(row.generated, row.request.stop):
                return self._finish(row, "stop")
            if len(row.generated) >= row.request.max_new_tokens:
                return self._finish(row, "max_tokens")
        row.last = tokens[-1]

    def _hit_stop(self, tokens: list[int], stops: tuple[str, ...]) -> bool:
        tail = self.tokenizer.decode(tokens[-_STOP_WINDOW:], skip_special_tokens=True)
        return any(stop in tail for stop in stops)

    def _finish(self, row: _Row, reason: str) -> None:
        row.done = True
        text = self.tokenizer.decode(row.generated, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        for stop in row.request.stop:  # like an API, the stop string itself is not part of the reply
            at = text.find(stop)
            if at >= 0:
                text = text[:at]
        if not row.future.done():
            row.future.set_result(
                GenerationResult(text, reason, len(row.ids), len(row.generated), time.monotonic() - row.queued_at)
            )


class _Stopped(Exception):
    """close() was called: the worker abandons what it holds and returns."""
