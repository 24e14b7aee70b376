"""A private PostgreSQL server of one test: initdb, start, stop, kill -9, on a free loopback port.

The shared server at 127.0.0.1:5432 serves every engineer's tests, so a test that takes the
store away (stop, kill -9) runs its own: ``initdb`` in the test's directory as the unprivileged
``postgres`` user (the server refuses root), trust auth, listening on 127.0.0.1 only, on a port
picked free at start.  Stopped by pid in ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

BIN = Path("/usr/lib/postgresql/15/bin")
OWNER = "postgres"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = list(args)
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", OWNER, "--", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:1])} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r


class Server:
    """One PostgreSQL data directory and its postmaster."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port or free_port()
        self.log = root / "server.log"

    def _reachable(self) -> None:
        """The owner must reach the directory through its parents (a test's files may make
        its tmp_path 0700 meanwhile, so this runs before every start)."""
        if os.geteuid() != 0:
            return
        pw = pwd.getpwnam(OWNER)
        os.chown(self.root, pw.pw_uid, pw.pw_gid)
        for parent in self.root.parents:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                os.chmod(parent, mode | 0o001)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self._reachable()
        _as_owner(str(BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", OWNER,
                  "--no-sync")

    def init_standby_of(self, primary: Server, name: str = "standby1") -> None:
        """A streaming standby of ``primary`` (pg_basebackup -R: it follows on its own)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._reachable()
        _as_owner(str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                  "-U", OWNER, "-D", str(self.data), "-R", "-X", "stream", "-c", "fast",
                  "-d", f"application_name={name}")

    @property
    def pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def start(self, timeout: float = 30.0) -> None:
        self._reachable()
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                "-c fsync=off -c max_connections=60")
        _as_owner(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts,
                  "-w", "-t", str(int(timeout)), "start")

    def stop(self) -> None:
        _as_owner(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop",
                  check=False)

    def kill9(self) -> None:
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=OWNER, dbname="postgres",
                               autocommit=True, connect_timeout=5)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{OWNER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
        return self.url(name)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.admin():
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def cleanup(self) -> None:
        """Stop the server (fast, then by pid) and remove its files."""
        pid = self.pid
        self.stop()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_server(root: Path) -> Iterator[Server]:
    server = Server(root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()
