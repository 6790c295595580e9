"""Reading the data files users hand us (question banks, labels, conversations, general data): one reader, one set of rules.

- Text is UTF-8, with or without a byte-order mark (Excel writes one), or UTF-16 with its BOM.
- JSON Lines end at "\\n" only (a string may hold U+2028, which other line readers split on).
- Anything else (missing file, a folder, bytes that are not text, a NUL byte, malformed JSON or CSV, a
  field of any size) is one `DatasetError` line naming the file, never a traceback.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import DatasetError

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a reply or prompt may be long: no 128 KB limit
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def read_text_file(path: str | Path, what: str = "file") -> str:
    """The text of `path`: UTF-8 (a BOM allowed) or UTF-16 / UTF-32 with a BOM; DatasetError otherwise."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DatasetError(f"{what} not found: {path}" if not path.exists() else f"{what} {path} is not a file")
    try:
        data = path.read_bytes()
    except OSError as ex:
        raise DatasetError(f"cannot read {what} {path}: {ex.strerror or ex}") from None
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as ex:
        raise DatasetError(f"cannot read {what} {path}: not {encoding.upper().replace('-SIG', '')} text ({ex.reason} at byte {ex.start}); "
                           "save it as UTF-8") from None
    return text.removeprefix("\ufeff")


def parse_json(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as ex:
        raise DatasetError(f"malformed JSON in {path}: {ex.msg} at line {ex.lineno}") from None
    except RecursionError:
        raise DatasetError(f"malformed JSON in {path}: nested too deeply") from None
    except ValueError as ex:  # e.g. an integer of more digits than Python converts
        raise DatasetError(f"malformed JSON in {path}: {str(ex).splitlines()[0]}") from None


def parse_jsonl(text: str, path: Path) -> list[dict[str, Any]]:
    """One JSON object per line; blank lines skipped."""
    records = []
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as ex:
            raise DatasetError(f"malformed JSON in {path} line {lineno}: {ex.msg}") from None
        except RecursionError:
            raise DatasetError(f"malformed JSON in {path} line {lineno}: nested too deeply") from None
        except ValueError as ex:
            raise DatasetError(f"malformed JSON in {path} line {lineno}: {str(ex).splitlines()[0]}") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{path} line {lineno}: expected a JSON object per line")
        records.append(record)
    return records


def parse_csv(text: str, path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows) of CSV text with a header row."""
    if "\x00" in text:
        raise DatasetError(f"malformed CSV in {path}: it holds a NUL byte (a binary file?)")
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames:
            raise DatasetError(f"{path} has no header row")
        # a row with more cells than the header has them under the key None: dropped, so every key is a column name
        return [str(name) for name in reader.fieldnames], [{k: v for k, v in row.items() if k is not None} for row in reader]
    except csv.Error as ex:
        raise DatasetError(f"malformed CSV in {path}: {ex}") from None


def read_data_file(path: str | Path, what: str = "file", kinds: tuple[str, ...] = (".json", ".jsonl", ".csv")) -> Any:
    """A `.json` file's value, or a `.jsonl` / `.csv` file's rows (a list of dicts); DatasetError for anything else."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in kinds:
        raise DatasetError(f"unsupported {what} type '{suffix or path.name}' ({path}): use {', '.join(kinds)}")
    text = read_text_file(path, what)
    if suffix == ".json":
        return parse_json(text, path)
    if suffix == ".jsonl":
        return parse_jsonl(text, path)
    return parse_csv(text, path)[1]
