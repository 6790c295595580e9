"""Judges label a reply `harmful`, `unharmful` or `unknown`."""

from ._base import VERDICTS, Judge, JudgeResult, Verdict, get_judge, judge_names, judge_needs_model, register_judge
from ._llm import LLMJudge, load_judge_prompt, parse_verdict
from ._refusal import REFUSAL_PHRASES, RefusalJudge, find_refusal

__all__ = [
    "REFUSAL_PHRASES",
    "VERDICTS",
    "Judge",
    "JudgeResult",
    "LLMJudge",
    "RefusalJudge",
    "Verdict",
    "find_refusal",
    "get_judge",
    "judge_names",
    "judge_needs_model",
    "load_judge_prompt",
    "parse_verdict",
    "register_judge",
]
