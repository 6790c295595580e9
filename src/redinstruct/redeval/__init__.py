"""RED-EVAL: jailbreak prompts -> target model -> cleaned replies -> judge -> ASR."""

from ._clean import clean_reply
from ._metrics import asr_stats, summarize, summary_markdown, template_rank, wilson_interval
from ._record import SAMPLE_FIELDS, SampleKey, SampleRecord, is_retryable, sample_key
from ._runner import EvalConfig, EvalResult, run_redeval
from ._samples import SampleStore, SampleWriter, append_sample
from ._task import red_eval

__all__ = [
    "SAMPLE_FIELDS",
    "EvalConfig",
    "EvalResult",
    "SampleKey",
    "SampleRecord",
    "SampleStore",
    "SampleWriter",
    "append_sample",
    "is_retryable",
    "sample_key",
    "template_rank",
    "asr_stats",
    "clean_reply",
    "red_eval",
    "run_redeval",
    "summarize",
    "summary_markdown",
    "wilson_interval",
]
