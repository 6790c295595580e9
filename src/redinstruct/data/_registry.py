"""Named question banks: `REDINSTRUCT_DATA_DIR`, then the cache, then the pinned canonical download."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .._paths import cache_dir
from ..errors import DatasetError
from ._loaders import QuestionBank, load_question_file

_RED_INSTRUCT = "https://raw.githubusercontent.com/declare-lab/red-instruct/main/harmful_questions"
_XSTEST_COMMIT = "475f10bf0a3d6a9dfb174b6de1a38afbfdff98a5"


@dataclass(frozen=True)
class NamedDataset:
    name: str
    filename: str
    description: str
    url: str | None = None  # None: shipped inside the package
    sha256: str | None = None
    folder: str = "redinstruct"  # its folder in a data root laid out like ../shared/data


DATASETS: dict[str, NamedDataset] = {
    d.name: d
    for d in [
        NamedDataset(
            "demo",
            "demo.json",
            "built-in smoke set: 16 mild harmful questions written for redinstruct, 4 topics",
        ),
        NamedDataset(
            "borderline",
            "borderline.json",
            "built-in: 152 safe prompts that sound unsafe (homonyms, figures of speech, safe targets and contexts, "
            "definitions, history), written for redinstruct as helpful-answer training data (distill --borderline); "
            "none is an XSTest prompt or a near copy of one",
        ),
        NamedDataset(
            "borderline-val",
            "borderline_val.json",
            "built-in: 48 more safe prompts that sound unsafe, disjoint from `borderline`, for choosing checkpoints "
            "(align --val-safe); none is an XSTest prompt or a near copy of one",
        ),
        NamedDataset(
            "dangerousqa",
            "dangerousqa.json",
            "DangerousQA: 200 harmful questions (the paper's RED-EVAL set; Shaikh et al. 2022)",
            f"{_RED_INSTRUCT}/dangerousqa.json",
            "b40b0193d063cb5d742e6d0e070dde119e0291619830c65653ca19bdc84fdd10",
        ),
        NamedDataset(
            "harmfulqa",
            "harmfulqa.json",
            "HarmfulQA questions: 1,960 in 10 topics / 98 subtopics (declare-lab/red-instruct)",
            f"{_RED_INSTRUCT}/harmfulqa.json",
            "e04c1f3c48800ea84f954298e2a74f27e391069e037d60a22c2727eaa22f2cf8",
        ),
        NamedDataset(
            "xstest",
            "xstest_prompts.csv",
            "XSTest (Roettger et al. 2024, CC-BY-4.0): 250 safe prompts that look unsafe and 200 unsafe contrasts, "
            "with label and type: measures over-refusal beside ASR",
            f"https://raw.githubusercontent.com/paul-rottger/exaggerated-safety/{_XSTEST_COMMIT}/xstest_prompts.csv",
            "11783fb294ed017473ee53c207d71f2161c7672c8d0b037501e78387f801cb5a",
            folder="xstest",
        ),
    ]
}

DOWNLOAD_TIMEOUT_S = 30
_WARNED: set[Path] = set()  # local copies already reported as not canonical (once per process)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dataset_path(name: str) -> Path:
    """The local file behind a named dataset, downloading it (pinned by sha256) if needed."""
    spec = DATASETS.get(name)
    if spec is None:
        raise DatasetError(
            f"unknown dataset '{name}': use one of {', '.join(DATASETS)} or a path to a .json/.jsonl/.csv file"
        )
    if spec.url is None:
        return Path(str(resources.files("redinstruct.data").joinpath(spec.filename)))

    data_dir = os.environ.get("REDINSTRUCT_DATA_DIR")
    if data_dir:
        candidate = _local_copy(Path(data_dir).expanduser(), spec)
        if candidate is not None:
            if spec.sha256 and candidate not in _WARNED and sha256_of(candidate) != spec.sha256:
                _WARNED.add(candidate)
                print(
                    f"warning: {candidate} differs from the canonical {name} (sha256 mismatch); using it anyway",
                    file=sys.stderr,
                )
            return candidate

    cached = cache_dir() / "data" / spec.filename
    if cached.is_file() and (spec.sha256 is None or sha256_of(cached) == spec.sha256):
        return cached
    return _download(spec, cached)


def _local_copy(data_dir: Path, spec: NamedDataset) -> Path | None:
    """`spec`'s file in $REDINSTRUCT_DATA_DIR: the folder itself, its `<folder>/` (a data root laid out
    like ../shared/data), or a sibling `<folder>/` (when it points at ../shared/data/redinstruct)."""
    for candidate in (data_dir / spec.filename, data_dir / spec.folder / spec.filename, data_dir.parent / spec.folder / spec.filename):
        if candidate.is_file():
            return candidate
    return None


def _download(spec: NamedDataset, target: Path) -> Path:
    assert spec.url is not None
    hint = (
        f"put {spec.filename} in $REDINSTRUCT_DATA_DIR or {target.parent}, "
        f"or connect to the internet to download it from {spec.url}"
    )
    try:
        with urllib.request.urlopen(spec.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            payload = response.read()
    except (urllib.error.URLError, OSError, TimeoutError) as ex:
        reason = getattr(ex, "reason", ex)
        raise DatasetError(f"dataset '{spec.name}' is not available offline ({reason}): {hint}") from None
    digest = hashlib.sha256(payload).hexdigest()
    if spec.sha256 and digest != spec.sha256:
        raise DatasetError(f"download of '{spec.name}' has sha256 {digest}, expected {spec.sha256}: {hint}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(payload)
    os.replace(tmp.name, target)  # atomic: a killed download never leaves half a file
    return target


def load_questions(
    source: str | Path,
    *,
    text_column: str | None = None,
    topic_column: str | None = None,
    subtopic_column: str | None = None,
    drop_duplicates: bool = False,
) -> QuestionBank:
    """Load a question bank by name (`demo`, `dangerousqa`, `harmfulqa`, `xstest`) or from a file path."""
    source_str = str(source)
    if source_str in DATASETS:
        path = dataset_path(source_str)
        return load_question_file(path, name=source_str, drop_duplicates=drop_duplicates)
    path = Path(source_str).expanduser()
    if path.suffix.lower() in (".json", ".jsonl", ".csv") or path.exists():
        return load_question_file(
            path,
            text_column=text_column,
            topic_column=topic_column,
            subtopic_column=subtopic_column,
            drop_duplicates=drop_duplicates,
        )
    raise DatasetError(
        f"unknown dataset '{source_str}': use one of {', '.join(DATASETS)} or a path to a .json/.jsonl/.csv file"
    )
