"""`redinstruct eval`: every model x dataset x template (or conversation attack), resumable, with summary files.

One loop for every attack and engine: the attack plans what each model has left to run, the target
is opened once (`models.open_target` picks its engine), the attack binds its runner to it, and
`_model_run.run_model` generates, judges, records and logs.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Protocol

from .._progress import Progress
from ..errors import RedInstructError, one_line
from ..judges import DEFAULT_COMPLIANCE_JUDGE, DEFAULT_JUDGE, get_judge, judge_models_of, judge_needs_model
from ..models import ModelSpec, Target, check_model_ready, check_reachable, open_target, resolve_model
from ..prompts import Render
from ._conversation_data import check_attack
from ._eval_log import LogWriting
from ._judging import SampleJudging
from ._model_run import PlannedTask, run_model
from ._run_folder import check_usable, open_run_folder
from ._samples import SampleStore
from ._summary import write_summary
from ._task import DEFAULT_MAX_TOKENS


@dataclass
class EvalConfig:
    models: list[str] = field(default_factory=lambda: ["smollm2"])
    names: list[str] = field(default_factory=list)  # display names, one per model (default: the model as typed)
    datasets: list[str] = field(default_factory=lambda: ["demo"])
    templates: list[str] = field(default_factory=lambda: ["standard", "cot", "cou"])
    judge: str = DEFAULT_JUDGE
    judge_model: str | list[str] | None = None  # several models vote (majority; a tie is unknown)
    render: Render = "chat"
    limit: int | None = None
    max_connections: int | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    keep_thoughts: bool = False
    drop_duplicates: bool = False
    retry_errors: bool = True
    log_dir: str | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    display: str | None = None  # "none": no progress display
    log_samples: bool = True  # samples inside the inspect logs (samples.jsonl always has them)
    judge_calibration: str | None = None  # calibration JSON of the judge: adds the corrected ASR
    judge_threshold: float | None = None  # score at which rubric / classifier judges say harmful
    compliance_judge: str = DEFAULT_COMPLIANCE_JUDGE  # sorts replies to safe prompts (over-refusal)
    compliance_judge_model: str | list[str] | None = None  # for compliance-llm
    attack: str = "templates"  # templates (single-turn, --template), replay (HARMFULQA red conversations), redlm (live attacker)
    attacker_model: str | None = None  # redlm: the Red-LM (default: the packaged SmolLM2)
    turns: int | None = None  # redlm: turns per conversation (default 5); replay: cut the recorded conversations to this
    backtracks: int | None = None  # redlm: rephrasings of a refused turn, per turn (default 2)
    attacker_prompts: str | None = None  # folder with redlm_turn.txt / redlm_rephrase.txt overriding the built-in ones


@dataclass
class EvalResult:
    log_dir: Path
    runs: list[dict[str, Any]]
    generated: int  # samples generated and judged by this call (0 on a resume with nothing left)
    reused: int  # samples already finished in the log folder


class Attack(Protocol):
    """What an attack (templates, or conversations) plans and how it runs a planned sample; see `_template_attack`."""

    unit: str
    retried_what: str
    manifest: dict[str, Any] | None

    @property
    def order(self) -> tuple[list[str], list[str]]: ...
    def check_attacker(self) -> None: ...
    def open_folder(self, log_dir: Path) -> None: ...
    def open_attacker(self) -> Target | None: ...
    def plan(self, spec: ModelSpec, store: SampleStore, judging: SampleJudging, echo: Callable[[str], None]) -> list[PlannedTask]: ...
    def bind(self, tasks: list[PlannedTask], spec: ModelSpec, target: Target, attacker: Target | None = None) -> int: ...
    def start_line(self, spec: ModelSpec, tasks: list[PlannedTask]) -> str: ...
    def record_incomplete(self, store: SampleStore, spec: ModelSpec, tasks: list[PlannedTask], judging: SampleJudging) -> None: ...
    def interrupted(self, store: SampleStore, log_dir: Any) -> Exception: ...


def _attack(config: EvalConfig, echo: Callable[[str], None]) -> Attack:
    """The attack with every input it reads loaded and checked."""
    check_attack(config.attack)
    if config.attack == "templates":
        from ._template_attack import TemplateAttack

        return TemplateAttack(config)
    from ._conversation_attack import ConversationAttack

    return ConversationAttack(config, echo)


def _validate_models(config: EvalConfig) -> list[ModelSpec]:
    """The targets and judges: resolved, named once each, ready (keys set, providers known, engines able to serve them)."""
    judge_needs_model(config.judge)
    get_judge(config.judge, config.judge_model, threshold=config.judge_threshold)
    if config.max_tokens < 1:
        raise RedInstructError("--max-tokens must be at least 1")
    if config.names and len(config.names) != len(config.models):
        raise RedInstructError(f"give one --name per --model ({len(config.models)} model(s), {len(config.names)} name(s))")
    judge_specs = [resolve_model(name) for name in judge_models_of(config.judge_model)] if judge_needs_model(config.judge) else []
    judge_needs_model(config.compliance_judge)
    get_judge(config.compliance_judge, config.compliance_judge_model)
    if judge_needs_model(config.compliance_judge):
        judge_specs += [resolve_model(name) for name in judge_models_of(config.compliance_judge_model)]
    for spec in judge_specs:  # judges first: a missing key is reported before the packaged model is converted (first use: ~30 s)
        check_model_ready(spec)
    specs = [resolve_model(m, config.render, config.model_args) for m in config.models]
    if config.names:
        specs = [replace(spec, label=name) for spec, name in zip(specs, config.names)]
    labels = [spec.display for spec in specs]
    if len(set(labels)) != len(labels):
        raise RedInstructError(f"two models would show as the same name: {', '.join(sorted({n for n in labels if labels.count(n) > 1}))}")
    for spec in specs:  # before the run folder exists: a typo leaves nothing behind
        check_model_ready(spec)
    return specs


def _judging_args(spec: ModelSpec, config: EvalConfig) -> dict[str, Any]:
    return dict(judge=config.judge, judge_model=config.judge_model, keep_thoughts=config.keep_thoughts, model_label=spec.display,
                render=config.render, judge_threshold=config.judge_threshold, compliance_judge=config.compliance_judge,
                compliance_judge_model=config.compliance_judge_model)


def _check_judge_models(config: EvalConfig) -> None:
    """One tiny request to each API judge model (harm and compliance judges) before the first sample."""
    for judge, models in ((config.judge, config.judge_model), (config.compliance_judge, config.compliance_judge_model)):
        if judge_needs_model(judge):
            for name in judge_models_of(models):
                spec = resolve_model(name)
                if not spec.is_local:
                    asyncio.run(check_reachable(open_target(spec), name))


def _echo(message: str) -> None:
    print(one_line(message), file=sys.stderr, flush=True)  # names in it may hold terminal escapes


def run_redeval(config: EvalConfig, echo: Callable[[str], None] = _echo) -> EvalResult:
    """Evaluate every model x dataset x template (or attack); finished samples in `log_dir` are never redone."""
    attack = _attack(config, echo)
    specs = _validate_models(config)
    attack.check_attacker()  # before the run folder exists: an unreachable attacker leaves nothing behind
    calibration, log_dir, store = open_run_folder(config, echo, attack.retried_what, attack.manifest)
    attack.open_folder(log_dir)
    reused_before = len(store)
    order = ([spec.display for spec in specs], *attack.order)  # summary rows follow the request
    judges_checked = False
    for spec in specs:
        judging = SampleJudging(**_judging_args(spec, config))
        tasks = attack.plan(spec, store, judging, echo)
        if not tasks:
            continue
        target = open_target(spec, config.max_connections)
        if not spec.is_local:
            asyncio.run(check_reachable(target, spec.name))
        if not judges_checked:
            _check_judge_models(config)
            judges_checked = True
        judging.warm_up()
        attacker = attack.open_attacker()
        workers = attack.bind(tasks, spec, target, attacker)
        echo(attack.start_line(spec, tasks))
        todo = sum(len(task.log.samples) for task in tasks)
        label = f"eval {spec.display}" + (f" ({config.attack})" if config.attack != "templates" else "")
        progress = None if config.display == "none" else Progress(label, todo, unit=attack.unit)
        logs = LogWriting(log_dir, target.name, target.engine, config.log_samples, target.concurrency, dict(spec.model_args))
        finished = run_model(tasks, store, logs, workers, [t for t in (target, attacker) if t is not None], progress, config.max_connections)
        store.reload()
        if not finished:
            write_summary(log_dir, store, order, calibration)
            raise attack.interrupted(store, log_dir)
        attack.record_incomplete(store, spec, tasks, judging)
    generated = len(store) - reused_before
    runs = write_summary(log_dir, store, order, calibration)
    check_usable(runs, order, store, log_dir)
    return EvalResult(log_dir, runs, generated, reused_before)
