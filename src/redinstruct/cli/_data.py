"""`redinstruct data`: the named question banks."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from ._app import console, data_app


@data_app.command("list")
def data_list() -> None:
    """The named datasets and where each resolves from."""
    from ..data import DATASETS

    table = Table(title="Named question banks")
    table.add_column("name")
    table.add_column("description")
    for spec in DATASETS.values():
        table.add_row(spec.name, spec.description)
    console.print(table)


@data_app.command("info")
def data_info(
    source: Annotated[str, typer.Argument(help="A dataset name or a .json/.jsonl/.csv path")],
    text_column: Annotated[Optional[str], typer.Option(help="Column holding the question (JSONL/CSV)")] = None,
    topic_column: Annotated[Optional[str], typer.Option(help="Column holding the topic")] = None,
    subtopic_column: Annotated[Optional[str], typer.Option(help="Column holding the subtopic")] = None,
) -> None:
    """Counts per topic and the exact duplicate questions of a bank."""
    from collections import Counter

    from ..data import load_questions

    bank = load_questions(source, text_column=text_column, topic_column=topic_column, subtopic_column=subtopic_column)
    console.print(f"{bank.name}: {len(bank)} questions, {len(bank.topics())} topics, "
                  f"{sum(len(g) - 1 for g in bank.duplicates)} exact duplicates in {len(bank.duplicates)} groups",
                  highlight=False)
    table = Table()
    table.add_column("topic")
    table.add_column("subtopics", justify="right")
    table.add_column("questions", justify="right")
    counts = Counter(q.topic for q in bank.questions)
    for topic in bank.topics():
        subtopics = {q.subtopic for q in bank.questions if q.topic == topic}
        table.add_row(topic, str(len(subtopics)), str(counts[topic]))
    console.print(table)
