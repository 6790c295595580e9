"""`--attack replay|redlm`: multi-turn RED-EVAL, every model x dataset, resumable turn by turn.

Conversations run through the same run loop as single-turn samples (`_model_run`); each one's
turns run in order. Results share the single-turn run's files: samples.jsonl (one line per
conversation, with every turn), summary.json / summary.md, one inspect `.eval` log per dataset x
attack, plus turns.jsonl, the per-turn record that resume reads.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any, Callable

from inspect_ai.dataset import Sample
from inspect_ai.model import GenerateConfig

from ..errors import RedInstructError, RunInterrupted
from ..models import ModelSpec, Target, check_model_ready, check_reachable, open_target, resolve_model
from ..prompts import prompt_file
from ._conversation import AttackSettings, Seat, TurnJournal, chat_messages, conversation_record, run_conversation
from ._conversation_data import DEFAULT_BACKTRACKS, DEFAULT_REDLM_TURNS, ConversationPlan, load_attack_plans
from ._eval_log import LogTask, Outcome
from ._judging import SampleJudging
from ._model_run import PlannedTask, Runner
from ._record import INCOMPLETE
from ._samples import SampleStore
from ._template_attack import check_counts

ATTACKER_PROMPTS = ("redlm_turn", "redlm_rephrase")
ATTACKER_MAX_TOKENS = 160  # one or two sentences
ATTACKER_STOP = ["\nBase-LM:"]
MAX_CONVERSATIONS_IN_FLIGHT = 32  # per seat, unless --max-connections says otherwise: a local engine batches their turns


def load_attacker_prompts(prompts_dir: str | None) -> dict[str, str]:
    """The Red-LM prompts: the user's `redlm_turn.txt` / `redlm_rephrase.txt` in `prompts_dir`, else the built-in ones."""
    if prompts_dir and not Path(prompts_dir).is_dir():
        raise RedInstructError(f"--attacker-prompts: {prompts_dir} is not a folder")
    prompts = {name: prompt_file("redinstruct.prompts", "attacker", name, prompts_dir) for name in ATTACKER_PROMPTS}
    if "{history}" not in prompts["redlm_turn"] or "{question}" not in prompts["redlm_turn"]:
        raise RedInstructError("the attacker prompt redlm_turn.txt needs {question} and {history} slots")
    return prompts


def attack_settings(config: Any) -> AttackSettings:
    """The attack's settings from an EvalConfig, checked (bad values raise one-line errors)."""
    if config.turns is not None and config.turns < 1:
        raise RedInstructError("--turns must be at least 1")
    if config.backtracks is not None and config.backtracks < 0:
        raise RedInstructError("--backtracks must be at least 0")
    if config.render != "chat":
        raise RedInstructError(f"--attack {config.attack} sends a conversation, so it needs --render chat")
    if config.attack == "replay":
        if config.attacker_model:
            raise RedInstructError("--attacker-model is for --attack redlm (replay sends the recorded Red-LM turns)")
        return AttackSettings("replay", config.turns or 0, 0)
    prompts = load_attacker_prompts(config.attacker_prompts)
    backtracks = DEFAULT_BACKTRACKS if config.backtracks is None else config.backtracks
    return AttackSettings("redlm", config.turns or DEFAULT_REDLM_TURNS, backtracks, prompts, config.attacker_model or "smollm2")


def settings_manifest(settings: AttackSettings) -> dict[str, Any]:
    """What makes a conversation line mean what it means: a log folder keeps one value per attack."""
    out: dict[str, Any] = {"turns": settings.turns or None, "backtracks": settings.backtracks, "attacker_model": settings.attacker_label}
    if settings.prompts:
        out["attacker_prompts_sha256"] = hashlib.sha256("\x1f".join(settings.prompts[n] for n in ATTACKER_PROMPTS).encode()).hexdigest()[:16]
    return out


def _sample(plan: ConversationPlan, dataset: str, attack: str) -> Sample:
    return Sample(id=plan.id, input=plan.question, metadata=plan.meta(dataset, attack))


def _in_flight(target: Target, max_connections: int | None) -> int:
    return max_connections or min(target.concurrency, MAX_CONVERSATIONS_IN_FLIGHT)


class ConversationAttack:
    """Plans and runs conversations; inputs (conversation files, attacker prompts) are loaded and checked when it is made."""

    unit = "conversation"
    retried_what = "conversation(s) that ended in an error last time, from the turn that failed"

    def __init__(self, config: Any, echo: Callable[[str], None]):
        check_counts(config)
        self.config = config
        self.settings = attack_settings(config)
        self.plans: dict[str, tuple[str, list[ConversationPlan]]] = {}
        for dataset in config.datasets:  # the first --limit conversations of each, loaded before any generation
            name, plans, safe = load_attack_plans(dataset, self.settings.attack, config.turns, config.drop_duplicates)
            if safe:
                echo(f"{name}: {safe} prompt(s) labelled safe left out (a conversation attack measures ASR on unsafe prompts)")
            self.plans[dataset] = (name, plans[: config.limit] if config.limit else plans)
        self.manifest: dict[str, Any] | None = settings_manifest(self.settings)
        self.attacker_spec: ModelSpec | None = None
        self.journal: TurnJournal | None = None

    @property
    def order(self) -> tuple[list[str], list[str]]:
        return [name for name, _ in self.plans.values()], [self.settings.attack]

    def check_attacker(self) -> None:
        """Resolve the attacker and, for an API, make one tiny request: an unreachable attacker stops the run before it starts."""
        label = self.settings.attacker_label
        if label is None:
            return
        self.attacker_spec = resolve_model(label)
        check_model_ready(self.attacker_spec)
        if not self.attacker_spec.is_local:
            asyncio.run(check_reachable(open_target(self.attacker_spec), f"{label} (the attacker)"))

    def open_folder(self, log_dir: Path) -> None:
        self.journal = TurnJournal(log_dir / "turns.jsonl")

    def plan(self, spec: ModelSpec, store: SampleStore, judging: SampleJudging, echo: Callable[[str], None]) -> list[PlannedTask]:
        """The conversations of `spec` not yet in samples.jsonl, one task per dataset."""
        attack, tasks = self.settings.attack, []
        for name, plans in self.plans.values():
            missing = [p for p in plans if (spec.display, name, attack, p.id) not in store]
            echo(f"{spec.display} | {name} | {attack}: {len(missing)} conversation(s) to run, {len(plans) - len(missing)} already done")
            if missing:
                args = {**judging.settings(), "attack": attack, **settings_manifest(self.settings)}
                config = GenerateConfig(max_tokens=self.config.max_tokens, temperature=spec.greedy_temperature)
                log = LogTask(f"red_eval_{name}_{attack}", name, attack, [_sample(p, name, attack) for p in missing], args, config,
                              solver=f"redinstruct/{attack}_conversation")
                tasks.append(PlannedTask(log, judging, dataset=name, plans=missing))
        return tasks

    def bind(self, tasks: list[PlannedTask], spec: ModelSpec, target: Target, attacker: Target | None = None) -> int:
        """Give every task its runner; returns the conversations to keep in flight (enough to fill both seats)."""
        seat = Seat(target, tasks[0].log.generate_config)
        attacker_seat = Seat(attacker, GenerateConfig(max_tokens=ATTACKER_MAX_TOKENS, stop_seqs=ATTACKER_STOP)) if attacker else None
        for task in tasks:
            task.run = self._runner(task, spec, seat, attacker_seat)
        in_flight = _in_flight(target, self.config.max_connections)
        if attacker is not None:  # a conversation waits on one seat at a time: fill both
            in_flight += _in_flight(attacker, self.config.max_connections)
        return 2 * in_flight  # two per connection: one generating, one being judged

    def _runner(self, task: PlannedTask, spec: ModelSpec, seat: Seat, attacker: Seat | None) -> Runner:
        plans = {p.id: p for p in task.plans or []}
        journal, settings = self.journal, self.settings
        assert journal is not None

        async def run(sample: Sample) -> Outcome:
            plan = plans[str(sample.id)]
            key = (spec.display, task.dataset, settings.attack, plan.id)
            turns, error = await run_conversation(plan, key, task.dataset, settings, seat, attacker, task.judging, journal)
            record = conversation_record(plan, spec.display, task.dataset, settings, task.judging, turns, error)
            return Outcome(record, messages=chat_messages(turns))

        return run

    def open_attacker(self) -> Target | None:
        return open_target(self.attacker_spec, self.config.max_connections) if self.attacker_spec is not None else None

    def start_line(self, spec: ModelSpec, tasks: list[PlannedTask]) -> str:
        return (f"{spec.display}: running {sum(len(t.log.samples) for t in tasks)} conversation(s) of up to "
                f"{self.settings.turns or 'all recorded'} turn(s) ...")

    def record_incomplete(self, store: SampleStore, spec: ModelSpec, tasks: list[PlannedTask], judging: SampleJudging) -> None:
        """A conversation that crashed (not an error the run could record) is unknown, retried next time."""
        assert self.journal is not None
        for task in tasks:
            for plan in task.plans or []:
                key = (spec.display, task.dataset, self.settings.attack, plan.id)
                if key not in store:
                    store.append(conversation_record(plan, spec.display, task.dataset, self.settings, judging, self.journal.finished(key),
                                                     INCOMPLETE))

    @staticmethod
    def interrupted(store: SampleStore, log_dir: Any) -> RunInterrupted:
        return RunInterrupted(f"interrupted: {len(store)} conversation(s) are saved in {log_dir} (and every finished turn of the others); "
                              "run the same command again (same --log-dir) to finish the rest")
