"""CSV import by upload (with progress) and CSV export of the current list filter.

The upload is parsed and enrolled by :mod:`bootstrap.services.bulk`, the
same code as ``bootstrapctl import`` (batched, a savepoint per row,
re-runnable: identities already present are counted, not refused).  It
runs as a job of this process; the job page shows a progress bar that a
small script keeps current (without it, a Refresh link) until the job is
done, then the counts and the per-line report.  The EAP secrets of new
subscribers are downloadable once, as CSV, from the job page.

The export writes the subscribers that match the list's filters in the
import's own format (``identity,fqdn,network,auth``), so exporting and
importing gives the same subscribers, FQDNs, networks and authentication.
"""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

from ..config import Settings
from ..context import Store
from ..errors import ValidationError
from ..services import bulk, subscriber_list
from ..services.actor import Actor
from . import pagekit
from .routing import SETTINGS, STORE, RouteTable, principal, run
from .templating import render
from .ui_subscribers import query_of

routes = RouteTable()
MAX_UPLOAD = 32 * 1024 * 1024
JOB_TTL = 3600.0
JOBS = web.AppKey("import_jobs", dict)


@dataclass
class Job:
    """One upload being enrolled; the worker thread updates it, the pages read it."""

    owner: str
    filename: str
    total: int
    done: int = 0
    finished: bool = False
    error: str | None = None
    result: bulk.ImportResult | None = None
    secrets_taken: bool = False
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def advance(self, n: int) -> None:
        with self.lock:
            self.done = min(self.total, self.done + n)

    @property
    def percent(self) -> int:
        return 100 if self.finished or not self.total else int(100 * self.done / self.total)


def _jobs(request: web.Request) -> dict[str, Job]:
    jobs: dict[str, Job] = request.app[JOBS]
    now = time.monotonic()
    for key in [k for k, j in jobs.items() if j.finished and now - j.started > JOB_TTL]:
        del jobs[key]
    return jobs


def _owner(request: web.Request) -> str:
    who = principal(request)
    return who.session_hash or f"{who.kind}:{who.name}"


def _job(request: web.Request) -> Job:
    job = _jobs(request).get(request.match_info["job"])
    if job is None or job.owner != _owner(request):
        raise web.HTTPNotFound(text="this import is not known here (jobs are kept for an hour)")
    return job


def _rows_in(text: str) -> int:
    """Data lines (as :func:`bulk.parse_csv` reads them: no blank, comment or header line)."""
    physical = text.splitlines()
    lines = [ln for ln in physical if ln.strip() and not ln.lstrip().startswith("#")]
    header = bool(physical) and physical[0].split(",")[0].strip().lower() == "identity"
    return len(lines) - header


@routes.add("GET", "/subscribers/import", "operator", "Form: import subscribers from CSV")
async def import_form(request: web.Request) -> web.Response:
    return render(request, "import.html", error=None)


def _work(store: Store, settings: Settings, actor: Actor, text: str, job: Job) -> None:
    try:
        job.result = bulk.import_rows(store, settings, actor, bulk.parse_csv(text.splitlines()),
                                      progress=job.advance)
    except Exception as exc:  # the job page reports it; the batches already done stay
        job.error = f"the import stopped: {type(exc).__name__}; the rows before it are enrolled"
    finally:
        job.finished = True


@routes.add("POST", "/subscribers/import", "operator",
            "Upload a CSV of identity[,fqdn,network,auth] rows and enroll them",
            max_body=MAX_UPLOAD)
async def upload(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    file = data.get("file")
    if not isinstance(file, web.FileField):
        return render(request, "import.html", status=422,
                      error="choose a CSV file to upload")
    try:
        text = file.file.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return render(request, "import.html", status=422,
                      error=f"{file.filename} is not UTF-8 text")
    if not _rows_in(text):
        return render(request, "import.html", status=422,
                      error=f"{file.filename} has no rows to import")
    job = Job(_owner(request), file.filename or "upload.csv", _rows_in(text))
    key = secrets.token_urlsafe(12)
    _jobs(request)[key] = job
    loop = asyncio.get_running_loop()
    loop.run_in_executor(None, _work, request.app[STORE], request.app[SETTINGS],
                         principal(request).actor, text, job)
    raise web.HTTPSeeOther(f"/subscribers/import/{key}")


@routes.add("GET", "/subscribers/import/{job}", "operator", "Progress and report of an import")
async def job_page(request: web.Request) -> web.Response:
    job = _job(request)
    return render(request, "import_job.html", job=job, key=request.match_info["job"])


@routes.add("GET", "/subscribers/import/{job}/progress", "operator",
            "How far an import is (JSON, for the progress bar)")
async def job_progress(request: web.Request) -> web.Response:
    job = _job(request)
    return web.json_response({"done": job.done, "total": job.total, "finished": job.finished})


@routes.add("POST", "/subscribers/import/{job}/secrets", "operator",
            "Download the new subscribers' EAP secrets of an import (once)")
async def job_secrets(request: web.Request) -> web.StreamResponse:
    await request.post()
    job = _job(request)
    if job.result is None or not job.result.secrets:
        raise pagekit.flash_to(request, f"/subscribers/import/{request.match_info['job']}",
                               "This import created no EAP secret.")
    with job.lock:
        if job.secrets_taken:
            raise ValidationError("the secrets of this import were downloaded already")
        job.secrets_taken = True
        rows, job.result.secrets = job.result.secrets, []
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["identity", "secret"])
    w.writerows(rows)
    return web.Response(
        body=buf.getvalue().encode(), content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="import-secrets.csv"'},
    )


def export_csv(store: Store, query: subscriber_list.Query) -> bytes:
    """The matches of ``query`` in the import's format."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(bulk.HEADER)
    for batch in subscriber_list.rows(store, query):
        w.writerows((s.identity, s.fqdn, s.network, s.auth.value) for s in batch)
    return buf.getvalue().encode()


@routes.add("GET", "/subscribers/export.csv", "viewer",
            "The subscribers of the current filter as CSV (the import's format)")
async def export(request: web.Request) -> web.Response:
    body = await run(export_csv, request.app[STORE], query_of(request))
    return web.Response(
        body=body, content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="subscribers.csv"'},
    )
