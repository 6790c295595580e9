"""What every judge returns, and the registry that resolves judge names from the CLI."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol, Sequence

from .._defaults import DEFAULT_COMPLIANCE_JUDGE, DEFAULT_JUDGE  # noqa: F401  (re-exported)
from ..errors import JudgeError

Verdict = Literal["harmful", "unharmful", "unknown"]
VERDICTS: tuple[Verdict, ...] = ("harmful", "unharmful", "unknown")
HARMFUL, UNHARMFUL, UNKNOWN = VERDICTS  # the three-valued verdict, defined here once


@dataclass(frozen=True)
class JudgeResult:
    verdict: Verdict
    rationale: str = ""
    error: str | None = None
    score: float | None = None  # a judge's graded score (e.g. the rubric judge's 0-1), where it has one
    categories: tuple[str, ...] = ()  # hazard categories a guard model named (e.g. Llama Guard's S1, S9)
    compliance: str | None = None  # a compliance judge's class: full_compliance / full_refusal / partial_refusal


class Judge(Protocol):
    """Labels one (question, cleaned reply) pair."""

    name: str

    async def __call__(self, question: str, response: str) -> JudgeResult: ...


JudgeFactory = Callable[..., Judge]
_JUDGES: dict[str, tuple[JudgeFactory, bool]] = {}


def register_judge(name: str, *, needs_model: bool = False) -> Callable[[JudgeFactory], JudgeFactory]:
    """Decorator: make a judge factory resolvable by name (`--judge NAME`)."""

    def decorate(factory: JudgeFactory) -> JudgeFactory:
        _JUDGES[name] = (factory, needs_model)
        return factory

    return decorate


def judge_names() -> list[str]:
    return sorted(_JUDGES)


def judge_needs_model(name: str) -> bool:
    if name not in _JUDGES:
        raise JudgeError(f"unknown judge '{name}': use one of {', '.join(judge_names())}")
    return _JUDGES[name][1]


def judge_models_of(judge_model: str | Sequence[str] | None) -> list[str]:
    """`--judge-model` as a list: one name, several, or a comma-separated string."""
    if judge_model is None:
        return []
    items = [judge_model] if isinstance(judge_model, str) else list(judge_model)
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def judge_label(name: str, judge_model: str | Sequence[str] | None) -> str:
    """How a run records its judge: `refusal`, `llm:openai/gpt-4o`, `llm:m1+m2`."""
    models = judge_models_of(judge_model)
    return f"{name}:{'+'.join(models)}" if models else name


class MajorityJudge:
    """Several judge models vote; the most common verdict wins and a tie is `unknown`."""

    def __init__(self, name: str, judges: Sequence[Judge]):
        self.name = name
        self.judges = list(judges)

    async def __call__(self, question: str, response: str) -> JudgeResult:
        results = await asyncio.gather(*(j(question, response) for j in self.judges))
        return combine_votes(results, [getattr(j, "model_name", j.name) for j in self.judges])


def combine_votes(results: Sequence[JudgeResult], voters: Sequence[str]) -> JudgeResult:
    """Majority of the verdicts (of the compliance classes, for compliance judges); a tie is unknown."""
    by_class = any(r.compliance for r in results)

    def key(r: JudgeResult) -> str:
        return (r.compliance or "unknown") if by_class else r.verdict

    counts = Counter(key(r) for r in results).most_common()
    top, top_votes = counts[0]
    tie = len(counts) > 1 and counts[1][1] == top_votes
    winner = next(r for r in results if key(r) == top)
    verdict: Verdict = "unknown" if tie else winner.verdict
    compliance = None if tie or not by_class or top == "unknown" else top
    rationale = "\n\n".join(f"[{voter}: {key(r)}] {r.rationale}".strip() for voter, r in zip(voters, results))
    scores = [r.score for r in results if r.score is not None]
    errors = [f"{voter}: {r.error}" for voter, r in zip(voters, results) if r.error]
    error = None
    if tie:
        error = "judges tied: " + ", ".join(f"{v} {c}" for v, c in counts)
    elif verdict == "unknown":
        error = "; ".join(errors) or "most judges gave no verdict"
    categories = tuple(dict.fromkeys(c for r in results if key(r) == top for c in r.categories))
    return JudgeResult(verdict, rationale, error, sum(scores) / len(scores) if scores else None, categories, compliance)


def get_judge(
    name: str, judge_model: str | Sequence[str] | None = None, threshold: float | None = None, **options: Any
) -> Judge:
    """Build judge `name`; judges that need a model get `judge_model` (several models vote).

    `threshold` is the score at which a graded judge (rubric, classifier) says harmful.
    """
    from ._inference import asked_precision

    asked_precision()
    models = judge_models_of(judge_model)
    if threshold is not None:
        import inspect as pyinspect

        if name in _JUDGES and "threshold" not in pyinspect.signature(_JUDGES[name][0]).parameters:
            raise JudgeError(f"judge '{name}' has no score threshold")
        options["threshold"] = threshold
    if judge_needs_model(name):
        if not models:
            raise JudgeError(f"judge '{name}' needs a judge model: pass --judge-model (e.g. openai/gpt-4o)")
        if len(models) == 1:
            return _JUDGES[name][0](judge_model=models[0], **options)
        return MajorityJudge(name, [_JUDGES[name][0](judge_model=m, **options) for m in models])
    if models:
        import inspect as pyinspect

        if "judge_model" not in pyinspect.signature(_JUDGES[name][0]).parameters:
            raise JudgeError(f"judge '{name}' takes no --judge-model")
        if len(models) > 1:
            raise JudgeError(f"judge '{name}' takes one --judge-model")
        options["judge_model"] = models[0]  # e.g. a fitted classifier's folder
    return _JUDGES[name][0](**options)


class BatchScoringJudge:
    """An offline judge that scores many (question, reply) pairs in one pass.

    Subclasses define `score`. Concurrent calls share passes: calls that arrive while a pass runs
    are scored together in the next one (one embedding pass of 64 replies costs a few single
    ones). One pass runs at a time in the process: torch already uses every core, and concurrent
    passes (several tasks, each with its own judge) would only oversubscribe them.
    """

    name = "batch"
    max_batch = 64
    _lock = threading.Lock()

    def score(self, questions: Sequence[str], responses: Sequence[str]) -> list[JudgeResult]:
        raise NotImplementedError

    def warm_up(self) -> None:
        """Load the weights now, not when the first reply waits for them."""
        self._locked_score(["warm-up"], ["warm-up"])

    def _locked_score(self, questions: Sequence[str], responses: Sequence[str]) -> list[JudgeResult]:
        with BatchScoringJudge._lock:
            return self.score(questions, responses)

    async def __call__(self, question: str, response: str) -> JudgeResult:
        if not response.strip():
            return JudgeResult("unknown", error="empty reply")
        loop = asyncio.get_running_loop()
        if getattr(self, "_queue_loop", None) is not loop:  # a queue belongs to the loop its futures live on
            self._queue: list[tuple[str, str, asyncio.Future[JudgeResult]]] = []
            self._queue_loop, self._flushing = loop, False
        future: asyncio.Future[JudgeResult] = loop.create_future()
        self._queue.append((question, response, future))
        if not self._flushing:
            self._flushing = True
            loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # let the calls of this loop iteration join the first pass
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    results = await asyncio.to_thread(self._locked_score, [q for q, _, _ in batch], [r for _, r, _ in batch])
                except Exception as ex:  # every caller of the pass sees the failure
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(ex)
                    continue
                for (_, _, future), result in zip(batch, results):
                    if not future.done():  # a caller may have been cancelled meanwhile
                        future.set_result(result)
        finally:
            self._flushing = False

    async def judge_batch(self, pairs: Sequence[tuple[str, str]]) -> list[JudgeResult]:
        """All pairs in one pass (calibration); empty replies are unknown."""
        keep = [i for i, (_, r) in enumerate(pairs) if r.strip()]
        results: list[JudgeResult] = [JudgeResult("unknown", error="empty reply") for _ in pairs]
        if keep:
            scored = await asyncio.to_thread(self._locked_score, [pairs[i][0] for i in keep], [pairs[i][1] for i in keep])
            for i, result in zip(keep, scored):
                results[i] = result
        return results
