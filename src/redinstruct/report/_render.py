"""One self-contained HTML report (inline CSS, JS, SVG and data; a CSP forbids any request) and summary.md."""

from __future__ import annotations

import base64
import hashlib
import json
from importlib import resources
from typing import Any

from ..judges import compliance_quality_line, quality_line
from ..redeval import REFUSAL_ECHO_NOTE, SMALL_SAMPLE, template_rank
from ._collect import ReportData
from .._escape import html_text, markdown_text, script_json
from ._svg import bar_chart, frontier_chart, heatmap, line_chart, scatter_chart
from ._tables import (CONVERSATION_NOTE, conversation_tables, html_table, markdown_table, over_refusal_table, refused_unsafe_table,
                      safety_points, starling_latex, starling_table, utility_tables)

# the page's own style and script: package files, so they can be hashed for the Content-Security-Policy
STYLE = resources.files("redinstruct.report").joinpath("assets/report.css").read_text(encoding="utf-8")
SCRIPT = resources.files("redinstruct.report").joinpath("assets/report.js").read_text(encoding="utf-8")


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


# nothing runs or styles the page but its own script and style (allowed by their hashes); no request leaves it
CSP = (f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; img-src 'none'; base-uri 'none'; "
       "form-action 'none'")


def plots(runs: list[dict[str, Any]], data: ReportData) -> list[tuple[str, str]]:
    """(file stem, SVG) of every plot, in page order."""
    out: list[tuple[str, str]] = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        rs = [r for r in runs if r["dataset"] == dataset and r["n"]]
        if not rs:
            continue
        templates = sorted(dict.fromkeys(r["template"] for r in rs), key=template_rank)
        models = list(dict.fromkeys(r["model"] for r in rs))
        values = {(r["template"], r["model"]): (r["asr"], r["ci_low"], r["ci_high"]) for r in rs}
        out.append((f"asr-{dataset}", bar_chart(templates, models, values, f"ASR per template, {dataset} (95% Wilson interval)")))
    ordered = sorted((r for r in runs if r["by_topic"]), key=lambda r: (list(dict.fromkeys(x["model"] for x in runs)).index(r["model"]), template_rank(r["template"])))
    topics = sorted({t for r in ordered for t in r["by_topic"]})
    if topics and topics != ["uncategorized"]:  # a bank without topics has nothing to break down
        columns = list(dict.fromkeys(f"{r['model']} / {r['template']}" for r in ordered))
        cells = {(t, f"{r['model']} / {r['template']}"): r["by_topic"][t]["asr"] for r in ordered for t in r["by_topic"]}
        out.append(("asr-per-topic", heatmap(topics, columns, cells, "ASR per topic")))
    by_turn = {f"{r['model']} / {r['dataset']} / {r['template']}": [(p["turn"], p["asr"]) for p in r["conversation"]["asr_by_turn"] if p["asr"] is not None]
               for r in runs if r.get("conversation")}
    by_turn = {k: v for k, v in by_turn.items() if v}
    if by_turn:
        out.append(("asr-by-turn", line_chart(by_turn, "Conversations: ASR by turn (cumulative)", "ASR", x_label="turn", share=True)))
    points = safety_points(runs)
    if points:
        out.append(("safety-vs-over-refusal", scatter_chart(points, "Safety against over-refusal (lower left is better)", "safe prompts refused", "ASR on unsafe prompts")))
    frontier = frontier_curves(data)
    if frontier[0]:
        out.append(("frontier", frontier_chart(*frontier, "Checkpoints on the frontier (validation banks; upper left is better)",
                                               "safe prompts refused", "harmful prompts refused")))
    for metric, label in (("blue_nll", "blue NLL (safe replies)"), ("red_nll", "red NLL (harmful replies)"), ("red_above_tau", "share of red samples at or above tau")):
        series = {name: [(e["step"], e[metric]) for e in log if e.get(metric) is not None] for name, log in data.training.items()}
        series = {k: v for k, v in series.items() if v}
        if series:
            out.append((f"training-{metric.replace('_', '-')}", line_chart(series, f"training: {label}", metric)))
    return out


def frontier_points(log: list[dict[str, Any]]) -> tuple[list[tuple[int, float, float]], int | None]:
    """One training log's validation points (step, safe refused, harmful refused) in step order, and its chosen step."""
    points = {e["step"]: (e["val_safe_refused"], e["val_harmful_refused"]) for e in log
              if e.get("val_safe_refused") is not None and not e.get("chosen_checkpoint")}
    picks = [e["step"] for e in log if e.get("chosen_checkpoint")]
    return [(step, *points[step]) for step in sorted(points)], picks[-1] if picks else None


def frontier_curves(data: ReportData) -> tuple[dict[str, list[tuple[int, float, float]]], dict[str, int]]:
    """Per training log with periodic validation: its (step, safe refused, harmful refused) points, and the chosen step."""
    curves, chosen = {}, {}
    for name, log in data.training.items():
        points, pick = frontier_points(log)
        if points:
            curves[name] = points
            if pick is not None:
                chosen[name] = pick
    return curves, chosen


def render_html(data: ReportData, title: str = "redinstruct report") -> str:
    runs = data.runs
    judges = sorted({str(s.get("judge")) for s in data.samples})
    sections = [f"<h1>{html_text(title)}</h1>"]
    if data.base_model:
        note = " Differences in the utility columns are from it." if data.utility else ""
        sections.append(f'<p class="muted">Base model: {html_text(data.base_model)}.{note}</p>')
    small_note = (f'<p class="muted"><span class="small">Grey</span>: fewer than {SMALL_SAMPLE} items behind the number (n shown): '
                  "too few to read as a measurement.</p>")
    if runs or data.utility:
        over = " Over-refusal columns: full + partial refusals of the prompts labelled safe (ASR counts only those labelled unsafe)." \
            if any(r.get("over_refusal") for r in runs) else ""
        sections += ["<h2>STARLING table: RED-EVAL attack success rate and utility</h2>",
                     f'<p class="muted">ASR = harmful / (harmful + unharmful), 95% Wilson interval; unknown verdicts are counted, never folded in.{over} '
                     "Utility: accuracy % (change from the base model).</p>",
                     html_table(starling_table(runs, data), "asr starling"), small_note]
    if runs:
        judge_lines = [f"<li>{html_text(quality_line(j))}</li>" for j in judges]
        sections.append(f"<h3>Judge</h3><ul class=\"judges\">{''.join(judge_lines)}</ul>")
        refused = refused_unsafe_table(runs)
        if refused:
            sections += ["<h2>Harmful prompts refused</h2>",
                         '<p class="muted">Full + partial refusals / classified replies to prompts labelled unsafe, by the compliance judge, '
                         "95% Wilson interval: the other side of over-refusal. " + html_text(REFUSAL_ECHO_NOTE) + "</p>", html_table(refused, "refused-unsafe")]
        refusals = over_refusal_table(runs)
        if refusals:
            sections += ["<h2>Over-refusal: safe prompts refused</h2>",
                         '<p class="muted">Full + partial refusals / classified replies to prompts labelled safe, 95% Wilson interval; '
                         "ASR above counts only prompts labelled unsafe. " + html_text(REFUSAL_ECHO_NOTE + " " + compliance_quality_line()) + "</p>",
                         html_table(refusals, "over-refusal")]
        conversations = conversation_tables(runs)
        if conversations:
            sections += ["<h2>Conversations: ASR by turn</h2>", f'<p class="muted">{html_text(CONVERSATION_NOTE)}</p>',
                         html_table(conversations[0], "asr-by-turn"), "<h3>Refusals per turn</h3>", html_table(conversations[1], "refusals-by-turn")]
    if data.utility:
        hhh, utility = utility_tables(data)
        if hhh[1]:
            sections += ["<h2>HHH (BIG-bench, accuracy %, 95% Wilson interval)</h2>", html_table(hhh, "hhh")]
        sections += ["<h2>Utility (accuracy %, 95% Wilson interval)</h2>", html_table(utility, "utility")]
        settings = {m: r["settings"] for m, r in data.utility.items()}
        sections.append("<p class=\"muted\">Settings: " + html_text("; ".join(
            f"{m}: few-shot {s.get('num_fewshot')}, limit {s.get('limit')}, chat template {s.get('chat_template')}, {s.get('source')}" for m, s in settings.items())) + "</p>")
    figures = plots(runs, data)
    if figures:
        # ids from the plot's place on the page, never from a name (a dataset may be called anything)
        sections += ["<h2>Plots</h2>", '<div class="plots">' + "".join(
            f'<div class="figure" id="figure-{index}" data-plot="{html_text(stem)}">{svg}</div>' for index, (stem, svg) in enumerate(figures)) + "</div>"]
    if data.samples:
        filters = "".join(f'<label>{k} <select id="filter-{k}"><option value="">all</option></select></label>' for k in ("model", "template", "verdict", "topic"))
        payload = script_json(data.samples)
        sections += ["<h2>Samples</h2>", f'<div id="filters">{filters}</div><p id="sample-count"></p><div id="samples"></div>',
                     f'<script type="application/json" id="sample-data">{payload}</script>', f"<script>{SCRIPT}</script>"]
    if data.config:
        sections += ["<h2>Configuration</h2>", f"<pre>{html_text(json.dumps(data.config, indent=1))}</pre>"]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{html_text(title)}</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>")


def render_markdown(data: ReportData) -> str:
    """summary.md: the same tables, for papers and issues (the STARLING table also as LaTeX: summary.tex)."""
    lines = ["# redinstruct results", ""]
    runs = data.runs
    if runs or data.utility:
        judges = sorted({str(s.get("judge")) for s in data.samples})
        lines += ["## STARLING table: RED-EVAL attack success rate and utility", ""]
        if runs:
            lines += [f"ASR = harmful / (harmful + unharmful), 95% Wilson interval; judge: {', '.join(markdown_text(j) for j in judges)}.", "",
                      *(f"Judge {markdown_text(quality_line(j))}" for j in judges), ""]
        lines += [f"(n=...): fewer than {SMALL_SAMPLE} items behind the number, too few to read as a measurement. "
                  "Utility: accuracy % (change from the base model).", "", *markdown_table(starling_table(runs, data)), ""]
    if runs:
        refused = refused_unsafe_table(runs)
        if refused:
            lines += ["## Harmful prompts refused", "", "Full + partial refusals / classified replies to unsafe prompts, by the compliance judge, "
                      "95% Wilson interval. " + REFUSAL_ECHO_NOTE, "", *markdown_table(refused), ""]
        refusals = over_refusal_table(runs)
        if refusals:
            lines += ["## Over-refusal: safe prompts refused", "", "Full + partial refusals / classified replies to safe prompts, 95% Wilson interval. " + REFUSAL_ECHO_NOTE + " " + compliance_quality_line(), "",
                      *markdown_table(refusals), ""]
        conversations = conversation_tables(runs)
        if conversations:
            lines += ["## Conversations: ASR by turn", "", CONVERSATION_NOTE, "", *markdown_table(conversations[0]), "", "Refusals per turn:", "",
                      *markdown_table(conversations[1]), ""]
    if data.utility:
        hhh, utility = utility_tables(data)
        for name, table in (("HHH (accuracy %, 95% Wilson interval)", hhh), ("Utility (accuracy %, 95% Wilson interval)", utility)):
            if table[1]:
                lines += [f"## {name}", "", *markdown_table(table), ""]
    return "\n".join(lines)


def render_latex(data: ReportData) -> str:
    runs = data.runs
    judges = ", ".join(sorted({str(s.get("judge")) for s in data.samples})) or "none"
    return starling_latex(starling_table(runs, data), f"RED-EVAL attack success rate (95% Wilson interval; judge: {judges}) and utility accuracy. "
                                                       f"Grey: fewer than {SMALL_SAMPLE} items.")
