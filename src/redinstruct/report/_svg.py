"""Inline SVG plots (no scripts, no network): bars with intervals, a heatmap, line charts."""

from __future__ import annotations

from html import escape
from typing import Sequence

PALETTE = ("#3b6fb6", "#d1603d", "#4f9a5a", "#8a5bb4", "#c9a227", "#5aa7b8", "#a64d79", "#777777")


def bar_chart(groups: Sequence[str], series: Sequence[str], values: dict[tuple[str, str], tuple[float | None, float | None, float | None]],
              title: str) -> str:
    """Grouped bars (group = template, series = model); values[(group, series)] = (asr, low, high) in 0..1."""
    width, height, left, bottom, top = max(480, 60 * len(groups) * max(1, len(series)) + 220), 260, 48, 40, 28
    plot_w, plot_h = width - left - 150, height - bottom - top
    slot = plot_w / max(1, len(groups))
    bar_w = slot * 0.8 / max(1, len(series))
    out = [f'<svg class="plot" role="img" aria-label="{escape(title)}" width="{width}" height="{height}">',
           f'<text x="{left}" y="16" class="title">{escape(title)}</text>']
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/><text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{tick}%</text>')
    for gi, group in enumerate(groups):
        x0 = left + gi * slot + slot * 0.1
        out.append(f'<text x="{x0 + slot * 0.4:.1f}" y="{height - bottom + 16}" class="tick" text-anchor="middle">{escape(group)}</text>')
        for si, name in enumerate(series):
            asr, low, high = values.get((group, name), (None, None, None))
            if asr is None:
                continue
            x = x0 + si * bar_w
            y = top + plot_h * (1 - asr)
            out.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.9:.1f}" height="{plot_h * asr:.1f}" fill="{PALETTE[si % len(PALETTE)]}">'
                       f'<title>{escape(name)} / {escape(group)}: {100 * asr:.1f}%</title></rect>')
            if low is not None and high is not None:
                cx = x + bar_w * 0.45
                y1, y2 = top + plot_h * (1 - high), top + plot_h * (1 - low)
                out.append(f'<line class="err" x1="{cx:.1f}" x2="{cx:.1f}" y1="{y1:.1f}" y2="{y2:.1f}"/>'
                           f'<line class="err" x1="{cx - 4:.1f}" x2="{cx + 4:.1f}" y1="{y1:.1f}" y2="{y1:.1f}"/>'
                           f'<line class="err" x1="{cx - 4:.1f}" x2="{cx + 4:.1f}" y1="{y2:.1f}" y2="{y2:.1f}"/>')
    out += _legend(series, left + plot_w + 12, top)
    out.append("</svg>")
    return "".join(out)


def _legend(series: Sequence[str], x: float, y: float) -> list[str]:
    return [f'<rect x="{x}" y="{y + 18 * i}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{y + 18 * i + 9}" class="tick">{escape(name[-22:])}</text>' for i, name in enumerate(series)]


def heatmap(rows: Sequence[str], columns: Sequence[str], values: dict[tuple[str, str], float | None], title: str) -> str:
    """rows x columns cells shaded by value (0..1, ASR); empty cells where there is no value."""
    cell_w, cell_h, left, top = 130, 22, 260, 52
    width, height = left + cell_w * len(columns) + 10, top + cell_h * len(rows) + 10
    out = [f'<svg class="plot heatmap" role="img" aria-label="{escape(title)}" width="{width}" height="{height}">',
           # the title starts where the cells do, not at the far left of the row labels
           f'<text x="{left}" y="16" class="title">{escape(title)}</text>']
    for ci, column in enumerate(columns):
        # "model / template" labels go on two lines: the model's last 20 characters, then the template
        head, _, tail = column.rpartition(" / ")
        x = left + ci * cell_w + cell_w / 2
        out.append(f'<text x="{x}" y="{top - 20}" class="tick" text-anchor="middle">{escape((head or column)[-20:])}</text>'
                   f'<text x="{x}" y="{top - 6}" class="tick" text-anchor="middle">{escape(tail)}</text>')
    for ri, row in enumerate(rows):
        y = top + ri * cell_h
        out.append(f'<text x="{left - 6}" y="{y + 15}" class="tick" text-anchor="end">{escape(row[:40])}</text>')
        for ci, column in enumerate(columns):
            value = values.get((row, column))
            if value is None:
                continue
            shade = int(255 - 190 * value)
            out.append(f'<rect class="cell" x="{left + ci * cell_w}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="rgb(255,{shade},{shade})">'
                       f'<title>{escape(row)} / {escape(column)}: {100 * value:.0f}%</title></rect>'
                       f'<text x="{left + ci * cell_w + cell_w / 2}" y="{y + 15}" class="tick" text-anchor="middle">{100 * value:.0f}%</text>')
    out.append("</svg>")
    return "".join(out)


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, y_label: str) -> str:
    """One polyline per series of (step, value) points."""
    width, height, left, bottom, top = 560, 240, 52, 34, 28
    plot_w, plot_h = width - left - 170, height - bottom - top
    points = [p for s in series.values() for p in s]
    if not points:
        return ""
    x_max = max(p[0] for p in points) or 1
    y_min, y_max = min(p[1] for p in points), max(p[1] for p in points)
    span = (y_max - y_min) or 1.0
    out = [f'<svg class="plot curve" role="img" aria-label="{escape(title)}" width="{width}" height="{height}">',
           f'<text x="{left}" y="16" class="title">{escape(title)}</text>',
           f'<text x="{left - 6}" y="{top + 4}" class="tick" text-anchor="end">{y_max:.2g}</text>',
           f'<text x="{left - 6}" y="{top + plot_h}" class="tick" text-anchor="end">{y_min:.2g}</text>',
           f'<text x="{left + plot_w}" y="{height - 10}" class="tick" text-anchor="end">step {x_max:g}</text>',
           f'<text x="{left}" y="{height - 10}" class="tick">{escape(y_label)}</text>',
           f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" class="grid"/>']
    for i, (name, pts) in enumerate(series.items()):
        coords = " ".join(f"{left + plot_w * x / x_max:.1f},{top + plot_h * (1 - (y - y_min) / span):.1f}" for x, y in pts)
        out.append(f'<polyline class="line" fill="none" stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="2" points="{coords}"><title>{escape(name)}</title></polyline>')
    out += _legend(list(series), left + plot_w + 12, top)
    out.append("</svg>")
    return "".join(out)


def scatter_chart(points: Sequence[tuple[str, float, float]], title: str, x_label: str, y_label: str) -> str:
    """One labelled point per (name, x, y), both axes 0..1 shown as %; the best corner is bottom-left."""
    width, height, left, bottom, top = 560, 300, 52, 44, 28
    plot_w, plot_h = width - left - 190, height - bottom - top
    out = [f'<svg class="plot scatter" role="img" aria-label="{escape(title)}" width="{width}" height="{height}">',
           f'<text x="{left}" y="16" class="title">{escape(title)}</text>']
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        x = left + plot_w * tick / 100
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{tick}%</text>'
                   f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" class="grid"/>'
                   f'<text x="{x:.1f}" y="{top + plot_h + 14}" class="tick" text-anchor="middle">{tick}%</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" class="tick" text-anchor="middle">{escape(x_label)}</text>'
               f'<text x="12" y="{top + plot_h / 2}" class="tick" text-anchor="middle" transform="rotate(-90 12 {top + plot_h / 2})">{escape(y_label)}</text>')
    for i, (name, x_value, y_value) in enumerate(points):
        cx, cy = left + plot_w * x_value, top + plot_h * (1 - y_value)
        out.append(f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{PALETTE[i % len(PALETTE)]}">'
                   f'<title>{escape(name)}: {x_label} {100 * x_value:.1f}%, {y_label} {100 * y_value:.1f}%</title></circle>')
    out += _legend([name for name, _, _ in points], left + plot_w + 12, top)
    out.append("</svg>")
    return "".join(out)
