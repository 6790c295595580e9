"""Question banks: loaders for the paper's formats and the named-dataset registry."""

from ._files import parse_csv, read_data_file, read_text_file
from ._loaders import QuestionBank, load_question_file
from ._question import Question, content_id, normalize_text
from ._prompts import load_prompt_sources, load_prompt_texts
from ._registry import DATASETS, dataset_path, load_questions

__all__ = [
    "DATASETS",
    "Question",
    "QuestionBank",
    "content_id",
    "dataset_path",
    "load_prompt_sources",
    "load_prompt_texts",
    "load_question_file",
    "load_questions",
    "normalize_text",
    "parse_csv",
    "read_data_file",
    "read_text_file",
]
