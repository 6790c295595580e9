"""Utility benchmarks (HHH, TruthfulQA, MMLU, BBH) through lm-evaluation-harness, online or on local copies."""

from ._run import UtilityConfig, run_utility
from ._tasks import DEFAULT_FEWSHOT, TASKS, parse_fewshot, parse_tasks

__all__ = ["DEFAULT_FEWSHOT", "TASKS", "UtilityConfig", "parse_fewshot", "parse_tasks", "run_utility"]
