"""``[database] url`` spellings of a replicated PostgreSQL reach libpq as one host list."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from bootstrap.errors import ConfigError
from bootstrap.store.engine import normalise_url


def _libpq_args(url: str) -> dict[str, object]:
    engine = create_engine(normalise_url(url))
    try:
        return dict(engine.dialect.create_connect_args(engine.url)[1])
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@/db?host=h1:5432,h2:5433&target_session_attrs=read-write",
        "postgresql+psycopg://u@h1:5432,h2:5433/db?target_session_attrs=read-write",
        "postgresql+psycopg://u@/db?host=h1:5432&host=h2:5433&target_session_attrs=read-write",
        "postgresql+asyncpg://u@/db?host=h1,h2&port=5432,5433&target_session_attrs=read-write",
    ],
)
def test_multi_host_spellings_give_libpq_host_and_port_lists(url: str) -> None:
    args = _libpq_args(url)
    assert args["host"] == "h1,h2" and args["port"] == "5432,5433"
    assert args["dbname"] == "db" and args["user"] == "u"
    assert args["target_session_attrs"] == "read-write"


def test_single_host_url_is_unchanged() -> None:
    assert normalise_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_bad_url_is_one_sentence() -> None:
    with pytest.raises(ConfigError, match="is not a valid SQLAlchemy URL"):
        normalise_url("not a url")
