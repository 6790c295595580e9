"""`redinstruct utility`: HHH, TruthfulQA, MMLU, BBH, and the difference between two results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ..errors import RedInstructError
from ._app import console, parse_model_args, split_values, utility_app


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
    limit: Annotated[Optional[int], typer.Option(min=1, help="At most N examples per (sub)task: for smoke runs, not for reported numbers")] = None,
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

    from ..utility import (
        UtilityConfig,
        parse_fewshot,
        parse_tasks,
        result_rows,
        run_utility,
    )

    chosen = parse_tasks(split_values(tasks) or ["hhh", "truthfulqa", "mmlu", "bbh"])
    if batch_size < 1:
        raise RedInstructError("--batch-size must be at least 1")
    config = UtilityConfig(
        model=model, tasks=chosen, shots=parse_fewshot(split_values(num_fewshot), chosen), limit=limit, data_dir=data_dir,
        batch_size=batch_size, chat_template=chat_template, model_args=parse_model_args(model_arg),
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
    from ..utility import compare_rows, load_result, settings_differences

    a, b = load_result(before), load_result(after)
    for line in settings_differences(a, b):
        console.print(f"warning: settings differ, {line}: the difference is not only the model", style="yellow", highlight=False)
    rows = compare_rows(a, b)
    if not rows:
        raise RedInstructError(f"{before} and {after} share no scored task")
    _print_rows(f"accuracy %: {a['model']} -> {b['model']}", ["task", "before", "after", "diff (points)"], rows)
