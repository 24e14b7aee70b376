"""The one error the DHCP decoders raise: the peer sent bytes we cannot read.

``reason`` is a short, fixed label (used as a counter label and for the
rate-limited log line); the message is one sentence naming what was wrong.
"""

from __future__ import annotations

TRUNCATED = "truncated"
OVERRUN = "length_overrun"
NESTING = "bad_nesting"
OVERSIZE = "oversize"
BAD_VALUE = "bad_value"

REASONS = (TRUNCATED, OVERRUN, NESTING, OVERSIZE, BAD_VALUE)


class MalformedPacket(ValueError):
    """The peer's packet breaks the wire format; it is dropped and counted."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
