"""QR codes of MN configurations, drawn server-side as inline SVG by ``segno``.

segno is a maintained, pure-Python QR encoder (ISO/IEC 18004) with SVG
output and no image library: nothing to hand-write, no binary dependency,
and an inline SVG needs no data URL or script under the page's CSP.
"""

from __future__ import annotations

import segno
from markupsafe import Markup, escape


def svg(text: str, label: str) -> Markup:
    """``text`` as an inline SVG QR code (error correction M when it fits, else L)."""
    code = segno.make(text, error="m", boost_error=False, micro=False)
    drawn = code.svg_inline(scale=3, dark="#000", light="#fff", border=4)
    titled = drawn.replace(
        "<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1
    )
    return Markup(titled)  # noqa: S704 - segno's own markup, the label is escaped
