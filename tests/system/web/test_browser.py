"""A real browser (Debian's Chromium driven by Playwright) against a real server:
log in, enroll mn@example.com, see its HoA and HA, watch a binding appear live,
revoke it, find the revocation in the audit log.  Screenshots go to docs/screenshots/."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright, expect

from bootstrap.services import bindings, home_agents, subscribers
from bootstrap.web.app import create_app
from tests.support.web import PASSWORDS, SETUP, World

PORT = 18081
SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _populate(world: World) -> None:
    """A few more subscribers and bindings so the dashboard shows something."""
    home_agents.add(world.store, SETUP, "ha2.example.com", "example.com", "2001:db8:1::2",
                    capacity=500, settings=world.settings)
    home_agents.heartbeat(world.store, "ha1.example.com")
    home_agents.heartbeat(world.store, "ha2.example.com")
    for i, name in enumerate(("alice", "bob", "carol")):
        e = subscribers.enroll(world.store, world.settings, SETUP, f"{name}@example.com")
        bindings.sa_up(world.store, e.subscriber.home_agent or "", bindings.LiveSa(
            str(i + 1), e.subscriber.identity, f"198.51.100.{10 + i}", 4500,
            (str(e.subscriber.hoas[0]),)))
    subscribers.suspend(world.store, world.settings, SETUP, "carol@example.com")


async def test_operator_enrolls_and_revokes_in_chromium(world: World) -> None:
    _populate(world)
    server = TestServer(create_app(world.settings, world.store), host="127.0.0.1", port=PORT)
    await server.start_server()
    base = f"http://127.0.0.1:{PORT}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 860})
                await page.goto(f"{base}/subscribers")
                await expect(page).to_have_url(re.compile(r"/login\?next=(/|%2F)subscribers$"))
                await page.get_by_label("Name").fill("admin")
                await page.get_by_label("Password").fill(PASSWORDS["admin"])
                await page.get_by_role("button", name="Log in").click()
                await expect(page).to_have_url(f"{base}/subscribers")

                await page.get_by_label("Identity", exact=True).fill("mn@example.com")
                await page.get_by_role("button", name="Enroll").click()
                await expect(page.locator("h1")).to_have_text("Enrolled mn@example.com")
                sub = subscribers.get(world.store, "mn@example.com")
                ha = subscribers.ha_of(world.store, "mn@example.com")
                assert ha is not None
                await expect(page.locator("#hoa")).to_have_text(str(sub.hoas[0]))
                await expect(page.locator("#ha")).to_have_text(f"{ha.fqdn} ({ha.address})")
                await expect(page.locator("#secret")).not_to_be_empty()

                await page.get_by_role("link", name="Go to the subscriber's page").click()
                await expect(page).to_have_url(f"{base}/subscribers/mn@example.com")
                await expect(page.locator("#hoa")).to_have_text(str(sub.hoas[0]))
                await expect(page.locator("#ha")).to_contain_text(ha.fqdn)
                await expect(page.locator("#fqdn")).to_have_text("mn.example.com")
                await expect(page.locator("#bindings tbody")).to_contain_text("No bindings yet")
                # the MN comes up on its HA: the page's script shows it without a reload
                await asyncio.to_thread(bindings.sa_up, world.store, ha.fqdn, bindings.LiveSa(
                    "9", "mn@example.com", "198.51.100.77", 4500, (str(sub.hoas[0]),)))
                await expect(page.locator("#bindings tbody")).to_contain_text(
                    "198.51.100.77:4500", timeout=8000)
                await page.screenshot(path=str(SHOTS / "subscriber.png"), full_page=True)

                await page.get_by_role("button", name="Revoke").click()
                await expect(page.locator("#state")).to_have_text("revoked")
                await expect(page.locator("#hoa")).to_have_text("-")

                await page.get_by_role("link", name="Audit log", exact=True).click()
                row = page.locator("#audit tbody tr").first
                await expect(row).to_contain_text("subscriber.revoke")
                await expect(row).to_contain_text("mn@example.com")
                await expect(row).to_contain_text("admin")

                await page.get_by_role("link", name="Dashboard").click()
                await expect(page.locator("h1")).to_have_text("Dashboard")
                await page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
            finally:
                await browser.close()
    finally:
        await server.close()
    assert (SHOTS / "dashboard.png").stat().st_size > 10_000
    assert (SHOTS / "subscriber.png").stat().st_size > 10_000
