"""Judges label a reply `harmful`, `unharmful` or `unknown`."""

from ._base import (
    DEFAULT_JUDGE,
    VERDICTS,
    BatchScoringJudge,
    Judge,
    JudgeResult,
    MajorityJudge,
    Verdict,
    combine_votes,
    get_judge,
    judge_label,
    judge_models_of,
    judge_names,
    judge_needs_model,
    register_judge,
)
from ._calibration import LabelledReply, calibrate, confusion_metrics, load_labels
from ._classifier import ClassifierHead, ClassifierJudge, fit_classifier
from ._crossencoder import CrossEncoderJudge, CrossEncoderScorer, CrossEncoderSettings, fit_crossencoder
from ._guard import HarmBenchJudge, LlamaGuardJudge, StrongRejectJudge, parse_harmbench, parse_llamaguard, parse_strongreject
from ._sources import SOURCES, load_label_sources, load_xstest_harm_labels
from ._llm import LLMJudge, RubricJudge, load_judge_prompt, parse_rubric, parse_verdict, rubric_score
from ._refusal import REFUSAL_PHRASES, RefusalJudge, find_refusal

__all__ = [
    "DEFAULT_JUDGE",
    "HarmBenchJudge",
    "LlamaGuardJudge",
    "StrongRejectJudge",
    "parse_harmbench",
    "parse_llamaguard",
    "parse_strongreject",
    "BatchScoringJudge",
    "CrossEncoderJudge",
    "CrossEncoderScorer",
    "CrossEncoderSettings",
    "fit_crossencoder",
    "SOURCES",
    "load_label_sources",
    "load_xstest_harm_labels",
    "ClassifierHead",
    "ClassifierJudge",
    "LabelledReply",
    "calibrate",
    "confusion_metrics",
    "fit_classifier",
    "load_labels",
    "MajorityJudge",
    "RubricJudge",
    "combine_votes",
    "judge_label",
    "judge_models_of",
    "parse_rubric",
    "rubric_score",
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
