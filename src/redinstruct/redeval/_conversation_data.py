"""What a conversation attack runs: HARMFULQA red conversations to replay, or questions for a live Red-LM."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import load_questions, read_data_file
from ..errors import RedInstructError

ATTACKS = ("templates", "replay", "redlm")  # templates: the single-turn RED-EVAL of --template
CONVERSATION_ATTACKS = ATTACKS[1:]
DEFAULT_REDLM_TURNS = 5
DEFAULT_BACKTRACKS = 2  # rephrasings of a refused turn (Crescendo's backtracking), per turn


@dataclass(frozen=True)
class ConversationPlan:
    """One conversation to run: the question it pursues and, for replay, the Red-LM turns to send."""

    id: str  # samples.jsonl question_id: `<question id>#<conversation>` (replay) or the question's id (redlm)
    question: str
    topic: str
    subtopic: str
    label: str = "unsafe"
    type: str = ""
    script: tuple[str, ...] | None = None  # None: the attacker model writes every turn

    def meta(self, dataset: str, attack: str) -> dict[str, Any]:
        """The metadata `SampleJudging.record` reads."""
        return {"question": self.question, "topic": self.topic, "subtopic": self.subtopic, "label": self.label,
                "type": self.type, "dataset": dataset, "template": attack}


def check_attack(attack: str) -> None:
    if attack not in ATTACKS:
        raise RedInstructError(f"unknown --attack '{attack}': use {', '.join(ATTACKS)}")


def _red_turns(turns: Any) -> tuple[str, ...]:
    """The Red-LM (human) turns of one recorded conversation; () when it is not a list of turns."""
    if not isinstance(turns, list):
        return ()
    return tuple(t["value"].strip() for t in turns
                 if isinstance(t, dict) and t.get("from") == "human" and isinstance(t.get("value"), str) and t["value"].strip())


def load_replay(source: str, turns: int | None = None) -> tuple[str, list[ConversationPlan]]:
    """(bank name, one plan per red conversation) of a HARMFULQA-format file, its Red-LM turns cut to `turns`."""
    path = Path(source).expanduser()
    if not path.is_file():
        raise RedInstructError(f"--attack replay takes a HARMFULQA-format file (harmfulqa.json from 'redinstruct harmfulqa generate' "
                               f"or 'distill', or the public dataset), and '{source}' is not a file")
    records = read_data_file(path, "conversation file", (".json", ".jsonl"))
    if not isinstance(records, list) or not any(isinstance(r, dict) and "red_conversations" in r for r in records):
        raise RedInstructError(f"{path} is not HARMFULQA conversation data (no record has red_conversations): "
                               "--attack replay needs harmfulqa.json from 'redinstruct harmfulqa generate' or 'distill', or the public dataset")
    plans: list[ConversationPlan] = []
    seen: set[str] = set()
    for n, record in enumerate(records):
        if not isinstance(record, dict) or not isinstance(record.get("question"), str):
            continue
        conversations = record.get("red_conversations") or {}
        if isinstance(conversations, list):  # some exports keep them as a list
            conversations = dict(enumerate(conversations))
        if not isinstance(conversations, dict):
            continue
        question_id = str(record.get("question_id", record.get("id", n)))
        for index, recorded in conversations.items():
            script = _red_turns(recorded)[:turns] if turns else _red_turns(recorded)
            if script:
                plan_id = f"{question_id}#{index}"
                while plan_id in seen:  # a file with repeated ids: every conversation keeps its own line
                    plan_id += "+"
                seen.add(plan_id)
                plans.append(ConversationPlan(plan_id, record["question"], str(record.get("topic") or "uncategorized"),
                                              str(record.get("subtopic") or "uncategorized"), script=script))
    if not plans:
        raise RedInstructError(f"{path} has no red conversations to replay (every red_conversations entry is empty or has no Red-LM turn)")
    return path.stem, plans


def load_attack_plans(source: str, attack: str, turns: int | None, drop_duplicates: bool = False) -> tuple[str, list[ConversationPlan], int]:
    """(bank name, plans, safe prompts left out): replay reads red conversations, redlm any question bank."""
    if attack == "replay":
        name, plans = load_replay(source, turns)
        return name, plans, 0
    bank = load_questions(source, drop_duplicates=drop_duplicates)
    unsafe = [q for q in bank.questions if q.label != "safe"]  # a conversation attack measures ASR, not over-refusal
    if not unsafe:
        raise RedInstructError(f"{bank.name} has no unsafe prompts for the Red-LM to pursue")
    plans = [ConversationPlan(q.id, q.text, q.topic, q.subtopic, q.label, q.type) for q in unsafe]
    return bank.name, plans, len(bank.questions) - len(unsafe)
