"""`redinstruct eval`: every model x dataset x template, resumable, with summary files."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from inspect_ai import eval as inspect_eval
from inspect_ai.model import GenerateConfig

from .. import __version__
from .._progress import Progress
from .._secrets import redact
from ..data import QuestionBank, load_questions
from ..errors import RedInstructError, RunFailed, RunInterrupted
from ..judges import DEFAULT_COMPLIANCE_JUDGE, DEFAULT_JUDGE, get_judge, judge_label, judge_models_of, judge_needs_model
from ..models import (
    LeanModel,
    ModelSpec,
    build_judge_model,
    build_model,
    check_model_ready,
    check_reachable,
    lean_client,
    lean_endpoint,
    resolve_model,
    run_connections,
)
from ..prompts import Render, check_render, load_template
from ._conversation_data import check_attack
from ._correction import JudgeCalibration, load_calibration
from ._judging import SampleJudging
from ._lean import run_lean
from ._lean_log import LogTask
from ._record import INCOMPLETE, SampleRecord, is_retryable
from ._samples import SampleStore
from ._summary import write_summary
from ._task import DEFAULT_MAX_TOKENS, build_red_eval, red_eval_samples, red_eval_task_name, stop_sequences

# settings that change what a sample's line means: a log folder holds one value of each
_MANIFEST_KEYS = ("judge", "judge_model", "judge_threshold", "render", "keep_thoughts", "max_tokens", "compliance_judge", "compliance_judge_model")


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
    display: str | None = None
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


def default_log_dir() -> Path:
    return Path("logs") / "redeval" / datetime.now().strftime("%Y%m%d-%H%M%S")


def _check_manifest(log_dir: Path, config: EvalConfig, attack: dict[str, Any] | None = None) -> None:
    """Refuse to mix runs with different judging settings in one folder; record them on first use.

    `attack`: a conversation attack's settings (turns, attacker, ...), kept per attack under `attacks`.
    """
    path = log_dir / "run.json"
    settings = {k: getattr(config, k) for k in _MANIFEST_KEYS}
    settings["judge_model"] = judge_models_of(config.judge_model)
    settings["compliance_judge_model"] = judge_models_of(config.compliance_judge_model)
    previous: dict[str, Any] | None = None
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError:
            previous = {}
        for key in _MANIFEST_KEYS:
            if key in previous and previous[key] != settings[key]:
                raise RedInstructError(
                    f"{log_dir} holds a run with {key}={previous[key]!r}, not {settings[key]!r}: "
                    "use a new --log-dir or the same settings to resume"
                )
        recorded = (previous.get("attacks") or {}).get(config.attack)
        if attack is None or recorded == attack:
            return
        if recorded is not None:
            changed = next(k for k in sorted(set(recorded) | set(attack)) if recorded.get(k) != attack.get(k))
            raise RedInstructError(
                f"{log_dir} holds --attack {config.attack} conversations with {changed}={recorded.get(changed)!r}, not "
                f"{attack.get(changed)!r}: use a new --log-dir or the same settings to resume"
            )
    manifest = previous if previous is not None else {**settings, "redinstruct_version": __version__, "config": asdict(config)}
    if attack is not None:
        manifest.setdefault("attacks", {})[config.attack] = attack
    path.write_text(redact(json.dumps(manifest, indent=2)))


def _open_run_folder(config: EvalConfig, echo: Callable[[str], None], retried_what: str,
                     attack: dict[str, Any] | None = None) -> tuple[JudgeCalibration | None, Path, SampleStore]:
    """(calibration, folder, samples) once every input is checked: the folder made, its settings checked, errors set to retry."""
    calibration = load_calibration(config.judge_calibration) if config.judge_calibration else None
    log_dir = Path(config.log_dir) if config.log_dir else default_log_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    _check_manifest(log_dir, config, attack)
    store = SampleStore(log_dir / "samples.jsonl")
    if config.retry_errors:
        retried = store.drop_errors()
        if retried:
            echo(f"retrying {retried} {retried_what}")
    return calibration, log_dir, store


def _check_counts(config: EvalConfig, templates: str | None = None) -> None:
    """At least one model and dataset (and template, when `templates` names the option), and a positive --limit."""
    if not config.models or not config.datasets or (templates and not config.templates):
        raise RedInstructError(f"need at least one --model, --dataset and {templates}" if templates else "need at least one --model and --dataset")
    if config.limit is not None and config.limit < 1:
        raise RedInstructError("--limit must be at least 1")


def _validate(config: EvalConfig) -> tuple[list[ModelSpec], dict[str, QuestionBank], list[str]]:
    """Load every input before any generation, so bad input fails at once and cleanly."""
    check_render(config.render)
    _check_counts(config, "--template")
    banks = {d: load_questions(d, drop_duplicates=config.drop_duplicates) for d in config.datasets}
    template_names = [load_template(t).name for t in config.templates]
    return _validate_models(config), banks, template_names


def _validate_models(config: EvalConfig) -> list[ModelSpec]:
    """The targets and judges: resolved, named once each, ready (keys set, providers known)."""
    judge_needs_model(config.judge)
    get_judge(config.judge, config.judge_model, threshold=config.judge_threshold)
    if config.max_tokens < 1:
        raise RedInstructError("--max-tokens must be at least 1")
    if config.names and len(config.names) != len(config.models):
        raise RedInstructError(f"give one --name per --model ({len(config.models)} model(s), {len(config.names)} name(s))")
    specs = [resolve_model(m, config.render, config.model_args) for m in config.models]
    if config.names:
        specs = [replace(spec, label=name) for spec, name in zip(specs, config.names)]
    labels = [spec.display for spec in specs]
    if len(set(labels)) != len(labels):
        raise RedInstructError(f"two models would show as the same name: {', '.join(sorted({n for n in labels if labels.count(n) > 1}))}")
    if judge_needs_model(config.judge):
        specs_of_judges = [resolve_model(name) for name in judge_models_of(config.judge_model)]
    else:
        specs_of_judges = []
    judge_needs_model(config.compliance_judge)
    get_judge(config.compliance_judge, config.compliance_judge_model)
    if judge_needs_model(config.compliance_judge):
        specs_of_judges += [resolve_model(name) for name in judge_models_of(config.compliance_judge_model)]
    for spec in specs + specs_of_judges:  # before the run folder exists: a typo leaves nothing behind
        check_model_ready(spec)
        lean_endpoint(spec)  # a server URL missing, or -M arguments the chosen engine cannot take
    return specs


def _echo(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_redeval(config: EvalConfig, echo: Callable[[str], None] = _echo) -> EvalResult:
    """Evaluate every model x dataset x template (or attack); finished samples in `log_dir` are never redone."""
    check_attack(config.attack)
    if config.attack != "templates":
        return _run_conversations(config, echo)
    specs, banks, template_names = _validate(config)
    calibration, log_dir, store = _open_run_folder(config, echo, "sample(s) that ended in an error last time")
    reused_before = len(store)
    judges_checked = False
    order = ([spec.display for spec in specs], [b.name for b in banks.values()], template_names)  # summary rows follow the request

    for spec in specs:
        planned, todo = [], 0  # (dataset, template, question ids left to run)
        for dataset, bank in banks.items():
            questions = bank.first(config.limit)
            for template, template_name in zip(config.templates, template_names):
                missing = [
                    q.id for q in questions if (spec.display, bank.name, template_name, q.id) not in store
                ]
                done = len(questions) - len(missing)
                echo(f"{spec.display} | {bank.name} | {template_name}: {len(missing)} to run, {done} already done")
                if missing:
                    planned.append((dataset, template, missing))
                    todo += len(missing)
        if not planned:
            continue
        endpoint = lean_endpoint(spec)
        if endpoint is None:
            model = build_model(spec, _generate_config(spec, config))
            target: Any = model
        else:
            client = lean_client(endpoint, config.max_connections)
            target = LeanModel(spec, endpoint)
        if not spec.is_local:
            asyncio.run(check_reachable(target, spec.name))
        if not judges_checked:
            _check_judge_models(config)
            judges_checked = True
        echo(f"{spec.display}: generating and judging {todo} sample(s) ...")
        with ExitStack() as stack:
            # ours (per judged sample) unless a display is named: inspect's, or "none" (the lean client has only ours)
            if config.display is None or (endpoint is not None and config.display != "none"):
                progress = stack.enter_context(Progress(f"eval {spec.display}", todo))
                stack.enter_context(store.listening(lambda record: progress.advance()))
            if endpoint is None:
                with run_connections(config.max_connections):  # LLM judges on the lean client keep pace
                    finished = _run_inspect(planned, model, spec, config, store, log_dir)
            else:
                judging = SampleJudging(**_task_args(spec, config))
                judging.warm_up()
                lean_tasks = [_lean_task(dataset, template, missing, config, judging) for dataset, template, missing in planned]
                finished = run_lean(lean_tasks, client, store, log_dir, spec.inspect_name, config.max_tokens, config.log_samples,
                                    dict(spec.model_args))
        store.reload()
        if not finished:
            write_summary(log_dir, store, order, calibration)
            raise RunInterrupted(
                f"interrupted: {len(store)} sample(s) are saved in {log_dir}; "
                "run the same command again (same --log-dir) to finish the rest"
            )
        _record_incomplete(store, spec, config, banks, template_names)
    generated = len(store) - reused_before
    runs = write_summary(log_dir, store, order, calibration)
    check_usable(runs, order, store, log_dir)
    return EvalResult(log_dir, runs, generated, reused_before)


def _has_verdicts(run: dict[str, Any]) -> bool:
    """Whether a run judged anything: a verdict on an unsafe prompt, or a compliance class on a safe one."""
    safe = run.get("over_refusal") or {}
    return bool(run["harmful"] + run["unharmful"] or safe.get("n", 0) - safe.get("unknown", 0))


def check_usable(runs: list[dict[str, Any]], order: tuple[list[str], list[str], list[str]], store: SampleStore, log_dir: Path) -> None:
    """A run asked for whose every sample failed (generation or judge errors) could not do its work: RunFailed (exit 1), never exit 0.

    Its samples stay in the folder, and the same command retries them. A run whose replies were all
    empty or blocked did its work: that is the model's answer, reported as unknown, exit 0.
    """
    asked = [set(names) for names in order]
    samples: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in store:
        samples.setdefault((record["model"], record["dataset"], record["template"]), []).append(record)
    dead = [r for r in runs if all(r[k] in names for k, names in zip(("model", "dataset", "template"), asked)) and not _has_verdicts(r)
            and all(is_retryable(x) for x in samples.get((r["model"], r["dataset"], r["template"]), []))]
    if not dead:
        return
    run = dead[0]
    records = samples[(run["model"], run["dataset"], run["template"])]
    first = str(records[0]["error"]).splitlines()[0][:200]
    more = f" (and {len(dead) - 1} more model x dataset x template)" if len(dead) > 1 else ""
    raise RunFailed(f"nothing usable: all {len(records)} sample(s) of {run['model']} | {run['dataset']} | {run['template']} ended in an error{more}; "
                    f"first: {first}; they are saved in {log_dir}, and the same command retries them")


def _task_args(spec: ModelSpec, config: EvalConfig, store: SampleStore | None = None) -> dict[str, Any]:
    """What every task's scorer is set up with (the inspect path also passes the samples file)."""
    args: dict[str, Any] = dict(
        judge=config.judge,
        judge_model=config.judge_model,
        keep_thoughts=config.keep_thoughts,
        model_label=spec.display,
        render=config.render,
        judge_threshold=config.judge_threshold,
        compliance_judge=config.compliance_judge,
        compliance_judge_model=config.compliance_judge_model,
    )
    if store is not None:
        args["samples_file"] = str(store.path)
    return args


def _run_inspect(planned: list[tuple[str, str, list[str]]], model: Any, spec: ModelSpec, config: EvalConfig,
                 store: SampleStore, log_dir: Path) -> bool:
    """One inspect eval over the planned tasks; False when interrupted."""
    tasks = [
        build_red_eval(dataset=dataset, template=template, limit=config.limit, question_ids=missing,
                       drop_duplicates=config.drop_duplicates, max_tokens=config.max_tokens, **_task_args(spec, config, store))
        for dataset, template, missing in planned
    ]
    logs = inspect_eval(
        tasks,
        model=model,
        log_dir=str(log_dir),
        display=config.display or "none",  # type: ignore[arg-type]
        fail_on_error=False,
        max_connections=config.max_connections,
        max_tasks=len(tasks),
        # samples.jsonl is our crash-safe record; inspect's realtime event buffer costs ~30% of
        # throughput on fast APIs and adds nothing to resume (see docs/benchmarks.md)
        log_realtime=False,
        log_samples=config.log_samples,
        score_display=False,
    )
    # on Ctrl-C inspect returns the cancelled logs, or none at all
    return len(logs) == len(tasks) and not any(log.status == "cancelled" for log in logs)


def _lean_task(dataset: str, template: str, missing: list[str], config: EvalConfig,
               judging: SampleJudging) -> tuple[LogTask, SampleJudging, list[str] | None]:
    """A task for the lean client; `judging` (one per model) is shared, so offline judges batch across tasks."""
    bank, prompt, samples = red_eval_samples(dataset, template, config.limit, missing, config.drop_duplicates)
    stop = stop_sequences(prompt, config.keep_thoughts)
    generate_config = GenerateConfig(max_tokens=config.max_tokens, temperature=0.0, stop_seqs=stop)
    args = {**judging.settings(), "template_text": prompt.text}
    task = LogTask(red_eval_task_name(bank, prompt), bank.name, prompt.name, samples, args, generate_config)
    return task, judging.for_template(prompt.text), stop


def _generate_config(spec: ModelSpec, config: EvalConfig) -> GenerateConfig:
    args: dict[str, Any] = {"max_tokens": config.max_tokens}
    if spec.provider not in ("hf",):  # HF decodes greedily via do_sample=False instead
        args["temperature"] = 0.0
    if config.max_connections:
        args["max_connections"] = config.max_connections
    return GenerateConfig(**args)


def _check_judge_models(config: EvalConfig) -> None:
    """One tiny request to each API judge model (harm and compliance judges) before the first sample."""
    for judge, models in ((config.judge, config.judge_model), (config.compliance_judge, config.compliance_judge_model)):
        if judge_needs_model(judge):
            for name in judge_models_of(models):
                spec = resolve_model(name)
                if not spec.is_local:
                    asyncio.run(check_reachable(build_judge_model(spec), name))


def _run_conversations(config: EvalConfig, echo: Callable[[str], None]) -> EvalResult:
    """`--attack replay|redlm`: every model x dataset as conversations; finished turns are never redone."""
    from ._conversation import TurnJournal, conversation_record
    from ._conversation_run import (attack_settings, check_attacker, conversation_plans, interrupted_error, plan_tasks,
                                    run_model_conversations, settings_manifest)

    _check_counts(config)
    settings = attack_settings(config)
    plans = conversation_plans(config, settings, echo)
    specs = _validate_models(config)
    attacker_spec = check_attacker(settings)  # before the run folder exists: an unreachable attacker leaves nothing behind
    calibration, log_dir, store = _open_run_folder(config, echo, "conversation(s) that ended in an error last time, from the turn that failed",
                                                   settings_manifest(settings))
    journal = TurnJournal(log_dir / "turns.jsonl")
    reused_before = len(store)
    order = ([spec.display for spec in specs], [name for name, _ in plans.values()], [settings.attack])
    judges_checked = False
    for spec in specs:
        judging = SampleJudging(**_task_args(spec, config))
        tasks = plan_tasks(spec, config, settings, plans, store, judging.settings(), echo)
        if not tasks:
            continue
        if not spec.is_local:
            asyncio.run(check_reachable(build_judge_model(spec), spec.name))
        if not judges_checked:
            _check_judge_models(config)
            judges_checked = True
        judging.warm_up()
        echo(f"{spec.display}: running {sum(len(t.plans) for t in tasks)} conversation(s) of up to "
             f"{settings.turns or 'all recorded'} turn(s) ...")
        finished = run_model_conversations(tasks, spec, attacker_spec, config, settings, judging, store, journal, log_dir)
        store.reload()
        if not finished:
            write_summary(log_dir, store, order, calibration)
            raise interrupted_error(store, log_dir)
        for task in tasks:  # a conversation that crashed (not an error the run could record) is unknown, retried next time
            for plan in task.plans:
                key = (spec.display, task.dataset, settings.attack, plan.id)
                if key not in store:
                    store.append(conversation_record(plan, spec.display, task.dataset, settings, judging, journal.finished(key), INCOMPLETE))
    generated = len(store) - reused_before
    runs = write_summary(log_dir, store, order, calibration)
    check_usable(runs, order, store, log_dir)
    return EvalResult(log_dir, runs, generated, reused_before)


def _record_incomplete(
    store: SampleStore,
    spec: ModelSpec,
    config: EvalConfig,
    banks: dict[str, QuestionBank],
    template_names: list[str],
) -> int:
    """Samples inspect could not finish (a crash inside a sample) are recorded as unknown."""
    added = 0
    judge = judge_label(config.judge, config.judge_model)
    for bank in banks.values():
        for template_name in template_names:
            for q in bank.first(config.limit):
                if (spec.display, bank.name, template_name, q.id) in store:
                    continue
                meta = {"dataset": bank.name, "template": template_name, "question": q.text, "topic": q.topic,
                        "subtopic": q.subtopic, "label": q.label, "type": q.type}
                store.append(SampleRecord.incomplete(meta, q.id, spec.display, config.render, judge))
                added += 1
    return added
