"""Prompt templates: text files with a `{question}` slot, rendered as one chat turn or as raw text."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from ..errors import TemplateError

SLOT = "{question}"
Render = Literal["chat", "raw"]
RENDERS: tuple[Render, ...] = ("chat", "raw")
BUILTIN_TEMPLATES = ("standard", "cot", "cou")
RED_TURN = "Red-LM:"


@dataclass(frozen=True)
class PromptTemplate:
    """A named template; `name` is the built-in name or the file's stem."""

    name: str
    text: str
    path: str | None = None

    @property
    def stop_sequences(self) -> tuple[str, ...]:
        """Where the target's reply turn ends: a template staged as a Red-LM / Base-LM conversation
        ends it at the next `Red-LM:` turn (which cleaning would cut anyway)."""
        return (RED_TURN,) if RED_TURN in self.text else ()

    def render(self, question: str) -> str:
        # plain slot replacement, so other braces in a template (JSON, code) need no escaping
        return self.text.replace(SLOT, question)


def _builtin_text(name: str) -> str:
    return resources.files("redinstruct.prompts").joinpath("templates", f"{name}.txt").read_text(encoding="utf-8")


def load_template(spec: str | Path) -> PromptTemplate:
    """A built-in template by name (`standard`, `cot`, `cou`) or a user template file."""
    spec_str = str(spec)
    if spec_str in BUILTIN_TEMPLATES:
        return PromptTemplate(spec_str, _builtin_text(spec_str).rstrip("\n"))
    path = Path(spec_str).expanduser()
    if not path.is_file():
        raise TemplateError(
            f"unknown template '{spec_str}': use one of {', '.join(BUILTIN_TEMPLATES)} or a path to a template file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as ex:
        raise TemplateError(f"cannot read template {path}: {ex}") from None
    if SLOT not in text:
        raise TemplateError(f"template {path} has no {SLOT} slot: add {SLOT} where the question goes")
    return PromptTemplate(path.stem, text.rstrip("\n"), str(path))


def check_render(render: str) -> Render:
    if render not in RENDERS:
        raise TemplateError(f"unknown render mode '{render}': use 'chat' or 'raw'")
    return render  # type: ignore[return-value]
