"""The code base's shape (issue #34): package faces, layers and no cycles (import-linter), one journal, small modules."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

SRC = REPO_ROOT / "src" / "redinstruct"
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_import_contracts_hold() -> None:
    """Private modules used only inside their package, layers pointing down, no cycles: pyproject.toml's contracts."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_no_module_grows_past_the_limit() -> None:
    too_long = {}
    for path in _modules():
        name = path.relative_to(SRC).as_posix()
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > MAX_LINES:
            too_long[name] = lines
    assert not too_long


def test_no_new_use_of_inspects_private_modules() -> None:
    found: dict[str, set[str]] = {}
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name.startswith("inspect_ai") and any(part.startswith("_") for part in name.split(".")):
                    found.setdefault(path.relative_to(SRC).as_posix(), set()).add(name)
    assert found == {}, "inspect_ai's private modules break on any inspect release"


def test_only_the_journal_writes_and_reads_jsonl_lines() -> None:
    """One crash-safe journal: no other module fsyncs or parses line by line."""
    others = [path.relative_to(SRC).as_posix() for path in _modules() if path.name != "_journal.py"
              and re.search(r"os\.fsync\(|splitlines\(keepends=True\)", path.read_text(encoding="utf-8"))]
    assert others == []
