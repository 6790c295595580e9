"""Tries at one unit of HARMFULQA work: an unusable reply is retried with sampling, every raw reply kept.

A unit (a topic list, a subtopic list, a question list, a conversation, a red reply) is done only
when its reply is usable. Attempt 0 uses the generator's own settings; every later attempt is
sampled at the run's temperature with a seed derived from the unit's key and the attempt number,
so it differs from the attempts before it and can be replayed. Attempt numbers carry on across
reruns: a unit that failed last time gets fresh seeds, never a replay of what already failed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

# why a reply is not usable; generation errors end a unit's tries at once (the model layer has
# already retried transient ones), the others are retried
GENERATION_ERROR = "generation_error"
UNPARSEABLE = "unparseable"
EMPTY = "empty"
REFUSED = "refused"
PROBLEMS = (REFUSED, UNPARSEABLE, EMPTY, GENERATION_ERROR)
DEFAULT_RETRIES = 3
RETRY_TEMPERATURE = 0.7  # for generators whose first attempt is greedy (local models)


def attempt_seed(key: str, number: int) -> int:
    """A stable seed for attempt `number` of unit `key` (31 bits: every API accepts it)."""
    return zlib.crc32(f"{key}#{number}".encode()) & 0x7FFFFFFF


@dataclass(frozen=True)
class Attempt:
    number: int
    temperature: float | None  # None: the generator's default (attempt 0)
    seed: int | None


@dataclass
class Try:
    """What one attempt gave: a value when usable, else the problem; the raw reply either way."""

    value: Any = None
    problem: str | None = None
    raw: str = ""
    error: str | None = None


@dataclass
class UnitTries:
    """The attempts of one unit, numbered on from those of earlier runs."""

    key: str
    retries: int
    temperature: float
    next_number: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)

    def plan(self, sampled: bool) -> Attempt:
        number = self.next_number
        self.next_number += 1
        if not sampled:
            return Attempt(number, None, None)
        return Attempt(number, self.temperature, attempt_seed(self.key, number))

    async def run(self, attempt_once: Callable[[Attempt], Awaitable[Try]], part: str | None = None) -> Try:
        """Up to 1 + retries attempts, stopping at the first usable reply or a generation error.

        Only the very first attempt at a part (in any run) uses the generator's own settings.
        """
        result = Try(problem=EMPTY)
        tried_before = any(entry.get("part") == part for entry in self.log)
        for k in range(self.retries + 1):
            attempt = self.plan(sampled=tried_before or k > 0)
            result = await attempt_once(attempt)
            entry: dict[str, Any] = {"attempt": attempt.number, "seed": attempt.seed, "temperature": attempt.temperature,
                                     "problem": result.problem, "raw": result.raw}
            if part is not None:
                entry["part"] = part
            if result.error:
                entry["error"] = result.error
            self.log.append(entry)
            if result.problem in (None, GENERATION_ERROR):
                break
        return result


def previous_attempts(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    return list(record.get("attempts") or []) if record else []


def is_finished(record: dict[str, Any] | None) -> bool:
    """A unit is finished when its stored record is usable (older records: no error, nothing dropped, not empty)."""
    if record is None:
        return False
    if "status" in record:
        return record["status"] == "done"
    payload = any(record.get(name) for name in ("topics", "subtopics", "candidates", "turns"))
    return payload and not record.get("error") and not record.get("dropped")
