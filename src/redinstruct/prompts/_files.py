"""Prompt files that ship with the package and that a user may override with a folder of their own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def prompt_file(package: str, folder: str, name: str, prompts_dir: str | None = None) -> str:
    """`name`.txt from the user's `prompts_dir` when it has one, else the built-in `package/folder/name.txt`."""
    if prompts_dir:
        path = Path(prompts_dir) / f"{name}.txt"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return resources.files(package).joinpath(folder, f"{name}.txt").read_text(encoding="utf-8")


def fill(template: str, **slots: object) -> str:
    """Plain `{slot}` replacement, so other braces in a prompt (JSON, code) need no escaping."""
    for key, value in slots.items():
        template = template.replace("{" + key + "}", str(value))
    return template
