"""The Jinja2 environment of the strongSwan face's generated files (package data ``templates/``).

Templates render plain configuration text, never HTML: no autoescaping, but
every value that lands inside a quoted string goes through a quoting filter
(``swq`` for swanctl, ``radq`` for FreeRADIUS), and an unknown variable is an
error (``StrictUndefined``) rather than an empty string in a config file.
"""

from __future__ import annotations

from typing import Any

import jinja2


def swanctl_quote(value: object) -> str:
    """A swanctl.conf string: double-quoted, backslash and quote escaped."""
    text = str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def radius_quote(value: object) -> str:
    """The inside of a FreeRADIUS double-quoted string (the template adds the quotes)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"')


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("ikev2_glue", "templates"),
    autoescape=False,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["swq"] = swanctl_quote
_ENV.filters["radq"] = radius_quote


def render(name: str, **context: Any) -> str:
    """Render template ``name`` (relative to ``ikev2_glue/templates``)."""
    return _ENV.get_template(name).render(**context)
