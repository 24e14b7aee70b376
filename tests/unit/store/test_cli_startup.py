"""``bootstrapctl`` start-up stays cheap: what a command does not need, it does not import.

Operators script the CLI in loops, so ``--help`` must not load SQLAlchemy and
``show`` / ``list`` must not load the crypto and web libraries (figures:
``bench/cli_startup.py``).  Each check runs in a fresh interpreter, because
this test process has imported everything already.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

from bootstrap.cli.root import LAZY, root

HEAVY = ("sqlalchemy", "alembic", "psycopg", "cryptography", "argon2", "aiohttp", "jinja2")


def _loaded_after(code: str) -> tuple[list[str], str]:
    """The heavy top-level packages a fresh interpreter holds after ``code``, and its stdout."""
    probe = (
        "import io, json, sys, contextlib\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"{''.join('    ' + line + chr(10) for line in code.splitlines())}"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(json.dumps([heavy, out.getvalue()]))\n"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    heavy, out = json.loads(r.stdout)
    return heavy, out


def test_help_imports_no_store_crypto_or_web_library() -> None:
    heavy, out = _loaded_after(
        "from bootstrap.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert heavy == []
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert {"show", "list", "import", *LAZY} <= listed  # the lazy commands are still listed


def test_reading_subscribers_imports_no_crypto_or_web_library() -> None:
    heavy, _ = _loaded_after("import bootstrap.services.subscribers, bootstrap.serialize")
    assert "sqlalchemy" in heavy  # the store is needed to read, the rest is not
    assert set(heavy) <= {"sqlalchemy"}


def test_lazy_help_lines_are_the_commands_own() -> None:
    for name, entry in LAZY.items():
        module, _, attr = entry.target.partition(":")
        cmd = getattr(importlib.import_module(module), attr)
        assert cmd.get_short_help_str(limit=1000) == entry.short_help, name
        assert name not in root.commands  # only reachable through the lazy table
