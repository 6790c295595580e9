"""Keep secrets out of messages and files: every value of a secret-looking environment variable, and every
credential a model was given as an argument (`-M api_key=...`, a password in a URL), is masked."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)$", re.IGNORECASE)
_MIN_SECRET_LEN = 6  # shorter values (e.g. "1") would mask ordinary words
_CREDENTIAL_ARG = re.compile(r"(key|token|secret|password|passwd|authorization|headers|credential)", re.IGNORECASE)
_GIVEN: set[str] = set()  # credentials this process was given other than through the environment


def remember_secret(value: str) -> None:
    """Mask `value` from now on in everything `redact` sees (journals, run.json, error messages)."""
    if len(value) >= _MIN_SECRET_LEN:
        _GIVEN.add(value)


def _url_secrets(value: str) -> set[str]:
    """The password (and user:password) of a URL with userinfo; nothing for any other text."""
    try:
        parts = urlsplit(value.strip())
        password = parts.password
    except ValueError:
        return set()
    if not password or len(password) < _MIN_SECRET_LEN:
        return set()
    return {password, f"{parts.username or ''}:{password}"}


def remember_model_args(args: dict[str, Any]) -> None:
    """Remember the credentials among a model's arguments: values of credential-named keys and URL userinfo."""
    for name, value in args.items():
        text = value if isinstance(value, str) else str(value)
        if _CREDENTIAL_ARG.search(str(name)):
            remember_secret(text)
        if isinstance(value, str) and "://" in value:
            _GIVEN.update(_url_secrets(value))


def secret_values() -> list[str]:
    """Values of environment variables whose names look like secrets, longest first."""
    values = {
        value
        for name, value in os.environ.items()
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_LEN
    } | _GIVEN | {secret for value in os.environ.values() if "://" in value for secret in _url_secrets(value)}
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """Replace every secret value in `text` with `***`."""
    for value in secret_values():
        text = text.replace(value, "***")
    return text


def redact_args(args: dict[str, Any]) -> dict[str, Any]:
    """Model arguments as they may be written out: every credential masked."""
    return {name: redact(value) if isinstance(value, str) else value for name, value in args.items()}


def write_public(path: str | Path, text: str) -> None:
    """Write a file a run leaves for others to read (settings, summaries, reports, data): UTF-8, every secret masked."""
    Path(path).write_text(redact(text), encoding="utf-8")
