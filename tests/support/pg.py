"""The local PostgreSQL of the system tests: per-run database names, create (optionally from a
template) and drop.

PostgreSQL runs at 127.0.0.1:5432 with trust auth for user ``postgres`` (``make test`` starts it
when it is installed but stopped; ``BOOTSTRAP_TEST_PG_HOST/PORT/USER`` point elsewhere).  Every
database a run creates is named ``mip6bs_<pid>_<random>_<n>``, so engineers testing at the same
time never share one, and is dropped by the fixture that made it.
"""

from __future__ import annotations

import itertools
import os
import secrets

import psycopg

HOST = os.environ.get("BOOTSTRAP_TEST_PG_HOST", "127.0.0.1")
PORT = int(os.environ.get("BOOTSTRAP_TEST_PG_PORT", "5432"))
USER = os.environ.get("BOOTSTRAP_TEST_PG_USER", "postgres")
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
_counter = itertools.count()


def new_name(suffix: str | None = None) -> str:
    """A database name of this run, unique within it."""
    return f"mip6bs_{RUN_ID}_{suffix if suffix is not None else next(_counter)}"


def admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(host=HOST, port=PORT, user=USER, dbname="postgres", autocommit=True)


def url_for(dbname: str) -> str:
    return f"postgresql+psycopg://{USER}@{HOST}:{PORT}/{dbname}"


def create_database(name: str, template: str | None = None) -> str:
    """CREATE DATABASE ``name`` (a copy of ``template`` when given); its SQLAlchemy URL."""
    with admin() as conn:
        tpl = f' TEMPLATE "{template}"' if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{tpl}')  # type: ignore[arg-type]
    return url_for(name)


def drop_database(name: str) -> None:
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
