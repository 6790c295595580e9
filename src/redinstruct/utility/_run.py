"""`redinstruct utility`: lm-eval's `simple_evaluate` on local weights, results in one JSON with the settings that move scores."""

from __future__ import annotations

import functools
import json
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from .._progress import LogTqdm
from .._secrets import write_public
from ..errors import RedInstructError
from ._convert import convert_local
from ._tasks import LOCAL_TASKS, ONLINE_TASKS, local_task_names, materialize_yamls, parse_tasks

PREFIX = "redinstruct_"


@dataclass
class UtilityConfig:
    model: str
    tasks: list[str]
    shots: dict[str, int]
    limit: int | None = None
    data_dir: str | None = None  # offline copies; None: lm-eval's standard tasks from the hub
    batch_size: int = 8
    chat_template: bool = False
    model_args: dict[str, Any] = field(default_factory=dict)
    seed: int = 1234
    name: str | None = None  # display name in the result (default: the model as typed)


def lm_eval_model(model: str, extra: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(lm-eval model type, model_args) for `smollm2`, `hf/PATH`, `vllm/PATH` or a bare path / hub id."""
    import torch

    from ..models import SMOLLM2_ALIAS, smollm2_checkpoint

    kind, path = "hf", model
    if model == SMOLLM2_ALIAS:
        path = str(smollm2_checkpoint())
    elif model.startswith(("hf/", "vllm/")):
        kind, path = model.split("/", 1)
    elif "/" in model and model.split("/", 1)[0] in ("openai", "anthropic", "google", "openai-api", "ollama"):
        raise RedInstructError(f"utility scores need log-likelihoods from local weights; '{model}' is an API model (use hf/PATH or vllm/PATH)")
    if kind == "vllm":
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise RedInstructError("vllm/ models need vLLM installed (pip install vllm); or use hf/PATH") from None
    args: dict[str, Any] = {"pretrained": path}
    if kind == "hf":
        args.update(device="cuda" if torch.cuda.is_available() else "cpu", dtype="auto" if torch.cuda.is_available() else "float32")
    args.update(extra)
    return kind, args


def _task_metrics(results: dict[str, Any], n_samples: dict[str, Any], name: str) -> dict[str, Any]:
    entry = results[name]
    metrics: dict[str, Any] = {}
    for key, value in entry.items():
        metric, _, filt = key.partition(",")
        if filt in ("none", "") and isinstance(value, (int, float)) and metric != "sample_len":
            metrics[metric] = float(value)
    if name in n_samples:
        metrics["n"] = int(n_samples[name].get("effective", n_samples[name].get("original", 0)))
    return metrics


def shape_results(raw: dict[str, Any], offline: bool) -> dict[str, dict[str, Any]]:
    """lm-eval's results -> {our task name: {acc, acc_stderr, acc_norm, ..., n}}; groups hold the unweighted mean."""
    results, n_samples = raw.get("results", {}), raw.get("n-samples", {})
    shaped = {}
    for name in list(results) + [g for g in raw.get("groups", {}) if g not in results]:
        source = results if name in results else raw["groups"]
        label = name.removeprefix(PREFIX).removesuffix("_group") if offline else name
        shaped[label] = _task_metrics(source, n_samples, name)
    return shaped


@contextmanager
def _log_progress() -> Iterator[None]:
    """Outside a terminal, lm-eval's request bars become redinstruct progress lines (count, rate, ETA)."""
    import lm_eval.models.huggingface as hf_module

    if sys.stderr.isatty():
        yield
        return
    original = hf_module.tqdm
    hf_module.tqdm = functools.partial(LogTqdm, label_prefix="utility: ")  # type: ignore[assignment]
    try:
        yield
    finally:
        hf_module.tqdm = original


def run_utility(config: UtilityConfig, out: Path | None = None, echo: Callable[[str], None] = print) -> dict[str, Any]:
    tasks = parse_tasks(config.tasks)
    if config.limit is not None and config.limit < 1:
        raise RedInstructError("--limit must be at least 1")
    try:
        import lm_eval
        from lm_eval import simple_evaluate
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise RedInstructError("utility evaluation needs lm-eval: pip install 'lm-eval>=0.4.9'") from None
    kind, model_args = lm_eval_model(config.model, config.model_args)
    offline = config.data_dir is not None
    with tempfile.TemporaryDirectory(prefix="redinstruct-tasks-") as tmp:
        if offline:
            converted = convert_local(config.data_dir, [f for t in tasks for f in LOCAL_TASKS[t]])  # type: ignore[arg-type]
            manager = TaskManager(include_path=str(materialize_yamls(converted, Path(tmp), config.shots)), include_defaults=False)
            requested = local_task_names(tasks)
            num_fewshot = None  # per task, in the YAMLs
        else:
            manager = TaskManager()
            requested = [n for t in tasks for n in ONLINE_TASKS[t]]
            shots = {config.shots[t] for t in tasks}
            if len(shots) > 1:
                raise RedInstructError("online, one --num-fewshot applies to all tasks: run the tasks separately for different counts")
            num_fewshot = shots.pop()
        echo(f"lm-eval {lm_eval.__version__}: {', '.join(requested)} on {config.model} ({'offline, ' + str(config.data_dir) if offline else 'hub datasets'})")
        try:
            with _log_progress():
                raw = simple_evaluate(
                    model=kind, model_args=model_args, tasks=requested, num_fewshot=num_fewshot, batch_size=config.batch_size,
                    limit=config.limit, task_manager=manager, apply_chat_template=config.chat_template,
                    log_samples=False, random_seed=config.seed, numpy_random_seed=config.seed,
                    torch_random_seed=config.seed, fewshot_random_seed=config.seed, bootstrap_iters=1000,
                )
        except RedInstructError:
            raise
        except Exception as ex:  # lm-eval raises bare exceptions for bad models, missing datasets, no network
            first = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
            raise RedInstructError(f"lm-eval failed: {type(ex).__name__}: {first}") from None
    if raw is None:
        raise RedInstructError("lm-eval returned no results")
    report = {
        "model": config.name or config.model,
        "model_path": config.model,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": {
            "tasks": tasks,
            "num_fewshot": {t: config.shots[t] for t in tasks},
            "limit": config.limit,
            "chat_template": config.chat_template,
            "data_dir": str(config.data_dir) if offline else None,
            "source": "local copies (redinstruct task YAMLs)" if offline else "lm-eval standard tasks",
            "batch_size": config.batch_size,
            "seed": config.seed,
            "lm_eval_version": lm_eval.__version__,
            "model_type": kind,
        },
        "results": shape_results(raw, offline),
    }
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_public(out, json.dumps(report, indent=2))
    return report
