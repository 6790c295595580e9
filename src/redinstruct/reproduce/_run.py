"""`redinstruct reproduce`: RED-EVAL on the base -> SAFE-ALIGN per strategy -> RED-EVAL and utility on all -> report.

Every step writes its output under DIR and is skipped when that output exists; the steps that
run long (evaluation, training, distillation) also resume from where they stopped.
"""

from __future__ import annotations

import json
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import yaml

from .._defaults import DEFAULT_JUDGE
from .._secrets import write_public
from ..errors import RedInstructError

VERSIONED = ("redinstruct", "torch", "transformers", "inspect-ai", "lm-eval", "trl", "peft", "accelerate", "datasets")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _safe_name(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_")


def _model_saved(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) or (folder / "adapter_config.json").is_file()


def _picked_questions(settings: dict[str, Any]) -> list[Any]:
    """`questions`, each cut as `bank[skip::stride][:limit]`: a bank name or file takes the section's skip /
    stride / limit, a mapping `{dataset, skip, stride, limit}` its own."""
    from ..data import load_questions

    questions = []
    for source in settings.get("questions", ["harmfulqa"]):
        cut = {**settings, **source} if isinstance(source, dict) else settings
        name = source.get("dataset") if isinstance(source, dict) else source
        if not name:
            raise RedInstructError("a 'questions' entry given as a mapping needs 'dataset'")
        bank = load_questions(name).questions
        picked = bank[int(cut.get("skip", 0)) :: int(cut.get("stride", 1))]
        questions += picked[: int(cut["limit"])] if cut.get("limit") else picked
    return questions


def _distill(config: dict[str, Any], out: Path, echo: Callable[[str], None]) -> Path:
    from ..data import load_prompt_sources
    from ..harmfulqa import DistillSettings, distill

    settings = config["distill"]
    target = out / "data"
    questions = _picked_questions(settings)
    limit = settings.get("general_limit")
    benign = load_prompt_sources(list(settings.get("benign", [])), limit)
    borderline = load_prompt_sources(list(settings.get("borderline", [])), limit)
    # distill() generates only the replies not yet in distill.jsonl (none on a rerun)
    counts = distill(DistillSettings(model=config["base"], out=str(target), max_new_tokens=int(settings.get("max_new_tokens", 160)),
                                     batch_size=int(settings.get("batch_size", 16)), context_file=settings.get("context"),
                                     harm_judge=settings.get("harm_judge", "crossencoder") or None),
                     questions, benign, echo=echo, borderline=borderline, wrappers=list(settings.get("wrap") or []))
    echo(f"[distill] {counts['questions']} questions: {counts['blue_kept']} blue ({counts['blue_with_help']} also help; "
         f"{counts['blue_harmful_dropped']} refusals dropped as harmful), {counts['red_kept']} red kept"
         + (f"; general answers kept: {counts['benign_kept']} of {counts['benign_asked']} benign, {counts['borderline_kept']} of "
            f"{counts['borderline_asked']} borderline" if benign or borderline else "")
         + f"; contrastive pairs: {counts['pairs_harmful']} harmful, {counts['pairs_borderline']} borderline"
         + (f"; wrapped ({', '.join(settings['wrap'])}): {counts['wrapped_blue']} blue, "
            f"{counts.get('benign_twins', 0) + counts.get('borderline_twins', 0)} general twins" if settings.get("wrap") else ""))
    return target / "harmfulqa.json"


def _validation(config: dict[str, Any], out: Path, data: list[str]) -> dict[str, Any]:
    """The `align` settings for periodic validation: the harmful bank written under DIR/data when it is a
    selection; a validation question that is also a training question is an error."""
    v = config.get("validation")
    if not v:
        return {}
    unknown = set(v) - {"every", "harmful", "safe", "max_new_tokens", "safe_margin"}
    if unknown or not v.get("every") or not v.get("harmful") or not v.get("safe"):
        raise RedInstructError("config 'validation' needs every, harmful and safe (and may set max_new_tokens, safe_margin)"
                               + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else ""))
    harmful = v["harmful"]
    if isinstance(harmful, dict):
        target = out / "data" / "val_harmful.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps([q.text for q in _picked_questions(harmful)], indent=1), encoding="utf-8")
        harmful = str(target)
    from ..data import load_prompt_texts
    from ..safealign import load_harmfulqa_conversations

    trained = {t["value"] for path in data for c in load_harmfulqa_conversations(path) for t in c.turns if t["from"] == "human"}
    shared = [q for q in load_prompt_texts(str(harmful)) if q in trained]
    if shared:
        raise RedInstructError(f"config 'validation': {len(shared)} validation harmful question(s) are also training questions "
                               "(choose skip / stride so that the two selections do not meet)")
    settings = {"eval_every": int(v["every"]), "val_harmful": str(harmful), "val_safe": str(v["safe"])}
    if v.get("max_new_tokens"):
        settings["val_max_new_tokens"] = int(v["max_new_tokens"])
    if v.get("safe_margin") is not None:
        settings["safe_margin"] = float(v["safe_margin"])
    return settings


def _check_test_sets_held_out(config: dict[str, Any], bank: str | None, data: list[str], general: list[str]) -> None:
    """No question of a test set (RED-EVAL's datasets as evaluated, the over-refusal bank) may appear in any training
    prompt, plain or inside a wrapper: a test question trained on measures memory, not safety."""
    from ..data import load_questions
    from ..safealign import load_general_conversations, load_harmfulqa_conversations

    conversations = [c for path in data for c in load_harmfulqa_conversations(path)] + [c for path in general for c in load_general_conversations(path)]
    trained = "\0".join(t["value"] for c in conversations for t in c.turns if t["from"] == "human")
    e = config["eval"]
    tests = [(d, q.text) for d in e["datasets"] for q in load_questions(d).questions[: e.get("limit")]]
    if bank:
        tests += [(Path(bank).stem, q.text) for q in load_questions(bank).questions]
    shared = [(name, text) for name, text in tests if text.strip() and text in trained]
    if shared:
        names = ", ".join(sorted({name for name, _ in shared}))
        raise RedInstructError(f"{len(shared)} test question(s) of {names} are also in the training data "
                               "(choose the distill selections so that they do not meet the evaluated ones)")


def over_refusal_bank(dataset: str, per_type: int | None, folder: Path) -> str:
    """The over-refusal question file (`folder/<bank>.csv`): the first `per_type` prompts of every type of the
    bank (safe prompts and their unsafe contrasts alike), so a small run still covers every type."""
    import csv

    from ..data import load_questions

    bank = load_questions(dataset)
    counts: dict[str, int] = {}
    kept = []
    for q in bank.questions:
        counts[q.type] = counts.get(q.type, 0) + 1
        if not per_type or counts[q.type] <= int(per_type):
            kept.append(q)
    if not any(q.label == "safe" for q in kept):
        raise RedInstructError(f"over_refusal: dataset {bank.name} has no prompts labelled safe")
    target = folder / f"{bank.name}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "prompt", "type", "label"])
        writer.writerows([q.id, q.text, q.type, q.label] for q in kept)
    return str(target)


def _over_refusal_bank(config: dict[str, Any], out: Path) -> str | None:
    """The config's over-refusal bank under DIR/data, or None when it has none."""
    settings = config.get("over_refusal")
    return over_refusal_bank(settings.get("dataset", "xstest"), settings.get("per_type"), out / "data") if settings else None


def display_name(config: dict[str, Any], strategy: str | None = None) -> str:
    """How a model shows in tables and legends: the config's `name` (else `SmolLM2` for the packaged
    model, else the base as typed), then `<base> + <strategy>` (or the config's `names: {strategy: ...}`)."""
    base = config.get("name") or ("SmolLM2" if config["base"] == "smollm2" else str(config["base"]).removeprefix("hf/"))
    if strategy is None:
        return base
    return (config.get("names") or {}).get(strategy) or f"{base} + {strategy}"


def _eval(config: dict[str, Any], models: list[str], out: Path, echo: Callable[[str], None], names: list[str], bank: str | None) -> None:
    from ..redeval import EvalConfig, run_redeval

    e = config["eval"]
    result = run_redeval(EvalConfig(
        models=models, names=names, datasets=list(e["datasets"]), templates=list(e["templates"]), judge=e.get("judge", DEFAULT_JUDGE),
        judge_model=e.get("judge_model"), limit=e.get("limit"), max_tokens=int(e.get("max_tokens", 256)),
        log_dir=str(out / "redeval"), display=e.get("display"), max_connections=e.get("max_connections"),
    ), echo=echo)
    echo(f"[red-eval] {', '.join(names)}: {result.generated} sample(s) run, {result.reused} reused")
    if bank:
        o = config["over_refusal"]
        result = run_redeval(EvalConfig(
            models=models, names=names, datasets=[bank], templates=list(o.get("templates", ["standard"])),
            judge=e.get("judge", DEFAULT_JUDGE), judge_model=e.get("judge_model"), max_tokens=int(e.get("max_tokens", 256)),
            log_dir=str(out / "over-refusal"), display=e.get("display"), max_connections=e.get("max_connections"),
        ), echo=echo)
        echo(f"[over-refusal] {', '.join(names)}: {result.generated} sample(s) run, {result.reused} reused")


GENERAL_SUFFIX = "+general"
PAIRS_SUFFIX = "+pairs"
SUFFIXES = (GENERAL_SUFFIX, PAIRS_SUFFIX)


def split_strategy(name: str) -> tuple[str, set[str]]:
    """`blue-red+general+pairs` -> ("blue-red", {"+general", "+pairs"}); the suffixes in any order."""
    found: set[str] = set()
    while True:
        suffix = next((s for s in SUFFIXES if name.endswith(s)), None)
        if suffix is None:
            return name, found
        found.add(suffix)
        name = name.removesuffix(suffix)


def _align(config: dict[str, Any], data: list[str], strategy: str, target: Path, echo: Callable[[str], None], general: list[str],
           extra: dict[str, Any] | None = None, pairs: list[str] | None = None) -> None:
    """Train one strategy: `+general` mixes in the general conversations, `+pairs` the distilled contrastive
    pairs; `extra` (validation) adds to the config's `align` settings."""
    from ..safealign import AlignConfig, align, bf16_helps

    if _model_saved(target):
        echo(f"[align {strategy}] done before: skipped")
        return
    # `align` holds the settings of every strategy, and under a strategy's name its own (they win)
    shared = {k: v for k, v in config["align"].items() if k not in config["strategies"]}
    own = config["align"].get(strategy) or {}
    if not isinstance(own, dict):
        raise RedInstructError(f"config 'align': the settings under '{strategy}' must be a mapping")
    settings = {**shared, **(extra or {}), **own}
    strategy, suffixes = split_strategy(strategy)
    if GENERAL_SUFFIX in suffixes:
        if not general:
            raise RedInstructError(f"strategy {strategy}{GENERAL_SUFFIX} needs general data: set 'general' files, or 'benign' / 'borderline' prompts in 'distill'")
        settings["mix_general"] = list(settings.get("mix_general", [])) + general
    else:
        settings.pop("general_fraction", None)
    if PAIRS_SUFFIX in suffixes:
        if not pairs:
            raise RedInstructError(f"strategy {strategy}{PAIRS_SUFFIX} needs contrastive pairs: set 'distill' with 'borderline' prompts (and no 'data')")
        settings["pairs"] = list(settings.get("pairs", [])) + pairs
    if settings.get("bf16") == "auto":  # bf16 autocast where the hardware has bf16 units; emulated it is slower than fp32
        settings["bf16"] = bf16_helps()
        echo(f"[align {target.name}] bf16 autocast: {'on' if settings['bf16'] else 'off (no bf16 units here)'}")
    if settings.get("lora"):
        settings["merge"] = True  # the later steps load the model folder as a plain checkpoint
    known = set(AlignConfig.__dataclass_fields__) - {"base", "data", "out", "strategy", "resume"}
    unknown = set(settings) - known
    if unknown:
        raise RedInstructError(f"config 'align': unknown setting(s) {', '.join(sorted(unknown))}")
    echo(f"[align {target.name}] training {config['base']} -> {target}")
    align(AlignConfig(base=config["base"], data=data, out=str(target), strategy=strategy, resume=True, **settings))


def _utility(config: dict[str, Any], model: str, target: Path, echo: Callable[[str], None], name: str) -> None:
    from ..utility import UtilityConfig, parse_fewshot, parse_tasks, run_utility

    if target.is_file():
        echo(f"[utility] {name}: done before: skipped")
        return
    u = config["utility"]
    tasks = parse_tasks(list(u["tasks"]))
    fewshot = u.get("num_fewshot", [])
    shots = parse_fewshot([fewshot] if isinstance(fewshot, (int, str)) else [str(x) for x in fewshot], tasks)
    echo(f"[utility] {name}: {', '.join(tasks)}")
    run_utility(UtilityConfig(model=model, name=name, tasks=tasks, shots=shots, limit=u.get("limit"), data_dir=u.get("data_dir"),
                              batch_size=int(u.get("batch_size", 8)), chat_template=bool(u.get("chat_template", False))),
                target, echo=echo)


def reproduce(config: dict[str, Any], out: Path, echo: Callable[[str], None] = print) -> Path:
    """Run (or resume) the whole experiment; returns the report's path."""
    from ..report import write_report
    from ..safealign import STRATEGIES

    bad = [s for s in config["strategies"] if split_strategy(s)[0] not in STRATEGIES]
    if bad:
        raise RedInstructError(f"unknown strategy {', '.join(bad)}: use {', '.join(STRATEGIES)}, each optionally with {GENERAL_SUFFIX} and / or {PAIRS_SUFFIX}")
    out.mkdir(parents=True, exist_ok=True)
    write_public(out / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    names = {"base": display_name(config), **{s: display_name(config, s) for s in config["strategies"]}}
    write_public(out / "reproduce.json", json.dumps({"config": config, "versions": package_versions(), "base_label": names["base"],
                                                      "base_model": config["base"], "names": names}, indent=1))

    data = [str(_distill(config, out, echo))] if config.get("distill") and not config.get("data") else (
        [config["data"]] if isinstance(config["data"], str) else list(config["data"]))
    general = [config["general"]] if isinstance(config.get("general"), str) else list(config.get("general") or [])
    distilled_general = out / "data" / "general.json"
    if config.get("distill") and not config.get("data") and distilled_general.is_file():
        general.append(str(distilled_general))
    pairs = out / "data" / "pairs.jsonl"
    distilled_pairs = [str(pairs)] if config.get("distill") and not config.get("data") and pairs.is_file() else []
    validation = _validation(config, out, data)
    bank = _over_refusal_bank(config, out)  # written once; the held-out check and both evaluations read it
    _check_test_sets_held_out(config, bank, data, general)
    base = config["base"]
    echo("[red-eval] base model")
    _eval(config, [base], out, echo, [names["base"]], bank)
    aligned = []
    for strategy in config["strategies"]:
        target = out / "models" / strategy
        _align(config, data, strategy, target, echo, general, validation, distilled_pairs)
        if (target / "frontier.json").is_file():
            chosen = json.loads((target / "frontier.json").read_text(encoding="utf-8"))["chosen"]
            if chosen:
                echo(f"[align {strategy}] kept step {chosen['step']}: validation harmful refused {100 * chosen['harmful_refused']:.0f}%, "
                     f"safe refused {100 * chosen['safe_refused']:.0f}%")
        aligned.append(f"hf/{target}")
    everyone = [names["base"], *(names[s] for s in config["strategies"])]
    if aligned:
        echo("[red-eval] aligned models")
        _eval(config, [base, *aligned], out, echo, everyone, bank)
    if config.get("utility") and config["utility"].get("tasks"):
        for model, name in zip([base, *aligned], everyone):
            _utility(config, model, out / "utility" / f"{_safe_name(name)}.json", echo, name)
    report, summary = write_report([out], out / "report.html", base_model=names["base"], title=f"redinstruct reproduce: {names['base']}")
    echo(f"[report] {report} and {summary}")
    return report
