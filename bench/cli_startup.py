"""``bootstrapctl`` start-up: wall time and peak memory of whole processes, beside ``-c pass``.

Each command runs ``--runs`` times (default 5) as a fresh process against a
SQLite store holding ``--subscribers`` subscribers (default 100); printed are
the median wall time, the median CPU time (user + system: less noisy than
wall on a shared machine) and the largest maximum RSS of the runs (from
``os.wait4``, i.e. ``getrusage`` of that child), and the ratio of each
median to the peer's: the same interpreter running ``-c pass``.

    .venv/bin/python bench/cli_startup.py [--runs 5] [--subscribers 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
CTL = str(VENV_BIN / "bootstrapctl")


def measure(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float, float, float]:
    """(median wall s, median cpu s, max RSS MiB) over ``runs`` fresh processes."""
    walls, cpus, rss = [], [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - t0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv[1:])} failed: {err.strip()}")
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss = max(rss, usage.ru_maxrss)  # KiB on Linux
    return statistics.median(walls), statistics.median(cpus), rss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--subscribers", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "bootstrap.toml"
        cfg.write_text(
            f'[database]\nurl = "sqlite:///{tmp}/store.db"\n'
            f'[store]\nsecret_key_file = "{tmp}/secret.key"\ncredentials_dir = "{tmp}/creds"\n'
        )
        env = {**os.environ, "BOOTSTRAP_CONFIG": str(cfg), "BOOTSTRAP_DATABASE_URL": ""}
        setup = [
            ["db", "upgrade"],
            ["network", "add", "example.com", "--prefix", "2001:db8:1::/64"],
            [
                "ha",
                "add",
                "ha1.example.com",
                "--network",
                "example.com",
                "--address",
                "2001:db8:1::1",
            ],
        ]
        for cmd in setup:
            subprocess.run([CTL, *cmd], check=True, capture_output=True, env=env)
        csv = Path(tmp) / "subs.csv"
        csv.write_text("".join(f"mn{i}@example.com\n" for i in range(args.subscribers)))
        subprocess.run(
            [CTL, "import", str(csv), "--secrets-out", f"{tmp}/secrets.csv"],
            check=True,
            capture_output=True,
            env=env,
        )
        cases = [
            ("python3 -c pass", [sys.executable, "-c", "pass"]),
            ("bootstrapctl --help", [CTL, "--help"]),
            ("bootstrapctl show IDENTITY", [CTL, "show", "mn1@example.com"]),
            ("bootstrapctl list --json", [CTL, "list", "--json"]),
        ]
        print(
            f"{args.runs} runs each, median; SQLite store with {args.subscribers} subscribers;"
            f" load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'command':<28} {'wall s':>7} {'x peer':>7} {'cpu s':>7} {'x peer':>7} {'max MiB':>8}"
        )
        peer_wall = peer_cpu = 0.0
        for name, argv in cases:
            wall, cpu, mib = measure(argv, args.runs, env)
            if not peer_wall:
                peer_wall, peer_cpu = wall, cpu
            print(
                f"{name:<28} {wall:7.3f} {wall / peer_wall:7.1f} {cpu:7.3f} {cpu / peer_cpu:7.1f}"
                f" {mib:8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
