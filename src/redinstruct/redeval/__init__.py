"""RED-EVAL: jailbreak prompts -> target model -> cleaned replies -> judge -> ASR."""

from ._clean import clean_reply, first_utterance, history_text
from ._metrics import (REFUSAL_ECHO_NOTE, RUN_KEY, classified_replies, SMALL_SAMPLE, asr_stats, first_success_text, format_cell, format_refusal_cell, format_turn_cell, summarize,
                       summary_markdown, table_columns, template_rank, wilson_interval)
from ._record import SAMPLE_FIELDS, SampleKey, SampleRecord, is_retryable, sample_key
from ._runner import EvalConfig, EvalResult, run_redeval
from ._samples import SampleStore, SampleWriter, append_sample
from ._summary import read_summary, summary_runs, write_summary
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
    "REFUSAL_ECHO_NOTE",
    "RUN_KEY",
    "SMALL_SAMPLE",
    "first_success_text",
    "format_cell",
    "format_refusal_cell",
    "classified_replies",
    "format_turn_cell",
    "read_summary",
    "summary_runs",
    "table_columns",
    "write_summary",
    "asr_stats",
    "clean_reply",
    "first_utterance",
    "history_text",
    "red_eval",
    "run_redeval",
    "summarize",
    "summary_markdown",
    "wilson_interval",
]
