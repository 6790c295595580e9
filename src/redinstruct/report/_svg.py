"""Inline SVG plots (no scripts, no network): bars with intervals, a heatmap, line charts, a scatter.

Every plot has a viewBox, so the page scales it down to its width instead of scrolling sideways;
legends keep whole names (the plot grows to fit them). `standalone` makes a plot an SVG file.
"""

from __future__ import annotations

from .._escape import xml_text
from typing import Sequence

PALETTE = ("#3b6fb6", "#d1603d", "#4f9a5a", "#8a5bb4", "#c9a227", "#5aa7b8", "#a64d79", "#777777")
CHAR_W = 6.6  # px per character of an 11 px label, to size legends and label columns
# the classes the plots use, for a plot saved on its own (the report's page style has the same rules)
SVG_STYLE = (
    "text{font-family:system-ui,sans-serif}.title{font-weight:600;font-size:13px}.tick{font-size:11px;fill:#444}"
    ".grid{stroke:#e3e3e3}.err{stroke:#222;stroke-width:1.2}"
)


def _open(cls: str, title: str, width: float, height: float) -> str:
    return (f'<svg class="plot {cls}" role="img" aria-label="{xml_text(title)}" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" preserveAspectRatio="xMinYMin meet">')


def _legend_width(series: Sequence[str]) -> float:
    return 30 + CHAR_W * max((len(s) for s in series), default=0)


def _legend(series: Sequence[str], x: float, y: float) -> list[str]:
    return [f'<rect x="{x}" y="{y + 18 * i}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{y + 18 * i + 9}" class="tick legend">{xml_text(name)}</text>' for i, name in enumerate(series)]


def bar_chart(groups: Sequence[str], series: Sequence[str], values: dict[tuple[str, str], tuple[float | None, float | None, float | None]],
              title: str) -> str:
    """Grouped bars (group = template, series = model); values[(group, series)] = (asr, low, high) in 0..1."""
    left, bottom, top = 48, 40, 28
    plot_w = max(300, 46 * len(groups) * max(1, len(series)))
    legend_w = _legend_width(series)
    width, height = left + plot_w + 12 + legend_w, max(260, top + 18 * len(series) + 20)
    plot_h = height - bottom - top
    slot = plot_w / max(1, len(groups))
    bar_w = slot * 0.8 / max(1, len(series))
    out = [_open("bars", title, width, height), f'<text x="{left}" y="16" class="title">{xml_text(title)}</text>']
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/><text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{tick}%</text>')
    for gi, group in enumerate(groups):
        x0 = left + gi * slot + slot * 0.1
        out.append(f'<text x="{x0 + slot * 0.4:.1f}" y="{height - bottom + 16}" class="tick" text-anchor="middle">{xml_text(group)}</text>')
        for si, name in enumerate(series):
            asr, low, high = values.get((group, name), (None, None, None))
            if asr is None:
                continue
            x = x0 + si * bar_w
            y = top + plot_h * (1 - asr)
            out.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.9:.1f}" height="{plot_h * asr:.1f}" fill="{PALETTE[si % len(PALETTE)]}">'
                       f'<title>{xml_text(name)} / {xml_text(group)}: {100 * asr:.1f}%</title></rect>')
            if low is not None and high is not None:
                cx = x + bar_w * 0.45
                y1, y2 = top + plot_h * (1 - high), top + plot_h * (1 - low)
                out.append(f'<line class="err" x1="{cx:.1f}" x2="{cx:.1f}" y1="{y1:.1f}" y2="{y2:.1f}"/>'
                           f'<line class="err" x1="{cx - 4:.1f}" x2="{cx + 4:.1f}" y1="{y1:.1f}" y2="{y1:.1f}"/>'
                           f'<line class="err" x1="{cx - 4:.1f}" x2="{cx + 4:.1f}" y1="{y2:.1f}" y2="{y2:.1f}"/>')
    out += _legend(series, left + plot_w + 12, top)
    out.append("</svg>")
    return "".join(out)


def heatmap(rows: Sequence[str], columns: Sequence[str], values: dict[tuple[str, str], float | None], title: str) -> str:
    """rows x columns cells shaded by value (0..1, ASR); empty cells where there is no value.

    Column labels `model / template` go on two lines, whole; the page puts the heatmap in its own
    scrolling box when it is wider than the page."""
    heads = [column.rpartition(" / ") for column in columns]
    cell_w = max(90.0, 12 + CHAR_W * max((max(len(h or c), len(t)) for (h, _, t), c in zip(heads, columns)), default=0))
    cell_h, top = 22, 52
    left = 16 + CHAR_W * max((len(r) for r in rows), default=0)
    width, height = left + cell_w * len(columns) + 10, top + cell_h * len(rows) + 10
    out = [_open("heatmap", title, width, height),
           # the title starts where the cells do, not at the far left of the row labels
           f'<text x="{left:.1f}" y="16" class="title">{xml_text(title)}</text>']
    for ci, ((head, _, tail), column) in enumerate(zip(heads, columns)):
        x = left + ci * cell_w + cell_w / 2
        out.append(f'<text x="{x:.1f}" y="{top - 20}" class="tick" text-anchor="middle">{xml_text(head or column)}</text>'
                   f'<text x="{x:.1f}" y="{top - 6}" class="tick" text-anchor="middle">{xml_text(tail)}</text>')
    for ri, row in enumerate(rows):
        y = top + ri * cell_h
        out.append(f'<text x="{left - 6:.1f}" y="{y + 15}" class="tick" text-anchor="end">{xml_text(row)}</text>')
        for ci, column in enumerate(columns):
            value = values.get((row, column))
            if value is None:
                continue
            shade = int(255 - 190 * value)
            x = left + ci * cell_w
            out.append(f'<rect class="cell" x="{x:.1f}" y="{y}" width="{cell_w - 2:.1f}" height="{cell_h - 2}" fill="rgb(255,{shade},{shade})">'
                       f'<title>{xml_text(row)} / {xml_text(column)}: {100 * value:.0f}%</title></rect>'
                       f'<text x="{x + cell_w / 2:.1f}" y="{y + 15}" class="tick" text-anchor="middle">{100 * value:.0f}%</text>')
    out.append("</svg>")
    return "".join(out)


def _nice(value: float) -> str:
    return f"{value:.3g}"


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, y_label: str, x_label: str = "step", share: bool = False) -> str:
    """One polyline (with a dot per point) per series of (step, value) points; the y axis spans the
    data with a margin (`share`: values are shares, on a 0-100% axis), the x axis the steps."""
    points = [p for s in series.values() for p in s]
    if not points:
        return ""
    left, bottom, top = 56, 40, 28
    plot_w, plot_h = 380, 170
    legend_w = _legend_width(list(series))
    width, height = left + plot_w + 12 + legend_w, max(top + plot_h + bottom, top + 18 * len(series) + 20)
    x_min, x_max = min(p[0] for p in points), max(p[0] for p in points)
    x_span = (x_max - x_min) or 1.0
    y_min, y_max = min(p[1] for p in points), max(p[1] for p in points)
    margin = 0.08 * (y_max - y_min) if y_max > y_min else max(0.05 * abs(y_max), 0.05)
    y_low, y_high = (0.0, 1.0) if share else (y_min - margin, y_max + margin)

    def px(x: float) -> float:
        return left + plot_w * (x - x_min) / x_span

    def py(y: float) -> float:
        return top + plot_h * (1 - (y - y_low) / (y_high - y_low))

    out = [_open("curve", title, width, height), f'<text x="{left}" y="16" class="title">{xml_text(title)}</text>']
    for value in (y_low, (y_low + y_high) / 2, y_high):
        y = py(value)
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{f"{100 * value:.0f}%" if share else _nice(value)}</text>')
    for value in (x_min, (x_min + x_max) / 2, x_max):
        out.append(f'<text x="{px(value):.1f}" y="{top + plot_h + 15}" class="tick" text-anchor="middle">{value:g}</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 6}" class="tick" text-anchor="middle">{xml_text(x_label)}</text>'
               f'<text x="12" y="{top + plot_h / 2}" class="tick" text-anchor="middle" transform="rotate(-90 12 {top + plot_h / 2})">{xml_text(y_label)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline class="line" fill="none" stroke="{color}" stroke-width="2" points="{coords}"><title>{xml_text(name)}</title></polyline>')
        out += [f'<circle class="dot" cx="{px(x):.1f}" cy="{py(y):.1f}" r="2" fill="{color}"/>' for x, y in pts]
    out += _legend(list(series), left + plot_w + 12, top)
    out.append("</svg>")
    return "".join(out)


def _percent_axes(left: float, top: float, plot_w: float, plot_h: float, height: float, x_label: str, y_label: str) -> list[str]:
    """Grid, 0-100% ticks and axis labels of a plot whose two axes are shares."""
    out = []
    for tick in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - tick / 100)
        x = left + plot_w * tick / 100
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{tick}%</text>'
                   f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" class="grid"/>'
                   f'<text x="{x:.1f}" y="{top + plot_h + 14}" class="tick" text-anchor="middle">{tick}%</text>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 8}" class="tick" text-anchor="middle">{xml_text(x_label)}</text>'
               f'<text x="12" y="{top + plot_h / 2}" class="tick" text-anchor="middle" transform="rotate(-90 12 {top + plot_h / 2})">{xml_text(y_label)}</text>')
    return out


def frontier_chart(curves: dict[str, list[tuple[int, float, float]]], chosen: dict[str, int], title: str, x_label: str, y_label: str) -> str:
    """One curve per strategy through its checkpoints, (step, x, y) with both axes shares; the first point
    (the base, step 0) is hollow, the chosen checkpoint ringed. The best corner is top-left."""
    left, bottom, top = 52, 44, 28
    plot_w, plot_h = 300, 228
    legend_w = _legend_width(list(curves))
    width, height = left + plot_w + 12 + legend_w, max(top + plot_h + bottom, top + 18 * len(curves) + 20)
    out = [_open("frontier", title, width, height), f'<text x="{left}" y="16" class="title">{xml_text(title)}</text>']
    out += _percent_axes(left, top, plot_w, plot_h, height, x_label, y_label)
    for i, (name, points) in enumerate(curves.items()):
        color = PALETTE[i % len(PALETTE)]
        xy = [(step, left + plot_w * x, top + plot_h * (1 - y), x, y) for step, x, y in points]
        out.append(f'<polyline class="line" fill="none" stroke="{color}" stroke-width="1.5" '
                   f'points="{" ".join(f"{cx:.1f},{cy:.1f}" for _, cx, cy, _, _ in xy)}"><title>{xml_text(name)}</title></polyline>')
        for step, cx, cy, x, y in xy:
            fill = "white" if step == 0 else color
            ring = f'<circle class="chosen" cx="{cx:.1f}" cy="{cy:.1f}" r="7" fill="none" stroke="#222" stroke-width="1.5"/>' if chosen.get(name) == step else ""
            out.append(f'{ring}<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{fill}" stroke="{color}" stroke-width="1.5">'
                       f'<title>{xml_text(name)} step {step}: {x_label} {100 * x:.0f}%, {y_label} {100 * y:.0f}%</title></circle>')
    out += _legend(list(curves), left + plot_w + 12, top)
    out.append("</svg>")
    return "".join(out)


def scatter_chart(points: Sequence[tuple[str, float, float]], title: str, x_label: str, y_label: str) -> str:
    """One labelled point per (name, x, y), both axes 0..1 shown as %; the best corner is bottom-left."""
    left, bottom, top = 52, 44, 28
    plot_w, plot_h = 300, 228
    legend_w = _legend_width([name for name, _, _ in points])
    width, height = left + plot_w + 12 + legend_w, max(top + plot_h + bottom, top + 18 * len(points) + 20)
    out = [_open("scatter", title, width, height), f'<text x="{left}" y="16" class="title">{xml_text(title)}</text>']
    out += _percent_axes(left, top, plot_w, plot_h, height, x_label, y_label)
    for i, (name, x_value, y_value) in enumerate(points):
        cx, cy = left + plot_w * x_value, top + plot_h * (1 - y_value)
        out.append(f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{PALETTE[i % len(PALETTE)]}">'
                   f'<title>{xml_text(name)}: {x_label} {100 * x_value:.1f}%, {y_label} {100 * y_value:.1f}%</title></circle>')
    out += _legend([name for name, _, _ in points], left + plot_w + 12, top)
    out.append("</svg>")
    return "".join(out)


def standalone(svg: str) -> str:
    """A plot as its own SVG file: the namespace, a white background and the plot styles inline."""
    head, _, rest = svg.partition(">")
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n{head} xmlns="http://www.w3.org/2000/svg">'
            f'<style>{SVG_STYLE}</style><rect width="100%" height="100%" fill="white"/>{rest}\n')
