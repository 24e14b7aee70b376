"""TSIG key files for the unit tests, in the layout ``tsig-keygen`` prints.

The unit tests must not need BIND's tools; the system tests still load keys
made by the real ``tsig-keygen`` (see :mod:`tests.support.named`), so the
parser is checked against both.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

ALGORITHM_BYTES = {"hmac-sha256": 32, "hmac-sha512": 64}


def key_text(name: str, algorithm: str = "hmac-sha256") -> str:
    """A ``key "NAME" { algorithm ...; secret "..."; };`` statement with a random secret."""
    secret = base64.b64encode(secrets.token_bytes(ALGORITHM_BYTES[algorithm])).decode()
    return f'key "{name}" {{\n\talgorithm {algorithm};\n\tsecret "{secret}";\n}};\n'


def write_key_file(path: Path, name: str, algorithm: str = "hmac-sha256") -> Path:
    path.write_text(key_text(name, algorithm))
    return path
