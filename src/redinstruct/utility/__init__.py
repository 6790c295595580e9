"""Utility benchmarks (HHH, TruthfulQA, MMLU, BBH) through lm-evaluation-harness, online or on local copies."""

from ._run import UtilityConfig, run_utility
from ._tasks import DEFAULT_FEWSHOT, TASKS, parse_fewshot, parse_tasks
from ._report import compare_rows, load_result, result_rows, settings_differences

__all__ = [
    "compare_rows",
    "load_result",
    "result_rows",
    "settings_differences","DEFAULT_FEWSHOT", "TASKS", "UtilityConfig", "parse_fewshot", "parse_tasks", "run_utility"]
