"""One self-contained HTML report (inline CSS, JS, SVG and data; a CSP forbids any request) and summary.md."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from typing import Any

from ..judges import compliance_quality_line, quality_line
from ..redeval import (SMALL_SAMPLE, first_success_text, format_cell, format_refusal_cell, format_turn_cell, table_columns, template_rank,
                       wilson_interval)
from ._collect import ReportData
from ._svg import bar_chart, frontier_chart, heatmap, line_chart, scatter_chart

HHH_COLUMNS = ("hhh_harmless", "hhh_helpful", "hhh_honest", "hhh_other", "hhh")
UTILITY_ORDER = ("truthfulqa_mc1", "truthfulqa_mc2", "mmlu", "bbh", "bbh_fewshot", "hhh", "bigbench_hhh_alignment_multiple_choice")
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

STYLE = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
.scroll{max-width:100%;overflow-x:auto}.small{color:#8a8a8a}
.figure{max-width:100%;overflow-x:auto}svg.plot{max-width:100%;height:auto}
.figure:has(svg.heatmap) svg.plot{max-width:none}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}.pos{color:#1a7f37}.neg{color:#b42318}
svg.plot{margin:0}.plots{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}.title{font-weight:600;font-size:13px}.tick{font-size:11px;fill:#444}
.grid{stroke:#e3e3e3}.err{stroke:#222;stroke-width:1.2}.muted{color:#666}
#filters select{margin-right:12px}.sample{border:1px solid #ddd;margin:6px 0;padding:6px}
.verdict-harmful{color:#b42318;font-weight:600}.verdict-unharmful{color:#1a7f37;font-weight:600}.verdict-unknown{color:#8a6d00;font-weight:600}
pre{white-space:pre-wrap;background:#fafafa;padding:6px;margin:4px 0}
"""

SCRIPT = """
(function(){
  const samples = JSON.parse(document.getElementById('sample-data').textContent);
  const keys = ['model','template','verdict','topic'];
  const box = document.getElementById('samples');
  const count = document.getElementById('sample-count');
  const selects = {};
  for (const k of keys) {
    const s = document.getElementById('filter-' + k);
    const values = [...new Set(samples.map(x => String(x[k])))].sort();
    for (const v of values) { const o = document.createElement('option'); o.value = v; o.textContent = v; s.appendChild(o); }
    s.addEventListener('change', render);
    selects[k] = s;
  }
  function field(label, text) {
    const d = document.createElement('div');
    const b = document.createElement('b'); b.textContent = label; d.appendChild(b);
    const p = document.createElement('pre'); p.textContent = text == null ? '' : String(text); d.appendChild(p);
    return d;
  }
  function render() {
    box.textContent = '';
    const shown = samples.filter(x => keys.every(k => !selects[k].value || String(x[k]) === selects[k].value));
    for (const x of shown.slice(0, 500)) {
      const div = document.createElement('div'); div.className = 'sample'; div.dataset.verdict = x.verdict; div.dataset.model = x.model;
      const head = document.createElement('div');
      const v = document.createElement('span'); v.className = 'verdict-' + x.verdict; v.textContent = x.verdict;
      head.appendChild(v);
      if (x.label === 'safe') {
        const c = document.createElement('span'); c.className = 'compliance'; c.textContent = ' · safe prompt: ' + (x.compliance || 'unknown');
        head.appendChild(c);
      }
      head.appendChild(document.createTextNode(' · ' + x.model + ' · ' + x.dataset + ' · ' + x.template + ' · ' + x.topic));
      div.appendChild(head);
      const q = document.createElement('div'); q.className = 'question'; q.textContent = x.question == null ? '' : String(x.question);
      div.appendChild(q);
      const det = document.createElement('details');
      const sum = document.createElement('summary'); sum.textContent = 'show replies (may contain harmful text)';
      det.appendChild(sum);
      if (Array.isArray(x.turns)) {
        const t = document.createElement('span'); t.className = 'conversation';
        t.textContent = ' · ' + x.turns.length + ' turn(s)' + (x.first_success_turn ? ', first harmful reply at turn ' + x.first_success_turn : '')
          + (x.backtracks ? ', ' + x.backtracks + ' backtrack(s)' : '');
        head.appendChild(t);
        sum.textContent = 'show the conversation (may contain harmful text)';
        for (const turn of x.turns) {
          for (const b of (turn.backtracks || [])) {
            det.appendChild(field('Turn ' + turn.turn + ', refused and rephrased: attacker', b.attacker));
            det.appendChild(field('Turn ' + turn.turn + ', refused and rephrased: target', b.reply));
          }
          det.appendChild(field('Turn ' + turn.turn + ': attacker', turn.attacker));
          det.appendChild(field('Turn ' + turn.turn + ': target (' + turn.verdict + ', ' + turn.compliance + ')', turn.reply));
          if (turn.judge_rationale || turn.error) det.appendChild(field('Turn ' + turn.turn + ': judge rationale', turn.judge_rationale || turn.error));
        }
        if (x.error) det.appendChild(field('Error', x.error));
      } else {
        det.appendChild(field('Reply (cleaned, judged)', x.response));
        det.appendChild(field('Raw reply', x.response_raw));
        det.appendChild(field('Judge rationale', x.judge_rationale || x.error || ''));
      }
      div.appendChild(det);
      box.appendChild(div);
    }
    count.textContent = shown.length + ' of ' + samples.length + ' samples' + (shown.length > 500 ? ' (first 500 listed)' : '');
  }
  render();
})();
"""


def latex_escape(text: str) -> str:
    return text.replace("%", "\\%").replace("_", "\\_").replace("&", "\\&")


@dataclass(frozen=True)
class Cell:
    """One table cell: its text, whether it rests on too few items to read (grey), and a change from the base."""

    text: str
    small: bool = False
    diff: float | None = None  # percentage points from the base model (utility)

    def html(self) -> str:
        text = escape(self.text)
        if self.diff is not None:
            text += f' <span class="{"pos" if self.diff >= 0 else "neg"}">({self.diff:+.1f})</span>'
        return f'<span class="small" title="too few items to read as a measurement">{text}</span>' if self.small else text

    def markdown(self) -> str:
        return self.text + (f" ({self.diff:+.1f})" if self.diff is not None else "")

    def latex(self) -> str:
        text = latex_escape(self.markdown())
        return f"\\textcolor{{gray}}{{{text}}}" if self.small else text


Table = tuple[list[str], list[list[Cell]]]


def _table(table: Table, cls: str) -> str:
    header, rows = table
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c.html()}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _markdown(table: Table) -> list[str]:
    header, rows = table
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(c.markdown() for c in row) + " |" for row in rows]


def _asr_cell(run: dict[str, Any]) -> Cell:
    return Cell(format_cell(run), run["harmful"] + run["unharmful"] < SMALL_SAMPLE)


def _rate_cell(stats: dict[str, Any]) -> Cell:
    classified = stats["n"] - stats["unknown"]
    if stats["refusal_rate"] is None:
        return Cell("n/a", True)
    text = f"{100 * stats['refusal_rate']:.1f}% [{100 * stats['ci_low']:.1f}-{100 * stats['ci_high']:.1f}]"
    return Cell(text + (f" (n={classified})" if classified < SMALL_SAMPLE else ""), classified < SMALL_SAMPLE)


def asr_table(runs: list[dict[str, Any]]) -> Table:
    """Rows are models; ASR per dataset x template on unsafe prompts (Standard, CoT, CoU), their
    average, then the refusal rate on safe prompts where a dataset has them (over-refusal)."""
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
            row.append(_asr_cell(run) if run else Cell(""))
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
    rows = [[Cell(m)] + [Cell(format_refusal_cell(cells[(m, d, t)]), cells[(m, d, t)]["n"] - cells[(m, d, t)]["unknown"] < SMALL_SAMPLE)
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
        classified = sum(s["n"] - s["unknown"] for s in safe)
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
    header, rows = asr_table(runs) if runs else (["model"], [[Cell(m)] for m in _utility_models(data)])
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
        " & ".join(latex_escape(h) for h in header) + " \\\\", "\\midrule",
        *(" & ".join([latex_escape(row[0].text)] + [c.latex() for c in row[1:]]) + " \\\\" for row in rows),
        "\\bottomrule", "\\end{tabular}", f"\\caption{{{latex_escape(caption)}}}", "\\end{table}",
    ]
    return "\n".join(lines) + "\n"


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


def frontier_curves(data: ReportData) -> tuple[dict[str, list[tuple[int, float, float]]], dict[str, int]]:
    """Per training log with periodic validation: its (step, safe refused, harmful refused) points, and the chosen step."""
    curves, chosen = {}, {}
    for name, log in data.training.items():
        points = {e["step"]: (e["val_safe_refused"], e["val_harmful_refused"]) for e in log
                  if e.get("val_safe_refused") is not None and not e.get("chosen_checkpoint")}
        if points:
            curves[name] = [(step, *points[step]) for step in sorted(points)]
            picks = [e["step"] for e in log if e.get("chosen_checkpoint")]
            if picks:
                chosen[name] = picks[-1]
    return curves, chosen


def render_html(data: ReportData, title: str = "redinstruct report") -> str:
    runs = data.runs
    judges = sorted({str(s.get("judge")) for s in data.samples})
    sections = [f"<h1>{escape(title)}</h1>"]
    if data.base_model:
        note = " Differences in the utility columns are from it." if data.utility else ""
        sections.append(f'<p class="muted">Base model: {escape(data.base_model)}.{note}</p>')
    small_note = (f'<p class="muted"><span class="small">Grey</span>: fewer than {SMALL_SAMPLE} items behind the number (n shown): '
                  "too few to read as a measurement.</p>")
    if runs or data.utility:
        over = " Over-refusal columns: full + partial refusals of the prompts labelled safe (ASR counts only those labelled unsafe)." \
            if any(r.get("over_refusal") for r in runs) else ""
        sections += ["<h2>STARLING table: RED-EVAL attack success rate and utility</h2>",
                     f'<p class="muted">ASR = harmful / (harmful + unharmful), 95% Wilson interval; unknown verdicts are counted, never folded in.{over} '
                     "Utility: accuracy % (change from the base model).</p>",
                     _table(starling_table(runs, data), "asr starling"), small_note]
    if runs:
        judge_lines = [f"<li>{escape(quality_line(j))}</li>" for j in judges]
        sections.append(f"<h3>Judge</h3><ul class=\"judges\">{''.join(judge_lines)}</ul>")
        refused = refused_unsafe_table(runs)
        if refused:
            sections += ["<h2>Harmful prompts refused</h2>",
                         '<p class="muted">Full + partial refusals / classified replies to prompts labelled unsafe, by the compliance judge, '
                         "95% Wilson interval: the other side of over-refusal.</p>", _table(refused, "refused-unsafe")]
        refusals = over_refusal_table(runs)
        if refusals:
            sections += ["<h2>Over-refusal: safe prompts refused</h2>",
                         '<p class="muted">Full + partial refusals / classified replies to prompts labelled safe, 95% Wilson interval; '
                         "ASR above counts only prompts labelled unsafe. " + escape(compliance_quality_line()) + "</p>",
                         _table(refusals, "over-refusal")]
        conversations = conversation_tables(runs)
        if conversations:
            sections += ["<h2>Conversations: ASR by turn</h2>", f'<p class="muted">{escape(CONVERSATION_NOTE)}</p>',
                         _table(conversations[0], "asr-by-turn"), "<h3>Refusals per turn</h3>", _table(conversations[1], "refusals-by-turn")]
    if data.utility:
        hhh, utility = utility_tables(data)
        if hhh[1]:
            sections += ["<h2>HHH (BIG-bench, accuracy %, 95% Wilson interval)</h2>", _table(hhh, "hhh")]
        sections += ["<h2>Utility (accuracy %, 95% Wilson interval)</h2>", _table(utility, "utility")]
        settings = {m: r["settings"] for m, r in data.utility.items()}
        sections.append("<p class=\"muted\">Settings: " + escape("; ".join(
            f"{m}: few-shot {s.get('num_fewshot')}, limit {s.get('limit')}, chat template {s.get('chat_template')}, {s.get('source')}" for m, s in settings.items())) + "</p>")
    figures = plots(runs, data)
    if figures:
        sections += ["<h2>Plots</h2>", '<div class="plots">' + "".join(f'<div class="figure" id="figure-{stem}">{svg}</div>' for stem, svg in figures) + "</div>"]
    if data.samples:
        filters = "".join(f'<label>{k} <select id="filter-{k}"><option value="">all</option></select></label>' for k in ("model", "template", "verdict", "topic"))
        payload = json.dumps(data.samples, ensure_ascii=False).replace("</", "<\\/")
        sections += ["<h2>Samples</h2>", f'<div id="filters">{filters}</div><p id="sample-count"></p><div id="samples"></div>',
                     f'<script type="application/json" id="sample-data">{payload}</script>', f"<script>{SCRIPT}</script>"]
    if data.config:
        sections += ["<h2>Configuration</h2>", f"<pre>{escape(json.dumps(data.config, indent=1))}</pre>"]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>")


def render_markdown(data: ReportData) -> str:
    """summary.md: the same tables, for papers and issues (the STARLING table also as LaTeX: summary.tex)."""
    lines = ["# redinstruct results", ""]
    runs = data.runs
    if runs or data.utility:
        judges = sorted({str(s.get("judge")) for s in data.samples})
        lines += ["## STARLING table: RED-EVAL attack success rate and utility", ""]
        if runs:
            lines += [f"ASR = harmful / (harmful + unharmful), 95% Wilson interval; judge: {', '.join(judges)}.", "",
                      *(f"Judge {quality_line(j)}" for j in judges), ""]
        lines += [f"(n=...): fewer than {SMALL_SAMPLE} items behind the number, too few to read as a measurement. "
                  "Utility: accuracy % (change from the base model).", "", *_markdown(starling_table(runs, data)), ""]
    if runs:
        refused = refused_unsafe_table(runs)
        if refused:
            lines += ["## Harmful prompts refused", "", "Full + partial refusals / classified replies to unsafe prompts, by the compliance judge, "
                      "95% Wilson interval.", "", *_markdown(refused), ""]
        refusals = over_refusal_table(runs)
        if refusals:
            lines += ["## Over-refusal: safe prompts refused", "", "Full + partial refusals / classified replies to safe prompts, 95% Wilson interval. " + compliance_quality_line(), "",
                      *_markdown(refusals), ""]
        conversations = conversation_tables(runs)
        if conversations:
            lines += ["## Conversations: ASR by turn", "", CONVERSATION_NOTE, "", *_markdown(conversations[0]), "", "Refusals per turn:", "",
                      *_markdown(conversations[1]), ""]
    if data.utility:
        hhh, utility = utility_tables(data)
        for name, table in (("HHH (accuracy %, 95% Wilson interval)", hhh), ("Utility (accuracy %, 95% Wilson interval)", utility)):
            if table[1]:
                lines += [f"## {name}", "", *_markdown(table), ""]
    return "\n".join(lines)


def render_latex(data: ReportData) -> str:
    runs = data.runs
    judges = ", ".join(sorted({str(s.get("judge")) for s in data.samples})) or "none"
    return starling_latex(starling_table(runs, data), f"RED-EVAL attack success rate (95% Wilson interval; judge: {judges}) and utility accuracy. "
                                                       f"Grey: fewer than {SMALL_SAMPLE} items.")
