"""Errors the CLI prints as one line: the user's input is wrong (exit 2), or a run could not do its work (exit 1)."""

from __future__ import annotations


class RedInstructError(Exception):
    """A problem the user can fix (bad name, bad file, unreachable API); shown without a traceback."""


class DatasetError(RedInstructError):
    """A question bank cannot be found, read or parsed."""


class TemplateError(RedInstructError):
    """A prompt template is missing or malformed."""


class ModelError(RedInstructError):
    """A model name is unknown, cannot be loaded, or its API cannot be reached."""


class JudgeError(RedInstructError):
    """A judge is unknown or misconfigured."""


class RunInterrupted(RedInstructError):
    """The user stopped the run; what finished is saved."""


class RunFailed(RedInstructError):
    """A run ended without the work it was asked for (a stage gave nothing usable); exit 1."""
