"""Command line of the demo: ``python -m bootstrap.demo [run] [--keep] [--dir DIR] | clean``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import lab, runner

DEFAULT_DIR = Path("run/demo")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bootstrap.demo",
                                     description="One mobile node bootstrapping end to end.")
    parser.add_argument("command", nargs="?", choices=("run", "clean"), default="run")
    parser.add_argument("--keep", action="store_true",
                        help="leave the lab and the web UI running (remove with 'clean')")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help="where the logs, the store and report.html go (default run/demo)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("the demo builds network namespaces: run it as root (sudo make demo)",
              file=sys.stderr)
        return 2
    root = args.dir.resolve()
    if args.command == "clean":
        removed = lab.clean(root)
        print("removed " + ", ".join(removed) if removed else "nothing to remove")
        return 0
    if (root / lab.STATE_FILE).exists():
        print(f"a demo lab is still up under {root}: run 'make demo-clean' first",
              file=sys.stderr)
        return 1
    try:
        return runner.main_run(root, keep=args.keep)
    except KeyboardInterrupt:
        print("interrupted; the lab was removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
