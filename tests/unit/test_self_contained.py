"""The project never points a reader at a file it does not ship.

Lab reports, lab folders and the shared reference tree of the machine the code was written on
are not part of a clone; a fact the code or a test relies on is written into the project's own
docs (with the figures and peer versions), so a reference to one of those is a broken link.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "build", "run", "__pycache__", ".hypothesis", ".mypy_cache",
             ".ruff_cache", ".pytest_cache", "node_modules", "screenshots"}
SUFFIXES = {".py", ".md", ".toml", ".cfg", ".ini", ".txt", ".sh", ".j2", ".html", ".conf",
            ".example", ".json", ".yaml", ".yml", ".sql", ".mako", ".css", ".js"}
OUTSIDE = re.compile(r"\bREPORT(?:-[\w-]+)?\.md\b|\blabs/|/work/shared\b|\.\./shared\b")


def project_text_files() -> list[Path]:
    out = []
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for name in files:
            path = Path(top, name)
            if path.suffix in SUFFIXES or name == "Makefile":
                out.append(path)
    return out


def test_no_file_refers_outside_the_repository() -> None:
    me = Path(__file__).resolve()
    bad = []
    for path in project_text_files():
        if path.resolve() == me:
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(),
                                  start=1):
            if OUTSIDE.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not bad, "\n".join(bad)
