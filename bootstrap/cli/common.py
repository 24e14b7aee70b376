"""What every ``bootstrapctl`` command shares: settings, the store, output, errors.

Commands print machine output (``--json``: one JSON document) on stdout and
diagnostics on stderr.  Errors are one sentence on stderr with exit code 1
(operational: duplicate, unknown identity, store unreachable) or 2 (usage or
config); a traceback is shown only with ``BOOTSTRAP_DEBUG=1``.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import config as config_mod
from ..config import Settings

if TYPE_CHECKING:
    from ..store.engine import Store

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """Put on the Click context by the root command; ``store()`` opens lazily."""

    config_path: str | None
    db_url: str | None
    _settings: Settings | None = None
    _store: Store | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            s = config_mod.load(self.config_path)
            if self.db_url:
                s = config_mod.with_database(s, self.db_url)
            self._settings = s
        return self._settings

    def store(self, check_schema: bool = True) -> Store:
        """The store; by default refuses an out-of-date schema with the fixing command."""
        from .. import migrate  # SQLAlchemy: only for commands that open the store
        from ..store.engine import Store

        if self._store is None:
            db = self.settings.database
            self._store = Store(
                db.url, read_url=db.read_url or None, retry_for=db.retry_for, echo=db.echo
            )
        if check_schema:
            migrate.ensure_current(self._store)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """Where a command lives (``"module:attribute"``) and its one-line help for ``--help``.

    The help line is kept here so that listing the commands imports none of
    them; a unit test checks it matches the command's own.
    """

    target: str
    short_help: str


class LazyGroup(click.Group):
    """A group whose extra commands are imported only when used.

    ``lazy`` maps a command name to a :class:`LazyCommand`.  Importing every
    face's CLI module (and through it SQLAlchemy, cryptography, aiohttp) up
    front would cost every ``bootstrapctl`` call, ``--help`` included, a few
    hundred milliseconds.
    """

    def __init__(
        self, *args: Any, lazy: dict[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._available()})

    def _available(self) -> list[str]:
        import importlib.util

        out = []
        for name, entry in self.lazy.items():
            module = entry.target.partition(":")[0]
            if importlib.util.find_spec(module) is not None:
                out.append(name)
        return out

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Like click's, but the lazy commands' lines come from :class:`LazyCommand`."""
        rows: list[tuple[str, str]] = []
        width = formatter.width - 6 - max((len(n) for n in self.list_commands(ctx)), default=0)
        for name in self.list_commands(ctx):
            cmd = super().get_command(ctx, name)
            if cmd is not None:
                if not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(width)))
            elif name in self.lazy:
                stand_in = click.Command(name, help=self.lazy[name].short_help)
                rows.append((name, stand_in.get_short_help_str(width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in self.lazy:
            return cmd
        import importlib

        module, _, attr = self.lazy[cmd_name].target.partition(":")
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None
            raise
        found = getattr(mod, attr, None)
        return found if isinstance(found, click.Command) else None


def lazy_module(name: str) -> ModuleType:
    """``name`` imported on first attribute access (:class:`importlib.util.LazyLoader`).

    For the service modules the CLI commands call: a command body runs only
    the modules it uses, so ``bootstrapctl --help`` imports no SQLAlchemy and
    ``show`` no cryptography.
    """
    import importlib.util

    found = sys.modules.get(name)
    if found is not None:
        return found
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, name
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


def state() -> CliState:
    obj = click.get_current_context().find_root().obj
    assert isinstance(obj, CliState)
    return obj


def json_option(fn: F) -> F:
    """The ``--json`` flag every command takes."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")(fn)


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums, addresses, paths and datetimes as plain JSON values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def emit_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False))


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """A plain aligned table on stdout."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for i, r in enumerate(cells):
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))


def kv(pairs: Iterable[tuple[str, Any]]) -> None:
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    for k, v in pairs:
        click.echo(f"{k.ljust(width)}  {'' if v is None else v}")


def stderr(msg: str) -> None:
    click.echo(msg, err=True)


def is_tty() -> bool:
    return sys.stderr.isatty()
