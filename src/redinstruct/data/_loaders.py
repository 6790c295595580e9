"""Read question banks from the paper's formats and from generic JSON / JSONL / CSV files."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import DatasetError
from ._files import read_data_file
from ._question import PROMPT_LABELS, Question, content_id, normalize_text

TEXT_COLUMNS = ("question", "text", "prompt", "goal", "query", "instruction")
TOPIC_COLUMNS = ("topic", "category")
SUBTOPIC_COLUMNS = ("subtopic", "subcategory")
ID_COLUMNS = ("id", "question_id")
LABEL_COLUMNS = ("label",)
TYPE_COLUMNS = ("type",)
# label values read as safe / unsafe (case-insensitive)
LABEL_ALIASES = {"safe": "safe", "benign": "safe", "harmless": "safe", "unsafe": "unsafe", "harmful": "unsafe"}
DEFAULT_TOPIC = "uncategorized"


@dataclass
class QuestionBank:
    """The questions of one dataset, in file order, and the exact duplicates that were found."""

    name: str
    questions: list[Question]
    # groups of ids whose texts are the same after normalization (first id is the original)
    duplicates: list[list[str]] = field(default_factory=list)
    dropped_duplicates: int = 0

    def __len__(self) -> int:
        return len(self.questions)

    def first(self, limit: int | None) -> list[Question]:
        """The first `limit` questions in file order (all of them when `limit` is None)."""
        return self.questions[:limit] if limit else list(self.questions)

    def topics(self) -> list[str]:
        return sorted({q.topic for q in self.questions})

    def has_safe_prompts(self) -> bool:
        return any(q.label == "safe" for q in self.questions)


@dataclass(frozen=True)
class _Row:
    text: str
    topic: str
    subtopic: str
    id: str | None = None
    label: str = "unsafe"
    type: str = ""


def load_question_file(
    path: str | Path,
    *,
    name: str | None = None,
    text_column: str | None = None,
    topic_column: str | None = None,
    subtopic_column: str | None = None,
    drop_duplicates: bool = False,
) -> QuestionBank:
    """Load a question bank file; the format is chosen by extension and content."""
    path = Path(path)
    name = name or path.stem
    suffix = path.suffix.lower()
    columns = (text_column, topic_column, subtopic_column)
    if suffix not in (".json", ".jsonl", ".csv"):
        if not path.is_file():
            raise DatasetError(f"dataset file not found: {path}")
        raise DatasetError(f"unsupported dataset file type '{suffix}' ({path}): use .json, .jsonl or .csv")
    data = read_data_file(path, "dataset file")  # a .json file's value, or the rows of a .jsonl / .csv file
    rows = _rows_from_json(data, path, *columns) if suffix == ".json" else _rows_from_records(data, path, *columns)
    return build_bank(name, rows, source=name, drop_duplicates=drop_duplicates)


def build_bank(name: str, rows: Iterable[_Row], *, source: str, drop_duplicates: bool) -> QuestionBank:
    """Give every row a stable id and find exact duplicates (normalized text, any topic)."""
    questions: list[Question] = []
    id_counts: dict[str, int] = defaultdict(int)
    first_by_text: dict[str, str] = {}
    groups: dict[str, list[str]] = {}
    dropped = 0
    for row in rows:
        base_id = row.id or content_id(row.text, row.topic, row.subtopic)
        id_counts[base_id] += 1
        qid = base_id if id_counts[base_id] == 1 else f"{base_id}-{id_counts[base_id]}"
        norm = normalize_text(row.text)
        if norm in first_by_text:
            groups.setdefault(norm, [first_by_text[norm]]).append(qid)
            if drop_duplicates:
                dropped += 1
                continue
        else:
            first_by_text[norm] = qid
        questions.append(Question(qid, row.text.strip(), row.topic, row.subtopic, source, row.label, row.type))
    if not questions:
        raise DatasetError(f"dataset '{name}' has no questions")
    return QuestionBank(name, questions, list(groups.values()), dropped)


def _rows_from_json(
    data: Any, path: Path, text_column: str | None, topic_column: str | None, subtopic_column: str | None
) -> list[_Row]:
    if isinstance(data, list):
        if all(isinstance(item, str) for item in data):  # DangerousQA: a flat list of questions
            return [_Row(text, DEFAULT_TOPIC, DEFAULT_TOPIC) for text in data if text.strip()]
        if all(isinstance(item, dict) for item in data):
            return _rows_from_records(data, path, text_column, topic_column, subtopic_column)
        raise DatasetError(f"{path}: a JSON list must hold only strings or only objects")
    if isinstance(data, dict):
        return _rows_from_nested(data, path)
    raise DatasetError(f"{path}: expected a JSON list of questions or {{topic: {{subtopic: [questions]}}}}")


def _rows_from_nested(data: dict[str, Any], path: Path) -> list[_Row]:
    """HarmfulQA / CatQA: `{topic: {subtopic: [questions]}}` (a topic may also map to a plain list)."""
    rows: list[_Row] = []
    for topic, value in data.items():
        if isinstance(value, list):
            value = {DEFAULT_TOPIC: value}
        if not isinstance(value, dict):
            raise DatasetError(f"{path}: topic '{topic}' must map to {{subtopic: [questions]}}")
        for subtopic, questions in value.items():
            if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
                raise DatasetError(f"{path}: '{topic}' / '{subtopic}' must be a list of question strings")
            rows.extend(_Row(q, str(topic), str(subtopic)) for q in questions if q.strip())
    return rows


def _pick_column(
    fields: Iterable[str], chosen: str | None, candidates: tuple[str, ...], path: Path, what: str
) -> str | None:
    fields = list(fields)
    if chosen is not None:
        if chosen not in fields:
            raise DatasetError(f"{path}: no {what} column '{chosen}' (columns: {', '.join(fields)})")
        return chosen
    lowered = {f.lower(): f for f in fields}
    return next((lowered[c] for c in candidates if c in lowered), None)


def _rows_from_records(
    records: list[dict[str, Any]],
    path: Path,
    text_column: str | None,
    topic_column: str | None,
    subtopic_column: str | None,
) -> list[_Row]:
    if not records:
        raise DatasetError(f"dataset file {path} is empty")
    fields: dict[str, None] = {}
    for record in records:
        fields.update(dict.fromkeys(record))
    text_col = _pick_column(fields, text_column, TEXT_COLUMNS, path, "text")
    if text_col is None:
        raise DatasetError(
            f"{path}: cannot tell which column holds the question (columns: {', '.join(map(str, fields))}); "
            f"name it one of {', '.join(TEXT_COLUMNS)}"
        )
    topic_col = _pick_column(fields, topic_column, TOPIC_COLUMNS, path, "topic")
    subtopic_col = _pick_column(fields, subtopic_column, SUBTOPIC_COLUMNS, path, "subtopic")
    id_col = _pick_column(fields, None, ID_COLUMNS, path, "id")
    label_col = _pick_column(fields, None, LABEL_COLUMNS, path, "label")
    type_col = _pick_column(fields, None, TYPE_COLUMNS, path, "type")
    rows = []
    for number, record in enumerate(records, start=2 if path.suffix.lower() == ".csv" else 1):
        text = record.get(text_col)
        if not isinstance(text, str) or not text.strip():
            continue
        prompt_type = str(record.get(type_col) or "").strip() if type_col else ""
        # XSTest has prompt types but no topics: the type is the natural grouping
        topic = str(record.get(topic_col) or DEFAULT_TOPIC) if topic_col else (prompt_type or DEFAULT_TOPIC)
        subtopic = str(record.get(subtopic_col) or DEFAULT_TOPIC) if subtopic_col else DEFAULT_TOPIC
        qid = record.get(id_col) if id_col else None
        label = _prompt_label(record.get(label_col), path, number) if label_col else "unsafe"
        rows.append(_Row(text, topic, subtopic, str(qid) if qid not in (None, "") else None, label, prompt_type))
    return rows


def _prompt_label(raw: Any, path: Path, number: int) -> str:
    """A row's `label` as safe / unsafe; an empty cell means unsafe (a bank without labels is all unsafe)."""
    value = str(raw if raw is not None else "").strip().lower()
    if not value:
        return "unsafe"
    if value not in LABEL_ALIASES:
        where = f"row {number}" if path.suffix.lower() == ".csv" else f"record {number}"
        raise DatasetError(f"{path} {where}: label must be one of {', '.join(PROMPT_LABELS)}, got {str(raw)!r}")
    return LABEL_ALIASES[value]
