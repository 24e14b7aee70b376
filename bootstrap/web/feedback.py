"""What the operator is told after a change: a flash message or a one-time result page.

Every change answers with a redirect (post-redirect-get), so a reload never
repeats it.  The page it redirects to says what happened:

* a **flash** message: one sentence carried by a short-lived cookie signed
  with the session's CSRF secret (nobody else can make the UI say
  something), shown once by the next page;
* a **result page** (``/done/TOKEN``): what a destructive action or an
  enrollment did, kept in this process's memory for a few minutes and
  bound to the session that made it.  Secrets on it (an EAP secret, a new
  API token) are shown on the first view only; a reload shows the rest
  and says the secret was shown already.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..services.operators import Principal

FLASH_COOKIE = "mip6bs_flash"
RESULT_TTL = 900.0
MAX_RESULTS = 2000


def _sign(key: str, payload: bytes) -> str:
    return hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()[:32]


def set_flash(
    response: web.StreamResponse, who: Principal, message: str, secure: bool = False
) -> None:
    """Attach a one-sentence success message for the next page this session shows."""
    payload = base64.urlsafe_b64encode(message.encode()[:600])
    value = f"{payload.decode()}.{_sign(who.csrf_token, payload)}"
    response.set_cookie(FLASH_COOKIE, value, max_age=120, path="/", httponly=True,
                        samesite="Strict", secure=secure)


def take_flash(request: web.Request, who: Principal | None) -> str | None:
    """The flash message meant for this session, if any (the caller clears the cookie)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or who is None or not who.csrf_token:
        return None
    payload, _, sig = raw.partition(".")
    if not hmac.compare_digest(sig, _sign(who.csrf_token, payload.encode())):
        return None
    try:
        return base64.urlsafe_b64decode(payload.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def redirect(
    location: str, who: Principal, message: str, secure: bool = False
) -> web.HTTPSeeOther:
    """303 to ``location`` with ``message`` shown there (``secure``: ``[web] secure_cookies``)."""
    resp = web.HTTPSeeOther(location)
    set_flash(resp, who, message, secure)
    return resp


@dataclass
class Result:
    """One result page: its template, what it shows, and which keys are shown once."""

    owner: str
    template: str
    context: dict[str, Any]
    secret_keys: tuple[str, ...] = ()
    expires: float = 0.0
    views: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class ResultBox:
    """Result pages of this process, by random token (thread-safe, bounded, expiring)."""

    def __init__(self, ttl: float = RESULT_TTL, limit: int = MAX_RESULTS) -> None:
        self._ttl = ttl
        self._limit = limit
        self._items: OrderedDict[str, Result] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, who: Principal, template: str, secret_keys: tuple[str, ...] = (),
            **context: Any) -> str:
        token = secrets.token_urlsafe(18)
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            self._items[token] = Result(_owner(who), template, context, secret_keys,
                                        now + self._ttl)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)
        return token

    def view(self, who: Principal, token: str) -> Result | None:
        """The result for ``who``; from the second view on its secrets are blanked."""
        with self._lock:
            self._expire(time.monotonic())
            item = self._items.get(token)
            if item is None or item.owner != _owner(who):
                return None
            shown = Result(item.owner, item.template, dict(item.context), item.secret_keys,
                           item.expires, item.views)
            item.views += 1
            for key in item.secret_keys:
                item.context[key] = None
            return shown

    def _expire(self, now: float) -> None:
        for token in [t for t, r in self._items.items() if r.expires < now]:
            del self._items[token]


def _owner(who: Principal) -> str:
    return who.session_hash or f"{who.kind}:{who.name}"


RESULTS = web.AppKey("results", ResultBox)
