"""The report: one self-contained HTML file (tables, plots, sample browser) and summary.md from run folders."""

from __future__ import annotations

import re
from pathlib import Path

from .._secrets import write_public
from ._collect import ReportData, collect
from ._render import frontier_points, plots, render_html, render_latex, render_markdown
from ._svg import frontier_chart, standalone


def _file_name(stem: str, taken: set[str]) -> str:
    """A plot's file name: its stem with anything but letters, digits, `-` and `_` made `_` (a dataset name
    may hold `/` or `..`), shortened, and numbered when two stems come out the same."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", stem)[:80] or "plot"
    name, n = safe, 2
    while name in taken:
        name, n = f"{safe}-{n}", n + 1
    taken.add(name)
    return f"{name}.svg"


def write_report(
    dirs: list[str | Path],
    out: str | Path,
    base_model: str | None = None,
    title: str = "redinstruct report",
    figures: str | Path | None = None,
    rename: dict[str, str] | None = None,
) -> tuple[Path, Path]:
    """Write `out` (HTML), `summary.md` and `summary.tex` beside it, and with `figures` each plot as
    its own SVG file there; returns the HTML and summary.md paths. `rename` maps model names as
    recorded (e.g. checkpoint paths) to the names to show."""
    data = collect(dirs, base_model)
    if rename:
        for sample in data.samples:
            sample["model"] = rename.get(sample["model"], sample["model"])
        for run in data.runs:
            run["model"] = rename.get(run["model"], run["model"])
        data.utility = {rename.get(m, m): {**r, "model": rename.get(m, m)} for m, r in data.utility.items()}
        data.base_model = rename.get(data.base_model or "", data.base_model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_public(out, render_html(data, title))
    summary = out.with_name("summary.md")
    write_public(summary, render_markdown(data))
    write_public(out.with_name("summary.tex"), render_latex(data))
    if figures is not None:
        folder = Path(figures)
        folder.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        for stem, svg in plots(data.runs, data):
            write_public(folder / _file_name(stem, taken), standalone(svg))
    return out, summary


__all__ = ["ReportData", "collect", "frontier_chart", "frontier_points", "plots", "render_html", "render_latex", "render_markdown", "standalone", "write_report"]
