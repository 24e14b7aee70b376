"""Operator accounts, web sessions, API tokens and login rate limiting.

Passwords are hashed with Argon2id (argon2-cffi's defaults, rehashed on
login when those change).  A web session's cookie value is a random token;
the store keeps only its SHA-256 (``web_sessions.id``), so a stolen database
dump cannot be replayed as a cookie.  API tokens are stored the same way and
shown once.  Roles are ordered: ``admin`` may do what ``operator`` may,
``operator`` what ``viewer`` may.  Every change is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Conflict, NotFound, ValidationError
from ..store.engine import Store
from ..store.models import ApiToken, Operator, WebSession, utcnow
from . import audit, validate
from .actor import Actor
from .views import aware

ROLES = ("viewer", "operator", "admin")
"""Lowest to highest; a role may do everything the roles before it may."""
MIN_PASSWORD = 12
TOKEN_PREFIX = "mip6bs_"
MAX_TOKEN_DAYS = 36_500
"""A token lives at most 100 years: longer lifetimes overflow the date type."""
SEEN_RESOLUTION = dt.timedelta(seconds=60)
"""``last_seen`` is written at most this often per session, not on every request."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown names (same time as a known one), made on first use."""
    return _hasher.hash("not a password of anyone")


@dataclass(frozen=True, slots=True)
class OperatorView:
    id: int
    name: str
    role: str
    disabled: bool
    created_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    name: str
    role: str
    revoked: bool
    created_at: dt.datetime | None
    expires_at: dt.datetime | None

    def state(self, now: dt.datetime | None = None) -> str:
        """``revoked``, ``expired`` or ``valid`` at ``now``: what the token does if sent."""
        if self.revoked:
            return "revoked"
        expires = aware(self.expires_at)
        if expires is not None and expires <= (now or utcnow()):
            return "expired"
        return "valid"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: an operator's session or an API token."""

    name: str
    role: str
    kind: str
    """``session`` or ``token``."""
    csrf_token: str = ""
    session_hash: str = ""

    def may(self, role: str) -> bool:
        return role_allows(self.role, role)

    @property
    def actor(self) -> Actor:
        return Actor(self.name, "ui" if self.kind == "session" else "api")


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just created: ``cookie`` goes to the browser and nowhere else."""

    cookie: str
    csrf_token: str
    expires_at: dt.datetime
    principal: Principal


def role_allows(have: str, need: str) -> bool:
    """Whether role ``have`` covers ``need`` (unknown roles cover nothing)."""
    if have not in ROLES or need not in ROLES:
        return False
    return ROLES.index(have) >= ROLES.index(need)


def digest(raw: str) -> str:
    """SHA-256 hex of a session cookie or API token: what the store keeps."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _check_name(name: str, what: str = "operator name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(
            f"{what} {validate.shown(name)} must be 1-64 letters, digits, '.', '-' or '_',"
            " starting with a letter or digit"
        )
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"password must have at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise ValidationError("password must have at most 1024 characters")
    return password


def _view(row: Operator) -> OperatorView:
    return OperatorView(row.id, row.name, row.role, row.disabled, aware(row.created_at))


def _row(session: Session, name: str) -> Operator:
    row = session.scalars(select(Operator).where(Operator.name == name)).first()
    if row is None:
        raise NotFound(f"operator {name!r} does not exist")
    return row


def new_password() -> str:
    """A random password for a first admin (about 120 bits)."""
    return secrets.token_urlsafe(15)


# ---------------------------------------------------------------- accounts


def add(store: Store, actor: Actor, name: str, role: str, password: str) -> OperatorView:
    """Create an operator account."""
    _check_name(name)
    _check_role(role)
    _check_password(password)
    hashed = _hasher.hash(password)
    try:
        with store.session() as s:
            if s.scalars(select(Operator.id).where(Operator.name == name)).first() is not None:
                raise Conflict(f"operator {name!r} already exists")
            row = Operator(name=name, role=role, password_hash=hashed, disabled=False)
            s.add(row)
            s.flush()
            audit.record(s, actor, "operator.add", name, role=role)
            return _view(row)
    except IntegrityError:
        raise Conflict(f"operator {name!r} already exists") from None


def update(
    store: Store,
    actor: Actor,
    name: str,
    role: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> OperatorView:
    """Change role, disabled flag or password; disabling or a new password ends its sessions."""
    if role is not None:
        _check_role(role)
    if password is not None:
        _check_password(password)
    with store.session() as s:
        row = _row(s, name)
        changes: dict[str, object] = {}
        if role is not None and role != row.role:
            if row.role == "admin" and not _other_admin(s, row.id):
                raise Conflict(f"operator {name!r} is the last enabled admin and must stay admin")
            row.role = role
            changes["role"] = role
        if disabled is not None and disabled != row.disabled:
            if disabled and row.role == "admin" and not _other_admin(s, row.id):
                raise Conflict(
                    f"operator {name!r} is the last enabled admin and cannot be disabled"
                )
            row.disabled = disabled
            changes["disabled"] = disabled
        if password is not None:
            row.password_hash = _hasher.hash(password)
            changes["password"] = "changed"
        if changes.get("disabled") or "password" in changes or "role" in changes:
            s.execute(delete(WebSession).where(WebSession.operator_id == row.id))
        audit.record(s, actor, "operator.update", name, **changes)
        return _view(row)


def _other_admin(session: Session, operator_id: int) -> bool:
    q = select(func.count(Operator.id)).where(
        Operator.role == "admin", Operator.disabled.is_(False), Operator.id != operator_id
    )
    return bool(session.scalar(q))


def get(store: Store, name: str) -> OperatorView:
    with store.session() as s:
        return _view(_row(s, name))


def list_all(store: Store) -> list[OperatorView]:
    with store.session() as s:
        return [_view(r) for r in s.scalars(select(Operator).order_by(Operator.name))]


def count(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count(Operator.id))) or 0)


def ensure_first_admin(store: Store, actor: Actor, name: str = "admin") -> str | None:
    """On a store without operators, create ``name`` as admin; returns its password once."""
    if count(store):
        return None
    password = new_password()
    try:
        add(store, actor, name, "admin", password)
    except Conflict:
        return None  # another host created it meanwhile
    return password


# ---------------------------------------------------------------- login and sessions


def authenticate(store: Store, name: str, password: str) -> OperatorView | None:
    """The operator if ``password`` is right and the account enabled, else None.

    An unknown name costs one Argon2 verification too, so timing does not
    tell which names exist.
    """
    if not _NAME.fullmatch(name):
        name = ""  # cannot exist (NUL, newline, ...): still pay one verification, like a miss
    with store.session() as s:
        row = s.scalars(select(Operator).where(Operator.name == name)).first() if name else None
        stored = row.password_hash if row is not None else _dummy_hash()
        try:
            _hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        if _hasher.check_needs_rehash(stored):
            row.password_hash = _hasher.hash(password)
        return _view(row)


def start_session(
    store: Store, operator: OperatorView, lifetime: float, now: dt.datetime | None = None
) -> NewSession:
    """Create a server-side session after a successful login; audited as ``operator.login``."""
    now = now or utcnow()
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + dt.timedelta(seconds=lifetime)
    with store.session() as s:
        s.execute(delete(WebSession).where(WebSession.expires_at < now))
        s.add(
            WebSession(
                id=digest(cookie),
                operator_id=operator.id,
                csrf_token=csrf,
                created_at=now,
                last_seen=now,
                expires_at=expires,
            )
        )
        audit.record(s, Actor(operator.name, "ui"), "operator.login", operator.name)
    principal = Principal(operator.name, operator.role, "session", csrf, digest(cookie))
    return NewSession(cookie, csrf, expires, principal)


def session_principal(
    store: Store, cookie: str, idle_timeout: float, now: dt.datetime | None = None
) -> Principal | None:
    """Who the session cookie belongs to, or None if unknown, expired, idle or disabled."""
    if not cookie or len(cookie) > 128:
        return None
    now = now or utcnow()
    key = digest(cookie)
    with store.session() as s:
        row = s.get(WebSession, key)
        if row is None:
            return None
        op = s.get(Operator, row.operator_id)
        last_seen = aware(row.last_seen) or now
        expires = aware(row.expires_at) or now
        idle = dt.timedelta(seconds=idle_timeout)
        if op is None or op.disabled or expires <= now or last_seen + idle <= now:
            s.delete(row)
            return None
        if now - last_seen >= SEEN_RESOLUTION:
            row.last_seen = now
        return Principal(op.name, op.role, "session", row.csrf_token, key)


def end_session(store: Store, session_hash: str, actor: Actor | None = None) -> bool:
    """Log out: delete the session; True if it existed."""
    with store.session() as s:
        row = s.get(WebSession, session_hash)
        if row is None:
            return False
        s.delete(row)
        if actor is not None:
            audit.record(s, actor, "operator.logout", actor.name)
        return True


def session_count(store: Store, name: str) -> int:
    with store.session() as s:
        row = _row(s, name)
        q = select(func.count()).where(WebSession.operator_id == row.id)
        return int(s.scalar(q) or 0)


# ---------------------------------------------------------------- API tokens


def _token_view(row: ApiToken) -> TokenView:
    return TokenView(
        row.id, row.name, row.role, row.revoked, aware(row.created_at), aware(row.expires_at)
    )


def create_token(
    store: Store, actor: Actor, name: str, role: str, lifetime_days: float | None = None
) -> tuple[TokenView, str]:
    """A new API token; the clear token is returned once and only its SHA-256 kept."""
    _check_name(name, "token name")
    _check_role(role)
    if lifetime_days is not None:
        validate.number(lifetime_days, "token lifetime in days", 0, MAX_TOKEN_DAYS)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=lifetime_days) if lifetime_days else None
    try:
        with store.session() as s:
            if s.scalars(select(ApiToken.id).where(ApiToken.name == name)).first() is not None:
                raise Conflict(f"token {name!r} already exists")
            row = ApiToken(
                name=name, role=role, token_hash=digest(raw), expires_at=expires, revoked=False
            )
            s.add(row)
            s.flush()
            audit.record(s, actor, "token.create", name, role=role)
            return _token_view(row), raw
    except IntegrityError:
        raise Conflict(f"token {name!r} already exists") from None


def token_principal(store: Store, raw: str, now: dt.datetime | None = None) -> Principal | None:
    """Who a bearer token acts for, or None if unknown, revoked or expired."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 128:
        return None
    now = now or utcnow()
    with store.session() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.token_hash == digest(raw))).first()
        if row is None or row.revoked:
            return None
        expires = aware(row.expires_at)
        if expires is not None and expires <= now:
            return None
        return Principal(row.name, row.role, "token")


def revoke_token(store: Store, actor: Actor, name: str) -> TokenView:
    with store.session() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.name == name)).first()
        if row is None:
            raise NotFound(f"token {name!r} does not exist")
        if row.revoked:
            raise Conflict(f"token {name!r} is already revoked")
        row.revoked = True
        audit.record(s, actor, "token.revoke", name)
        return _token_view(row)


def list_tokens(store: Store) -> list[TokenView]:
    with store.session() as s:
        return [_token_view(r) for r in s.scalars(select(ApiToken).order_by(ApiToken.name))]


def record_login_failure(store: Store, name: str, source: str, reason: str) -> None:
    """Audit a refused login (never the password; a name that is no valid name, quoted)."""
    if not _NAME.fullmatch(name):
        name = validate.shown(name, 64) if name else ""
    with store.session() as s:
        audit.record(
            s,
            Actor(name[:64] or "-", "ui"),
            "operator.login_failed",
            name[:64],
            source=source,
            reason=reason,
        )


# ---------------------------------------------------------------- login rate limiting


class LoginLimiter:
    """Failed logins per (operator name, client address), with backoff, under a global ceiling.

    Throttling must not become a way to lock someone out, so:

    * a pair that failed ``attempts`` times within ``window`` waits ``window``;
      each further lockout of the same pair doubles the wait (at most
      ``max_backoff``) until it logs in or stays quiet for a whole wait;
    * only that pair waits: the right password from another address works,
      and users sharing one address (a proxy) never lock each other out;
    * ``ceiling`` failures within ``window`` over all pairs (guessing from many
      addresses) make addresses that never logged in wait too, while
      addresses that did log in before keep working.

    Kept in memory per process: a restart forgives, which is acceptable for a
    guard against online guessing (Argon2 makes each guess slow anyway).
    ``clock`` is injectable so tests need not sleep.
    """

    MAX_KEYS = 100_000

    def __init__(
        self,
        attempts: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        ceiling: int | None = None,
        max_backoff: float = 3600.0,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.ceiling = ceiling if ceiling is not None else 20 * max(attempts, 1)
        self.max_backoff = max(max_backoff, window)
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._locks: dict[tuple[str, str], tuple[float, int]] = {}
        """pair -> (locked until, how many lockouts in a row)"""
        self._all: deque[float] = deque()
        self._known: dict[str, float] = {}
        """addresses that logged in, -> when (insertion order = age)"""

    def _prune_all(self, now: float) -> None:
        cutoff = now - self.window
        while self._all and self._all[0] <= cutoff:
            self._all.popleft()

    def retry_after(self, name: str, source: str) -> float:
        """Seconds until ``name`` may try again from ``source``; 0 if it may now."""
        if self.attempts <= 0:
            return 0.0
        now = self._clock()
        until, _ = self._locks.get((name, source), (0.0, 0))
        if until > now:
            return until - now
        self._prune_all(now)
        if len(self._all) >= self.ceiling and source not in self._known:
            return max(self._all[0] + self.window - now, 0.0)
        return 0.0

    def failed(self, name: str, source: str) -> None:
        if self.attempts <= 0:
            return
        now = self._clock()
        pair = (name, source)
        self._all.append(now)
        self._prune_all(now)
        while len(self._all) > self.ceiling:
            self._all.popleft()
        q = self._failures.setdefault(pair, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        q.append(now)
        if len(q) >= self.attempts:
            until, streak = self._locks.get(pair, (0.0, 0))
            if until + self.window * 2 ** max(streak - 1, 0) < now:
                streak = 0  # quiet for a whole wait since the last lockout: start over
            wait = min(self.window * 2**streak, self.max_backoff)
            self._locks[pair] = (now + wait, streak + 1)
            q.clear()
        if len(self._failures) + len(self._locks) > self.MAX_KEYS:  # a spray of names
            self._failures = {k: v for k, v in self._failures.items() if v}
            self._locks = {k: v for k, v in self._locks.items() if v[0] > now}
            if len(self._failures) + len(self._locks) > self.MAX_KEYS:
                self._failures.clear()

    def succeeded(self, name: str, source: str) -> None:
        self._failures.pop((name, source), None)
        self._locks.pop((name, source), None)
        self._known.pop(source, None)
        self._known[source] = self._clock()
        if len(self._known) > self.MAX_KEYS:
            del self._known[next(iter(self._known))]
