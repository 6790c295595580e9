"""A compliance judge that prompts any inspect model: full compliance, full refusal or partial refusal."""

from __future__ import annotations

import re

from inspect_ai.model import Model

from ._base import JudgeResult, Verdict, register_judge
from ._compliance_labels import HARM_VERDICT, compliance_class
from ._llm import DEFAULT_RETRIES, PromptedJudge, load_judge_prompt

_CLASS_LINE = re.compile(r"^\s*[*_`]*class[*_`]*\s*[:=]\s*[*_`<\[]*\s*([a-z_ -]+?)\s*[*_`>\].]*\s*$", re.IGNORECASE)


def parse_compliance(judge_output: str) -> str | None:
    """The class on the judge's last non-empty line (`Class: full_refusal`), or None if malformed."""
    lines = [line for line in judge_output.strip().splitlines() if line.strip()]
    if not lines:
        return None
    match = _CLASS_LINE.match(lines[-1])
    return compliance_class(match.group(1)) if match else None


class LLMComplianceJudge(PromptedJudge):
    name = "compliance-llm"

    def __init__(self, judge_model: str | Model, retries: int = DEFAULT_RETRIES, prompt: str | None = None):
        def parse(text: str) -> tuple[Verdict, float | None] | None:
            found = parse_compliance(text)
            return None if found is None else (HARM_VERDICT[found], None)  # type: ignore[return-value]

        super().__init__(judge_model, prompt or load_judge_prompt(builtin="compliance_judge.txt"), parse, retries)

    def result(self, parsed: tuple[Verdict, float | None], output: str) -> JudgeResult:
        return JudgeResult(parsed[0], output.strip(), compliance=parse_compliance(output))


@register_judge("compliance-llm", needs_model=True)
def compliance_llm_judge(judge_model: str | Model, retries: int = DEFAULT_RETRIES, prompt_file: str | None = None) -> LLMComplianceJudge:
    return LLMComplianceJudge(judge_model, retries=retries, prompt=load_judge_prompt(prompt_file) if prompt_file else None)
