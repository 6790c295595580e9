"""Errors that mean "the user's input is wrong": the CLI prints them as one line and exits 2."""

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
