"""`redinstruct reproduce` and `redinstruct report`: the whole paper pipeline, and reports from run folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import RedInstructError
from ._app import app, console, split_values


@app.command("reproduce")
def reproduce_command(
    out: Annotated[str, typer.Option(help="Output folder; rerun the same command to resume (finished steps are skipped)")],
    base: Annotated[Optional[str], typer.Option(help="Base model: smollm2, a local path, hf/..., a hub id")] = None,
    data: Annotated[Optional[str], typer.Option(help="HarmfulQA JSON with blue and red conversations (training data)")] = None,
    config: Annotated[Optional[str], typer.Option(help="YAML file with all settings (sections: base, data, distill, strategies, align, eval, utility)")] = None,
    preset: Annotated[Optional[str], typer.Option(help="Built-in settings: smollm2-helpful (CPU, 2 cores, ~30 min; safer and still helpful), smollm2-offline (CPU, the paper's recipe small) or paper-vicuna7b (GPU)")] = None,
    strategies: Annotated[Optional[str], typer.Option(help="Comma-separated: blue, blue-red, dpo, kto, each optionally with +general and / or +pairs")] = None,
    eval_datasets: Annotated[Optional[str], typer.Option(help="Comma-separated RED-EVAL question banks")] = None,
    judge: Annotated[Optional[str], typer.Option(help="RED-EVAL judge")] = None,
    utility_tasks: Annotated[Optional[str], typer.Option(help="Comma-separated utility tasks (empty: skip utility)")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="RED-EVAL questions per dataset")] = None,
) -> None:
    """The STARLING experiment: RED-EVAL the base, SAFE-ALIGN it, RED-EVAL and utility on every model, report."""

    from ..reproduce import load_config, reproduce

    eval_overrides: dict[str, Any] = {}
    if eval_datasets:
        eval_overrides["datasets"] = split_values([eval_datasets])
    if judge:
        eval_overrides["judge"] = judge
    if limit is not None:
        eval_overrides["limit"] = limit
    overrides: dict[str, Any] = {"base": base, "data": data, "strategies": split_values([strategies]) if strategies else None,
                                 "eval": eval_overrides or None,
                                 "utility": {"tasks": split_values([utility_tasks])} if utility_tasks is not None else None}
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
    from ..report import write_report

    mapping = {}
    for item in rename or []:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise RedInstructError(f"--rename expects OLD=NEW, got '{item}'")
        mapping[old.strip()] = new.strip()
    html, summary = write_report(dirs, out, base_model, title, figures, mapping)
    console.print(f"wrote {html}, {summary} and {summary.with_name('summary.tex')}" + (f"; figures in {figures}" if figures else ""), highlight=False)
