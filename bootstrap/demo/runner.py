"""Runs the acts in order, narrates each with its duration, writes the report, cleans up.

:func:`run_demo` is the one entry point of ``make demo`` and of the suite's demo test: it
returns the :class:`Summary` (one :class:`ActResult` per act that ran) and, unless ``keep``,
has stopped every process and deleted every namespace before it returns, also when an act
failed or the operator pressed Ctrl-C.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import peers, report
from .acts import ACTS, Demo
from .lab import Lab, LabError

WEB_PORTS = range(18080, 18180)


@dataclass
class ActResult:
    """One row of the summary: the act, what it checked, how long it took, whether it held."""

    name: str
    checked: str
    seconds: float
    ok: bool
    start: float
    end: float


@dataclass
class Summary:
    acts: list[ActResult] = field(default_factory=list)
    failure: str | None = None
    report: Path | None = None
    logs: Path | None = None
    tag: str = ""
    web_url: str | None = None
    web_password: str | None = None
    pids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None and len(self.acts) == len(ACTS) and all(
            a.ok for a in self.acts)


def run_demo(root: Path, keep: bool = False, say: Callable[[str], None] = print) -> Summary:
    """Run every act in a lab under ``root``; stop at the first failure with one sentence."""
    root.mkdir(parents=True, exist_ok=True)
    lab = Lab(root)
    demo = Demo(lab)
    summary = Summary(tag=lab.tag, logs=lab.logs)
    try:
        for name, act in ACTS:
            say(f"== act {name} ...")
            start = time.monotonic()
            try:
                checked, ok = act(demo), True
            except LabError as exc:
                checked, ok = str(exc), False
            end = time.monotonic()
            summary.acts.append(ActResult(name, checked, end - start, ok,
                                          start - demo.t0, end - demo.t0))
            say(f"   {'ok' if ok else 'NOT OK'} ({end - start:.1f} s): {checked}")
            if not ok:
                summary.failure = f"act {name}: {checked}"
                break
        demo.stop_sampler()
        if keep and demo.operator_config is not None:
            summary.web_url, summary.web_password = _start_web(demo)
    except KeyboardInterrupt:
        summary.failure = "interrupted by the operator"
        raise
    finally:
        demo.stop_sampler()
        summary.report = report.write(root, summary, demo.samples, time.monotonic() - demo.t0)
        summary.pids = [p.pid for p in lab.processes]
        if not keep:
            lab.teardown()
    return summary


def _start_web(demo: Demo) -> tuple[str, str]:
    """The web UI on 127.0.0.1 over the demo's store, with a fresh one-time admin password."""
    lab = demo.lab
    port = WEB_PORTS[secrets.randbelow(len(WEB_PORTS))]
    listen = f"127.0.0.1:{port}"
    db = f"sqlite:///{lab.root / 'store' / 'bootstrap.db'}"
    key = lab.root / "named" / "mip6-demo.key"
    cfg = peers.bootstrap_config(lab, db, "web", None, key, web_listen=listen)
    proc = lab.start("bootstrapd-web", [str(peers.BIN / "bootstrapd"), "--config", str(cfg),
                                        "--only", "web"])
    marker = "with password "
    lab.wait_log(proc, marker, 20)
    text = proc.log.read_text()
    password = text.split(marker, 1)[1].split()[0]
    proc.log.write_text(text.replace(password, "<shown once on the terminal>"))
    return f"http://{listen}/", password


def main_run(root: Path, keep: bool) -> int:
    """``make demo``: the narrated run; exit 0 only when every act held."""
    summary = run_demo(root, keep=keep)
    print()
    print(report.table(summary))
    print(f"\nlogs: {summary.logs}\nreport: {summary.report}")
    if summary.failure:
        print(f"\nThe demo stopped: {summary.failure}", file=sys.stderr)
    if keep and summary.web_url:
        print(f"\nThe lab stays up (make demo-clean removes it). Web UI: {summary.web_url} "
              f"user admin, one-time password {summary.web_password}")
    return 0 if summary.ok else 1
