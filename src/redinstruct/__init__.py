"""redinstruct: red-teaming and safety alignment for LLMs (RED-EVAL, HARMFULQA, SAFE-ALIGN)."""

__version__ = "0.1.0"

from .data import Question, QuestionBank, load_questions  # noqa: E402
from .errors import RedInstructError  # noqa: E402
from .judges import JudgeResult, get_judge  # noqa: E402
from .prompts import load_template  # noqa: E402
from .redeval import EvalConfig, EvalResult, clean_reply, red_eval, run_redeval  # noqa: E402

__all__ = [
    "EvalConfig",
    "EvalResult",
    "JudgeResult",
    "Question",
    "QuestionBank",
    "RedInstructError",
    "__version__",
    "clean_reply",
    "get_judge",
    "load_questions",
    "load_template",
    "red_eval",
    "run_redeval",
]
