"""HARMFULQA generation (RED-INSTRUCT phase 1): topics, subtopics, CoU questions, blue and red conversations."""

from ._parse import filter_questions, parse_conversation, parse_list, similarity
from ._pipeline import GenerateSettings, generate_harmfulqa, load_prompt, write_outputs
from ._stats import generation_stats
from ._store import STAGES
from ._distill import DistillSettings, distill
from ._wrap import WRAPPERS, check_wrappers
from ._pipeline import stage_summary_lines
from ._stats import dump

__all__ = [
    "DistillSettings",
    "WRAPPERS",
    "check_wrappers",
    "distill",
    "stage_summary_lines",
    "dump",
    "STAGES",
    "GenerateSettings",
    "filter_questions",
    "generate_harmfulqa",
    "generation_stats",
    "load_prompt",
    "parse_conversation",
    "parse_list",
    "similarity",
    "write_outputs",
]
