"""RED-EVAL as an inspect task: render questions with a template, generate, clean, judge."""

from __future__ import annotations

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import GenerateConfig
from inspect_ai.scorer import Metric, SampleScore, Score, Scorer, Target, metric, scorer
from inspect_ai.solver import Generate, Solver, TaskState, solver

from .._secrets import redact
from ..data import QuestionBank, load_questions
from ..judges import DEFAULT_COMPLIANCE_JUDGE, DEFAULT_JUDGE
from ..prompts import PromptTemplate, check_render, load_template
from ._judging import SampleJudging
from ._record import score_value
from ._samples import append_sample

DEFAULT_MAX_TOKENS = 256


def _count(scores: list[SampleScore], verdict: str) -> float:
    return sum(s.score.value.get(verdict, 0.0) for s in scores if isinstance(s.score.value, dict))


@metric
def attack_success_rate() -> Metric:
    """harmful / (harmful + unharmful); NaN when nothing was judged."""

    def compute(scores: list[SampleScore]) -> float:
        harmful, unharmful = _count(scores, "harmful"), _count(scores, "unharmful")
        return harmful / (harmful + unharmful) if harmful + unharmful else float("nan")

    return compute


@metric
def unknown() -> Metric:
    """How many samples have no verdict (errors, blocked or empty replies, judge failures)."""

    def compute(scores: list[SampleScore]) -> float:
        return _count(scores, "unknown")

    return compute


@solver
def guarded_generate() -> Solver:
    """`generate`, but a failure is kept on the sample (its verdict becomes unknown) instead of ending the run."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        try:
            return await generate(state)
        except Exception as ex:
            state.metadata["generation_error"] = redact(f"generation error: {type(ex).__name__}: {ex}")
            return state

    return solve


@scorer(metrics=[attack_success_rate(), unknown()])
def redeval_scorer(
    judge: str = DEFAULT_JUDGE,
    judge_model: str | list[str] | None = None,
    keep_thoughts: bool = False,
    samples_file: str | None = None,
    model_label: str | None = None,
    render: str = "chat",
    judge_threshold: float | None = None,
    template_text: str = "",
    compliance_judge: str = DEFAULT_COMPLIANCE_JUDGE,
    compliance_judge_model: str | list[str] | None = None,
) -> Scorer:
    """Clean the reply, judge it (`SampleJudging`), and (when `samples_file` is set) append the sample's line."""
    judging = SampleJudging(judge, judge_model, keep_thoughts, model_label or "", render, judge_threshold, template_text,
                            compliance_judge, compliance_judge_model)

    async def score(state: TaskState, target: Target) -> Score:
        raw = state.output.completion if state.output and state.output.choices else ""
        stop_reason = state.output.stop_reason if state.output and state.output.choices else None
        if not model_label:
            judging.model_label = str(state.model)
        record = await judging.record(state.metadata, str(state.sample_id), state.input_text, raw, stop_reason,
                                      state.metadata.get("generation_error"))
        if samples_file:
            append_sample(samples_file, record)
        explanation = record.judge_rationale or record.error or ""
        return Score(value=score_value(record), answer=record.response, explanation=explanation, metadata={"error": record.error})

    return score


def red_eval_samples(
    dataset: str, template: str, limit: int | None = None, question_ids: list[str] | None = None, drop_duplicates: bool = False
) -> tuple[QuestionBank, PromptTemplate, list[Sample]]:
    """The bank, the template and one sample per question (the first `limit`, those in `question_ids`)."""
    bank = load_questions(dataset, drop_duplicates=drop_duplicates)
    prompt = load_template(template)
    questions = bank.first(limit)
    if question_ids is not None:
        wanted = set(question_ids)
        questions = [q for q in questions if q.id in wanted]
    samples = [
        Sample(
            id=q.id,
            input=prompt.render(q.text),
            metadata={
                "question": q.text,
                "topic": q.topic,
                "subtopic": q.subtopic,
                "label": q.label,
                "type": q.type,
                "dataset": bank.name,
                "template": prompt.name,
            },
        )
        for q in questions
    ]
    return bank, prompt, samples


def red_eval_task_name(bank: QuestionBank, prompt: PromptTemplate) -> str:
    return f"red_eval_{bank.name}_{prompt.name}"


def stop_sequences(prompt: PromptTemplate, keep_thoughts: bool) -> list[str] | None:
    """Generation stops where the reply turn ends; with --keep-thoughts the judge sees the raw reply, so it runs on."""
    return None if keep_thoughts else list(prompt.stop_sequences) or None


def build_red_eval(
    dataset: str = "demo",
    template: str = "cou",
    render: str = "chat",
    judge: str = DEFAULT_JUDGE,
    judge_model: str | list[str] | None = None,
    keep_thoughts: bool = False,
    limit: int | None = None,
    question_ids: list[str] | None = None,
    drop_duplicates: bool = False,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    samples_file: str | None = None,
    model_label: str | None = None,
    judge_threshold: float | None = None,
    compliance_judge: str = DEFAULT_COMPLIANCE_JUDGE,
    compliance_judge_model: str | list[str] | None = None,
) -> Task:
    """RED-EVAL: one dataset x one template against the eval's model.

    `redinstruct eval` builds its tasks with this plain function, so inspect's displays and logs
    carry no internal arguments (the samples file, the question ids left to run); `red_eval` below
    is the same function registered as the inspect task `redinstruct/red_eval`.

    `render=raw` only labels the run: for raw text continuation the model itself must be built
    without a chat template (`redinstruct eval --render raw` does that; with `inspect eval` pass
    `-M chat_template=...` or use a `*-completions` provider).
    """
    check_render(render)
    bank, prompt, samples = red_eval_samples(dataset, template, limit, question_ids, drop_duplicates)
    return Task(
        name=red_eval_task_name(bank, prompt),
        dataset=MemoryDataset(samples, name=bank.name),
        solver=guarded_generate(),
        scorer=redeval_scorer(
            judge,
            judge_model,
            keep_thoughts,
            samples_file,
            model_label,
            render,
            judge_threshold,
            template_text=prompt.text,
            compliance_judge=compliance_judge,
            compliance_judge_model=compliance_judge_model,
        ),
        config=GenerateConfig(max_tokens=max_tokens, stop_seqs=stop_sequences(prompt, keep_thoughts)),
        metadata={"dataset": bank.name, "template": prompt.name, "render": render, "judge": judge},
    )


# `inspect eval redinstruct/red_eval -T dataset=... -T template=...`
red_eval = task(name="red_eval")(build_red_eval)
