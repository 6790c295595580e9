"""Prompt files that ship with the package and that a user may override with a folder of their own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import RedInstructError


def prompt_file(package: str, folder: str, name: str, prompts_dir: str | None = None) -> str:
    """`name`.txt from the user's `prompts_dir` when it has one, else the built-in `package/folder/name.txt`."""
    if prompts_dir:
        if not Path(prompts_dir).is_dir():
            raise RedInstructError(f"prompts folder {prompts_dir} is not a folder")
        path = Path(prompts_dir) / f"{name}.txt"
        if path.is_file():
            try:
                return path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as ex:
                raise RedInstructError(f"cannot read prompt file {path}: {getattr(ex, 'reason', None) or ex}; save it as UTF-8") from None
    return resources.files(package).joinpath(folder, f"{name}.txt").read_text(encoding="utf-8")


def fill(template: str, **slots: object) -> str:
    """Plain `{slot}` replacement, so other braces in a prompt (JSON, code) need no escaping."""
    for key, value in slots.items():
        template = template.replace("{" + key + "}", str(value))
    return template
