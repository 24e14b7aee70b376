"""Reading the TSIG key from a BIND ``tsig-keygen`` key file.

named and nsupdate (``-k file``) read the same file, so the operator keeps a
single copy of the secret.  dnspython has no parser for this syntax; the file
is one ``key "name" { algorithm alg; secret "base64"; };`` statement.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

import dns.name
import dns.tsig

from bootstrap.errors import ConfigError

_KEY = re.compile(
    r'key\s+"?(?P<name>[^"\s{]+)"?\s*\{(?P<body>[^}]*)\}\s*;',
    re.S,
)
_ALG = re.compile(r"algorithm\s+\"?(?P<alg>[\w.-]+)\"?\s*;")
_SECRET = re.compile(r'secret\s+"(?P<secret>[^"]+)"\s*;')

ALGORITHMS = {
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}


def parse(text: str, where: str, algorithm: str = "") -> dns.tsig.Key:
    """The first key in ``text``; ``algorithm`` (if set) must match the file's."""
    m = _KEY.search(text)
    if m is None:
        raise ConfigError(f"{where} holds no BIND key statement (make it with tsig-keygen)")
    alg_m = _ALG.search(m["body"])
    sec_m = _SECRET.search(m["body"])
    if alg_m is None or sec_m is None:
        raise ConfigError(f"{where}: key {m['name']} lacks an algorithm or a secret")
    alg = alg_m["alg"].lower()
    if alg not in ALGORITHMS:
        raise ConfigError(f"{where}: TSIG algorithm {alg} is not supported (use hmac-sha256)")
    if algorithm and algorithm != alg:
        raise ConfigError(f"{where}: key uses {alg} but [dns] algorithm is {algorithm}")
    try:
        base64.b64decode(sec_m["secret"], validate=True)
    except binascii.Error:
        raise ConfigError(f"{where}: the secret of key {m['name']} is not base64") from None
    return dns.tsig.Key(dns.name.from_text(m["name"]), sec_m["secret"], ALGORITHMS[alg])


def load(path: str, algorithm: str = "") -> dns.tsig.Key:
    """Read and parse the key file at ``path`` (never logs the secret)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"[dns] tsig_key_file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"[dns] tsig_key_file {path} cannot be read: {exc.strerror}") from None
    return parse(text, f"[dns] tsig_key_file {path}", algorithm)
