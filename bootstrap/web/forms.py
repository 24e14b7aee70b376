"""Form handling of the pages: errors at the field, input kept, the UI's own words.

A refused form is shown again with what the operator typed and the error
beside the field it is about (tied with ``aria-describedby`` by the
``forms.html`` macros).  Service errors are one sentence that starts with
the name of the field or object it is about ("identity 'x' must ...",
"network 'x' does not exist"); :func:`field_of` maps that name to the
form's field.  :func:`ui_words` replaces the CLI hints some service
messages carry with where to do it in the UI.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from ..errors import BootstrapError, ValidationError

Values = dict[str, str]
Errors = dict[str, str]
FORM = "_form"
"""Key of an error about the whole form rather than one field."""

_ALIASES = {
    "home agent": "fqdn",
    "subscriber": "identity",
    "zone": "zones",
    "ha-info": "ha_info",
    "ipv4-pool": "ipv4_pool",
    "operator name": "name",
    "operator": "name",
    "token name": "name",
    "token lifetime": "days",
    "token": "name",
    "domain": "domain",
    "csv": "file",
}

_UI_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r" \(see 'bootstrapctl [^']*'\)"), ""),
    (re.compile(r"; run 'bootstrapctl ca init' first"),
     "; create it on the Networks page first"),
    (re.compile(r" \(pass --allow-outside-prefix if the HA really lives elsewhere\)"),
     " (tick 'address outside the home prefix' if the HA really lives elsewhere)"),
    (re.compile(r", so --ipv4 cannot be met"), ", so it cannot give an IPv4 home address"),
    (re.compile(r" \(\[vici\] home_agent\)"), ""),
)


async def read(request: web.Request) -> Values:
    """The posted form's text fields."""
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def ui_words(message: str) -> str:
    for pattern, repl in _UI_WORDS:
        message = pattern.sub(repl, message)
    return message


def field_of(message: str, fields: Sequence[str]) -> str:
    """The form field ``message`` is about, or :data:`FORM`."""
    low = message.lower()
    for name, target in sorted(_ALIASES.items(), key=lambda kv: -len(kv[0])):
        if (low.startswith(name + " ") or low.startswith(name + ":")) and target in fields:
            return target
    first = re.split(r"[\s:]", low, maxsplit=1)[0]
    for f in fields:
        if first in (f, f.replace("_", "-"), f.replace("_", " ")):
            return f
    return FORM


def errors_of(exc: BootstrapError, fields: Sequence[str]) -> Errors:
    message = ui_words(str(exc))
    return {field_of(message, fields): message}


def int_field(values: Values, name: str, default: int, label: str | None = None) -> int:
    raw = values.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"{label or name} must be a whole number, not {raw!r}") from None


Again = Callable[[Values, Errors, int], Awaitable[web.StreamResponse]]


async def submit(
    values: Values,
    fields: Sequence[str],
    act: Callable[[], Awaitable[web.StreamResponse]],
    again: Again,
) -> web.StreamResponse:
    """Run ``act``; on a service error show the form again with the error at its field."""
    try:
        return await act()
    except BootstrapError as exc:
        return await again(values, errors_of(exc, fields), exc.http_status)
