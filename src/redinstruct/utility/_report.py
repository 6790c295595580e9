"""Tables for a utility result and for the difference between two (before / after alignment)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import RedInstructError

SETTINGS_THAT_MOVE_SCORES = ("num_fewshot", "limit", "chat_template", "source")


def load_result(path: str | Path) -> dict[str, Any]:
    try:
        result = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as ex:
        raise RedInstructError(f"cannot read {path}: {ex.strerror or ex}") from None
    except json.JSONDecodeError as ex:
        raise RedInstructError(f"{path} is not JSON: {ex.msg} at line {ex.lineno}") from None
    if not isinstance(result, dict) or not isinstance(result.get("results"), dict) or "settings" not in result:
        raise RedInstructError(f"{path} is not a 'redinstruct utility' result (no results / settings)")
    return result


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def result_rows(result: dict[str, Any]) -> list[list[str]]:
    """[task, n, acc %, ± stderr, acc_norm %] per task; group means (hhh, bbh) included."""
    rows = []
    for task, m in result["results"].items():
        stderr = m.get("acc_stderr")
        rows.append([task, str(m.get("n", "")), _pct(m.get("acc")), "" if stderr is None else f"±{100 * stderr:.1f}", _pct(m.get("acc_norm"))])
    return rows


def settings_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = []
    for key in SETTINGS_THAT_MOVE_SCORES:
        if a["settings"].get(key) != b["settings"].get(key):
            out.append(f"{key}: {a['settings'].get(key)} vs {b['settings'].get(key)}")
    return out


def compare_rows(a: dict[str, Any], b: dict[str, Any]) -> list[list[str]]:
    """[task, A acc %, B acc %, B - A points] for tasks in both."""
    rows = []
    for task, ma in a["results"].items():
        mb = b["results"].get(task)
        if mb is None or ma.get("acc") is None or mb.get("acc") is None:
            continue
        diff = 100 * (mb["acc"] - ma["acc"])
        rows.append([task, _pct(ma["acc"]), _pct(mb["acc"]), f"{diff:+.1f}"])
    return rows
