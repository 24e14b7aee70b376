"""Helpers of the browser tests: Debian's Chromium under Playwright, axe-core, screenshots.

* :data:`CHROMIUM` / :data:`CHROMIUM_ARGS`: the system browser, no downloads.
* :func:`axe_violations`: runs axe-core (``scripts/axe.sh`` installs the npm package into
  ``tests/system/web/axe``) inside the page, through the DevTools protocol so the page's own
  CSP stays in force, and returns the serious and critical violations.
* :func:`shoot`: a full-page screenshot into ``docs/screenshots`` when ``UPDATE_SCREENSHOTS=1``
  (one deliberate run, then commit), else into a temporary directory, so a test run never
  changes the working tree.
* :func:`contrast`: the WCAG contrast ratio of two CSS colours.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
AXE = ROOT / "tests" / "system" / "web" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def axe_source() -> str:
    if not AXE.is_file():
        raise AssertionError(f"{AXE} is missing: run scripts/axe.sh (make test does)")
    return AXE.read_text(encoding="utf-8")


async def axe_violations(page: Page, source: str) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(source + "\n;true")
    result: dict[str, Any] = await page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "nodes": [n["target"] for n in v["nodes"][:5]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def shots_dir(tmp: Path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        return DOCS_SHOTS
    tmp.mkdir(parents=True, exist_ok=True)
    return tmp


async def shoot(page: Page, where: Path, name: str) -> Path:
    path = where / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def _luminance(rgb: tuple[float, float, float]) -> float:
    def chan(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (chan(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def parse_rgb(css: str) -> tuple[float, float, float]:
    m = re.match(r"rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)", css)
    assert m, css
    return float(m.group(1)), float(m.group(2)), float(m.group(3))


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(parse_rgb(a)), _luminance(parse_rgb(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)
