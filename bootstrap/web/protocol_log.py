"""aiohttp's log of requests it could not parse: one quoted line, not an ERROR traceback.

A client sending a malformed request line or header (a NUL in a header value,
a bad chunk size) gets aiohttp's 400; aiohttp also logs it at ERROR with a
full traceback on ``aiohttp.server``, which turns every scanner's probe into
an alarm and puts the raw bytes it sent into the log.  This filter rewrites
those records into one INFO line that names the reason, repr-quoted.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError

from ..services.validate import shown

SERVER_LOG = "aiohttp.server"


class MalformedRequestFilter(logging.Filter):
    """Demote aiohttp's "Error handling request" for unparsable requests to one INFO line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.msg, record.args = "malformed HTTP request refused (%s): %s", (
                exc.code,
                shown(exc.message, 200),
            )
            record.exc_info = record.exc_text = None
        return True


def install() -> None:
    """Add the filter to aiohttp's server logger once per process."""
    logger = logging.getLogger(SERVER_LOG)
    if not any(isinstance(f, MalformedRequestFilter) for f in logger.filters):
        logger.addFilter(MalformedRequestFilter())
