"""Jailbreak prompt templates (Standard, CoT, Chain of Utterances) and their rendering."""

from ._templates import BUILTIN_TEMPLATES, RENDERS, SLOT, PromptTemplate, Render, check_render, load_template

__all__ = ["BUILTIN_TEMPLATES", "RENDERS", "SLOT", "PromptTemplate", "Render", "check_render", "load_template"]
