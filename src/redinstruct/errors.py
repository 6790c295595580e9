"""Errors the CLI prints as one line: the user's input is wrong (exit 2), or a run could not do its work (exit 1)."""

from __future__ import annotations

import re

# control characters (line breaks, terminal escapes) that a message may quote from a file, a reply or a server
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def one_line(message: str) -> str:
    """`message` as one line: line breaks and other control characters it quotes shown as escapes (\\n, \\x1b)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], message)


class RedInstructError(Exception):
    """A problem the user can fix (bad name, bad file, unreachable API); shown without a traceback, on one line."""

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(str(message)))


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
