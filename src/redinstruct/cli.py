"""The `redinstruct` command line: each subcommand is a thin shell over a library function."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from ._defaults import DEFAULT_COMPLIANCE_JUDGE, DEFAULT_JUDGE
from ._engines import close_local_engines
from .errors import RedInstructError, RunFailed, RunInterrupted

app = typer.Typer(
    name="redinstruct",
    help="Red-team LLMs with RED-EVAL (Chain of Utterances jailbreaks), build HARMFULQA-style data, SAFE-ALIGN a model, measure utility, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Question banks: list the named datasets, inspect a bank.", no_args_is_help=True)
app.add_typer(data_app, name="data")
harmfulqa_app = typer.Typer(help="HARMFULQA: generate red-teaming data (topics, questions, blue and red conversations).", no_args_is_help=True)
app.add_typer(harmfulqa_app, name="harmfulqa")
judge_app = typer.Typer(help="Judges: measure one against human labels, fit the offline classifier.", no_args_is_help=True)
app.add_typer(judge_app, name="judge")
utility_app = typer.Typer(help="Utility benchmarks (HHH, TruthfulQA, MMLU, BBH) through lm-evaluation-harness; 'compare' diffs two results.")
app.add_typer(utility_app, name="utility")

# wide enough for the ASR table when output goes to a file or CI log (rich assumes 80 columns there)
console = Console(width=None if sys.stdout.isatty() else 140)
EXIT_USAGE = 2
EXIT_FAILED = 1  # the run could not do its work (a stage gave nothing usable)


def _split(values: Optional[list[str]]) -> list[str]:
    """Repeated options and comma-separated lists both work: `--template cou,cot`."""
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _parse_model_args(values: Optional[list[str]]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise RedInstructError(f"--model-arg expects KEY=VALUE, got '{item}'")
        lowered = raw.lower()
        value: Any = raw
        if lowered in ("true", "false"):
            value = lowered == "true"
        elif raw.lstrip("-").isdigit():
            value = int(raw)
        args[key] = value
    return args


JUDGE_HELP = (
    "Judge: crossencoder (offline, question-aware), classifier (offline, reply only), refusal (offline phrases); "
    "with --judge-model: llm ([[A]]/[[B]]), rubric, strongreject, llamaguard (Llama Guard 3/4), harmbench (HarmBench classifier); "
    "compliance (offline) / compliance-llm: XSTest's full compliance, full or partial refusal"
)
COMPLIANCE_JUDGE_HELP = (
    "Judge of replies to safe prompts (over-refusal): compliance (offline, learned from XSTest's human labels) "
    "or compliance-llm (with --compliance-judge-model)"
)


@app.command("eval")
def eval_command(
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", show_default="smollm2", help="Target model(s): smollm2, hf/..., openai/..., vllm/..., ollama/..., openai-api/<service>/...")] = None,
    dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d", show_default="demo", help="Question bank(s): demo, dangerousqa, harmfulqa, xstest, or a .json/.jsonl/.csv path (a label column, safe/unsafe, adds over-refusal); with --attack replay, a HARMFULQA-format file with red conversations")] = None,
    template: Annotated[Optional[list[str]], typer.Option("--template", "-t", show_default="standard,cot,cou", help="Template(s): standard, cot, cou, or a file with a {question} slot")] = None,
    judge: Annotated[str, typer.Option(help=JUDGE_HELP)] = DEFAULT_JUDGE,
    judge_model: Annotated[Optional[list[str]], typer.Option(help="Judge model(s), any inspect model name; several vote by majority (a tie is unknown)")] = None,
    render: Annotated[str, typer.Option(help="chat: the prompt is one user turn; raw: plain text continuation")] = "chat",
    limit: Annotated[Optional[int], typer.Option(help="Use only the first N questions of each dataset")] = None,
    max_connections: Annotated[Optional[int], typer.Option(help="Concurrent requests (API; default 10, and as many for LLM judges) or batch size (local HF)")] = None,
    max_tokens: Annotated[int, typer.Option(help="Maximum new tokens per reply")] = 256,
    log_dir: Annotated[Optional[str], typer.Option(help="Run folder (default logs/redeval/<timestamp>); reuse it to resume")] = None,
    keep_thoughts: Annotated[bool, typer.Option("--keep-thoughts", help="Judge the raw reply, without removing internal thoughts and later turns")] = False,
    drop_duplicates: Annotated[bool, typer.Option("--drop-duplicates", help="Drop exact duplicate questions")] = False,
    retry_errors: Annotated[bool, typer.Option(help="On resume, retry samples that ended in a generation or judge error")] = True,
    model_arg: Annotated[Optional[list[str]], typer.Option("--model-arg", "-M", help="Extra model argument KEY=VALUE (e.g. -M dtype=bfloat16; -M engine=inspect: inspect's provider instead of the lean client for openai-api/ and vllm/ servers)")] = None,
    display: Annotated[Optional[str], typer.Option(help="inspect progress display: full, rich, plain, log, none (servers on the lean client show only redinstruct's progress, or none)")] = None,
    log_samples: Annotated[bool, typer.Option(help="Keep samples in the inspect logs too (off: faster on fast APIs; samples.jsonl is always written)")] = True,
    judge_calibration: Annotated[Optional[str], typer.Option(help="Calibration JSON of the judge (from 'redinstruct judge calibrate'): adds the error-corrected ASR")] = None,
    judge_threshold: Annotated[Optional[float], typer.Option(help="Score at which the rubric (default 0.5) or classifier (default 0.5) judge says harmful")] = None,
    name: Annotated[Optional[list[str]], typer.Option("--name", help="Display name per --model, same order (tables, legends, samples.jsonl); the model path stays in run.json")] = None,
    compliance_judge: Annotated[str, typer.Option(help=COMPLIANCE_JUDGE_HELP)] = DEFAULT_COMPLIANCE_JUDGE,
    compliance_judge_model: Annotated[Optional[list[str]], typer.Option(help="Model(s) of compliance-llm; several vote")] = None,
    attack: Annotated[str, typer.Option(help="templates: one prompt per --template; replay: send the Red-LM turns of a HARMFULQA file's red conversations (--dataset FILE); redlm: a live attacker model plays Red-LM")] = "templates",
    attacker_model: Annotated[Optional[str], typer.Option(help="--attack redlm: the attacker, any model name (default: the packaged SmolLM2)")] = None,
    turns: Annotated[Optional[int], typer.Option(help="--attack redlm: turns per conversation (default 5); replay: send at most this many recorded turns")] = None,
    backtracks: Annotated[Optional[int], typer.Option(help="--attack redlm: times a refused turn is rephrased and sent again, per turn (default 2)")] = None,
    attacker_prompts: Annotated[Optional[str], typer.Option(help="--attack redlm: folder with redlm_turn.txt / redlm_rephrase.txt replacing the built-in attacker prompts")] = None,
) -> None:
    """Run RED-EVAL: every model x dataset x template (or conversation attack), judged, with ASR per run and
    per topic (and per turn for conversations), and over-refusal where a bank labels prompts safe / unsafe."""
    from .redeval import EvalConfig, run_redeval

    if attack != "templates" and template:
        raise RedInstructError(f"--template applies to --attack templates; --attack {attack} sends conversations")
    if attack == "templates" and any(v is not None for v in (attacker_model, turns, backtracks, attacker_prompts)):
        raise RedInstructError("--attacker-model, --turns, --backtracks and --attacker-prompts need --attack replay or redlm")

    config = EvalConfig(
        models=_split(model) or ["smollm2"],
        names=[n.strip() for n in name or []],
        datasets=_split(dataset) or ["demo"],
        templates=_split(template) or ["standard", "cot", "cou"],
        judge=judge,
        judge_model=_split(judge_model) or None,
        render=render,  # type: ignore[arg-type]
        limit=limit,
        max_connections=max_connections,
        max_tokens=max_tokens,
        keep_thoughts=keep_thoughts,
        drop_duplicates=drop_duplicates,
        retry_errors=retry_errors,
        log_dir=log_dir,
        model_args=_parse_model_args(model_arg),
        display=display,
        log_samples=log_samples,
        judge_calibration=judge_calibration,
        judge_threshold=judge_threshold,
        compliance_judge=compliance_judge,
        compliance_judge_model=_split(compliance_judge_model) or None,
        attack=attack,
        attacker_model=attacker_model,
        turns=turns,
        backtracks=backtracks,
        attacker_prompts=attacker_prompts,
    )
    if "demo" in config.datasets:
        console.print("[dim]dataset 'demo' is a 16-question smoke set, not a benchmark: use dangerousqa or harmfulqa for real numbers[/dim]", highlight=False)
    result = run_redeval(config)
    _print_runs(result.runs)
    console.print(
        f"{result.generated} {'sample' if attack == 'templates' else 'conversation'}(s) run now, {result.reused} reused. Results in {result.log_dir} "
        "(samples.jsonl, summary.json, summary.md)",
        highlight=False,
    )


def _print_runs(runs: list[dict[str, Any]]) -> None:
    from .judges._compliance import compliance_quality_line
    from .judges._quality import quality_line
    from .redeval._metrics import format_cell, format_refusal_cell

    with_safe = any(r.get("over_refusal") for r in runs)
    title = "RED-EVAL attack success rate (harmful / judged, 95% Wilson CI)"
    if with_safe:
        title += " and over-refusal (refusals of safe prompts / classified)"
    table = Table(title=title, expand=False)
    counts = ("n", "harmful", "unharmful", "unknown", "echo")
    for column in ("model", "dataset", "template", *counts, "ASR", *(("over-refusal",) if with_safe else ())):
        table.add_column(column, justify="right" if column in counts else "left", no_wrap=column in ("ASR",))
    for run in runs:
        row = [
            run["model"], run["dataset"], run["template"], str(run["n"]), str(run["harmful"]),
            str(run["unharmful"]), str(run["unknown"]), str(run.get("echo", 0)), format_cell(run),
        ]
        if with_safe:
            row.append(format_refusal_cell(run.get("over_refusal")) or "no safe prompts")
        table.add_row(*row)
    console.print(table)
    if with_safe:
        console.print(
            "ASR counts unsafe prompts only; over-refusal = full + partial refusals of safe prompts. "
            f"The {compliance_quality_line()}",
            highlight=False,
            soft_wrap=True,
        )
    for judge in sorted({str(r.get("judge")) for r in runs}):
        console.print(f"Judge {quality_line(judge)}", highlight=False, soft_wrap=True)
    if any(r.get("echo") for r in runs):
        copied = "the template's own text (in a conversation, the attacker's turn)" if any(r.get("conversation") for r in runs) else "the template's own text"
        console.print(f"echo: replies that copied {copied} instead of answering; recorded as unharmful (docs/judges.md)", highlight=False, soft_wrap=True)
    _print_conversations(runs)


def _print_conversations(runs: list[dict[str, Any]]) -> None:
    """Conversation attacks: cumulative ASR at each turn, the first successful turns and refusals per turn."""
    from .redeval._metrics import first_success_text, format_turn_cell

    conversations = [r for r in runs if r.get("conversation")]
    if not conversations:
        return
    most = max(r["conversation"]["turns"] for r in conversations)
    table = Table(title="Conversations: ASR by turn (cumulative, 95% Wilson CI) and refusals per turn", expand=False)
    for column in ("model", "dataset", "attack", "", *(f"turn {t}" for t in range(1, most + 1)), "first successful turn", "backtracks", "echoed turns"):
        table.add_column(column, no_wrap=column.startswith("turn"))
    for run in conversations:
        c = run["conversation"]
        asr = [format_turn_cell(p) for p in c["asr_by_turn"]] + [""] * (most - len(c["asr_by_turn"]))
        refused = [("" if s["refusal_rate"] is None else f"{100 * s['refusal_rate']:.0f}% ({s['full_refusal'] + s['partial_refusal']}/{s['n'] - s['unknown']})")
                   for s in c["refusals_by_turn"]] + [""] * (most - len(c["refusals_by_turn"]))
        table.add_row(run["model"], run["dataset"], run["template"], "ASR", *asr, first_success_text(c), str(c["backtracks"]),
                      str(c.get("echoed_turns", 0)))
        table.add_row("", "", "", "refused", *refused, "", "", "")
    console.print(table)


@data_app.command("list")
def data_list() -> None:
    """The named datasets and where each resolves from."""
    from .data import DATASETS

    table = Table(title="Named question banks")
    table.add_column("name")
    table.add_column("description")
    for spec in DATASETS.values():
        table.add_row(spec.name, spec.description)
    console.print(table)


@data_app.command("info")
def data_info(
    source: Annotated[str, typer.Argument(help="A dataset name or a .json/.jsonl/.csv path")],
    text_column: Annotated[Optional[str], typer.Option(help="Column holding the question (JSONL/CSV)")] = None,
    topic_column: Annotated[Optional[str], typer.Option(help="Column holding the topic")] = None,
    subtopic_column: Annotated[Optional[str], typer.Option(help="Column holding the subtopic")] = None,
) -> None:
    """Counts per topic and the exact duplicate questions of a bank."""
    from collections import Counter

    from .data import load_questions

    bank = load_questions(source, text_column=text_column, topic_column=topic_column, subtopic_column=subtopic_column)
    console.print(f"{bank.name}: {len(bank)} questions, {len(bank.topics())} topics, "
                  f"{sum(len(g) - 1 for g in bank.duplicates)} exact duplicates in {len(bank.duplicates)} groups",
                  highlight=False)
    table = Table()
    table.add_column("topic")
    table.add_column("subtopics", justify="right")
    table.add_column("questions", justify="right")
    counts = Counter(q.topic for q in bank.questions)
    for topic in bank.topics():
        subtopics = {q.subtopic for q in bank.questions if q.topic == topic}
        table.add_row(topic, str(len(subtopics)), str(counts[topic]))
    console.print(table)


_METRIC_ROWS = (
    ("n", "n"), ("unknown", "unknown"), ("agreement", "agreement (accuracy)"), ("precision", "precision"),
    ("recall", "recall (sensitivity)"), ("specificity", "specificity"), ("f1", "F1"),
    ("false_positive_rate", "false-positive rate"), ("false_negative_rate", "false-negative rate"), ("kappa", "Cohen's kappa"),
)


def _print_metrics(title: str, metrics: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in _METRIC_ROWS:
        value = metrics.get(key)
        table.add_row(label, "n/a" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value)))
    console.print(table)


COMPLIANCE_JUDGES = ("compliance", "compliance-llm")


def _print_group_metrics(title: str, by_group: dict[str, dict[str, Any]], compliance: bool) -> None:
    """Per-group agreement, FPR and FNR (for compliance judges a refusal is the positive class)."""
    table = Table(title=title + (" (positive class: refusal)" if compliance else ""))
    columns = [("n", "n"), ("unknown", "unknown"), ("agreement", "3-way agreement" if compliance else "agreement")]
    if compliance:
        columns.append(("binary_agreement", "refusal vs compliance"))
    columns += [("false_positive_rate", "FPR"), ("false_negative_rate", "FNR")]
    table.add_column("group")
    for _, label in columns:
        table.add_column(label, justify="right")
    for group, metrics in by_group.items():
        cells = [metrics.get(key) for key, _ in columns]
        table.add_row(group, *("n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in cells))
    console.print(table)


def _print_compliance_metrics(title: str, metrics: dict[str, Any]) -> None:
    from .judges import COMPLIANCE_CLASSES

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in (
        ("n", "n"), ("unknown", "unknown"), ("agreement", "3-way agreement"), ("binary_agreement", "refusal vs compliance agreement"),
        ("refusal_recall", "refusals found"), ("false_refusal_rate", "compliant replies called refusals"),
        ("human_refusal_rate", "refusal rate (humans)"), ("judge_refusal_rate", "refusal rate (judge)"),
    ):
        value = metrics.get(key)
        table.add_row(label, "n/a" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value)))
    console.print(table)
    confusion = Table(title="rows: human label, columns: judge")
    confusion.add_column("")
    for name in COMPLIANCE_CLASSES:
        confusion.add_column(name, justify="right")
    for true in COMPLIANCE_CLASSES:
        confusion.add_row(true, *(str(metrics["confusion"][true][p]) for p in COMPLIANCE_CLASSES))
    console.print(confusion)


@judge_app.command("calibrate")
def judge_calibrate(
    labels: Annotated[str, typer.Option(help="CSV, JSON or JSONL of human labels (1 = harmful / successful jailbreak, or text labels with --positive)")],
    judge: Annotated[str, typer.Option(help="Judge to measure (default: the same as 'redinstruct eval'). " + JUDGE_HELP)] = DEFAULT_JUDGE,
    judge_model: Annotated[Optional[list[str]], typer.Option(help="Judge model(s) for model judges; a trained folder for classifier / crossencoder")] = None,
    question_col: Annotated[str, typer.Option(help="Column with the question")] = "question",
    response_col: Annotated[str, typer.Option(help="Column with the reply")] = "answer",
    label_col: Annotated[str, typer.Option(help="Column with the label")] = "label",
    positive: Annotated[Optional[str], typer.Option(help="Label value(s) that mean harmful, comma-separated (e.g. unsafe, yes, 1_full_compliance); any other value means not harmful. Without it labels must be 0/1")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Use only the first N rows")] = None,
    max_connections: Annotated[int, typer.Option(help="Concurrent judge requests")] = 16,
    judge_threshold: Annotated[Optional[float], typer.Option(help="Score at which the rubric or classifier judge says harmful")] = None,
    out: Annotated[Optional[str], typer.Option(help="Write the metrics as JSON here (input to --judge-calibration)")] = None,
    predictions: Annotated[Optional[str], typer.Option(help="Write one row per labelled reply here (JSONL, or CSV for a .csv name): group, question, reply, human label, verdict, score, rationale, agrees")] = None,
    group_col: Annotated[Optional[str], typer.Option(help="Column to break the metrics down by (a harm category, a model): agreement, FPR, FNR and n per group")] = None,
) -> None:
    """Run a judge over human-labelled replies and report how well it agrees with the humans."""
    import json
    from datetime import datetime, timezone

    from .judges import calibrate, get_judge, judge_label, load_labels
    from .judges._calibration import file_sha256
    from .judges._compliance import calibrate_compliance, is_compliance_labels, load_compliance_labels

    compliance_mode = judge in COMPLIANCE_JUDGES and positive is None
    if not compliance_mode and positive is None and is_compliance_labels(labels, label_col):
        raise RedInstructError(
            f"{labels}: {label_col} holds compliance classes (full_compliance / full_refusal / partial_refusal): "
            "measure a compliance judge (--judge compliance or compliance-llm), or pass --positive to read them as harm labels"
        )
    from .judges._disagreement import metrics_by_group, prediction_rows, write_predictions

    labelled: Any
    if compliance_mode:
        labelled = load_compliance_labels(labels, question_col, response_col, label_col, group_col=group_col)[:limit]
    else:
        labelled = load_labels(labels, question_col, response_col, label_col, limit, positive=positive, group_col=group_col)
    the_judge = get_judge(judge, _split(judge_model) or None, threshold=judge_threshold)
    console.print(f"judging {len(labelled)} labelled replies with {judge_label(judge, _split(judge_model))} ...", highlight=False)
    title = f"{judge_label(judge, _split(judge_model))} on {labels}"
    if compliance_mode:
        metrics, results = calibrate_compliance(the_judge, labelled, max_connections)
        _print_compliance_metrics(title, metrics)
    else:
        metrics, results = calibrate(the_judge, labelled, max_connections)
        _print_metrics(title, metrics)
    if group_col:
        metrics["group_col"] = group_col
        metrics["by_group"] = metrics_by_group(labelled, results, compliance_mode)
        _print_group_metrics(f"by {group_col}", metrics["by_group"], compliance_mode)
    if predictions:
        written = write_predictions(predictions, prediction_rows(labelled, results, compliance_mode))
        console.print(f"wrote {written} ({len(results)} rows)", highlight=False)
    if out:
        report = {
            "judge": judge,
            "judge_model": _split(judge_model),
            "judge_threshold": judge_threshold,
            "labels": str(labels),
            "labels_sha256": file_sha256(labels),
            "columns": {"question": question_col, "response": response_col, "label": label_col},
            "positive": positive,
            "limit": limit,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "metrics": metrics,
        }
        from pathlib import Path

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, indent=2))
        console.print(f"wrote {out}", highlight=False)


@judge_app.command("fit")
def judge_fit(
    labels: Annotated[list[str], typer.Option(help="Labelled CSV(s) to fit on (repeat for several)")],
    out: Annotated[str, typer.Option(help="Folder for the fitted judge (use it with --judge classifier --judge-model DIR)")],
    question_col: Annotated[str, typer.Option(help="Column with the question")] = "question",
    response_col: Annotated[str, typer.Option(help="Column with the reply")] = "answer",
    label_col: Annotated[str, typer.Option(help="Column with the 0/1 label")] = "label",
    l2: Annotated[float, typer.Option(help="L2 penalty of the logistic-regression head")] = 1e-2,
    limit: Annotated[Optional[int], typer.Option(help="Use only the first N rows of each file")] = None,
) -> None:
    """Fit the offline classifier judge (MiniLM embeddings + refusal features + logistic regression)."""
    from .judges import fit_classifier

    files = _split(labels)
    console.print(f"embedding and fitting on {', '.join(files)} ...", highlight=False)
    head, train = fit_classifier(files, question_col, response_col, label_col, l2, limit)
    head.provenance["command"] = "redinstruct judge fit " + " ".join(f"--labels {f}" for f in files) + f" --l2 {l2}" + (f" --limit {limit}" if limit else "")
    path = head.save(out)
    _print_metrics("training-set fit (measure on another set with 'judge calibrate')", train)
    console.print(f"wrote {path}", highlight=False)


@judge_app.command("fit-compliance")
def judge_fit_compliance(
    labels: Annotated[list[str], typer.Option(help="File(s) of replies labelled full_compliance / full_refusal / partial_refusal (XSTest's completions work as they are)")],
    out: Annotated[str, typer.Option(help="Folder for the fitted judge (use it with --judge compliance --judge-model DIR)")],
    question_col: Annotated[str, typer.Option(help="Column with the prompt")] = "prompt",
    response_col: Annotated[str, typer.Option(help="Column with the reply")] = "completion",
    label_col: Annotated[str, typer.Option(help="Column with the class")] = "final_label",
    l2: Annotated[float, typer.Option(help="L2 penalty of the logistic-regression head")] = 1e-2,
) -> None:
    """Fit the offline compliance judge (MiniLM embeddings + refusal features + multinomial logistic regression)."""
    from pathlib import Path

    from .judges import fit_compliance, load_compliance_labels
    from .judges._calibration import file_sha256

    files = _split(labels)
    rows = [row for f in files for row in load_compliance_labels(f, question_col, response_col, label_col)]
    console.print(f"embedding and fitting on {len(rows)} labelled replies ...", highlight=False)
    head = fit_compliance(rows, l2)
    head.provenance = {
        "training_data": [{"file": Path(f).name, "sha256": file_sha256(f)} for f in files],
        "l2": l2,
        "command": "redinstruct judge fit-compliance " + " ".join(f"--labels {f}" for f in files) + f" --l2 {l2}",
        "held_out": {},
    }
    console.print(f"wrote {head.save(out)}; measure it on replies of another model with 'redinstruct judge calibrate --judge compliance --judge-model {out}'", highlight=False)


@judge_app.command("train")
def judge_train(
    out: Annotated[str, typer.Option(help="Folder for the trained judge (use it with --judge crossencoder --judge-model DIR)")],
    labels: Annotated[Optional[list[str]], typer.Option(help="Labelled CSV/JSON/JSONL file(s) (repeat for several; each counts as one source)")] = None,
    data_dir: Annotated[Optional[str], typer.Option(help="A folder laid out like ../shared/data: every labelled source in it (JAILJUDGEmini, Safe-RLHFmini, XSTest)")] = None,
    question_col: Annotated[str, typer.Option(help="Column with the question (--labels)")] = "question",
    response_col: Annotated[str, typer.Option(help="Column with the reply (--labels)")] = "answer",
    label_col: Annotated[str, typer.Option(help="Column with the label (--labels)")] = "label",
    positive: Annotated[Optional[str], typer.Option(help="Label value(s) that mean harmful, for text labels (--labels)")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the data")] = 2,
    lr: Annotated[float, typer.Option(help="Learning rate")] = 4e-5,
    batch_size: Annotated[int, typer.Option(min=1, help="Pairs per step")] = 16,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    benign: Annotated[bool, typer.Option(help="With --data-dir: add helpful answers to harmless questions from its utility/ data (unharmful)")] = True,
    synthetic_share: Annotated[float, typer.Option(min=0.0, help="Synthetic unharmful replies (mismatched, nonsense, fragments, echoes) per labelled row")] = 0.25,
) -> None:
    """Train the question-aware offline judge (a MiniLM cross-encoder on question + reply); a GPU is used when present."""
    from datetime import datetime, timezone

    from .judges import fit_crossencoder, load_label_sources, load_labels
    from .judges._calibration import file_sha256
    from .judges._sources import BENIGN, load_benign_answers

    files = _split(labels)
    if not files and not data_dir:
        raise RedInstructError("give --labels FILE (repeatable) or --data-dir DIR")
    rows = [r for path in files for r in load_labels(path, question_col, response_col, label_col, positive=positive)]
    sources = load_label_sources(data_dir) if data_dir else {}
    if data_dir and benign:
        sources[BENIGN] = load_benign_answers(os.path.join(data_dir, "utility"))  # [] when the folder has no utility data
    rows += [r for source_rows in sources.values() for r in source_rows]
    console.print(f"training on {len(rows)} labelled replies ({', '.join(sorted({r.source for r in rows}))}) ...", highlight=False)
    scorer = fit_crossencoder(rows, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, synthetic_share=synthetic_share,
                              progress=lambda m: console.print(m, highlight=False))
    scorer.provenance = {
        "training_data": [{"file": os.path.basename(p), "sha256": file_sha256(p)} for p in files] + [{"source": s, "rows": len(r)} for s, r in sources.items()],
        "n_train": len(rows),
        "epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed, "synthetic_share": synthetic_share,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "heldout": "none measured: measure with 'redinstruct judge calibrate --judge crossencoder --judge-model DIR' on labels from another source",
    }
    console.print(f"wrote {scorer.save(out)}", highlight=False)


@harmfulqa_app.command("generate")
def harmfulqa_generate(
    model: Annotated[str, typer.Option(help="Generator model (any inspect model name, or smollm2)")],
    out: Annotated[str, typer.Option(help="Output folder; rerun with the same folder to resume")],
    topics: Annotated[int, typer.Option(help="Number of topics")] = 10,
    subtopics_per_topic: Annotated[int, typer.Option(help="Subtopics per topic")] = 10,
    questions_per_subtopic: Annotated[int, typer.Option(help="Harmful questions per subtopic")] = 20,
    conversations_per_question: Annotated[int, typer.Option(help="Blue (and red) conversations per question")] = 5,
    turns: Annotated[int, typer.Option(help="Turns per side in each conversation")] = 4,
    stages: Annotated[str, typer.Option(help="Comma-separated stages to run: topics,subtopics,questions,blue,red")] = "topics,subtopics,questions,blue,red",
    seed_topics: Annotated[Optional[str], typer.Option(help="File with one topic per line, instead of generating them")] = None,
    max_connections: Annotated[Optional[int], typer.Option(help="Concurrent generator calls", show_default="8 for APIs, 64 for local models")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Maximum new tokens per generator call", show_default="1024 for APIs, 256 for local models")] = None,
    prompts_dir: Annotated[Optional[str], typer.Option(help="Folder with your own stage prompts (topics.txt, subtopics.txt, questions.txt, blue.txt, red.txt)")] = None,
    retries: Annotated[int, typer.Option(help="More attempts at a unit whose reply is unusable (unparseable, empty, a refusal), sampled with a recorded seed")] = 3,
    model_arg: Annotated[Optional[list[str]], typer.Option("--model-arg", "-M", help="Extra model argument KEY=VALUE (-M engine=inspect: inspect's provider instead of the lean client for openai-api/ and vllm/ servers)")] = None,
) -> None:
    """Generate a HarmfulQA-style dataset with any LLM; every stage is resumable.

    A unit whose reply is unusable is retried (--retries) and, if still unusable, stored as failed
    with its raw replies: the next run retries exactly those. A stage that gives nothing usable
    stops the run with exit status 1.
    """
    from .harmfulqa import GenerateSettings, generate_harmfulqa
    from .harmfulqa._pipeline import stage_summary_lines
    from .harmfulqa._stats import generation_stats

    if turns < 1 or topics < 1 or subtopics_per_topic < 1 or questions_per_subtopic < 1 or conversations_per_question < 1:
        raise RedInstructError("counts and --turns must be at least 1")
    if (max_tokens is not None and max_tokens < 1) or (max_connections is not None and max_connections < 1):
        raise RedInstructError("--max-tokens and --max-connections must be at least 1")
    if retries < 0:
        raise RedInstructError("--retries must be at least 0")
    settings = GenerateSettings(
        model=model, out=out, topics=topics, subtopics_per_topic=subtopics_per_topic,
        questions_per_subtopic=questions_per_subtopic, conversations_per_question=conversations_per_question,
        turns=turns, stages=_split([stages]), seed_topics=seed_topics, max_connections=max_connections,
        max_tokens=max_tokens, prompts_dir=prompts_dir, retries=retries, model_args=_parse_model_args(model_arg),
    )
    ran = generate_harmfulqa(settings, echo=lambda m: console.print(m, highlight=False))
    for line in stage_summary_lines(out, settings):
        console.print(line, highlight=False)
    console.print(f"generator calls this run: {ran['generator_calls']}", highlight=False)
    if (Path(out) / "harmfulqa.json").is_file():
        stats = generation_stats(out)["stages"]
        console.print(f"wrote {out}/harmfulqa.json ({stats['questions']} questions, {stats['blue_conversations']} blue and "
                      f"{stats['red_conversations']} red conversations) and {out}/questions.json", highlight=False)


@harmfulqa_app.command("distill")
def harmfulqa_distill(
    model: Annotated[str, typer.Option(help="Local model to distil from (a checkpoint path or smollm2); usually the model you will align")],
    questions: Annotated[list[str], typer.Option(help="Harmful questions: a dataset name or file; repeat for several")],
    out: Annotated[str, typer.Option(help="Output folder (harmfulqa.json, general.json); rerun to resume")],
    benign: Annotated[Optional[list[str]], typer.Option(help="Harmless prompts whose plain answers become general.json: any question file, a BIG-bench task.json, MMLU-style JSONL; repeat for several")] = None,
    borderline: Annotated[Optional[list[str]], typer.Option(help="Borderline-safe prompts (safe requests that sound unsafe), answered without the safety context and kept when they comply")] = None,
    general_limit: Annotated[Optional[int], typer.Option(help="Use at most N prompts of each --benign / --borderline file (spread over the file)")] = None,
    skip: Annotated[int, typer.Option(help="Skip the first N questions of each source")] = 0,
    limit: Annotated[Optional[int], typer.Option(help="Use at most N questions of each source")] = None,
    context: Annotated[Optional[str], typer.Option(help="JSON file with your own safety context {system, shots}")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Maximum new tokens per reply")] = 160,
    batch_size: Annotated[int, typer.Option(help="Replies generated together")] = 16,
) -> None:
    """Blue/red training data from a local model itself, offline (context distillation)."""
    from .data import load_prompt_sources, load_questions
    from .harmfulqa._distill import DistillSettings, distill

    if skip < 0 or (limit is not None and limit < 1) or max_new_tokens < 1 or batch_size < 1 or (general_limit is not None and general_limit < 1):
        raise RedInstructError("--skip must be >= 0; --limit, --general-limit, --max-new-tokens and --batch-size must be >= 1")
    end = None if limit is None else skip + limit
    harmful = [q for source in _split(questions) for q in load_questions(source).questions[skip:end]]

    settings = DistillSettings(model=model, out=out, max_new_tokens=max_new_tokens, batch_size=batch_size, context_file=context)
    counts = distill(settings, harmful, load_prompt_sources(_split(benign), general_limit), echo=lambda m: console.print(m, highlight=False),
                     borderline=load_prompt_sources(_split(borderline), general_limit))
    general = ""
    if benign or borderline:
        general = (f"; general.json: {counts['benign_kept']} of {counts['benign_asked']} benign and {counts['borderline_kept']} of "
                   f"{counts['borderline_asked']} borderline answers kept (the others refused, by the compliance judge)")
    console.print(
        f"{counts['questions']} questions: kept {counts['blue_kept']} blue (refusals; {counts['blue_with_help']} of them also help) and "
        f"{counts['red_kept']} red (compliant) replies{general}. Contrastive pairs: {counts['pairs_harmful']} harmful "
        f"(refusal over answer), {counts['pairs_borderline']} borderline (answer over refusal). Wrote {out}/harmfulqa.json and "
        f"{out}/pairs.jsonl", highlight=False)


@harmfulqa_app.command("stats")
def harmfulqa_stats(out: Annotated[str, typer.Argument(help="A folder written by 'harmfulqa generate'")]) -> None:
    """Counts per stage and per topic, drops by reason, turns per conversation."""
    from .harmfulqa._stats import dump, generation_stats

    console.print(dump(generation_stats(out)), highlight=False)


@app.command("align")
def align_command(
    base: Annotated[str, typer.Option(help="Base model: a local path, a hub id, or smollm2")],
    data: Annotated[list[str], typer.Option(help="HarmfulQA JSON (ours or the public dataset); repeat for several")],
    out: Annotated[str, typer.Option(help="Output folder: an HF checkpoint plus training_log.jsonl")],
    strategy: Annotated[str, typer.Option(help="blue (strategy A: NLL on blue) or blue-red (strategy B: plus clipped ascent on red)")] = "blue",
    general: Annotated[Optional[list[str]], typer.Option("--general", "--mix-general", help="Helpful conversations to mix in (as the paper mixed ShareGPT): ShareGPT turns, or prompt/response rows (JSON, JSONL, CSV); repeat for several")] = None,
    general_fraction: Annotated[Optional[float], typer.Option(help="Share of general conversations among those trained with NLL (0-1, sampled, repeated if short); default: all of them once")] = None,
    chat_template: Annotated[str, typer.Option(help="vicuna (the paper's format) or model (the base model's chat template)")] = "vicuna",
    lora: Annotated[bool, typer.Option("--lora", help="Train LoRA adapters (peft) instead of all weights")] = False,
    merge: Annotated[bool, typer.Option("--merge", help="With --lora: save merged weights")] = False,
    epochs: Annotated[float, typer.Option(help="Training epochs")] = 1.0,
    max_steps: Annotated[int, typer.Option(help="Stop after N optimizer steps (overrides --epochs)")] = -1,
    lr: Annotated[float, typer.Option(help="Learning rate")] = 2e-5,
    batch_size: Annotated[int, typer.Option(help="Per-device batch size")] = 8,
    grad_accum: Annotated[int, typer.Option(help="Gradient accumulation steps")] = 1,
    max_length: Annotated[int, typer.Option(help="Maximum tokens per conversation")] = 1024,
    bf16: Annotated[bool, typer.Option("--bf16", help="Train in bfloat16")] = False,
    gradient_checkpointing: Annotated[bool, typer.Option("--gradient-checkpointing", help="Trade compute for memory")] = False,
    tau: Annotated[float, typer.Option(help="blue-red: red samples with NLL below tau get gradient ascent")] = 1.0,
    lambda_ascent: Annotated[float, typer.Option(help="blue-red: weight of the ascent term")] = 0.1,
    lambda_descent: Annotated[float, typer.Option(help="blue-red: weight of descent on red samples at or above tau (0: none)")] = 0.0,
    red_fraction: Annotated[float, typer.Option(help="blue-red: share of red samples in each batch")] = 0.5,
    logging_steps: Annotated[int, typer.Option(help="Log (training_log.jsonl) every N steps")] = 10,
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps (for --resume)")] = 200,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out")] = False,
    pairs: Annotated[Optional[list[str]], typer.Option(help="Contrastive pairs (pairs.jsonl from 'harmfulqa distill'): dpo / kto train on them beside the blue-red pairs; blue / blue-red learn their chosen replies")] = None,
    eval_every: Annotated[int, typer.Option(help="Every N steps, measure refusals of --val-harmful and --val-safe and keep the checkpoint the rule chooses (0: off)")] = 0,
    val_harmful: Annotated[Optional[str], typer.Option(help="Validation harmful questions (dataset name or file), disjoint from every test set")] = None,
    val_safe: Annotated[Optional[str], typer.Option(help="Validation safe prompts that sound unsafe (e.g. borderline-val), disjoint from every test set")] = None,
    val_max_new_tokens: Annotated[int, typer.Option(help="New tokens per validation reply")] = 40,
    safe_margin: Annotated[float, typer.Option(help="Checkpoint rule: most harmful refusals among checkpoints refusing at most base + this share of safe prompts")] = 0.10,
    beta: Annotated[float, typer.Option(help="dpo / kto: beta, the pull towards the reference model")] = 0.1,
    preference_sft_weight: Annotated[float, typer.Option(help="dpo: also train the chosen reply's NLL with this weight (RPO); 0: plain DPO")] = 0.0,
    contrastive_steps: Annotated[int, typer.Option(help="First N steps of a contrastive representation stage (DCR-style): harmful questions vs --contrastive-safe prompts (0: off)")] = 0,
    contrastive_lr: Annotated[float, typer.Option(help="Learning rate of the contrastive stage")] = 1e-5,
    contrastive_safe: Annotated[str, typer.Option(help="Safe prompts that sound unsafe for the contrastive stage (dataset name or file)")] = "borderline",
) -> None:
    """SAFE-ALIGN: fine-tune a causal LM on blue (and red) conversations."""
    from .safealign import AlignConfig, align

    path = align(AlignConfig(
        base=base, data=_split(data), out=out, strategy=strategy, mix_general=_split(general), general_fraction=general_fraction, chat_template=chat_template,
        lora=lora, merge=merge, epochs=epochs, max_steps=max_steps, lr=lr, batch_size=batch_size, grad_accum=grad_accum,
        max_length=max_length, bf16=bf16, gradient_checkpointing=gradient_checkpointing, tau=tau, lambda_ascent=lambda_ascent,
        lambda_descent=lambda_descent, red_fraction=red_fraction, logging_steps=logging_steps, save_steps=save_steps, resume=resume,
        pairs=_split(pairs), eval_every=eval_every, val_harmful=val_harmful, val_safe=val_safe, val_max_new_tokens=val_max_new_tokens,
        safe_margin=safe_margin, beta=beta, preference_sft_weight=preference_sft_weight, contrastive_steps=contrastive_steps, contrastive_lr=contrastive_lr, contrastive_safe=contrastive_safe,
    ))
    from ._distributed import is_main_process

    if not is_main_process():  # one process of a multi-process launch reports; it also saved
        return
    console.print(f"saved {path} (training log: {path / 'training_log.jsonl'})", highlight=False)
    frontier = path / "frontier.json"
    if eval_every and frontier.is_file():
        state = json.loads(frontier.read_text(encoding="utf-8"))
        chosen, base = state["chosen"], state["base"]
        console.print(f"kept the checkpoint of step {chosen['step']}: refuses {100 * chosen['harmful_refused']:.0f}% of validation harmful and "
                      f"{100 * chosen['safe_refused']:.0f}% of validation safe prompts (base {100 * base['harmful_refused']:.0f}% / "
                      f"{100 * base['safe_refused']:.0f}%)" + ("" if state["bound_met"] else "; no checkpoint met the safe-prompt bound"),
                      highlight=False)


def _print_rows(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, expand=False)
    for n, column in enumerate(columns):
        table.add_column(column, justify="left" if n == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@utility_app.callback(invoke_without_command=True)
def utility_command(
    ctx: typer.Context,
    model: Annotated[Optional[str], typer.Option(help="Local weights: smollm2, hf/PATH_OR_HUB_ID, vllm/PATH_OR_HUB_ID")] = None,
    tasks: Annotated[Optional[list[str]], typer.Option(help="Comma-separated: hhh, truthfulqa, mmlu, bbh")] = None,
    limit: Annotated[Optional[int], typer.Option(help="At most N examples per (sub)task: for smoke runs, not for reported numbers")] = None,
    num_fewshot: Annotated[Optional[list[str]], typer.Option(help="N for every task, or TASK=N (default: hhh 0, truthfulqa 0, mmlu 5, bbh 3, as in the paper)")] = None,
    data_dir: Annotated[Optional[str], typer.Option(help="Offline: folder with bigbench/ and mmlu/ copies (our task YAMLs read them); default: lm-eval's hub datasets")] = None,
    batch_size: Annotated[int, typer.Option(help="Batch size for the model")] = 8,
    chat_template: Annotated[bool, typer.Option("--chat-template/--no-chat-template", help="Wrap prompts in the model's chat template")] = False,
    out: Annotated[Optional[str], typer.Option(help="Write the result JSON here")] = None,
    model_arg: Annotated[Optional[list[str]], typer.Option("--model-arg", "-M", help="Extra lm-eval model argument KEY=VALUE")] = None,
) -> None:
    """Score a model on HHH, TruthfulQA (MC), MMLU (5-shot) and BBH (3-shot) with lm-eval."""
    if ctx.invoked_subcommand is not None:
        return
    if model is None:
        raise RedInstructError("utility needs --model (or the subcommand 'compare A.json B.json')")
    from pathlib import Path

    from .utility import UtilityConfig, parse_fewshot, parse_tasks, run_utility
    from .utility._report import result_rows

    chosen = parse_tasks(_split(tasks) or ["hhh", "truthfulqa", "mmlu", "bbh"])
    if batch_size < 1:
        raise RedInstructError("--batch-size must be at least 1")
    config = UtilityConfig(
        model=model, tasks=chosen, shots=parse_fewshot(_split(num_fewshot), chosen), limit=limit, data_dir=data_dir,
        batch_size=batch_size, chat_template=chat_template, model_args=_parse_model_args(model_arg),
    )
    result = run_utility(config, Path(out) if out else None, echo=lambda m: console.print(m, highlight=False))
    s = result["settings"]
    _print_rows(
        f"{model}: accuracy % (few-shot {s['num_fewshot']}, limit {s['limit']}, chat template {'on' if s['chat_template'] else 'off'})",
        ["task", "n", "acc", "stderr", "acc_norm"], result_rows(result))
    if out:
        console.print(f"wrote {out}", highlight=False)


@utility_app.command("compare")
def utility_compare(
    before: Annotated[str, typer.Argument(help="Result JSON of the base model")],
    after: Annotated[str, typer.Argument(help="Result JSON of the aligned model")],
) -> None:
    """Accuracy difference per task (after - before), e.g. base vs aligned."""
    from .utility._report import compare_rows, load_result, settings_differences

    a, b = load_result(before), load_result(after)
    for line in settings_differences(a, b):
        console.print(f"[yellow]warning: settings differ, {line}: the difference is not only the model[/yellow]", highlight=False)
    rows = compare_rows(a, b)
    if not rows:
        raise RedInstructError(f"{before} and {after} share no scored task")
    _print_rows(f"accuracy %: {a['model']} -> {b['model']}", ["task", "before", "after", "diff (points)"], rows)


@app.command("reproduce")
def reproduce_command(
    out: Annotated[str, typer.Option(help="Output folder; rerun the same command to resume (finished steps are skipped)")],
    base: Annotated[Optional[str], typer.Option(help="Base model: smollm2, a local path, hf/..., a hub id")] = None,
    data: Annotated[Optional[str], typer.Option(help="HarmfulQA JSON with blue and red conversations (training data)")] = None,
    config: Annotated[Optional[str], typer.Option(help="YAML file with all settings (sections: base, data, distill, strategies, align, eval, utility)")] = None,
    preset: Annotated[Optional[str], typer.Option(help="Built-in settings: smollm2-offline (CPU, ~20 min) or paper-vicuna7b (GPU)")] = None,
    strategies: Annotated[Optional[str], typer.Option(help="Comma-separated: blue, blue-red, dpo, kto")] = None,
    eval_datasets: Annotated[Optional[str], typer.Option(help="Comma-separated RED-EVAL question banks")] = None,
    judge: Annotated[Optional[str], typer.Option(help="RED-EVAL judge")] = None,
    utility_tasks: Annotated[Optional[str], typer.Option(help="Comma-separated utility tasks (empty: skip utility)")] = None,
    limit: Annotated[Optional[int], typer.Option(help="RED-EVAL questions per dataset")] = None,
) -> None:
    """The STARLING experiment: RED-EVAL the base, SAFE-ALIGN it, RED-EVAL and utility on every model, report."""
    from pathlib import Path

    from .reproduce import load_config, reproduce

    eval_overrides: dict[str, Any] = {}
    if eval_datasets:
        eval_overrides["datasets"] = _split([eval_datasets])
    if judge:
        eval_overrides["judge"] = judge
    if limit is not None:
        eval_overrides["limit"] = limit
    overrides: dict[str, Any] = {"base": base, "data": data, "strategies": _split([strategies]) if strategies else None,
                                 "eval": eval_overrides or None,
                                 "utility": {"tasks": _split([utility_tasks])} if utility_tasks is not None else None}
    settings = load_config(config, preset, overrides)
    report = reproduce(settings, Path(out), echo=lambda m: console.print(m, highlight=False, markup=False))
    console.print(f"report: {report}", highlight=False)


@app.command("report")
def report_command(
    dirs: Annotated[list[str], typer.Argument(help="Run folders: redinstruct eval log dirs, reproduce outputs, utility results")],
    out: Annotated[str, typer.Option(help="HTML file to write (summary.md and summary.tex go beside it)")] = "report.html",
    base_model: Annotated[Optional[str], typer.Option(help="Model the differences are taken from (default: the first seen)")] = None,
    title: Annotated[str, typer.Option(help="Report title")] = "redinstruct report",
    figures: Annotated[Optional[str], typer.Option(help="Also save each plot as its own SVG file in this folder (for papers)")] = None,
    rename: Annotated[Optional[list[str]], typer.Option(help="OLD=NEW: show model OLD (as recorded, e.g. hf/path) as NEW; repeat for several")] = None,
) -> None:
    """One self-contained HTML report (tables, plots, sample browser), summary.md and summary.tex (the STARLING table)."""
    from .report import write_report

    mapping = {}
    for item in rename or []:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise RedInstructError(f"--rename expects OLD=NEW, got '{item}'")
        mapping[old.strip()] = new.strip()
    html, summary = write_report(dirs, out, base_model, title, figures, mapping)
    console.print(f"wrote {html}, {summary} and {summary.with_name('summary.tex')}" + (f"; figures in {figures}" if figures else ""), highlight=False)


def _run_app() -> None:
    try:
        app(standalone_mode=False)
    finally:
        close_local_engines()  # a generation thread inside torch at interpreter exit aborts the process


def main() -> None:
    """Entry point: user errors are one line on stderr and exit code 2, never a traceback."""

    try:
        _run_app()
    except RunFailed as ex:
        print(f"error: {ex}", file=sys.stderr)
        sys.exit(EXIT_FAILED)
    except RunInterrupted as ex:
        print(str(ex), file=sys.stderr)
        sys.exit(130)
    except RedInstructError as ex:
        print(f"error: {ex}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    except (typer.Exit, SystemExit) as ex:
        code = getattr(ex, "exit_code", getattr(ex, "code", 0))
        sys.exit(code)
    except KeyboardInterrupt:
        print("interrupted: run the same command again (same --log-dir) to resume", file=sys.stderr)
        sys.exit(130)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except Exception as ex:  # usage errors (typer's or click's, by version) and anything unexpected
        if hasattr(ex, "format_message") and hasattr(ex, "exit_code"):
            message = ex.format_message()
            if message.strip():  # no-args help raises with an empty message: help is already shown
                print(f"error: {message}", file=sys.stderr)
            sys.exit(EXIT_USAGE)
        if os.environ.get("REDINSTRUCT_DEBUG"):
            raise
        from ._secrets import redact

        print(f"error: {type(ex).__name__}: {redact(str(ex)).splitlines()[0] if str(ex) else ''} "
              "(set REDINSTRUCT_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
