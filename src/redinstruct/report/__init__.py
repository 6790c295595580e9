"""The report: one self-contained HTML file (tables, plots, sample browser) and summary.md from run folders."""

from __future__ import annotations

from pathlib import Path

from ._collect import ReportData, collect
from ._render import render_html, render_markdown


def write_report(dirs: list[str | Path], out: str | Path, base_model: str | None = None, title: str = "redinstruct report") -> tuple[Path, Path]:
    """Write `out` (HTML) and `summary.md` beside it; returns both paths."""
    data = collect(dirs, base_model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(data, title), encoding="utf-8")
    summary = out.with_name("summary.md")
    summary.write_text(render_markdown(data), encoding="utf-8")
    return out, summary


__all__ = ["ReportData", "collect", "render_html", "render_markdown", "write_report"]
