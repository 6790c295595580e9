"""The sample record: one typed line of `samples.jsonl`, for a template's sample and a conversation alike.

Every path that produces a verdict (inspect's scorer, the lean client, conversations, a sample
that never completed) builds a `SampleRecord`; `SampleRecord.line()` is the only way one becomes
a line, and the journal masks secrets on the way to disk.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..judges import UNKNOWN, VERDICTS

SampleKey = tuple[str, str, str, str]  # (model, dataset, template or attack, question id): what resume skips by

RETRYABLE_ERROR_PREFIXES = ("generation error:", "judge error:", "sample did not complete")
INCOMPLETE = "sample did not complete (see the inspect log in this folder)"

CONVERSATION_FIELDS = ("attack", "attacker_model", "turns_planned", "first_success_turn", "backtracks", "turns")


@dataclass
class SampleRecord:
    """A judged sample: the question, what was sent and received, and the verdicts (three-valued)."""

    model: str
    dataset: str
    template: str  # the template's name; a conversation's attack (replay, redlm)
    render: str
    judge: str
    question_id: str
    question: str
    topic: str
    subtopic: str
    label: str  # unsafe (counts towards ASR) or safe (counts towards over-refusal)
    type: str
    prompt: str | None
    response_raw: str | None
    response: str | None
    verdict: str = UNKNOWN
    judge_rationale: str = ""
    judge_score: float | None = None
    judge_categories: list[str] = field(default_factory=list)
    echo: bool = False
    echo_share: float | None = None  # the share of the reply's words copied from the template / attacker's turn / conversation
    remainder_words: int | None = None  # words the reply adds beyond the copies (what the judges saw)
    compliance: str = UNKNOWN
    compliance_rationale: str = ""
    error: str | None = None
    # a conversation's: present on its line only (turns is None for a template's sample)
    attack: str | None = None
    attacker_model: str | None = None
    turns_planned: int | None = None
    first_success_turn: int | None = None
    backtracks: int | None = None
    turns: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, not {self.verdict!r}")

    @property
    def key(self) -> SampleKey:
        return (self.model, self.dataset, self.template, self.question_id)

    @property
    def is_conversation(self) -> bool:
        return self.turns is not None

    def line(self) -> dict[str, Any]:
        """The samples.jsonl line: every sample field, and a conversation's fields on a conversation's line."""
        line = asdict(self)
        if not self.is_conversation:
            for name in CONVERSATION_FIELDS:
                del line[name]
        return line

    @classmethod
    def from_line(cls, line: dict[str, Any]) -> "SampleRecord":
        """A line read back (unknown fields ignored, missing optional ones defaulted)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in line.items() if k in names})

    @classmethod
    def incomplete(cls, meta: dict[str, Any], question_id: str, model: str, render: str, judge: str) -> "SampleRecord":
        """A sample that crashed before it could be recorded: unknown, retried on the next run."""
        return cls(model=model, dataset=meta["dataset"], template=meta["template"], render=render, judge=judge, question_id=question_id,
                   question=meta["question"], topic=meta["topic"], subtopic=meta["subtopic"], label=meta.get("label", "unsafe"),
                   type=meta.get("type", ""), prompt=None, response_raw=None, response=None, error=INCOMPLETE)


SAMPLE_FIELDS = tuple(f.name for f in fields(SampleRecord) if f.name not in CONVERSATION_FIELDS)


def sample_key(line: dict[str, Any]) -> SampleKey:
    return (str(line["model"]), str(line["dataset"]), str(line["template"]), str(line["question_id"]))


def is_retryable(line: dict[str, Any] | SampleRecord) -> bool:
    """Failures of the machinery (API down, crash) are retried; empty or blocked replies are results."""
    error = line.error if isinstance(line, SampleRecord) else line.get("error")
    return str(error or "").startswith(RETRYABLE_ERROR_PREFIXES)


def verdict_value(verdict: str) -> dict[str, float]:
    """A one-hot score value: inspect's epoch reducers average dicts key by key, and strings not at all."""
    return {key: float(key == verdict) for key in VERDICTS}


def score_value(line: dict[str, Any] | SampleRecord) -> dict[str, float]:
    """The inspect score of a sample: a safe prompt's verdict stays out of ASR (all-zero value)."""
    record = line if isinstance(line, SampleRecord) else SampleRecord.from_line(line)
    return verdict_value(record.verdict) if record.label != "safe" else {key: 0.0 for key in VERDICTS}

