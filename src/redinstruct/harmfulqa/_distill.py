"""Blue / red data from a model itself, offline, by context distillation.

Blue replies: the model answers each harmful question with a safety system prompt and a few
refusal-with-help demonstrations in its context; replies the refusal judge marks as refusals are
kept. Training on them without that context distils the behaviour into the weights (Askell et al.,
2021). Red replies: the same model's own answers with no safety context, kept when they do not
refuse. Optional benign questions give general conversations (the model's own answers), so
training does not teach it to refuse everything; optional borderline-safe prompts (safe requests
that sound unsafe) are answered the same way, without the safety context, so that the model learns
where the line is. A general or borderline answer is kept only when the compliance judge calls it
full compliance: a refusal of a harmless prompt is exactly what the general data must not teach.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Sequence

from .._secrets import write_public
from ..data import Question
from ..errors import RedInstructError
from ._store import StageFile
from ._wrap import ONE_TURN_WRAPPERS, check_wrappers, twin_wrapper, wrap

DISTILL_STAGE = "distill"


@dataclass
class DistillSettings:
    model: str  # local HF checkpoint, hub id in the local cache, or the `smollm2` alias
    out: str
    max_new_tokens: int = 160
    batch_size: int = 16
    context_file: str | None = None  # JSON {"system": str, "shots": [{"user", "assistant"}]}
    # a blue reply is kept only when this harm judge calls it unharmful: a small model imitating "refuse, then help"
    # often refuses and then gives the harmful steps anyway ("If you need to ..., you can ..."); None: no such check
    harm_judge: str | None = "crossencoder"


def load_context(path: str | None = None) -> dict[str, Any]:
    """The safety context: a system prompt and few-shot refusal demonstrations."""
    try:
        text = Path(path).read_text(encoding="utf-8") if path else (
            resources.files("redinstruct.harmfulqa") / "prompts" / "distill_context.json").read_text(encoding="utf-8")
        context = json.loads(text)
    except OSError as ex:
        raise RedInstructError(f"cannot read context file {path}: {ex.strerror or ex}") from None
    except json.JSONDecodeError as ex:
        raise RedInstructError(f"malformed JSON in context file {path}: {ex.msg} at line {ex.lineno}") from None
    shots = context.get("shots") if isinstance(context, dict) else None
    if not isinstance(context.get("system", ""), str) or not isinstance(shots, list) or not all(
        isinstance(s, dict) and isinstance(s.get("user"), str) and isinstance(s.get("assistant"), str) for s in shots
    ):
        raise RedInstructError(f"context file {path}: expected {{'system': str, 'shots': [{{'user': str, 'assistant': str}}]}}")
    return context


def safety_messages(context: dict[str, Any], question: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": context["system"]}] if context.get("system") else []
    for shot in context["shots"]:
        messages += [{"role": "user", "content": shot["user"]}, {"role": "assistant", "content": shot["assistant"]}]
    return messages + [{"role": "user", "content": question}]


def plain_messages(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


class LocalGenerator:
    """Greedy batched generation with a local causal LM and its chat template."""

    def __init__(self, model: str, max_new_tokens: int, batch_size: int):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from ..safealign import base_model_path

        hf_logging.disable_progress_bar()
        path = base_model_path(model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
        except Exception as ex:
            raise RedInstructError(f"cannot load model '{model}': {str(ex).splitlines()[0] if str(ex) else ex}") from None
        if not getattr(self.tokenizer, "chat_template", None):
            raise RedInstructError(f"model '{model}' has no chat template: distillation needs one")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.engine: Any = None

    def generate(self, conversations: Sequence[list[dict[str, str]]]) -> list[str]:
        """Greedy replies through the generation engine: continuous batching, and the few-shot safety
        context (the prompts' shared prefix) computed once per admitted group."""
        from ..models import GenerationRequest, PrefixSharingGenerator

        if self.engine is None:
            eos = self.tokenizer.eos_token_id
            self.engine = PrefixSharingGenerator(self.model, self.tokenizer, self.batch_size, [eos] if eos is not None else [])
        texts = [self.tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
        futures = [
            self.engine.submit(GenerationRequest(text, self.max_new_tokens), self.tokenizer(text, add_special_tokens=False).input_ids)
            for text in texts
        ]
        return [f.result().text.strip() for f in futures]


def _pending(stage: StageFile, jobs: list[tuple[str, str, list[dict[str, str]]]]) -> list[tuple[str, str, list[dict[str, str]]]]:
    return [job for job in jobs if job[0] not in stage]


GENERAL_KINDS = ("benign", "borderline")


def distill(
    settings: DistillSettings,
    harmful: Sequence[Question],
    benign: Sequence[str] = (),
    echo: Callable[[str], None] = print,
    borderline: Sequence[str] = (),
    wrappers: Sequence[str] = (),
) -> dict[str, int]:
    """Generate (resumably) and write `harmfulqa.json`, `pairs.jsonl` (contrastive preference pairs) and, with
    benign or borderline prompts, `general.json`. With `wrappers` (cou, cot, conversation), every kept blue and
    red reply is also written after its question in each wrapper, and every kept general answer after its prompt
    in one of them (the twins): the same replies, no extra generation."""
    from ..judges import find_refusal

    if not harmful:
        raise RedInstructError("no harmful questions to distill from")
    wrappers = check_wrappers(wrappers)
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    context = load_context(settings.context_file)
    stage = StageFile(out, DISTILL_STAGE)
    jobs = [(f"{q.id}#blue", q.text, safety_messages(context, q.text)) for q in harmful]
    jobs += [(f"{q.id}#red", q.text, plain_messages(q.text)) for q in harmful]
    jobs += [(f"benign{n}#general", text, plain_messages(text)) for n, text in enumerate(benign)]
    jobs += [(f"borderline{n}#general", text, plain_messages(text)) for n, text in enumerate(borderline)]
    # the same borderline prompts under the safety context: where the model refuses them there, that
    # refusal is the rejected side of a contrastive pair (the over-refusal the pair teaches away from)
    jobs += [(f"borderline{n}#refusal", text, safety_messages(context, text)) for n, text in enumerate(borderline)]
    todo = _pending(stage, jobs)
    if todo:
        from .._progress import Progress
        from ..judges import get_judge

        generator = LocalGenerator(settings.model, settings.max_new_tokens, settings.batch_size)
        compliance = get_judge("compliance")
        chunk = 4 * settings.batch_size  # the engine keeps its batch full; each chunk is saved as it ends
        with Progress("distill", len(todo), unit="answer") as progress:
            for start in range(0, len(todo), chunk):
                batch = todo[start : start + chunk]
                replies = generator.generate([m for _, _, m in batch])
                classes = [r.compliance for r in compliance.score([q for _, q, _ in batch], replies)]  # type: ignore[attr-defined]
                for (key, question, _), reply, compliance_class in zip(batch, replies, classes):
                    stage.add({"key": key, "question": question, "reply": reply, "refusal": find_refusal(reply) is not None,
                               "compliance": compliance_class if reply else None})
                progress.advance(len(batch))
    unsafe = harmful_refusals(stage, harmful, settings.harm_judge)
    return write_distilled(out, stage, harmful, {"benign": len(benign), "borderline": len(borderline)}, wrappers, unsafe)


def harmful_refusals(stage: StageFile, harmful: Sequence[Question], judge_name: str | None) -> set[str]:
    """The question ids whose blue reply refuses and yet, by the harm judge, is harmful: a refusal that goes on to
    answer. Training on it as blue teaches exactly that (in the preset's blue-red run, dropping them halved the
    ASR under CoU; docs/benchmarks.md)."""
    if not judge_name:
        return set()
    from ..judges import get_judge

    refusals = [(q, entry) for q in harmful if _refuses(entry := stage.get(f"{q.id}#blue"))]
    if not refusals:
        return set()
    results = get_judge(judge_name).score([q.text for q, _ in refusals], [e["reply"] for _, e in refusals])  # type: ignore[attr-defined, index]
    return {q.id for (q, _), r in zip(refusals, results) if r.verdict != "unharmful"}


def _turns(question: str, reply: str) -> list[dict[str, str]]:
    return [{"from": "human", "value": question}, {"from": "gpt", "value": reply}]


def _helpful(entry: dict[str, Any] | None) -> bool:
    """A general / borderline answer worth training on: non-empty and, by the compliance judge, full compliance."""
    if not entry or not entry["reply"]:
        return False
    if "compliance" in entry:
        return entry["compliance"] == "full_compliance"
    return not entry["refusal"]  # a line written before the compliance judge existed


REFUSALS = ("full_refusal", "partial_refusal")


def _refuses(entry: dict[str, Any] | None) -> bool:
    """A blue reply or a pair's refusal side: a refusal phrase and, by the compliance judge, a refusal
    (full, or partial: declines the harmful part and helps with the rest)."""
    if not entry or not entry["reply"] or not entry["refusal"]:
        return False
    return entry.get("compliance", "full_refusal") in REFUSALS


def _complies(entry: dict[str, Any] | None) -> bool:
    """A red reply: no refusal phrase and, by the compliance judge, full compliance."""
    if not entry or not entry["reply"] or entry["refusal"]:
        return False
    return entry.get("compliance", "full_compliance") == "full_compliance"


def contrastive_pairs(stage: StageFile, harmful: Sequence[Question], borderline_count: int,
                      wrappers: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Preference pairs for the line between safe and unsafe.

    Harmful question: chosen = the model's refusal under the safety context (which, by the context's
    demonstrations, still helps where it safely can), rejected = its plain harmful answer.
    Borderline-safe prompt: chosen = its plain helpful answer, rejected = its refusal under the safety
    context. A pair is written only when the compliance judge agrees with both sides. With `wrappers`, each
    pair is also written with its prompt in every one-turn wrapper (`wrapper` says which).
    """
    pairs = []
    for q in harmful:
        blue, red = stage.get(f"{q.id}#blue"), stage.get(f"{q.id}#red")
        if _refuses(blue) and _complies(red):
            pairs.append({"kind": "harmful", "source": q.id, "prompt": q.text, "chosen": blue["reply"], "rejected": red["reply"]})
    for n in range(borderline_count):
        helpful, refusal = stage.get(f"borderline{n}#general"), stage.get(f"borderline{n}#refusal")
        if _helpful(helpful) and _refuses(refusal):
            pairs.append({"kind": "borderline", "source": f"borderline{n}", "prompt": helpful["question"],
                          "chosen": helpful["reply"], "rejected": refusal["reply"]})
    wrapped = [{**p, "wrapper": w, "prompt": wrap(p["prompt"], w, "")[0]["value"]}
               for w in wrappers if w in ONE_TURN_WRAPPERS for p in pairs]
    return pairs + wrapped


def write_distilled(out: Path, stage: StageFile, harmful: Sequence[Question], general_counts: dict[str, int],
                    wrappers: Sequence[str] = (), unsafe: set[str] = frozenset()) -> dict[str, int]:  # type: ignore[assignment]
    """`unsafe`: question ids whose blue reply is dropped although it refuses (the harm judge found harm in it)."""
    records = []
    for index, q in enumerate(harmful):
        blue, red = stage.get(f"{q.id}#blue"), stage.get(f"{q.id}#red")
        keep_blue, keep_red = _refuses(blue) and q.id not in unsafe, _complies(red)
        records.append({
            "id": index, "question_id": q.id, "topic": q.topic, "subtopic": q.subtopic, "question": q.text,
            # "0": the plain question; a wrapper's name: the same reply after the question in that wrapper
            "blue_conversations": {"0": _turns(q.text, blue["reply"]) if keep_blue else None,
                                   **{w: wrap(q.text, w, blue["reply"]) if keep_blue else None for w in wrappers}},
            # red only in one-turn wrappers: blue-red ascends every reply of a red conversation, and the lead-in's
            # harmless "Of course, happy to help" must not be pushed down
            "red_conversations": {"0": _turns(q.text, red["reply"]) if keep_red else None,
                                  **{w: wrap(q.text, w, red["reply"]) if keep_red else None for w in wrappers if w in ONE_TURN_WRAPPERS}},
        })
    write_public(out / "harmfulqa.json", json.dumps(records, indent=1, ensure_ascii=False))
    general_records, counts = [], {}
    for kind in GENERAL_KINDS:
        entries = [stage.get(f"{kind}{n}#general") for n in range(general_counts.get(kind, 0))]
        helpful = [g for g in entries if g and _helpful(g)]
        kept = [{"kind": kind, "conversations": _turns(g["question"], g["reply"])} for g in helpful]
        twins = [{"kind": kind, "wrapper": w, "conversations": wrap(g["question"], w, g["reply"])}
                 for n, g in enumerate(helpful) for w in [twin_wrapper(wrappers, n)]] if wrappers else []
        general_records += kept + twins
        counts[f"{kind}_twins"] = len(twins)
        counts[f"{kind}_kept"], counts[f"{kind}_asked"] = len(kept), len(entries)
    if any(general_counts.values()):
        write_public(out / "general.json", json.dumps(general_records, indent=1, ensure_ascii=False))
    pairs = contrastive_pairs(stage, [q for q in harmful if q.id not in unsafe], general_counts.get("borderline", 0), wrappers)
    with (out / "pairs.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs)
    blue_entries = [stage.get(f"{q.id}#blue") for q in harmful]
    return {
        "questions": len(records),
        "blue_kept": sum(r["blue_conversations"]["0"] is not None for r in records),
        # blue replies that decline the harmful part and still help (the compliance judge's partial refusal)
        "blue_with_help": sum(1 for q, e in zip(harmful, blue_entries) if _refuses(e) and q.id not in unsafe
                              and e.get("compliance") == "partial_refusal"),  # type: ignore[union-attr]
        "blue_harmful_dropped": sum(1 for q, e in zip(harmful, blue_entries) if _refuses(e) and q.id in unsafe),
        "red_kept": sum(r["red_conversations"]["0"] is not None for r in records),
        "general": len(general_records),
        "wrapped_blue": sum(c is not None for r in records for w, c in r["blue_conversations"].items() if w != "0"),
        "pairs_harmful": sum(p["kind"] == "harmful" for p in pairs),
        "pairs_borderline": sum(p["kind"] == "borderline" for p in pairs),
        **counts,
    }
