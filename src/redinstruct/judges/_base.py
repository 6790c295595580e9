"""What every judge returns, and the registry that resolves judge names from the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol

from ..errors import JudgeError

Verdict = Literal["harmful", "unharmful", "unknown"]
VERDICTS: tuple[Verdict, ...] = ("harmful", "unharmful", "unknown")


@dataclass(frozen=True)
class JudgeResult:
    verdict: Verdict
    rationale: str = ""
    error: str | None = None


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


def get_judge(name: str, judge_model: str | None = None, **options: Any) -> Judge:
    """Build judge `name`; judges that need a model get `judge_model`."""
    if judge_needs_model(name):
        if not judge_model:
            raise JudgeError(f"judge '{name}' needs a judge model: pass --judge-model (e.g. openai/gpt-4o)")
        return _JUDGES[name][0](judge_model=judge_model, **options)
    return _JUDGES[name][0](**options)
