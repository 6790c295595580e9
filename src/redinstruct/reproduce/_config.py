"""The `reproduce` configuration: one YAML (a preset or the user's file) plus command-line overrides."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .._defaults import DEFAULT_JUDGE
from ..errors import RedInstructError

DEFAULTS: dict[str, Any] = {
    "base": None,
    "name": None,  # display name of the base model (default: SmolLM2 for smollm2, else the base as typed)
    "names": None,  # display names of the aligned models, {strategy: name} (default: "<base> + <strategy>")
    "data": None,
    "distill": None,
    "strategies": ["blue", "blue-red"],
    "align": {},
    "eval": {"datasets": ["dangerousqa"], "templates": ["standard", "cot", "cou"], "judge": DEFAULT_JUDGE},
    "utility": {"tasks": ["hhh", "truthfulqa", "mmlu", "bbh"]},
    "general": None,  # helpful conversations for the `<strategy>+general` strategies (besides distilled ones)
    "over_refusal": None,  # {dataset: xstest, per_type: N, templates: [standard]}: refusals of safe prompts
    # checkpoints on the frontier: {every: N, harmful: {questions, skip, stride, limit} or a bank, safe: bank,
    # max_new_tokens, safe_margin}; both banks must be disjoint from every test set
    "validation": None,
}
SECTIONS = set(DEFAULTS)


def preset_names() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in resources.files("redinstruct.reproduce").joinpath("presets").iterdir() if p.name.endswith(".yaml"))


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as ex:
        raise RedInstructError(f"{where} is not valid YAML: {str(ex).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise RedInstructError(f"{where}: expected a mapping of settings")
    unknown = set(data) - SECTIONS
    if unknown:
        raise RedInstructError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(SECTIONS))}")
    return data


def load_config(config_file: str | None, preset: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """DEFAULTS <- preset <- config file <- overrides (sections merge key by key)."""
    config = copy.deepcopy(DEFAULTS)
    layers = []
    if preset:
        if preset not in preset_names():
            raise RedInstructError(f"unknown preset '{preset}': use one of {', '.join(preset_names())}")
        layers.append(_read_yaml(resources.files("redinstruct.reproduce").joinpath("presets", f"{preset}.yaml").read_text(encoding="utf-8"), f"preset {preset}"))
    if config_file:
        try:
            layers.append(_read_yaml(Path(config_file).read_text(encoding="utf-8"), config_file))
        except OSError as ex:
            raise RedInstructError(f"cannot read {config_file}: {ex.strerror or ex}") from None
    layers.append(overrides)
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                continue
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
    if not config["base"]:
        raise RedInstructError("no base model: pass --base or set 'base' in the config")
    if not config["data"] and not config["distill"]:
        raise RedInstructError("no training data: pass --data HARMFULQA.json, or set 'distill' in the config")
    distill = config.get("distill")
    if isinstance(distill, dict) and distill.get("wrap"):
        from ..harmfulqa import check_wrappers

        wrap = distill["wrap"]
        distill["wrap"] = check_wrappers([w.strip() for w in wrap.split(",") if w.strip()] if isinstance(wrap, str) else [str(w) for w in wrap])
    if isinstance(distill, dict) and distill.get("harm_judge"):
        from ..judges import judge_needs_model

        # checked here, not after distillation's minutes of generation
        if judge_needs_model(str(distill["harm_judge"])):
            raise RedInstructError(f"config 'distill': harm_judge {distill['harm_judge']} needs a judge model: use an offline judge (crossencoder, classifier)")
    if isinstance(config["strategies"], str):
        config["strategies"] = [s.strip() for s in config["strategies"].split(",") if s.strip()]
    names = config.get("names") or {}
    stray = [k for k, v in names.items() if k not in config["strategies"] or not isinstance(v, str) or not v.strip()]
    if not isinstance(names, dict) or stray:
        # a comma in an unquoted name inside {...} splits it into two entries: say so
        raise RedInstructError(f"config 'names': expected {{strategy: name}} for strategies in 'strategies'; check {', '.join(map(str, stray))} "
                               "(quote a name that holds a comma)")
    return config
