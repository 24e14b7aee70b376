"""The MN configuration bundle as a one-time ``.tar.gz`` download.

The web face renders no swanctl itself and imports no other face: the
composition root (``bootstrapd``, or whoever calls :func:`~.app.create_app`)
hands it a renderer (:data:`bootstrap.services.bundle.Renderer`, the
strongSwan face's), and :func:`bootstrap.services.bundle.issue_once` applies
the "once, audited" rule shared with ``bootstrapctl export``.  Here the files
are only packed for a browser or script.
"""

from __future__ import annotations

import io
import tarfile
import time

from aiohttp import web

from ..config import Settings
from ..context import Store
from ..services import bundle
from ..services.actor import Actor
from .security import Refused

RENDERER: web.AppKey[bundle.Renderer] = web.AppKey("bundle_renderer")
"""The app's bundle renderer; absent when the app was built without one."""


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


def renderer_of(app: web.Application) -> bundle.Renderer:
    render: bundle.Renderer | None = app.get(RENDERER)
    if render is None:
        raise Refused(
            503,
            "this server was started without the strongSwan bundle writer;"
            " use 'bootstrapctl export' instead"
        )
    return render


def download_once(
    store: Store, settings: Settings, actor: Actor, identity: str, render: bundle.Renderer
) -> tuple[str, bytes]:
    """(file name, tar.gz bytes) of the subscriber's bundle; refused after the first time."""
    issued = bundle.issue_once(store, settings, actor, identity, render)
    top = f"{issued.input.sub.fqdn}-swanctl"
    return f"{top}.tar.gz", pack(top, issued.files)
