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
from queue import Empty, Queue
from typing import Any, Sequence

import torch
from transformers import DynamicCache

from ._engine_parts import (GenerationRequest, GenerationResult, Lane, MAX_DRAFT, MIN_SHARED_PREFIX, Row, choose_draft_width, choose_token, group_by_length, new_cache, shared_prefix_length)

# how long the worker waits for more requests to arrive together before starting
GATHER_S = 0.2
# a few waiting rows are admitted into a running batch once they have waited this long
STRAGGLER_S = 1.0
# tokens decoded from the end of a reply to look for a stop string
_STOP_WINDOW = 24

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
        self._queue: Queue[Row] = Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._lanes: list[Lane] = []
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
            self._queue.put(Row(request, future, list(ids), time.monotonic()))
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
        waiting: list[Row] = []
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

    def _take(self, waiting: list[Row], timeout: float | None) -> None:
        item = self._queue.get(timeout=timeout) if timeout != 0 else self._queue.get_nowait()
        if item is not _STOP:
            waiting.append(item)

    def _cycle(self, waiting: list[Row]) -> list[Row]:
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

    def _drain(self) -> list[Row]:
        rows = []
        while True:
            try:
                item = self._queue.get_nowait()
            except Empty:
                return rows
            if item is not _STOP:
                rows.append(item)

    def _guarded(self, work: Any, rows: list[Row], lane: Lane | None) -> None:
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

    def _admit(self, rows: list[Row]) -> None:
        """Prefill new prompts (one shared-prefix pass per group) and merge them into a lane."""
        for group in group_by_length(rows):
            cache, mask, logits = self._prefill(group)
            lane = next((lane for lane in self._lanes if lane.accepts(group)), None)
            if lane is None:
                self._lanes.append(Lane(list(group), cache, mask))
            else:
                lane.merge(group, cache, mask)
            for r, row in enumerate(group):
                row.index_prompt()
                self._accept(row, [choose_token(row, logits[r])])
            (lane or self._lanes[-1]).drop_finished(force=True)

    def _prefill(self, rows: list[Row]) -> tuple[DynamicCache, torch.Tensor, torch.Tensor]:
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

    def _step(self, lane: Lane) -> None:
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

    def _accept(self, row: Row, tokens: list[int]) -> None:
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

    def _finish(self, row: Row, reason: str) -> None:
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
