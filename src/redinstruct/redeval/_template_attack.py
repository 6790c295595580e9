"""`--attack templates`, the paper's RED-EVAL: every question of every dataset in every template, one reply each, judged."""

from __future__ import annotations

from typing import Any

from inspect_ai.dataset import Sample
from inspect_ai.model import GenerateConfig

from .._secrets import redact
from ..data import QuestionBank, load_questions
from ..errors import RedInstructError, RunInterrupted
from ..models import GenerationError, ModelSpec, Target
from ..prompts import check_render, load_template
from ._eval_log import LogTask, Outcome
from ._judging import SampleJudging
from ._model_run import PlannedTask, Runner
from ._record import SampleRecord
from ._samples import SampleStore
from ._task import red_eval_samples, red_eval_task_name, stop_sequences


def check_counts(config: Any, templates: str | None = None) -> None:
    """At least one model and dataset (and template, when `templates` names the option), and a positive --limit."""
    if not config.models or not config.datasets or (templates and not config.templates):
        raise RedInstructError(f"need at least one --model, --dataset and {templates}" if templates else "need at least one --model and --dataset")
    if config.limit is not None and config.limit < 1:
        raise RedInstructError("--limit must be at least 1")


def template_runner(target: Target, judging: SampleJudging, config: GenerateConfig) -> Runner:
    """Generate one reply to the sample's prompt and judge it; a failed request is the sample's error, never the run's."""

    async def run(sample: Sample) -> Outcome:
        output, error = None, None
        try:
            output = await target.generate(str(sample.input), config)
        except GenerationError as ex:
            error = f"generation error: {ex}"
        except Exception as ex:  # any provider's failure: the sample's, retried on resume
            error = redact(f"generation error: {type(ex).__name__}: {ex}")
        has_reply = output is not None and bool(output.choices)
        raw = output.completion if has_reply else ""
        stop_reason = output.stop_reason if has_reply else None
        record = await judging.record(sample.metadata or {}, str(sample.id), str(sample.input), raw, stop_reason, error)
        return Outcome(record, output)

    return run


class TemplateAttack:
    """Plans and runs the single-turn attack; inputs (banks, templates) are loaded and checked when it is made."""

    unit = "sample"
    retried_what = "sample(s) that ended in an error last time"

    def __init__(self, config: Any):
        check_render(config.render)
        check_counts(config, "--template")
        self.config = config
        self.banks: dict[str, QuestionBank] = {d: load_questions(d, drop_duplicates=config.drop_duplicates) for d in config.datasets}
        self.template_names = [load_template(t).name for t in config.templates]
        self.manifest: dict[str, Any] | None = None

    def check_attacker(self) -> None:
        """Nothing to check: a single-turn attack has no attacker model."""

    def open_folder(self, log_dir: Any) -> None:
        """Nothing beyond samples.jsonl: a single-turn sample is finished in one step."""

    def open_attacker(self) -> None:
        return None

    @property
    def order(self) -> tuple[list[str], list[str]]:
        """(datasets, templates) as the user asked for them: the summary's row order."""
        return [b.name for b in self.banks.values()], self.template_names

    def plan(self, spec: ModelSpec, store: SampleStore, judging: SampleJudging, echo: Any) -> list[PlannedTask]:
        """One task per dataset x template with the questions `store` does not hold yet."""
        tasks = []
        for dataset, bank in self.banks.items():
            questions = bank.first(self.config.limit)
            for template, template_name in zip(self.config.templates, self.template_names):
                missing = [q.id for q in questions if (spec.display, bank.name, template_name, q.id) not in store]
                echo(f"{spec.display} | {bank.name} | {template_name}: {len(missing)} to run, {len(questions) - len(missing)} already done")
                if missing:
                    tasks.append(self._task(dataset, template, missing, judging))
        return tasks

    def _task(self, dataset: str, template: str, missing: list[str], judging: SampleJudging) -> PlannedTask:
        config = self.config
        bank, prompt, samples = red_eval_samples(dataset, template, config.limit, missing, config.drop_duplicates)
        stop = stop_sequences(prompt, config.keep_thoughts)
        generate_config = GenerateConfig(max_tokens=config.max_tokens, stop_seqs=stop)
        log = LogTask(red_eval_task_name(bank, prompt), bank.name, prompt.name, samples, {**judging.settings(), "template_text": prompt.text},
                      generate_config)
        # one judging per model, copied per template: offline judges batch across every task
        return PlannedTask(log, judging=judging.for_template(prompt.text), dataset=bank.name)

    def bind(self, tasks: list[PlannedTask], spec: ModelSpec, target: Target, attacker: Target | None = None) -> int:
        """Give every task its runner on `target`; returns the workers to run with (two per request in flight)."""
        for task in tasks:
            planned = task.log.generate_config
            config = GenerateConfig(max_tokens=planned.max_tokens, temperature=spec.greedy_temperature, stop_seqs=planned.stop_seqs)
            task.log.generate_config = config
            task.run = template_runner(target, task.judging, config)
        return 2 * (self.config.max_connections or target.concurrency)

    def start_line(self, spec: ModelSpec, tasks: list[PlannedTask]) -> str:
        return f"{spec.display}: generating and judging {sum(len(t.log.samples) for t in tasks)} sample(s) ..."

    def record_incomplete(self, store: SampleStore, spec: ModelSpec, tasks: list[PlannedTask], judging: SampleJudging) -> None:
        """Samples that crashed before they could be recorded (a judge failed outright) are unknown, retried next time."""
        for bank in self.banks.values():
            for template_name in self.template_names:
                for q in bank.first(self.config.limit):
                    if (spec.display, bank.name, template_name, q.id) in store:
                        continue
                    meta = {"dataset": bank.name, "template": template_name, "question": q.text, "topic": q.topic,
                            "subtopic": q.subtopic, "label": q.label, "type": q.type}
                    store.append(SampleRecord.incomplete(meta, q.id, spec.display, self.config.render, judging.judge_name))

    @staticmethod
    def interrupted(store: SampleStore, log_dir: Any) -> RunInterrupted:
        return RunInterrupted(f"interrupted: {len(store)} sample(s) are saved in {log_dir}; "
                              "run the same command again (same --log-dir) to finish the rest")
