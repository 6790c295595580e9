"""redinstruct: red-teaming and safety alignment for LLMs (RED-EVAL, HARMFULQA, SAFE-ALIGN)."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Loaded on first use, so `import redinstruct.safealign` (training) or `redinstruct.utility` does not pull
# in inspect_ai, and the CLI starts faster.
_EXPORTS = {
    "Question": "data",
    "QuestionBank": "data",
    "load_questions": "data",
    "RedInstructError": "errors",
    "JudgeResult": "judges",
    "get_judge": "judges",
    "load_template": "prompts",
    "EvalConfig": "redeval",
    "EvalResult": "redeval",
    "clean_reply": "redeval",
    "red_eval": "redeval",
    "run_redeval": "redeval",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'redinstruct' has no attribute {name!r}")
