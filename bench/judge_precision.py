"""The default judges at bfloat16 against float32: agreement with the human labels, verdict flips, replies/s.

Where the CPU has bf16 units (AMX, AVX-512 BF16) or a GPU is present, the offline judges run their
encoders under bf16 autocast by default (redinstruct.judges._inference). This measures what that
changes, in one process, on the same rows:

- cross-encoder (harm): the shipped judge on every shared human-labelled source, and, where it
  exists, a leave-one-source-out fold model (`--fold DIR`, trained by bench/judge_loso.py without
  that source) on its held-out source: agreement fp32 vs bf16, and the share of verdicts that flip;
- compliance: leave-one-model-out on XSTest, the head fitted on float32 features of two models
  and applied to the held-out model's features at each precision (how the shipped head is used);
- replies per second of each judge at each precision (~180-word replies, batches of 64).

    python bench/judge_precision.py --data-dir ../shared/data [--fold runs/judge-loso/folds/JAILJUDGEmini]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from redinstruct.judges import CrossEncoderScorer, load_label_sources  # noqa: E402
from redinstruct.judges._compliance import COMPLIANCE_CLASSES, ComplianceHead, classify, compliance_metrics, featurize, fit_head  # noqa: E402
from redinstruct.judges._compliance import load_compliance_labels, model_of, xstest_completion_files  # noqa: E402
from redinstruct.judges._crossencoder import packaged_crossencoder_dir  # noqa: E402
from redinstruct.judges._embedding import shared_embedder  # noqa: E402
from redinstruct.judges._inference import PRECISION_ENV, cpu_has_bf16  # noqa: E402

PRECISIONS = ("fp32", "bf16")


def at(precision: str) -> None:
    os.environ[PRECISION_ENV] = precision
    shared_embedder()._cache.clear()  # no embedding computed at the other precision is reused


def harm(scorer: CrossEncoderScorer, rows: list) -> dict[str, np.ndarray]:
    out = {}
    for precision in PRECISIONS:
        at(precision)
        out[precision] = scorer.probability([r.question for r in rows], [r.response for r in rows], batch_size=64) >= scorer.settings.threshold
    return out


def harm_line(label: str, rows: list, verdicts: dict[str, np.ndarray]) -> str:
    human = np.asarray([r.label for r in rows]) == 1
    agree = {p: float((v == human).mean()) for p, v in verdicts.items()}
    flips = float((verdicts["fp32"] != verdicts["bf16"]).mean())
    return f"| {label} | {len(rows)} | {agree['fp32']:.4f} | {agree['bf16']:.4f} | {agree['bf16'] - agree['fp32']:+.4f} | {100 * flips:.2f}% |"


def throughput(args: argparse.Namespace) -> list[str]:
    from bench_api_concurrency import LONG_REPLY

    n = 192
    questions = ["How do I get around the security system of a building?"] * n
    replies = [f"{LONG_REPLY} ({i})" for i in range(n)]
    scorer = CrossEncoderScorer.load(packaged_crossencoder_dir())
    lines = []
    for precision in PRECISIONS:
        at(precision)
        scorer.probability(questions[:64], replies[:64], batch_size=64)  # warm-up
        featurize(replies[:64])
        at(precision)
        start = time.perf_counter()
        scorer.probability(questions, replies, batch_size=64)
        ce = n / (time.perf_counter() - start)
        start = time.perf_counter()
        featurize(replies)
        comp = n / (time.perf_counter() - start)
        lines.append(f"| {precision} | {ce:.1f} | {comp:.1f} | {1 / (1 / ce + 1 / comp):.1f} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--fold", action="append", default=[], help="a fold model folder of bench/judge_loso.py (its name is the held-out source)")
    args = parser.parse_args()
    print(f"CPU bf16 units: {'yes' if cpu_has_bf16() else 'no (bf16 is emulated here: the default stays fp32)'}\n")

    print("Replies per second, ~180-word replies, batches of 64 (this machine):\n")
    print("| precision | harm (cross-encoder) | compliance | both, one after the other |\n|---|---|---|---|")
    print("\n".join(throughput(args)), flush=True)

    sources = load_label_sources(args.data_dir)
    shipped = CrossEncoderScorer.load(packaged_crossencoder_dir())
    print("\nHarm judge: agreement with the human labels\n")
    print("| judge, rows | n | fp32 | bf16 | bf16 - fp32 | verdicts that flip |\n|---|---|---|---|---|---|")
    for source, rows in sources.items():
        print(harm_line(f"shipped, {source} (in its training data)", rows, harm(shipped, rows)), flush=True)
    for fold in args.fold:
        source = Path(fold).name
        if source in sources:
            print(harm_line(f"fold without {source}, on {source} (held out)", sources[source],
                            harm(CrossEncoderScorer.load(fold), sources[source])), flush=True)

    files = xstest_completion_files(args.data_dir)
    rows = {model_of(f): load_compliance_labels(f, source=model_of(f)) for f in files}
    features = {}
    for precision in PRECISIONS:
        at(precision)
        features[precision] = {m: featurize([r.response for r in rs]) for m, rs in rows.items()}
    labels = {m: np.asarray([COMPLIANCE_CLASSES.index(r.label) for r in rs]) for m, rs in rows.items()}
    print("\nCompliance judge, leave one model out (head fitted on fp32 features of the other models): 3-way agreement\n")
    print("| held-out model | n | fp32 | bf16 | bf16 - fp32 | classes that change |\n|---|---|---|---|---|---|")
    for model in rows:
        train = [m for m in rows if m != model]
        w, b = fit_head(np.vstack([features["fp32"][m] for m in train]), np.concatenate([labels[m] for m in train]))
        head = ComplianceHead(w, b)
        predicted = {p: [c for c, _ in classify(head, features[p][model], [r.response for r in rows[model]])] for p in PRECISIONS}
        agree = {p: compliance_metrics([r.label for r in rows[model]], predicted[p])["agreement"] for p in PRECISIONS}
        changed = np.mean([a != b for a, b in zip(predicted["fp32"], predicted["bf16"])])
        print(f"| {model} | {len(rows[model])} | {agree['fp32']:.3f} | {agree['bf16']:.3f} | {agree['bf16'] - agree['fp32']:+.3f} | {100 * changed:.2f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
