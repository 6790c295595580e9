"""The judges' measured quality: held-out figures rewritten by a leave-one-source-out run, the team's external figures kept and dated."""

from __future__ import annotations

from redinstruct.judges import external_figures, judge_quality, update_quality, weights_fingerprint

EXTERNAL = {"note": "the team's", "sets": {"jailbreak replies (300)": {
    "date": "2026-12-01", "description": "300 jailbreak replies",
    "judges": {"crossencoder": {"agreement": 0.817, "false_positive_rate": 0.232, "weights": "0000000000000000"},
               "refusal": {"agreement": 0.553, "false_positive_rate": 0.684, "weights": "rules"}}}}}


def test_a_leave_one_source_out_run_keeps_the_external_figures() -> None:
    results = {"crossencoder": {"JAILJUDGEmini": {"n": 10, "agreement": 0.8, "false_positive_rate": 0.1, "false_negative_rate": 0.3,
                                                   "kappa": 0.5, "extra": 1}}}
    payload = update_quality({"measured": "old", "judges": {}, "external": EXTERNAL}, results, "python bench/judge_loso.py", "2026-12-07")
    assert payload["external"] == EXTERNAL and payload["measured"] == "2026-12-07"
    assert payload["judges"]["crossencoder"]["held_out"]["JAILJUDGEmini"] == {"n": 10, "agreement": 0.8, "false_positive_rate": 0.1,
                                                                             "false_negative_rate": 0.3, "kappa": 0.5}


def test_external_figures_of_other_weights_are_marked_as_the_previous_weights() -> None:
    quality = {"external": EXTERNAL}
    (stale,) = external_figures("crossencoder", quality).values()
    assert stale["current"] is False and stale["date"] == "2026-12-01" and stale["description"] == "300 jailbreak replies"
    (rules,) = external_figures("refusal", quality).values()
    assert rules["current"] is True  # refusal matching has no weights to retrain
    fresh = {"external": {"sets": {"s": {"date": "d", "judges": {"crossencoder": {"agreement": 0.9, "weights": weights_fingerprint("crossencoder")}}}}}}
    assert external_figures("crossencoder", fresh)["s"]["current"] is True


def test_every_packaged_external_figure_names_its_date_and_set() -> None:
    line = judge_quality("crossencoder")["summary"]
    assert "on held-out sets from other sources (" in line and "2026-12" in line
    for name in ("crossencoder", "classifier", "refusal", "compliance"):
        for title, figures in external_figures(name).items():
            assert figures["date"] and figures["description"] and isinstance(figures["current"], bool), (name, title)
