"""Keep secrets out of messages: every value of a secret-looking environment variable is masked."""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)$", re.IGNORECASE)
_MIN_SECRET_LEN = 6  # shorter values (e.g. "1") would mask ordinary words


def secret_values() -> list[str]:
    """Values of environment variables whose names look like secrets, longest first."""
    values = {
        value
        for name, value in os.environ.items()
        if _SECRET_NAME.search(name) and len(value) >= _MIN_SECRET_LEN
    }
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """Replace every secret value in `text` with `***`."""
    for value in secret_values():
        text = text.replace(value, "***")
    return text
