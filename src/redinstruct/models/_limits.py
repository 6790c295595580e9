"""Request limits every target shares: retries, timeouts, and the run's number of connections."""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Iterator

ENGINE_ARG = "engine"  # -M engine=local|client|inspect
DEFAULT_MAX_CONNECTIONS = 10  # inspect's default per model API
# retries of transient API errors and the request timeout (inspect retries forever unless told otherwise)
API_MAX_RETRIES = 6
API_TIMEOUT_S = 600
# a run's --max-connections, for the targets it opens without a number of their own (LLM judges keep pace)
_RUN_MAX_CONNECTIONS: ContextVar[int | None] = ContextVar("redinstruct_max_connections", default=None)


@contextlib.contextmanager
def run_connections(max_connections: int | None) -> Iterator[None]:
    """Targets opened inside this block without a number of their own allow `max_connections` requests at once."""
    token = _RUN_MAX_CONNECTIONS.set(max_connections)
    try:
        yield
    finally:
        _RUN_MAX_CONNECTIONS.reset(token)


def run_max_connections(default: int = DEFAULT_MAX_CONNECTIONS) -> int:
    return _RUN_MAX_CONNECTIONS.get() or default
