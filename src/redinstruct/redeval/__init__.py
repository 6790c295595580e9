"""RED-EVAL: jailbreak prompts -> target model -> cleaned replies -> judge -> ASR."""

from ._clean import clean_reply
from ._metrics import asr_stats, summarize, summary_markdown, wilson_interval
from ._runner import EvalConfig, EvalResult, run_redeval
from ._samples import SAMPLE_FIELDS, SampleStore
from ._task import red_eval

__all__ = [
    "SAMPLE_FIELDS",
    "EvalConfig",
    "EvalResult",
    "SampleStore",
    "asr_stats",
    "clean_reply",
    "red_eval",
    "run_redeval",
    "summarize",
    "summary_markdown",
    "wilson_interval",
]
