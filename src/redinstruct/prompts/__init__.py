"""Jailbreak prompt templates (Standard, CoT, Chain of Utterances) and their rendering."""

from ._templates import BUILTIN_TEMPLATES, RENDERS, SLOT, PromptTemplate, Render, check_render, load_template
from ._files import fill, prompt_file

__all__ = [
    "fill",
    "prompt_file","BUILTIN_TEMPLATES", "RENDERS", "SLOT", "PromptTemplate", "Render", "check_render", "load_template"]
