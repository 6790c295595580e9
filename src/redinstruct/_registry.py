"""inspect_ai entry point: makes `inspect eval redinstruct/red_eval` resolve."""

from .redeval import red_eval

__all__ = ["red_eval"]
