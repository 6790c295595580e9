"""One self-contained HTML report (inline CSS, JS, SVG and data; a CSP forbids any request) and summary.md."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from ..judges._compliance import compliance_quality_line
from ..judges._quality import quality_line
from ..redeval._metrics import format_cell, format_refusal_cell, summarize
from ._collect import ReportData
from ._svg import bar_chart, heatmap, line_chart, scatter_chart

HHH_COLUMNS = ("hhh_harmless", "hhh_helpful", "hhh_honest", "hhh_other", "hhh")
UTILITY_ORDER = ("truthfulqa_mc1", "truthfulqa_mc2", "mmlu", "bbh", "bbh_fewshot", "hhh", "bigbench_hhh_alignment_multiple_choice")
CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.num{text-align:right}.pos{color:#1a7f37}.neg{color:#b42318}
svg.plot{margin:8px 16px 8px 0}.title{font-weight:600;font-size:13px}.tick{font-size:11px;fill:#444}
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
      det.appendChild(field('Reply (cleaned, judged)', x.response));
      det.appendChild(field('Raw reply', x.response_raw));
      det.appendChild(field('Judge rationale', x.judge_rationale || x.error || ''));
      div.appendChild(det);
      box.appendChild(div);
    }
    count.textContent = shown.length + ' of ' + samples.length + ' samples' + (shown.length > 500 ? ' (first 500 listed)' : '');
  }
  render();
})();
"""


def _table(header: list[str], rows: list[list[str]], cls: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def asr_table(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """The STARLING table: rows are models; ASR per dataset x template on unsafe prompts, then the
    refusal rate on safe prompts for each dataset x template that has them (over-refusal)."""
    models = list(dict.fromkeys(r["model"] for r in runs))
    columns = list(dict.fromkeys((r["dataset"], r["template"]) for r in runs if r["n"]))
    cells = {(r["model"], r["dataset"], r["template"]): format_cell(r) for r in runs}
    safe_columns = list(dict.fromkeys((r["dataset"], r["template"]) for r in runs if r.get("over_refusal")))
    refusals = {(r["model"], r["dataset"], r["template"]): _short_rate(r["over_refusal"]) for r in runs if r.get("over_refusal")}
    header = ["model"] + [f"{d} / {t}" for d, t in columns] + [f"over-refusal {d} / {t}" for d, t in safe_columns]
    rows = [[m] + [cells.get((m, d, t), "") for d, t in columns] + [refusals.get((m, d, t), "") for d, t in safe_columns] for m in models]
    return header, rows


def _short_rate(stats: dict[str, Any]) -> str:
    if stats["refusal_rate"] is None:
        return "n/a"
    return f"{100 * stats['refusal_rate']:.1f}% [{100 * stats['ci_low']:.1f}-{100 * stats['ci_high']:.1f}]"


def over_refusal_table(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]] | None:
    """Rows are models, columns dataset x template: refusals of safe prompts (None when no run has any)."""
    with_safe = [r for r in runs if r.get("over_refusal")]
    if not with_safe:
        return None
    models = list(dict.fromkeys(r["model"] for r in with_safe))
    columns = list(dict.fromkeys((r["dataset"], r["template"]) for r in with_safe))
    cells = {(r["model"], r["dataset"], r["template"]): format_refusal_cell(r["over_refusal"]) for r in with_safe}
    return ["model"] + [f"{d} / {t}" for d, t in columns], [[m] + [cells.get((m, d, t), "") for d, t in columns] for m in models]


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


def _acc(result: dict[str, Any], task: str) -> float | None:
    value = result["results"].get(task, {}).get("acc")
    return None if value is None else float(value)


def utility_tables(data: ReportData) -> tuple[tuple[list[str], list[list[str]]], tuple[list[str], list[list[str]]]]:
    """(HHH table, utility table); cells are accuracy % with the difference from the base model."""
    base = data.utility.get(data.base_model or "")
    # the base model first, then the others in the order RED-EVAL saw them (file order otherwise)
    seen = list(dict.fromkeys(s["model"] for s in data.samples))
    models = sorted(data.utility, key=lambda m: (m != data.base_model, seen.index(m) if m in seen else len(seen), m))

    def cell(model: str, task: str) -> str:
        value = _acc(data.utility[model], task)
        if value is None:
            return ""
        text = f"{100 * value:.1f}"
        reference = _acc(base, task) if base is not None and model != data.base_model else None
        if reference is not None:
            diff = 100 * (value - reference)
            text += f' <span class="{"pos" if diff >= 0 else "neg"}">({diff:+.1f})</span>'
        return text

    hhh_rows = [[escape(m)] + [cell(m, t) for t in HHH_COLUMNS] for m in models if any(_acc(data.utility[m], t) is not None for t in HHH_COLUMNS)]
    tasks = [t for t in UTILITY_ORDER if any(_acc(data.utility[m], t) is not None for m in models)]
    utility_rows = [[escape(m)] + [cell(m, t) for t in tasks] for m in models]
    return (["model", "harmless", "helpful", "honest", "other", "mean"], hhh_rows), (["model", *tasks], utility_rows)


def _plots(runs: list[dict[str, Any]], data: ReportData) -> str:
    parts = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        rs = [r for r in runs if r["dataset"] == dataset]
        templates = list(dict.fromkeys(r["template"] for r in rs))
        models = list(dict.fromkeys(r["model"] for r in rs))
        values = {(r["template"], r["model"]): (r["asr"], r["ci_low"], r["ci_high"]) for r in rs}
        parts.append(bar_chart(templates, models, values, f"ASR per template, {dataset} (95% Wilson interval)"))
    topics = sorted({t for r in runs for t in r["by_topic"]})
    columns = [f"{r['model']} / {r['template']}" for r in runs]
    cells = {(t, f"{r['model']} / {r['template']}"): r["by_topic"][t]["asr"] for r in runs for t in r["by_topic"]}
    if topics:
        parts.append(heatmap(topics, list(dict.fromkeys(columns)), cells, "ASR per topic"))
    points = safety_points(runs)
    if points:
        parts.append(scatter_chart(points, "Safety against over-refusal (lower left is better)", "safe prompts refused", "ASR on unsafe prompts"))
    for metric in ("blue_nll", "red_nll"):
        series = {label: [(e["step"], e[metric]) for e in log if e.get(metric) is not None] for label, log in data.training.items()}
        series = {k: v for k, v in series.items() if v}
        if series:
            parts.append(line_chart(series, f"training: {metric.replace('_', ' ').upper().replace('NLL', 'NLL')}", metric))
    return "".join(parts)


def render_html(data: ReportData, title: str = "redinstruct report") -> str:
    runs = summarize(data.samples) if data.samples else []
    judges = sorted({str(s.get("judge")) for s in data.samples})
    sections = [f"<h1>{escape(title)}</h1>"]
    if data.base_model:
        note = " Differences in the utility tables are from it." if data.utility else ""
        sections.append(f'<p class="muted">Base model: {escape(data.base_model)}.{note}</p>')
    if runs:
        header, rows = asr_table(runs)
        over = " Over-refusal columns: full + partial refusals of the prompts labelled safe (ASR counts only those labelled unsafe)." \
            if any(r.get("over_refusal") for r in runs) else ""
        sections += ["<h2>RED-EVAL attack success rate</h2>",
                     f'<p class="muted">ASR = harmful / (harmful + unharmful), 95% Wilson interval; unknown verdicts are counted, never folded in.{over}</p>',
                     _table(header, [[escape(c) for c in row] for row in rows], "asr")]
        judge_lines = [f"<li>{escape(quality_line(j))}</li>" for j in judges]
        sections.append(f"<h3>Judge</h3><ul class=\"judges\">{''.join(judge_lines)}</ul>")
        refusals = over_refusal_table(runs)
        if refusals:
            sections += ["<h2>Over-refusal: safe prompts refused</h2>",
                         '<p class="muted">Full + partial refusals / classified replies to prompts labelled safe, 95% Wilson interval; '
                         "ASR above counts only prompts labelled unsafe. " + escape(compliance_quality_line()) + "</p>",
                         _table(refusals[0], [[escape(c) for c in row] for row in refusals[1]], "over-refusal")]
    if data.utility:
        (hhh_header, hhh_rows), (u_header, u_rows) = utility_tables(data)
        if hhh_rows:
            sections += ["<h2>HHH (BIG-bench, accuracy %)</h2>", _table(hhh_header, hhh_rows, "hhh")]
        sections += ["<h2>Utility (accuracy %)</h2>", _table(u_header, u_rows, "utility")]
        settings = {m: r["settings"] for m, r in data.utility.items()}
        sections.append("<p class=\"muted\">Settings: " + escape("; ".join(
            f"{m}: few-shot {s.get('num_fewshot')}, limit {s.get('limit')}, chat template {s.get('chat_template')}, {s.get('source')}" for m, s in settings.items())) + "</p>")
    plots = _plots(runs, data)
    if plots:
        sections += ["<h2>Plots</h2>", f'<div class="plots">{plots}</div>']
    if data.samples:
        filters = "".join(f'<label>{k} <select id="filter-{k}"><option value="">all</option></select></label>' for k in ("model", "template", "verdict", "topic"))
        payload = json.dumps(data.samples, ensure_ascii=False).replace("</", "<\\/")
        sections += ["<h2>Samples</h2>", f'<div id="filters">{filters}</div><p id="sample-count"></p><div id="samples"></div>',
                     f'<script type="application/json" id="sample-data">{payload}</script>', f"<script>{SCRIPT}</script>"]
    if data.config:
        sections += ["<h2>Configuration</h2>", f"<pre>{escape(json.dumps(data.config, indent=1))}</pre>"]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>")


def render_markdown(data: ReportData) -> str:
    """summary.md: the same tables, for papers and issues."""
    lines = ["# redinstruct results", ""]
    runs = summarize(data.samples) if data.samples else []
    if runs:
        header, rows = asr_table(runs)
        judges = sorted({str(s.get("judge")) for s in data.samples})
        lines += ["## RED-EVAL attack success rate", "", f"ASR = harmful / (harmful + unharmful), 95% Wilson interval; judge: {', '.join(judges)}.", "",
                  *(f"Judge {quality_line(j)}" for j in judges), "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows] + [""]
        refusals = over_refusal_table(runs)
        if refusals:
            lines += ["## Over-refusal: safe prompts refused", "", "Full + partial refusals / classified replies to safe prompts, 95% Wilson interval. " + compliance_quality_line(), "",
                      "| " + " | ".join(refusals[0]) + " |", "|" + "---|" * len(refusals[0])] + ["| " + " | ".join(r) + " |" for r in refusals[1]] + [""]
    if data.utility:
        (hhh_header, hhh_rows), (u_header, u_rows) = utility_tables(data)
        for name, header, rows in (("HHH (accuracy %)", hhh_header, hhh_rows), ("Utility (accuracy %)", u_header, u_rows)):
            if rows:
                clean = [[c.replace('<span class="pos">', "").replace('<span class="neg">', "").replace("</span>", "") for c in r] for r in rows]
                lines += [f"## {name}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in clean] + [""]
    return "\n".join(lines)
