"""Progress for long work: a bar that moves per unit on a terminal, a line per batch of units in a log."""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import IO, Any

from .errors import one_line

# in a log: a line every tenth of the work, and at least every this many seconds while units finish
LINE_EVERY_S = 30.0


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Count finished units of `total` under `label`; thread-safe, writes to stderr by default.

    On a terminal: a tqdm bar updated per unit. Otherwise (a file, a CI log): a line such as
    `[eval] smollm2: 12/48 samples (25%), 0.8 samples/s, ETA 45 s` after each tenth of the work
    (or LINE_EVERY_S), and a last line with the total time.
    """

    def __init__(self, label: str, total: int, unit: str = "sample", stream: IO[str] | None = None,
                 terminal: bool | None = None) -> None:
        self.label, self.total, self.unit = one_line(label), max(0, total), unit  # a model's name may hold terminal escapes
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.done = 0
        self.started = time.monotonic()
        self._last_line_at, self._last_line_done = self.started, 0
        self._step = max(1, math.ceil(self.total / 10))
        self._lock = threading.Lock()
        self._closed = False
        self._bar: Any = None
        if self.terminal and self.total:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, desc=self.label, unit=f" {unit}s", file=self.stream, dynamic_ncols=True, leave=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _plural(self, n: int) -> str:
        return self.unit if n == 1 else f"{self.unit}s"

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        text = f"[{self.label}] {self.done}/{self.total} {self._plural(self.total)}{share}"
        if self.done and rate > 0:
            text += f", {rate:.2f} {self.unit}s/s" if rate >= 0.1 else f", {elapsed / self.done:.1f} s/{self.unit}"
            if self.done < self.total:
                text += f", ETA {_duration((self.total - self.done) / rate)}"
        if self.done >= self.total:
            text += f", done in {_duration(elapsed)}"
        return text

    def advance(self, n: int = 1) -> None:
        with self._lock:
            if self._closed:
                return
            self.done += n
            if self._bar is not None:
                self._bar.update(n)
                return
            now = time.monotonic()
            due = self.done - self._last_line_done >= self._step or now - self._last_line_at >= LINE_EVERY_S
            if due or self.done >= self.total:
                self._last_line_at, self._last_line_done = now, self.done
                print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._bar is not None:
                self._bar.close()
            elif self.done != self._last_line_done:
                print(self.line(), file=self.stream, flush=True)


class LogTqdm:
    """The slice of tqdm's interface that libraries use (total, update, close, iteration), as Progress lines.

    For libraries that draw their own tqdm bars (lm-eval), whose carriage-return updates make one
    endless line in a log file.
    """

    def __init__(self, iterable: Any = None, total: int | None = None, desc: str | None = None,
                 disable: bool = False, label_prefix: str = "", **_: Any) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.progress = None if disable else Progress(label_prefix + (desc or "working"), total or 0, unit="item", terminal=False)

    def __iter__(self) -> Any:
        for item in self.iterable or ():
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> "LogTqdm":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        if self.progress is not None:
            self.progress.advance(n)

    def set_description(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()
