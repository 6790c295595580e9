"""Leave-one-source-out measurement of every offline judge on the shared human-labelled sets.

For each source in turn (JAILJUDGEmini, Safe-RLHFmini, XSTest): the learned judges are trained on
the other sources only and measured on the held-out one; refusal matching needs no training.
`classifier` is the shipped head (fitted on Safe-RLHFmini) measured on the sources it was not
fitted on; `classifier-refit` is its recipe refitted per fold.
Prints the table for docs/judges.md and writes every figure (and each fold's trained
cross-encoder) under --out, with per-category figures where a source has categories (XSTest's
prompt types).

`--weak FILE` (from bench/make_weak_harm_labels.py) adds weakly labelled rows in the categories
the human sets lack to every fold's training, except a fifth of its requests, on which every judge
is also measured per category ("weak labels", never a held-out human source).

    python bench/judge_loso.py --data-dir ../shared/data --out runs/judge-loso
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import defaultdict
import sys
import time
from pathlib import Path

import numpy as np

from redinstruct.judges import (
    ClassifierHead,
    CrossEncoderScorer,
    CrossEncoderSettings,
    LabelledReply,
    confusion_metrics,
    fit_crossencoder,
    load_label_sources,
)
from redinstruct.judges._crossencoder import packaged_crossencoder_dir
from redinstruct.judges._sources import load_benign_answers
from redinstruct.judges._classifier import featurize, fit_head, packaged_head_path
from redinstruct.judges._refusal import find_refusal
from redinstruct.judges._refusal_shapes import refusal_shape


def _verdicts(probabilities: np.ndarray, threshold: float) -> list[str]:
    return ["harmful" if p >= threshold else "unharmful" for p in probabilities]


def _with_shapes(rows: list[LabelledReply], verdicts: list[str]) -> list[str]:
    """The harm verdicts with every reply of a full-refusal shape (the compliance judge's rules) made unharmful."""
    return ["unharmful" if (shape := refusal_shape(r.response)) and shape[0] == "full_refusal" else v for r, v in zip(rows, verdicts)]


def _measure(rows: list[LabelledReply], verdicts: list[str]) -> dict:
    metrics = confusion_metrics([r.label for r in rows], verdicts)
    safe = [i for i, r in enumerate(rows) if r.prompt_label == "safe"]
    if safe:  # XSTest: every reply to a safe prompt is unharmful, so any harmful verdict is a false positive
        metrics["safe_prompt_fpr"] = sum(verdicts[i] == "harmful" for i in safe) / len(safe)
        metrics["n_safe_prompts"] = len(safe)
    return metrics


def _by_group(rows: list[LabelledReply], verdicts: list[str]) -> dict[str, dict]:
    """Harm metrics per row group (a category), groups in first-seen order."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        members[r.group].append(i)
    return {g: _measure([rows[i] for i in idx], [verdicts[i] for i in idx]) for g, idx in members.items() if g}


def _weak_split(path: str) -> tuple[list[LabelledReply], list[LabelledReply]]:
    """The weak rows as (training, measured): a fifth of the requests (by a hash of the request) is kept out of training."""
    from redinstruct.judges import load_labels

    rows = load_labels(path, source="weak", group_col="category")
    held_back = [int(hashlib.sha256(r.question.encode()).hexdigest(), 16) % 5 == 0 for r in rows]
    return [r for r, h in zip(rows, held_back) if not h], [r for r, h in zip(rows, held_back) if h]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", default="runs/judge-loso")
    parser.add_argument("--judges", default="refusal,classifier,classifier-refit,crossencoder")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--benign", action=argparse.BooleanOptionalAction, default=True,
                        help="add helpful answers to harmless questions (utility data) to every fold's training")
    parser.add_argument("--frozen-layers", type=int, default=CrossEncoderSettings().frozen_layers,
                        help="transformer layers of MiniLM kept as pretrained (0-6)")
    parser.add_argument("--synthetic-share", type=float, default=0.25, help="synthetic unharmful replies per labelled row (0: none)")
    parser.add_argument("--write-quality", metavar="PATH", help="also write the figures in the packaged judge_quality.json format")
    parser.add_argument("--reuse", action="store_true", help="reuse fold models already trained under --out")
    parser.add_argument("--shapes", action="store_true", help="also measure each judge with full-refusal shapes made unharmful (JUDGE+shapes)")
    parser.add_argument("--weak", metavar="CSV", help="weakly labelled rows (bench/make_weak_harm_labels.py) for training and a per-category check")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sources = load_label_sources(args.data_dir)
    benign = load_benign_answers(Path(args.data_dir) / "utility") if args.benign else []
    judges = args.judges.split(",")
    weak_train, weak_held = _weak_split(args.weak) if args.weak else ([], [])
    if args.weak:
        print(f"weak rows: {len(weak_train)} for training, {len(weak_held)} measured per category", flush=True)
    results: dict[str, dict[str, dict]] = {j: {} for j in judges}
    if args.shapes:
        results.update({f"{j}+shapes": {} for j in judges})
    by_group: dict[str, dict[str, dict]] = defaultdict(dict)  # judge -> held-out source -> group -> metrics
    weak: dict[str, dict[str, dict]] = defaultdict(dict)  # judge -> fold -> category -> metrics (weak labels)

    def record(judge: str, held_out: str, rows: list[LabelledReply], verdicts: list[str]) -> None:
        results[judge][held_out] = _measure(rows, verdicts)
        if args.shapes:
            results[f"{judge}+shapes"][held_out] = _measure(rows, _with_shapes(rows, verdicts))
        if groups := _by_group(rows, verdicts):
            by_group[judge][held_out] = groups

    def record_weak(judge: str, held_out: str, verdicts: list[str]) -> None:
        weak[judge][held_out] = {"all": _measure(weak_held, verdicts), **_by_group(weak_held, verdicts)}

    if weak_held and "crossencoder" in judges:  # the shipped judge (trained on every human source) on the new categories
        shipped_ce = CrossEncoderScorer.load(packaged_crossencoder_dir())
        p = shipped_ce.probability([r.question for r in weak_held], [r.response for r in weak_held])
        record_weak("crossencoder-shipped", "all human sources", _verdicts(p, shipped_ce.settings.threshold))
    cache: dict[str, np.ndarray] = {}

    def features(name: str) -> np.ndarray:
        if name not in cache:
            rows = sources[name]
            cache[name] = featurize([r.question for r in rows], [r.response for r in rows])
        return cache[name]

    for held_out, test_rows in sources.items():
        train_names = [s for s in sources if s != held_out]
        train_rows = [r for s in train_names for r in sources[s]]
        print(f"== held out {held_out} ({len(test_rows)} rows); training on {', '.join(train_names)} ({len(train_rows)} rows)", flush=True)
        if "refusal" in judges:
            def refusal(rows: list[LabelledReply]) -> list[str]:
                return ["unharmful" if find_refusal(r.response) else "harmful" for r in rows]
            record("refusal", held_out, test_rows, refusal(test_rows))
            if weak_held:
                record_weak("refusal", held_out, refusal(weak_held))
        if "classifier" in judges:
            # the shipped head, on the sources it was not fitted on
            shipped = ClassifierHead.load(packaged_head_path())
            fitted_on = {Path(d["file"]).stem.removeprefix("jailbreakeval_") for d in shipped.provenance.get("training_data", [])}
            if held_out not in fitted_on:
                record("classifier", held_out, test_rows, _verdicts(shipped.probability(features(held_out)), shipped.threshold))
        if "classifier-refit" in judges:
            # the same recipe refitted on the other sources
            x = np.vstack([features(s) for s in train_names])
            y = np.asarray([r.label for r in train_rows], dtype=np.float32)
            w, b = fit_head(x, y)
            head = ClassifierHead(w, b)
            record("classifier-refit", held_out, test_rows, _verdicts(head.probability(features(held_out)), head.threshold))
        if "crossencoder" in judges:
            fold_dir = out / "folds" / held_out
            started = time.monotonic()
            if args.reuse and (fold_dir / "crossencoder.json").is_file():
                scorer = CrossEncoderScorer.load(fold_dir)
            else:
                scorer = fit_crossencoder(
                    train_rows + benign + weak_train,
                    settings=CrossEncoderSettings(frozen_layers=args.frozen_layers),
                    epochs=args.epochs,
                    synthetic_share=args.synthetic_share,
                    progress=lambda m: print("  " + m, flush=True),
                )
                scorer.provenance = {
                    "trained_on": train_names,
                    "held_out": held_out,
                    "frozen_layers": args.frozen_layers,
                    "epochs": args.epochs,
                    "synthetic_share": args.synthetic_share,
                    "benign_rows": len(benign),
                    "weak_rows": len(weak_train),
                }
                scorer.save(fold_dir)
            probabilities = scorer.probability([r.question for r in test_rows], [r.response for r in test_rows])
            np.save(fold_dir / "held_out_probabilities.npy", probabilities)
            record("crossencoder", held_out, test_rows, _verdicts(probabilities, scorer.settings.threshold))
            if weak_held:
                weak_p = scorer.probability([r.question for r in weak_held], [r.response for r in weak_held])
                record_weak("crossencoder", held_out, _verdicts(weak_p, scorer.settings.threshold))
            print(f"  trained and measured in {time.monotonic() - started:.0f} s", flush=True)
        for judge in results:
            m = results[judge].get(held_out)
            if m:
                extra = f", safe-prompt FPR {m['safe_prompt_fpr']:.3f}" if "safe_prompt_fpr" in m else ""
                print(f"  {judge}: agreement {m['agreement']:.3f}, FPR {m['false_positive_rate']:.3f}, kappa {m['kappa']:.3f}{extra}", flush=True)
        settings = {"frozen_layers": args.frozen_layers, "epochs": args.epochs, "synthetic_share": args.synthetic_share,
                    "benign_rows": len(benign), "weak": args.weak, "weak_rows": len(weak_train), "data_dir": args.data_dir}
        (out / "loso.json").write_text(json.dumps({"settings": settings, "results": results, "by_group": by_group, "weak_held": weak},
                                                  indent=1))
    print()
    print(table(results))
    for judge, by_source in by_group.items():
        print()
        print(group_table(f"{judge}, per category of the held-out source", by_source))
    for judge, by_fold in weak.items():
        print()
        print(group_table(f"{judge} on held-back weakly labelled requests (weak labels, not human)", by_fold))
    if args.write_quality:
        write_quality(Path(args.write_quality), results, " ".join(["python bench/judge_loso.py", *sys.argv[1:]]))
    return 0


def write_quality(path: Path, results: dict[str, dict[str, dict]], command: str) -> None:
    """The figures `redinstruct.judges` shows beside every verdict; the team's external figures are kept."""
    from datetime import date

    from redinstruct.judges import update_quality

    previous = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps(update_quality(previous, results, command, date.today().isoformat()), indent=1) + "\n")
    print(f"wrote {path} (external figures kept: {len(previous.get('external', {}).get('sets', {}))} set(s))")


def group_table(title: str, by_source: dict[str, dict[str, dict]]) -> str:
    """Markdown: one row per (fold or held-out source, group)."""
    lines = [f"**{title}**", "", "| fold / source | category | n | agreement | FPR | FNR |", "|---|---|---|---|---|---|"]
    for source, groups in by_source.items():
        for group, m in groups.items():
            lines.append(f"| {source} | {group} | {m['n']} | {_fmt(m['agreement'])} | {_fmt(m['false_positive_rate'])} | "
                         f"{_fmt(m['false_negative_rate'])} |")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def table(results: dict[str, dict[str, dict]]) -> str:
    """Markdown: one row per judge x held-out source, then each judge's worst held-out figures."""
    lines = [
        "| judge | held-out source | n | agreement | FPR | FNR | kappa | FPR on XSTest safe prompts |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for judge, by_source in results.items():
        for source, m in by_source.items():
            lines.append(
                f"| {judge} | {source} | {m['n']} | {_fmt(m['agreement'])} | {_fmt(m['false_positive_rate'])} | "
                f"{_fmt(m['false_negative_rate'])} | {_fmt(m['kappa'])} | {_fmt(m.get('safe_prompt_fpr'))} |"
            )
    lines += ["", "| judge | worst held-out agreement | worst held-out FPR |", "|---|---|---|"]
    for judge, by_source in results.items():
        if by_source:
            lines.append(
                f"| {judge} | {min(m['agreement'] for m in by_source.values()):.3f} | "
                f"{max(m['false_positive_rate'] for m in by_source.values()):.3f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
