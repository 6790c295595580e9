"""A lean async client for OpenAI-compatible servers (vLLM, TGI, llama.cpp, LM Studio, hosted APIs).

inspect's model layer spends ~10-50 ms of CPU per request (pydantic models, transcript events,
the openai SDK); against a server that answers hundreds of requests at once that is the
bottleneck. This client sends the same chat or completions request with one pooled aiohttp
session, retries what inspect would retry, and returns only what RED-EVAL records. (httpx,
under the openai SDK, hands pooled connections out slowly beyond ~64 of them: at 128
connections its second wave of requests trickled out over 3.5 s; docs/benchmarks.md.)
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

from .._secrets import redact
from ..errors import ModelError
from ._resolve import ModelSpec

# providers this client serves unless told otherwise (inspect's provider stays one -M away)
_DEFAULT_CLIENT = frozenset({"openai-api", "openai-api-completions", "vllm", "vllm-completions"})
# also on request (`-M engine=client`): OpenAI's own API speaks the same chat completions
_CHOOSABLE_CLIENT = _DEFAULT_CLIENT | {"openai"}
# -M arguments this client understands (any other one needs inspect's provider)
_CLIENT_ARGS = frozenset({"engine", "base_url", "api_key"})
_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
MAX_BACKOFF_S = 60.0


@dataclass
class Completion:
    text: str
    stop_reason: str  # inspect's names: stop, max_tokens, content_filter, unknown
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""
    response_id: str = ""
    seconds: float = 0.0  # the successful attempt's wall time


@dataclass(frozen=True)
class Endpoint:
    """Where and how to send requests for one model."""

    base_url: str
    model: str  # the name the server knows (`target` in openai-api/local/target)
    api_key_variable: str | None  # read at request time, never stored in results
    completions: bool  # /completions (raw text) instead of /chat/completions
    api_key: str | None = field(default=None, repr=False, compare=False)  # given as -M api_key (masked wherever written)

    @property
    def url(self) -> str:
        """The request URL, without userinfo (sent as a header instead: aiohttp refuses both at once)."""
        parts = urlsplit(self.base_url)
        host = parts.netloc.rsplit("@", 1)[-1]
        base = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
        return base.rstrip("/") + ("/completions" if self.completions else "/chat/completions")

    def basic_auth(self) -> str | None:
        """`Basic ...` from the URL's user:password, for a server behind a proxy that asks for it."""
        parts = urlsplit(self.base_url)
        if parts.username is None and parts.password is None:
            return None
        token = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
        return "Basic " + base64.b64encode(token).decode()


def _service_variables(spec: ModelSpec) -> tuple[str | None, str | None, str]:
    """(base URL variable, key variable, model name the server knows) for a spec, as inspect reads them."""
    provider = spec.provider
    rest = spec.inspect_name.split("/", 1)[1] if "/" in spec.inspect_name else ""
    if provider.startswith("openai-api"):
        service, _, model = rest.partition("/")
        env = service.upper().replace("-", "_")
        return f"{env}_BASE_URL", f"{env}_API_KEY", model
    if provider.startswith("vllm"):
        return "VLLM_BASE_URL", "VLLM_API_KEY", rest
    if provider == "openai":
        return "OPENAI_BASE_URL", "OPENAI_API_KEY", rest
    return None, None, rest


def server_endpoint(spec: ModelSpec, chosen: bool = False) -> Endpoint | None:
    """The server this client would send `spec`'s requests to; None when inspect's provider should serve it.

    By default: `openai-api/<service>/<model>` and `vllm/<model>` with a server URL (VLLM_BASE_URL or
    -M base_url; without one, inspect starts vLLM itself), unless other -M arguments need inspect's
    provider. `chosen` (-M engine=client) adds `openai/` models and turns a reason to fall back into an error.
    """
    if spec.provider not in (_CHOOSABLE_CLIENT if chosen else _DEFAULT_CLIENT):
        if chosen:
            raise ModelError(f"-M engine=client is not available for '{spec.name}': it speaks only OpenAI-compatible APIs")
        return None
    extra = sorted(set(spec.model_args) - _CLIENT_ARGS)
    if extra:
        if chosen:
            raise ModelError(f"-M {', '.join(extra)} needs inspect's provider for '{spec.name}': drop -M engine=client")
        return None  # arguments only inspect's provider understands: let it serve the model
    url_variable, key_variable, model = _service_variables(spec)
    base_url = spec.model_args.get("base_url") or (os.environ.get(url_variable) if url_variable else None)
    if spec.provider == "openai" and not base_url:
        base_url = "https://api.openai.com/v1"
    if not base_url:
        if spec.provider.startswith("vllm") and not chosen:
            return None  # inspect starts a vLLM server in this process
        raise ModelError(f"model '{spec.name}' needs a server URL: set {url_variable} in the environment")
    api_key = spec.model_args.get("api_key")
    return Endpoint(str(base_url), model, key_variable, spec.provider.endswith("-completions"), str(api_key) if api_key else None)


class GenerationError(Exception):
    """A request that failed for good (after retries, or an error a retry cannot mend)."""


@dataclass
class OpenAIHTTPClient:
    """One pooled connection set per endpoint; `max_connections` requests in flight at most."""

    endpoint: Endpoint
    max_connections: int = 10
    max_retries: int = 6
    timeout_s: float = 600.0
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)
    _loop: Any = field(default=None, init=False, repr=False)
    _slots: asyncio.Semaphore | None = field(default=None, init=False, repr=False)
    _closer: Any = field(default=None, init=False, repr=False)

    async def _ensure(self) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop:  # a session belongs to the loop that made it
            connector = aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=self.max_connections)
            self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout_s, connect=30.0))
            self._slots = asyncio.Semaphore(self.max_connections)
            self._loop = loop
            # closed when its loop ends (asyncio.run finalizes async generators), so a judge's
            # client used inside someone else's loop (inspect's) leaves no open connections behind
            self._closer = _close_at_loop_end(self._session)
            await self._closer.__anext__()
        assert self._slots is not None
        return self._session, self._slots

    async def aclose(self) -> None:
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = self.endpoint.api_key or (os.environ.get(self.endpoint.api_key_variable) if self.endpoint.api_key_variable else None)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        elif (basic := self.endpoint.basic_auth()) is not None:
            headers["Authorization"] = basic
        return headers

    def request_body(self, prompt: str | list[dict[str, str]], max_tokens: int, temperature: float | None,
                     stop: list[str] | None, seed: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.endpoint.model, "max_tokens": max_tokens}
        if self.endpoint.completions:
            body["prompt"] = prompt if isinstance(prompt, str) else "".join(m["content"] for m in prompt)
        else:
            body["messages"] = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        if temperature is not None:
            body["temperature"] = temperature
        if stop:
            body["stop"] = stop  # as inspect sends them (OpenAI's own API takes at most four)
        if seed is not None:
            body["seed"] = seed
        return body

    async def complete(self, prompt: str | list[dict[str, str]], max_tokens: int, temperature: float | None = 0.0,
                       stop: list[str] | None = None, max_retries: int | None = None, timeout_s: float | None = None,
                       seed: int | None = None) -> Completion:
        """One completion; transient failures (connection, 408/429/5xx) are retried with backoff."""
        session, slots = await self._ensure()
        body = json.dumps(self.request_body(prompt, max_tokens, temperature, stop, seed))
        retries = self.max_retries if max_retries is None else max_retries
        timeout = aiohttp.ClientTimeout(total=timeout_s or self.timeout_s, connect=30.0)
        for attempt in range(retries + 1):
            retry_after: float | None = None
            async with slots:
                started = asyncio.get_running_loop().time()
                try:
                    async with session.post(self.endpoint.url, data=body, headers=self._headers(), timeout=timeout) as response:
                        text = await response.text()
                        status = response.status
                        retry_after = _retry_after(response.headers.get("retry-after"))
                except (aiohttp.ClientError, asyncio.TimeoutError) as ex:
                    problem = f"{type(ex).__name__}: {ex or 'no detail'}"
                else:
                    if status == 200:
                        return _parse(text, self.endpoint, asyncio.get_running_loop().time() - started)
                    problem = f"HTTP {status}: {_error_message(text)}"
                    if status not in _RETRY_STATUS:
                        raise GenerationError(redact(problem))
            if attempt < retries:
                backoff = min(MAX_BACKOFF_S, 2.0**attempt) * (0.5 + random.random() / 2)
                await asyncio.sleep(retry_after if retry_after is not None else backoff)
        raise GenerationError(redact(f"{problem} (after {retries + 1} attempts)"))


async def _close_at_loop_end(session: aiohttp.ClientSession) -> Any:
    try:
        yield
    finally:
        await session.close()


def _error_message(text: str) -> str:
    try:
        payload = json.loads(text)
        error = payload.get("error", payload) if isinstance(payload, dict) else payload
        message = error.get("message") if isinstance(error, dict) else error
        return str(message or "no message")[:300]
    except ValueError:
        return text[:300].strip() or "no message"


def _retry_after(value: str | None) -> float | None:
    try:
        return min(MAX_BACKOFF_S, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


_STOP_REASONS = {"stop": "stop", "length": "max_tokens", "content_filter": "content_filter", "eos": "stop"}


def _parse(body: str, endpoint: Endpoint, seconds: float) -> Completion:
    try:
        payload = json.loads(body)
        choice = payload["choices"][0]
        if endpoint.completions:
            text = choice.get("text") or ""
        else:
            text = (choice.get("message") or {}).get("content") or ""
        usage = payload.get("usage") or {}
        return Completion(
            text=text if isinstance(text, str) else str(text),
            stop_reason=_STOP_REASONS.get(choice.get("finish_reason") or "", "unknown"),
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            model=str(payload.get("model") or endpoint.model),
            response_id=str(payload.get("id") or ""),
            seconds=seconds,
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as ex:
        raise GenerationError(f"the server's reply is not an OpenAI completion ({type(ex).__name__})") from None
