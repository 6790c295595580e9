"""The app, its command groups, and what every command shares: output, exit codes, option parsing, help texts."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from ..errors import RedInstructError

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
# no markup: model, dataset and topic names are printed as they are ([red] in a name stays text); styles are passed as style=
console = Console(width=None if sys.stdout.isatty() else 140, markup=False)
EXIT_USAGE = 2
EXIT_FAILED = 1  # the run could not do its work (a stage gave nothing usable)


def split_values(values: Optional[list[str]]) -> list[str]:
    """Repeated options and comma-separated lists both work: `--template cou,cot`."""
    out: list[str] = []
    for value in values or []:
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def parse_model_args(values: Optional[list[str]]) -> dict[str, Any]:
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


# options that several commands take, each declared once (a command gives its own default)
ModelArgs = Annotated[Optional[list[str]], typer.Option(
    "--model-arg", "-M", help="Extra model argument KEY=VALUE (e.g. -M dtype=bfloat16; -M engine=local|client|inspect: the engine, "
    "by default local for hf/ checkpoints, client for openai-api/ and vllm/ servers, inspect's provider otherwise)")]
QuestionColumn = Annotated[str, typer.Option(help="Column with the question (or prompt)")]
ResponseColumn = Annotated[str, typer.Option(help="Column with the reply")]
LabelColumn = Annotated[str, typer.Option(help="Column with the human label")]
L2Penalty = Annotated[float, typer.Option(help="L2 penalty of the logistic-regression head")]
