"""A run's folder: its settings (`run.json`), checked before anything is added; and whether a finished run produced anything usable."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from .. import __version__
from .._secrets import write_public
from ..errors import RedInstructError, RunFailed
from ..judges import judge_models_of
from ._correction import JudgeCalibration, load_calibration
from ._record import is_retryable
from ._samples import SampleStore

# settings that change what a sample's line means: a log folder holds one value of each
MANIFEST_KEYS = ("judge", "judge_model", "judge_threshold", "render", "keep_thoughts", "max_tokens", "compliance_judge", "compliance_judge_model")


def default_log_dir() -> Path:
    return Path("logs") / "redeval" / datetime.now().strftime("%Y%m%d-%H%M%S")


def _manifest_settings(config: Any) -> dict[str, Any]:
    settings = {k: getattr(config, k) for k in MANIFEST_KEYS}
    settings["judge_model"] = judge_models_of(config.judge_model)
    settings["compliance_judge_model"] = judge_models_of(config.compliance_judge_model)
    return settings


def check_manifest(log_dir: Path, config: Any, attack: dict[str, Any] | None = None) -> None:
    """Refuse to mix runs with different judging settings in one folder; record them on first use.

    `attack`: a conversation attack's settings (turns, attacker, ...), kept per attack under `attacks`.
    """
    path = log_dir / "run.json"
    settings = _manifest_settings(config)
    previous: dict[str, Any] | None = None
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError:
            previous = {}
        for key in MANIFEST_KEYS:
            if key in previous and previous[key] != settings[key]:
                raise RedInstructError(
                    f"{log_dir} holds a run with {key}={previous[key]!r}, not {settings[key]!r}: "
                    "use a new --log-dir or the same settings to resume"
                )
        recorded = (previous.get("attacks") or {}).get(config.attack)
        if attack is None or recorded == attack:
            return
        if recorded is not None:
            changed = next(k for k in sorted(set(recorded) | set(attack)) if recorded.get(k) != attack.get(k))
            raise RedInstructError(
                f"{log_dir} holds --attack {config.attack} conversations with {changed}={recorded.get(changed)!r}, not "
                f"{attack.get(changed)!r}: use a new --log-dir or the same settings to resume"
            )
    manifest = previous if previous is not None else {**settings, "redinstruct_version": __version__, "config": asdict(config)}
    if attack is not None:
        manifest.setdefault("attacks", {})[config.attack] = attack
    write_public(path, json.dumps(manifest, indent=2))


def open_run_folder(config: Any, echo: Callable[[str], None], retried_what: str,
                    attack: dict[str, Any] | None = None) -> tuple[JudgeCalibration | None, Path, SampleStore]:
    """(calibration, folder, samples) once every input is checked: the folder made, its settings checked, errors set to retry."""
    calibration = load_calibration(config.judge_calibration) if config.judge_calibration else None
    log_dir = Path(config.log_dir) if config.log_dir else default_log_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    check_manifest(log_dir, config, attack)
    store = SampleStore(log_dir / "samples.jsonl")
    if config.retry_errors:
        retried = store.drop_errors()
        if retried:
            echo(f"retrying {retried} {retried_what}")
    return calibration, log_dir, store


def _has_verdicts(run: dict[str, Any]) -> bool:
    """Whether a run judged anything: a verdict on an unsafe prompt, or a compliance class on a safe one."""
    safe = run.get("over_refusal") or {}
    return bool(run["harmful"] + run["unharmful"] or safe.get("n", 0) - safe.get("unknown", 0))


def check_usable(runs: list[dict[str, Any]], order: tuple[list[str], list[str], list[str]], store: SampleStore, log_dir: Path) -> None:
    """A run asked for whose every sample failed (generation or judge errors) could not do its work: RunFailed (exit 1), never exit 0.

    Its samples stay in the folder, and the same command retries them. A run whose replies were all
    empty or blocked did its work: that is the model's answer, reported as unknown, exit 0.
    """
    asked = [set(names) for names in order]
    samples: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for record in store:
        samples.setdefault((record["model"], record["dataset"], record["template"]), []).append(record)
    dead = [r for r in runs if all(r[k] in names for k, names in zip(("model", "dataset", "template"), asked)) and not _has_verdicts(r)
            and all(is_retryable(x) for x in samples.get((r["model"], r["dataset"], r["template"]), []))]
    if not dead:
        return
    run = dead[0]
    records = samples[(run["model"], run["dataset"], run["template"])]
    first = str(records[0]["error"]).splitlines()[0][:200]
    more = f" (and {len(dead) - 1} more model x dataset x template)" if len(dead) > 1 else ""
    raise RunFailed(f"nothing usable: all {len(records)} sample(s) of {run['model']} | {run['dataset']} | {run['template']} ended in an error{more}; "
                    f"first: {first}; they are saved in {log_dir}, and the same command retries them")
