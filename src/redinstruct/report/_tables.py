"""The report's tables: built once from summary runs and utility results, rendered as HTML, Markdown or LaTeX."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..redeval import (SMALL_SAMPLE, classified_replies, first_success_text, format_cell, format_refusal_cell, format_turn_cell, table_columns,
                       wilson_interval)
from ._collect import ReportData
from .._escape import html_text, latex_text
from .._escape import markdown_table as markdown_lines

LESS_SAFE = "LESS SAFE: above the base model's interval"
HHH_COLUMNS = ("hhh_harmless", "hhh_helpful", "hhh_honest", "hhh_other", "hhh")
UTILITY_ORDER = ("truthfulqa_mc1", "truthfulqa_mc2", "mmlu", "bbh", "bbh_fewshot", "hhh", "bigbench_hhh_alignment_multiple_choice")


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, whether it rests on too few items to read (grey), and a change from the base."""

    text: str
    small: bool = False
    diff: float | None = None  # percentage points from the base model (utility)
    less_safe: bool = False  # an aligned model's ASR above the base model's 95% interval

    def html(self) -> str:
        text = html_text(self.text)
        if self.diff is not None:
            text += f' <span class="{"pos" if self.diff >= 0 else "neg"}">({self.diff:+.1f})</span>'
        if self.less_safe:
            text += f' <span class="less-safe" title="ASR above the base model\'s 95% interval">{LESS_SAFE}</span>'
        return f'<span class="small" title="too few items to read as a measurement">{text}</span>' if self.small else text

    def markdown(self) -> str:
        return self.text + (f" ({self.diff:+.1f})" if self.diff is not None else "") + (f" {LESS_SAFE}" if self.less_safe else "")

    def latex(self) -> str:
        text = latex_text(self.markdown())
        return f"\\textcolor{{gray}}{{{text}}}" if self.small else text


Table = tuple[list[str], list[list[Cell]]]


def html_table(table: Table, cls: str) -> str:
    header, rows = table
    head = "".join(f"<th>{html_text(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c.html()}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def markdown_table(table: Table) -> list[str]:
    header, rows = table
    return markdown_lines(header, [[c.markdown() for c in row] for row in rows])


def _asr_cell(run: dict[str, Any]) -> Cell:
    return Cell(format_cell(run), run["harmful"] + run["unharmful"] < SMALL_SAMPLE)


def _rate_cell(stats: dict[str, Any]) -> Cell:
    classified = classified_replies(stats)
    if stats["refusal_rate"] is None:
        return Cell("n/a", True)
    text = f"{100 * stats['refusal_rate']:.1f}% [{100 * stats['ci_low']:.1f}-{100 * stats['ci_high']:.1f}]"
    return Cell(text + (f" (n={classified})" if classified < SMALL_SAMPLE else ""), classified < SMALL_SAMPLE)


def asr_table(runs: list[dict[str, Any]], base_model: str | None = None) -> Table:
    """Rows are models; ASR per dataset x template on unsafe prompts (Standard, CoT, CoU), their
    average, then the refusal rate on safe prompts where a dataset has them (over-refusal).

    With `base_model`, an aligned model's ASR above the base model's 95% Wilson interval on the same
    dataset and template is marked LESS SAFE: an alignment recipe that made the model less safe never
    reads as an aligned model."""
    models = list(dict.fromkeys(r["model"] for r in runs))
    columns = table_columns(runs, lambda r: r["n"] > 0)
    by_key = {(r["model"], r["dataset"], r["template"]): r for r in runs}
    safe_columns = table_columns(runs, lambda r: bool(r.get("over_refusal")))
    header = ["model"] + [f"{d} / {t}" for d, t in columns] + (["average ASR"] if len(columns) > 1 else []) \
        + [f"over-refusal {d} / {t}" for d, t in safe_columns]
    rows = []
    for m in models:
        row = [Cell(m)]
        rates, small = [], False
        for d, t in columns:
            run = by_key.get((m, d, t))
            base = by_key.get((base_model, d, t)) if base_model and m != base_model else None
            less_safe = bool(run and base and run["asr"] is not None and base.get("ci_high") is not None and run["asr"] > base["ci_high"])
            row.append(replace(_asr_cell(run), less_safe=less_safe) if run else Cell(""))
            if run and run["asr"] is not None:
                rates.append(run["asr"])
                small = small or row[-1].small
        if len(columns) > 1:  # the unweighted mean of the row's cells, grey when any of them is
            row.append(Cell(f"{100 * sum(rates) / len(rates):.1f}%" if rates else "n/a", small or not rates))
        for d, t in safe_columns:
            run = by_key.get((m, d, t))
            row.append(_rate_cell(run["over_refusal"]) if run and run.get("over_refusal") else Cell(""))
        rows.append(row)
    return header, rows


def _refusal_table(runs: list[dict[str, Any]], key: str) -> Table | None:
    """Rows are models, columns dataset x template: the refusal statistics `run[key]` (None when no run has them)."""
    with_stats = [r for r in runs if r.get(key)]
    if not with_stats:
        return None
    models = list(dict.fromkeys(r["model"] for r in with_stats))
    columns = table_columns(with_stats)
    cells = {(r["model"], r["dataset"], r["template"]): r[key] for r in with_stats}
    rows = [[Cell(m)] + [Cell(format_refusal_cell(cells[(m, d, t)]), classified_replies(cells[(m, d, t)]) + cells[(m, d, t)].get("echo", 0) < SMALL_SAMPLE)
                         if (m, d, t) in cells else Cell("") for d, t in columns] for m in models]
    return ["model"] + [f"{d} / {t}" for d, t in columns], rows


def conversation_tables(runs: list[dict[str, Any]]) -> tuple[Table, Table] | None:
    """Conversation attacks: cumulative ASR at each turn (with the first successful turns), and refusals per turn."""
    conversations = [r for r in runs if r.get("conversation")]
    if not conversations:
        return None
    most = max(r["conversation"]["turns"] for r in conversations)
    turns = [f"turn {t}" for t in range(1, most + 1)]
    asr_rows, refusal_rows = [], []
    for r in conversations:
        c, name = r["conversation"], [Cell(r["model"]), Cell(r["dataset"]), Cell(r["template"])]
        cells = [Cell(format_turn_cell(p), p["judged"] < SMALL_SAMPLE) for p in c["asr_by_turn"]]
        asr_rows.append(name + cells + [Cell("")] * (most - len(cells)) + [Cell(first_success_text(c)), Cell(str(c["backtracks"])),
                                                                     Cell(str(c.get("echoed_turns", 0)))])
        refused = [Cell("") if s["refusal_rate"] is None else _rate_cell(s) for s in c["refusals_by_turn"]]
        refusal_rows.append(name + refused + [Cell("")] * (most - len(refused)))
    return ((["model", "dataset", "attack", *turns, "first successful turn", "backtracks", "echoed turns"], asr_rows),
            (["model", "dataset", "attack", *turns], refusal_rows))


CONVERSATION_NOTE = ("Cumulative ASR: conversations judged harmful at or before the turn / judged conversations, 95% Wilson interval "
                     "(the last turn is the run's ASR; a conversation stops at its first harmful reply). Refusals: full + partial "
                     "refusals / classified replies at that turn, by the compliance judge. Echoed turns: replies that copy the attacker's "
                     "turn instead of answering (unharmful, neither a refusal nor a compliance).")


def over_refusal_table(runs: list[dict[str, Any]]) -> Table | None:
    """Refusals of safe prompts in detail (None when no run has any)."""
    return _refusal_table(runs, "over_refusal")


def refused_unsafe_table(runs: list[dict[str, Any]]) -> Table | None:
    """Refusals of the harmful (unsafe) prompts by the compliance judge: the other side of over-refusal."""
    return _refusal_table(runs, "refusal_unsafe")


def safety_points(runs: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """Per model: (name, over-refusal on every safe prompt, ASR pooled over every unsafe prompt), for models with both."""
    points = []
    for model in dict.fromkeys(r["model"] for r in runs):
        mine = [r for r in runs if r["model"] == model]
        harmful = sum(r["harmful"] for r in mine)
        judged = harmful + sum(r["unharmful"] for r in mine)
        safe = [r["over_refusal"] for r in mine if r.get("over_refusal")]
        refused = sum(s["full_refusal"] + s["partial_refusal"] for s in safe)
        classified = sum(classified_replies(s) for s in safe)
        if judged and classified:
            points.append((model, refused / classified, harmful / judged))
    return points


def _task_result(result: dict[str, Any], task: str) -> tuple[float, int | None] | None:
    """(accuracy, items) of a task; a group without its own count sums its subtasks' (`hhh` = `hhh_*`)."""
    entry = result["results"].get(task, {})
    if entry.get("acc") is None:
        return None
    n = entry.get("n")
    if n is None:
        parts = [v.get("n") for k, v in result["results"].items() if k.startswith(f"{task}_") and v.get("n") is not None]
        n = sum(parts) if parts else None
    return float(entry["acc"]), n


def _utility_models(data: ReportData) -> list[str]:
    # the base model first, then the others in the order RED-EVAL saw them (file order otherwise)
    seen = list(dict.fromkeys(s["model"] for s in data.samples))
    return sorted(data.utility, key=lambda m: (m != data.base_model, seen.index(m) if m in seen else len(seen), m))


def _utility_cell(data: ReportData, model: str, task: str, interval: bool = True) -> Cell:
    """Accuracy % with its 95% Wilson interval and the change from the base model; grey under SMALL_SAMPLE items."""
    found = _task_result(data.utility[model], task)
    if found is None:
        return Cell("")
    value, n = found
    text = f"{100 * value:.1f}"
    if interval and n:
        low, high = wilson_interval(round(value * n), n)
        text += f" [{100 * low:.0f}-{100 * high:.0f}]"
    if n is not None and n < SMALL_SAMPLE:
        text += f" (n={n})"
    base = data.utility.get(data.base_model or "")
    reference = _task_result(base, task) if base is not None and model != data.base_model else None
    diff = 100 * (value - reference[0]) if reference is not None else None
    return Cell(text, n is None or n < SMALL_SAMPLE, diff)


def utility_tables(data: ReportData) -> tuple[Table, Table]:
    """(HHH table, utility table); accuracy % with 95% intervals and the difference from the base model."""
    models = _utility_models(data)
    hhh_rows = [[Cell(m)] + [_utility_cell(data, m, t) for t in HHH_COLUMNS] for m in models
                if any(_task_result(data.utility[m], t) is not None for t in HHH_COLUMNS)]
    tasks = [t for t in UTILITY_ORDER if any(_task_result(data.utility[m], t) is not None for m in models)]
    utility_rows = [[Cell(m)] + [_utility_cell(data, m, t) for t in tasks] for m in models]
    return (["model", "harmless", "helpful", "honest", "other", "mean"], hhh_rows), (["model", *tasks], utility_rows)


STARLING_UTILITY = (("HHH", ("hhh",)), ("TruthfulQA", ("truthfulqa_mc1", "truthfulqa_mc2")), ("MMLU", ("mmlu",)), ("BBH", ("bbh", "bbh_fewshot")))


def starling_table(runs: list[dict[str, Any]], data: ReportData) -> Table:
    """The paper's table: rows base and aligned models; ASR per dataset x template and their average,
    over-refusal, then HHH, TruthfulQA, MMLU, BBH accuracy with the change from the base."""
    header, rows = asr_table(runs, data.base_model) if runs else (["model"], [[Cell(m)] for m in _utility_models(data)])
    if not data.utility:
        return header, rows
    present = [(label, next((t for t in tasks if any(_task_result(r, t) for r in data.utility.values())), None)) for label, tasks in STARLING_UTILITY]
    present = [(label, task) for label, task in present if task]
    header = header + [label for label, _ in present]
    out = []
    for row in rows:
        model = row[0].text
        extra = [_utility_cell(data, model, task, interval=False) if model in data.utility else Cell("") for _, task in present]
        out.append(row + extra)
    known = {row[0].text for row in rows}
    for model in _utility_models(data):  # models with utility results only
        if model not in known:
            out.append([Cell(model)] + [Cell("")] * (len(header) - 1 - len(present)) + [_utility_cell(data, model, t, interval=False) for _, t in present])
    return header, out


def starling_latex(table: Table, caption: str) -> str:
    """summary.tex: the STARLING table as a LaTeX tabular (booktabs); grey cells rest on too few items."""
    header, rows = table
    lines = [
        "% redinstruct STARLING table; needs \\usepackage{booktabs} and \\usepackage{xcolor}",
        "\\begin{table}[t]", "\\centering", "\\small",
        "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}", "\\toprule",
        " & ".join(latex_text(h) for h in header) + " \\\\", "\\midrule",
        *(" & ".join([latex_text(row[0].text)] + [c.latex() for c in row[1:]]) + " \\\\" for row in rows),
        "\\bottomrule", "\\end{tabular}", f"\\caption{{{latex_text(caption)}}}", "\\end{table}",
    ]
    return "\n".join(lines) + "\n"
