"""The MN's charon, driven over VICI: load the bundle pointed at one HA, initiate, watch (thin).

The bundle's ``swanctl.conf`` stays the one description of the MN's
connection (made by the project's IKE profile); the agent writes a small
overlay (Jinja2 template ``overlay.conf.j2``) that includes it and sets only
``remote_addrs`` (and optionally ``dpd_delay``) into a run directory whose
credential folders link to the bundle's, then has ``swanctl`` (charon's own
VICI client, which parses that format) load it.  Initiating,
terminating and reading the SAs use the ``vici`` library directly.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import vici

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("mn_agent", "templates"),
    autoescape=False,  # strongSwan config, not HTML
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)


CREDENTIAL_DIRS = ("x509ca", "x509", "private", "pubkey", "rsa", "ecdsa", "pkcs8", "pkcs12")


class CharonError(Exception):
    """charon or swanctl refused or did not answer (one sentence)."""


@dataclass(frozen=True, slots=True)
class Sa:
    """Our IKE_SA as charon reports it."""

    uniqueid: str
    state: str
    remote: str
    vips: tuple[str, ...]

    @property
    def established(self) -> bool:
        return self.state == "ESTABLISHED"


def _text(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, dict):
        return {k: _text(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_text(x) for x in v]
    return v


class Charon:
    """One charon at ``socket_path`` and the bundle in ``bundle_dir``."""

    def __init__(self, socket_path: str, bundle_dir: Path, run_dir: Path,
                 conn: str = "home", child: str = "home", dpd_delay: float | None = None,
                 timeout: float = 15.0) -> None:
        self.socket_path = socket_path
        self.bundle_dir = bundle_dir.resolve()
        self.run_dir = run_dir
        self.conn = conn
        self.child = child
        self.dpd_delay = dpd_delay
        self.timeout = timeout

    def _session(self, timeout: float | None = None) -> vici.Session:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(timeout or self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as exc:
            sock.close()
            raise CharonError(f"charon's VICI socket {self.socket_path}: {exc}") from None
        return vici.Session(sock)

    def overlay(self, remote: str) -> Path:
        """Write the overlay that points the bundle's connection at ``remote``."""
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        dpd = f"{self.dpd_delay:g}" if self.dpd_delay else ""
        text = TEMPLATES.get_template("overlay.conf.j2").render(
            bundle_conf=self.bundle_dir / "swanctl.conf", conn=self.conn, child=self.child,
            remote=remote, dpd_delay=dpd,
        )
        # the run directory is a swanctl directory: credentials are the bundle's
        for sub in CREDENTIAL_DIRS:
            link = self.run_dir / sub
            if (self.bundle_dir / sub).is_dir() and not link.exists():
                link.symlink_to(self.bundle_dir / sub)
        path = self.run_dir / "swanctl.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def load(self, remote: str) -> None:
        """Credentials and the connection, aimed at ``remote`` (``swanctl --load-all``)."""
        conf = self.overlay(remote)
        env = dict(os.environ, SWANCTL_DIR=str(conf.parent))
        r = subprocess.run(
            ["swanctl", "--load-all", "--noprompt", "--uri", f"unix://{self.socket_path}"],
            capture_output=True, text=True, env=env, timeout=self.timeout,
        )
        if r.returncode != 0:
            last = (r.stderr or r.stdout).strip().splitlines()[-1:] or ["no output"]
            raise CharonError(f"swanctl --load-all failed: {last[0]}")

    def terminate_all(self) -> None:
        """Drop our IKE_SAs at once (no DELETE exchange with an HA that may be dead)."""
        s = self._session()
        try:
            for sa in self.sas():
                with contextlib.suppress(vici.exception.CommandException):
                    for _ in s.terminate({"ike-id": sa.uniqueid, "force": "yes",
                                          "timeout": "-1", "loglevel": "-1"}):
                        pass
        finally:
            s.transport.close()

    def initiate(self, timeout: float) -> None:
        """Bring up the child SA (and its IKE_SA); raises CharonError on failure."""
        s = self._session(timeout + 5)
        try:
            for _ in s.initiate({"child": self.child, "ike": self.conn,
                                 "timeout": str(int(timeout * 1000)), "loglevel": "-1"}):
                pass
        except vici.exception.CommandException as exc:
            raise CharonError(f"initiate failed: {exc}") from None
        except OSError as exc:
            raise CharonError(f"charon did not answer the initiate: {exc}") from None
        finally:
            s.transport.close()

    def sas(self) -> list[Sa]:
        """The IKE_SAs of our connection."""
        s = self._session()
        try:
            out = []
            for item in s.list_sas({"ike": self.conn}):
                for _name, v in _text(item).items():
                    vips = tuple(v.get("local-vips", []) or [])
                    out.append(Sa(str(v.get("uniqueid", "")), str(v.get("state", "")),
                                  str(v.get("remote-host", "")), vips))
            return out
        except OSError as exc:
            raise CharonError(f"charon did not answer list-sas: {exc}") from None
        finally:
            s.transport.close()
