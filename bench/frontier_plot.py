"""Every recipe's validation frontier from several `reproduce` run folders on one plot, and the test-set
figures of each kept checkpoint beside it (#37 item 4).

Each run folder's `models/<strategy>/training_log.jsonl` gives the checkpoints' validation points
(harmful refused, safe refused); the kept one is ringed. Its RED-EVAL summary (`redeval/summary.json`) and
over-refusal summary (`over-refusal/summary.json`) give the test-set figures: DangerousQA refused under
each template (echoes counted as not refused), ASR, and the over-refusal bank's safe prompts refused.

    python bench/frontier_plot.py --run 3=runs/preset/helpful3 --run 4=runs/preset/helpful4 \\
        --svg docs/safealign-frontier.svg          # prints the markdown table
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from redinstruct.report import frontier_chart, frontier_points, standalone


def _summary(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.1f}%"


def _refused(entry: dict[str, Any] | None) -> float | None:
    """Refused of every usable reply (echoes as not refused), or of the classified ones where no echo count exists."""
    stats = (entry or {}).get("refusal_unsafe")
    if not stats:
        return None
    return stats.get("refusal_rate_with_echoes", stats.get("refusal_rate"))


def run_recipes(label: str, folder: Path) -> list[dict[str, Any]]:
    """One row per trained strategy of a run folder: its validation curve, kept step and test-set figures."""
    manifest = json.loads((folder / "reproduce.json").read_text(encoding="utf-8"))
    names = manifest.get("names", {})
    redeval, over = _summary(folder / "redeval" / "summary.json"), _summary(folder / "over-refusal" / "summary.json")
    rows = []
    for log in sorted((folder / "models").glob("*/training_log.jsonl")):
        strategy = log.parent.name
        entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
        curve, kept = frontier_points(entries)
        if not curve:
            continue
        model = names.get(strategy, strategy)
        mine = {(r["dataset"], r["template"]): r for r in redeval if r["model"] == model}
        safe = next((r["over_refusal"] for r in over if r["model"] == model and r.get("over_refusal")), None)
        rows.append({
            "label": f"run {label}: {model.removeprefix(str(manifest.get('base_label', '')) + ' + ')}", "curve": curve, "kept": kept,
            "refused_standard": _refused(mine.get(("dangerousqa", "standard"))), "refused_cou": _refused(mine.get(("dangerousqa", "cou"))),
            "asr_standard": (mine.get(("dangerousqa", "standard")) or {}).get("asr"), "asr_cou": (mine.get(("dangerousqa", "cou")) or {}).get("asr"),
            "safe_refused": safe["refusal_rate"] if safe else None,
        })
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", required=True, metavar="LABEL=FOLDER", help="a reproduce run folder and its label")
    parser.add_argument("--svg", default=None, help="write the plot here")
    args = parser.parse_args()
    rows = []
    for given in args.run:
        label, _, folder = given.partition("=")
        if not folder or not (Path(folder) / "reproduce.json").is_file():
            raise SystemExit(f"--run {given}: expected LABEL=FOLDER, FOLDER a reproduce run folder (with reproduce.json)")
        rows += run_recipes(label, Path(folder))
    if not rows:
        raise SystemExit("no training log with validation points under the given run folders")
    if args.svg:
        svg = frontier_chart({r["label"]: r["curve"] for r in rows}, {r["label"]: r["kept"] for r in rows if r["kept"] is not None},
                             "Validation frontier of every recipe (kept checkpoint ringed)", "safe prompts refused", "harmful prompts refused")
        Path(args.svg).write_text(standalone(svg), encoding="utf-8")
        print(f"wrote {args.svg}")
    print("| recipe | validation, % harmful / % safe refused per checkpoint | kept | DangerousQA refused, Standard / CoU | ASR Standard / CoU | XSTest safe refused |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        curve = ", ".join(f"{s}: {100 * h:.0f} / {100 * f:.0f}" for s, f, h in r["curve"])
        print(f"| {r['label']} | {curve} | {r['kept']} | {_percent(r['refused_standard'])} / {_percent(r['refused_cou'])} | "
              f"{_percent(r['asr_standard'])} / {_percent(r['asr_cou'])} | {_percent(r['safe_refused'])} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
