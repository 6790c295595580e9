"""`redinstruct judge`: measure a judge against human labels, fit and train the offline judges."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from .._defaults import DEFAULT_JUDGE
from .._secrets import write_public
from ..errors import RedInstructError
from ._app import (
    JUDGE_HELP,
    L2Penalty,
    LabelColumn,
    QuestionColumn,
    ResponseColumn,
    console,
    judge_app,
    split_values,
)

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
    from ..judges import COMPLIANCE_CLASSES

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
    question_col: QuestionColumn = "question",
    response_col: ResponseColumn = "answer",
    label_col: LabelColumn = "label",
    positive: Annotated[Optional[str], typer.Option(help="Label value(s) that mean harmful, comma-separated (e.g. unsafe, yes, 1_full_compliance); any other value means not harmful. Without it labels must be 0/1")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Use only the first N rows")] = None,
    max_connections: Annotated[int, typer.Option(help="Concurrent judge requests")] = 16,
    judge_threshold: Annotated[Optional[float], typer.Option(help="Score at which the rubric or classifier judge says harmful")] = None,
    out: Annotated[Optional[str], typer.Option(help="Write the metrics as JSON here (input to --judge-calibration)")] = None,
    predictions: Annotated[Optional[str], typer.Option(help="Write one row per labelled reply here (JSONL, or CSV for a .csv name): group, question, reply, human label, verdict, score, rationale, agrees")] = None,
    group_col: Annotated[Optional[str], typer.Option(help="Column to break the metrics down by (a harm category, a model): agreement, FPR, FNR and n per group")] = None,
) -> None:
    """Run a judge over human-labelled replies and report how well it agrees with the humans."""
    from datetime import datetime, timezone

    from ..judges import (
        calibrate,
        calibrate_compliance,
        file_sha256,
        get_judge,
        is_compliance_labels,
        judge_label,
        load_compliance_labels,
        load_labels,
    )

    compliance_mode = judge in COMPLIANCE_JUDGES and positive is None
    if not compliance_mode and positive is None and is_compliance_labels(labels, label_col):
        raise RedInstructError(
            f"{labels}: {label_col} holds compliance classes (full_compliance / full_refusal / partial_refusal): "
            "measure a compliance judge (--judge compliance or compliance-llm), or pass --positive to read them as harm labels"
        )
    from ..judges import metrics_by_group, prediction_rows, write_predictions

    labelled: Any
    if compliance_mode:
        labelled = load_compliance_labels(labels, question_col, response_col, label_col, group_col=group_col)[:limit]
    else:
        labelled = load_labels(labels, question_col, response_col, label_col, limit, positive=positive, group_col=group_col)
    the_judge = get_judge(judge, split_values(judge_model) or None, threshold=judge_threshold)
    console.print(f"judging {len(labelled)} labelled replies with {judge_label(judge, split_values(judge_model))} ...", highlight=False)
    title = f"{judge_label(judge, split_values(judge_model))} on {labels}"
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
            "judge_model": split_values(judge_model),
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
        write_public(out, json.dumps(report, indent=2))
        console.print(f"wrote {out}", highlight=False)


@judge_app.command("fit")
def judge_fit(
    labels: Annotated[list[str], typer.Option(help="Labelled CSV(s) to fit on (repeat for several)")],
    out: Annotated[str, typer.Option(help="Folder for the fitted judge (use it with --judge classifier --judge-model DIR)")],
    question_col: QuestionColumn = "question",
    response_col: ResponseColumn = "answer",
    label_col: LabelColumn = "label",
    l2: L2Penalty = 1e-2,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Use only the first N rows of each file")] = None,
) -> None:
    """Fit the offline classifier judge (MiniLM embeddings + refusal features + logistic regression)."""
    from ..judges import fit_classifier

    files = split_values(labels)
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
    question_col: QuestionColumn = "prompt",
    response_col: ResponseColumn = "completion",
    label_col: LabelColumn = "final_label",
    l2: L2Penalty = 1e-2,
) -> None:
    """Fit the offline compliance judge (MiniLM embeddings + refusal features + multinomial logistic regression)."""

    from ..judges import file_sha256, fit_compliance, load_compliance_labels

    files = split_values(labels)
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
    question_col: QuestionColumn = "question",
    response_col: ResponseColumn = "answer",
    label_col: LabelColumn = "label",
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

    from ..judges import (
        BENIGN,
        file_sha256,
        fit_crossencoder,
        load_benign_answers,
        load_label_sources,
        load_labels,
    )

    files = split_values(labels)
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
