"""`redinstruct eval`: RED-EVAL over models x datasets x templates or conversation attacks, and its tables."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from .._defaults import DEFAULT_COMPLIANCE_JUDGE, DEFAULT_JUDGE
from ..errors import RedInstructError
from ._app import (
    COMPLIANCE_JUDGE_HELP,
    JUDGE_HELP,
    ModelArgs,
    app,
    console,
    parse_model_args,
    split_values,
)


@app.command("eval")
def eval_command(
    model: Annotated[Optional[list[str]], typer.Option("--model", "-m", show_default="smollm2", help="Target model(s): smollm2, hf/..., openai/..., vllm/..., ollama/..., openai-api/<service>/...")] = None,
    dataset: Annotated[Optional[list[str]], typer.Option("--dataset", "-d", show_default="demo", help="Question bank(s): demo, dangerousqa, harmfulqa, xstest, or a .json/.jsonl/.csv path (a label column, safe/unsafe, adds over-refusal); with --attack replay, a HARMFULQA-format file with red conversations")] = None,
    template: Annotated[Optional[list[str]], typer.Option("--template", "-t", show_default="standard,cot,cou", help="Template(s): standard, cot, cou, or a file with a {question} slot")] = None,
    judge: Annotated[str, typer.Option(help=JUDGE_HELP)] = DEFAULT_JUDGE,
    judge_model: Annotated[Optional[list[str]], typer.Option(help="Judge model(s), any inspect model name; several vote by majority (a tie is unknown)")] = None,
    render: Annotated[str, typer.Option(help="chat: the prompt is one user turn; raw: plain text continuation")] = "chat",
    limit: Annotated[Optional[int], typer.Option(min=1, help="Use only the first N questions of each dataset")] = None,
    max_connections: Annotated[Optional[int], typer.Option(help="Requests in flight: to a server or API (default 10, and as many for LLM judges), or to a local model (default 256; its batch is -M batch_size)")] = None,
    max_tokens: Annotated[int, typer.Option(help="Maximum new tokens per reply")] = 256,
    log_dir: Annotated[Optional[str], typer.Option(help="Run folder (default logs/redeval/<timestamp>); reuse it to resume")] = None,
    keep_thoughts: Annotated[bool, typer.Option("--keep-thoughts", help="Judge the raw reply, without removing internal thoughts and later turns")] = False,
    drop_duplicates: Annotated[bool, typer.Option("--drop-duplicates", help="Drop exact duplicate questions")] = False,
    retry_errors: Annotated[bool, typer.Option(help="On resume, retry samples that ended in a generation or judge error")] = True,
    model_arg: ModelArgs = None,
    display: Annotated[Optional[str], typer.Option(help="none: no progress display (any other value, e.g. inspect's full / plain / log: redinstruct's progress line or bar)")] = None,
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
    from ..redeval import EvalConfig, run_redeval

    if attack != "templates" and template:
        raise RedInstructError(f"--template applies to --attack templates; --attack {attack} sends conversations")
    if attack == "templates" and any(v is not None for v in (attacker_model, turns, backtracks, attacker_prompts)):
        raise RedInstructError("--attacker-model, --turns, --backtracks and --attacker-prompts need --attack replay or redlm")

    config = EvalConfig(
        models=split_values(model) or ["smollm2"],
        names=[n.strip() for n in name or []],
        datasets=split_values(dataset) or ["demo"],
        templates=split_values(template) or ["standard", "cot", "cou"],
        judge=judge,
        judge_model=split_values(judge_model) or None,
        render=render,  # type: ignore[arg-type]
        limit=limit,
        max_connections=max_connections,
        max_tokens=max_tokens,
        keep_thoughts=keep_thoughts,
        drop_duplicates=drop_duplicates,
        retry_errors=retry_errors,
        log_dir=log_dir,
        model_args=parse_model_args(model_arg),
        display=display,
        log_samples=log_samples,
        judge_calibration=judge_calibration,
        judge_threshold=judge_threshold,
        compliance_judge=compliance_judge,
        compliance_judge_model=split_values(compliance_judge_model) or None,
        attack=attack,
        attacker_model=attacker_model,
        turns=turns,
        backtracks=backtracks,
        attacker_prompts=attacker_prompts,
    )
    if "demo" in config.datasets:
        console.print("dataset 'demo' is a 16-question smoke set, not a benchmark: use dangerousqa or harmfulqa for real numbers", style="dim",
                      highlight=False)
    result = run_redeval(config)
    _print_runs(result.runs)
    console.print(
        f"{result.generated} {'sample' if attack == 'templates' else 'conversation'}(s) run now, {result.reused} reused. Results in {result.log_dir} "
        "(samples.jsonl, summary.json, summary.md)",
        highlight=False,
    )


def _print_runs(runs: list[dict[str, Any]]) -> None:
    from ..judges import compliance_quality_line, quality_line
    from ..redeval import format_cell, format_refusal_cell

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
        copied = "the template's own text (in a conversation, the attacker's turns)" if any(r.get("conversation") for r in runs) else "the template's own text"
        console.print(f"echo: replies that copied {copied} and added nothing harmful (what a reply adds is judged, copies set aside); "
                      "recorded as unharmful (docs/judges.md)", highlight=False, soft_wrap=True)
    _print_conversations(runs)


def _print_conversations(runs: list[dict[str, Any]]) -> None:
    """Conversation attacks: cumulative ASR at each turn, the first successful turns and refusals per turn."""
    from ..redeval import first_success_text, format_turn_cell

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
