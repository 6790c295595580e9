"""`redinstruct harmfulqa`: generate, distil and count HARMFULQA-style data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import RedInstructError
from ._app import ModelArgs, console, harmfulqa_app, parse_model_args, split_values


@harmfulqa_app.command("generate")
def harmfulqa_generate(
    model: Annotated[str, typer.Option(help="Generator model (any inspect model name, or smollm2)")],
    out: Annotated[str, typer.Option(help="Output folder; rerun with the same folder to resume")],
    topics: Annotated[int, typer.Option(help="Number of topics")] = 10,
    subtopics_per_topic: Annotated[int, typer.Option(help="Subtopics per topic")] = 10,
    questions_per_subtopic: Annotated[int, typer.Option(help="Harmful questions per subtopic")] = 20,
    conversations_per_question: Annotated[int, typer.Option(help="Blue (and red) conversations per question")] = 5,
    turns: Annotated[int, typer.Option(help="Turns per side in each conversation")] = 4,
    stages: Annotated[str, typer.Option(help="Comma-separated stages to run: topics,subtopics,questions,blue,red")] = "topics,subtopics,questions,blue,red",
    seed_topics: Annotated[Optional[str], typer.Option(help="File with one topic per line, instead of generating them")] = None,
    max_connections: Annotated[Optional[int], typer.Option(help="Concurrent generator calls", show_default="8 for APIs, 64 for local models")] = None,
    max_tokens: Annotated[Optional[int], typer.Option(help="Maximum new tokens per generator call", show_default="1024 for APIs, 256 for local models")] = None,
    prompts_dir: Annotated[Optional[str], typer.Option(help="Folder with your own stage prompts (topics.txt, subtopics.txt, questions.txt, blue.txt, red.txt)")] = None,
    retries: Annotated[int, typer.Option(help="More attempts at a unit whose reply is unusable (unparseable, empty, a refusal), sampled with a recorded seed")] = 3,
    model_arg: ModelArgs = None,
) -> None:
    """Generate a HarmfulQA-style dataset with any LLM; every stage is resumable.

    A unit whose reply is unusable is retried (--retries) and, if still unusable, stored as failed
    with its raw replies: the next run retries exactly those. A stage that gives nothing usable
    stops the run with exit status 1.
    """
    from ..harmfulqa import (
        GenerateSettings,
        generate_harmfulqa,
        generation_stats,
        stage_summary_lines,
    )

    if turns < 1 or topics < 1 or subtopics_per_topic < 1 or questions_per_subtopic < 1 or conversations_per_question < 1:
        raise RedInstructError("counts and --turns must be at least 1")
    if (max_tokens is not None and max_tokens < 1) or (max_connections is not None and max_connections < 1):
        raise RedInstructError("--max-tokens and --max-connections must be at least 1")
    if retries < 0:
        raise RedInstructError("--retries must be at least 0")
    settings = GenerateSettings(
        model=model, out=out, topics=topics, subtopics_per_topic=subtopics_per_topic,
        questions_per_subtopic=questions_per_subtopic, conversations_per_question=conversations_per_question,
        turns=turns, stages=split_values([stages]), seed_topics=seed_topics, max_connections=max_connections,
        max_tokens=max_tokens, prompts_dir=prompts_dir, retries=retries, model_args=parse_model_args(model_arg),
    )
    ran = generate_harmfulqa(settings, echo=lambda m: console.print(m, highlight=False))
    for line in stage_summary_lines(out, settings):
        console.print(line, highlight=False)
    console.print(f"generator calls this run: {ran['generator_calls']}", highlight=False)
    if (Path(out) / "harmfulqa.json").is_file():
        stats = generation_stats(out)["stages"]
        console.print(f"wrote {out}/harmfulqa.json ({stats['questions']} questions, {stats['blue_conversations']} blue and "
                      f"{stats['red_conversations']} red conversations) and {out}/questions.json", highlight=False)


@harmfulqa_app.command("distill")
def harmfulqa_distill(
    model: Annotated[str, typer.Option(help="Local model to distil from (a checkpoint path or smollm2); usually the model you will align")],
    questions: Annotated[list[str], typer.Option(help="Harmful questions: a dataset name or file; repeat for several")],
    out: Annotated[str, typer.Option(help="Output folder (harmfulqa.json, general.json); rerun to resume")],
    benign: Annotated[Optional[list[str]], typer.Option(help="Harmless prompts whose plain answers become general.json: any question file, a BIG-bench task.json, MMLU-style JSONL; repeat for several")] = None,
    borderline: Annotated[Optional[list[str]], typer.Option(help="Borderline-safe prompts (safe requests that sound unsafe), answered without the safety context and kept when they comply")] = None,
    general_limit: Annotated[Optional[int], typer.Option(min=1, help="Use at most N prompts of each --benign / --borderline file (spread over the file)")] = None,
    skip: Annotated[int, typer.Option(help="Skip the first N questions of each source")] = 0,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Use at most N questions of each source")] = None,
    context: Annotated[Optional[str], typer.Option(help="JSON file with your own safety context {system, shots}")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="Maximum new tokens per reply")] = 160,
    batch_size: Annotated[int, typer.Option(help="Replies generated together")] = 16,
    harm_judge: Annotated[str, typer.Option(help="Drop a blue reply that refuses yet is harmful by this offline harm judge (a refusal that goes on to answer); 'none' keeps them")] = "crossencoder",
    wrap: Annotated[Optional[list[str]], typer.Option(help="Also write every blue / red reply after its question wrapped as an attack (cou, cot, conversation; repeat or comma-separate), and every general answer in one of them")] = None,
) -> None:
    """Blue/red training data from a local model itself, offline (context distillation)."""
    from ..data import load_prompt_sources, load_questions
    from ..harmfulqa import DistillSettings, check_wrappers, distill

    wrappers = check_wrappers(split_values(wrap))  # before any model loads
    if skip < 0 or (limit is not None and limit < 1) or max_new_tokens < 1 or batch_size < 1 or (general_limit is not None and general_limit < 1):
        raise RedInstructError("--skip must be >= 0; --limit, --general-limit, --max-new-tokens and --batch-size must be >= 1")
    end = None if limit is None else skip + limit
    harmful = [q for source in split_values(questions) for q in load_questions(source).questions[skip:end]]

    from ..judges import judge_needs_model

    if harm_judge != "none" and judge_needs_model(harm_judge):  # an unknown name fails here too, in one line
        raise RedInstructError(f"--harm-judge {harm_judge} needs a judge model: use an offline judge (crossencoder, classifier) or none")
    settings = DistillSettings(model=model, out=out, max_new_tokens=max_new_tokens, batch_size=batch_size, context_file=context,
                               harm_judge=None if harm_judge == "none" else harm_judge)
    counts = distill(settings, harmful, load_prompt_sources(split_values(benign), general_limit), echo=lambda m: console.print(m, highlight=False),
                     borderline=load_prompt_sources(split_values(borderline), general_limit), wrappers=wrappers)
    general = ""
    if benign or borderline:
        general = (f"; general.json: {counts['benign_kept']} of {counts['benign_asked']} benign and {counts['borderline_kept']} of "
                   f"{counts['borderline_asked']} borderline answers kept (the others refused, by the compliance judge)")
    console.print(
        f"{counts['questions']} questions: kept {counts['blue_kept']} blue (refusals; {counts['blue_with_help']} of them also help; "
        f"{counts['blue_harmful_dropped']} refusals dropped as harmful by the harm judge) and "
        f"{counts['red_kept']} red (compliant) replies{general}. Contrastive pairs: {counts['pairs_harmful']} harmful "
        f"(refusal over answer), {counts['pairs_borderline']} borderline (answer over refusal)."
        + (f" Wrapped ({', '.join(wrappers)}): {counts['wrapped_blue']} blue conversations and "
           f"{counts.get('benign_twins', 0) + counts.get('borderline_twins', 0)} general twins." if wrappers else "")
        + f" Wrote {out}/harmfulqa.json and "
        f"{out}/pairs.jsonl", highlight=False)


@harmfulqa_app.command("stats")
def harmfulqa_stats(out: Annotated[str, typer.Argument(help="A folder written by 'harmfulqa generate'")]) -> None:
    """Counts per stage and per topic, drops by reason, turns per conversation."""
    from ..harmfulqa import dump, generation_stats

    console.print(dump(generation_stats(out)), highlight=False)
