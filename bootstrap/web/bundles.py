"""The MN configuration bundle as a one-time ``.tar.gz`` download.

:mod:`bootstrap.services.bundle` builds the swanctl directory; here it is
packed for a browser or script.  The bundle holds the subscriber's secret
(EAP secret or private key), so it is offered once: the download is written
to the audit log as ``subscriber.bundle`` and a second request is refused
(revoke and re-enroll to issue a new credential).
"""

from __future__ import annotations

import io
import tarfile
import time

from aiohttp import web

from ..config import Settings
from ..errors import Conflict
from ..services import audit, bundle
from ..services.actor import Actor
from ..store.engine import Store

ACTION = "subscriber.bundle"


def already_downloaded(store: Store, identity: str) -> bool:
    """Whether the bundle of the subscriber's current credential was downloaded
    (a re-enrollment issues a new credential, and so a new bundle)."""
    for e in audit.recent(store, limit=1000, target=identity):
        if e.action == ACTION:
            return True
        if e.action == "subscriber.reenroll":
            return False
    return False


def pack(top: str, files: bundle.Files) -> bytes:
    """A gzipped tar of ``files`` under directory ``top`` with their modes."""
    buf = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            info.mode = mode
            info.mtime = now
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def as_response(name: str, data: bytes) -> web.Response:
    """The packed bundle as an attachment download (pages and API alike)."""
    return web.Response(
        body=data,
        content_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def download_once(
    store: Store, settings: Settings, actor: Actor, identity: str
) -> tuple[str, bytes]:
    """(file name, tar.gz bytes) of the subscriber's bundle; refused after the first time."""
    top, files = take_once(store, settings, actor, identity)
    return f"{top}.tar.gz", pack(top, files)


def take_once(
    store: Store, settings: Settings, actor: Actor, identity: str
) -> tuple[str, bundle.Files]:
    """(directory name, files) of the subscriber's bundle, audited; refused after the first
    time (the file download and the QR code both take it)."""
    inp = bundle.mn_bundle_input(store, settings, identity)
    ident = inp.sub.identity
    if already_downloaded(store, ident):
        raise Conflict(
            f"the configuration bundle of {ident!r} was already downloaded once;"
            " revoke and re-enroll the subscriber to issue a new credential"
        )
    files = bundle.mn_bundle(inp)
    with store.session() as s:
        audit.record(s, actor, ACTION, ident, files=sorted(files))
    return f"{inp.sub.fqdn}-swanctl", files
