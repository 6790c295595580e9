"""Every command that used the local engine exits 0, every time: no generation thread outlives it.

A worker thread still inside a torch call while the interpreter shuts down aborts the process
("terminate called without an active exception", a non-zero status) after its work is written:
seen in 1 of 7 runs of the tiny HARMFULQA configuration before the engine was joined on exit.
The runs here are real subprocesses, one after another, as a script or CI job would make them; the
tiny HARMFULQA run (the same engine, and the same close at the command's end) is checked the same way
in test_harmfulqa_e2e.py, beside the tests that share it.
"""

from __future__ import annotations

from conftest import clean_exit, run_cli

RUNS = 2


def test_short_eval_exits_zero_every_time(tmp_path):
    for run in range(RUNS):
        result = run_cli("eval", "--dataset", "demo", "--template", "cou", "--judge", "refusal", "--limit", "1", "--max-tokens", "16",
                         "--log-dir", str(tmp_path / f"run{run}"))
        clean_exit(result)
        assert (tmp_path / f"run{run}" / "summary.json").is_file()
