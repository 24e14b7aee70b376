"""The operator UI in a real browser (Debian's Chromium driven by Playwright) against a real
server, at desktop (1280x800) and phone (390x844) size: what an operator sees and does.

One server, one browser and one logged-in context per viewport for the whole module (the
tests share the store and use identities of their own).  axe-core runs in every page; no
serious or critical violation is allowed.  Screenshots of every page go to a temporary
directory, or to docs/screenshots with ``UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from bootstrap.services import (
    audit,
    bindings,
    dashboard,
    home_agents,
    networks,
    stats,
    subscribers,
)
from bootstrap.store.models import HomeAddress
from bootstrap.web.app import create_app
from ikev2_glue.mn_bundle import renderer_for
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    axe_source,
    axe_violations,
    contrast,
    shoot,
    shots_dir,
)
from tests.support.web import PASSWORDS, SETUP, World, build_world

pytestmark = pytest.mark.asyncio(loop_scope="module")
IMPORT_ROWS = 10_000


def _populate(world: World) -> None:
    """A second HA, bindings, suspended subscribers, a network for the import test."""
    s, st = world.store, world.settings
    home_agents.add(s, SETUP, "ha2.example.com", "example.com", "2001:db8:1::2",
                    capacity=500, settings=st)
    for i, name in enumerate(("alice", "bob", "carol", "dave")):
        e = subscribers.enroll(s, st, SETUP, f"{name}@example.com")
        bindings.sa_up(s, e.subscriber.home_agent or "", bindings.LiveSa(
            str(i + 1), e.subscriber.identity, f"198.51.100.{10 + i}", 4500,
            (str(e.subscriber.hoas[0]),)))
    for i in range(60):
        subscribers.enroll(s, st, SETUP, f"user{i:02d}@example.com")
    for i in range(4):
        subscribers.enroll(s, st, SETUP, f"bulk{i}@example.com")
    subscribers.suspend(s, st, SETUP, "carol@example.com")
    networks.add(s, SETUP, "import.example", "2001:db8:5::/64", None, ["import.example"])
    home_agents.add(s, SETUP, "ha1.import.example", "import.example", "2001:db8:5::1",
                    capacity=20_000, settings=st)
    home_agents.add(s, SETUP, "spare.import.example", "import.example", "2001:db8:5::2",
                    capacity=10, settings=st)
    networks.add(s, SETUP, "full.example", "2001:db8:6::/64", None, [])
    home_agents.add(s, SETUP, "ha.full.example", "full.example", "2001:db8:6::1",
                    capacity=1, settings=st)
    _heartbeats(world)
    subscribers.enroll(s, st, SETUP, "only@full.example")


HAS = ("ha1.example.com", "ha2.example.com", "ha1.import.example", "spare.import.example",
       "ha.full.example")


def _heartbeats(world: World) -> None:
    for fqdn in HAS:
        home_agents.heartbeat(world.store, fqdn)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("browser-world"))
    _populate(w)
    try:
        yield w
    finally:
        w.store.dispose()


@pytest.fixture(autouse=True)
def alive(world: World) -> None:
    """The HAs' bridges would heartbeat; here each test does, so the HAs stay offered."""
    _heartbeats(world)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def base(world: World) -> AsyncIterator[str]:
    app = create_app(world.settings, world.store, renderer_for(world.settings))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        await server.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def _logged_in(browser: Browser, base: str, viewport: dict[str, int]) -> BrowserContext:
    ctx = await browser.new_context(viewport=viewport, base_url=base)  # type: ignore[arg-type]
    ctx.set_default_timeout(15_000)
    page = await ctx.new_page()
    await page.goto("/login")
    await page.get_by_label("Name").fill("admin")
    await page.get_by_label("Password").fill(PASSWORDS["admin"])
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("h1")).to_have_text("Dashboard")
    await page.close()
    return ctx


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def desk(browser: Browser, base: str) -> AsyncIterator[BrowserContext]:
    ctx = await _logged_in(browser, base, DESKTOP)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def phone(browser: Browser, base: str) -> AsyncIterator[BrowserContext]:
    ctx = await _logged_in(browser, base, PHONE)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture(params=["desktop", "phone"])
def kind(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def ctx(kind: str, request: pytest.FixtureRequest) -> BrowserContext:
    """The logged-in context of the viewport the test runs at (each test runs at both)."""
    fixture: BrowserContext = request.getfixturevalue("desk" if kind == "desktop" else "phone")
    return fixture


async def _open(ctx: BrowserContext, path: str) -> Page:
    page = await ctx.new_page()
    resp = await page.goto(path)
    assert resp is not None and resp.ok, (path, resp and resp.status)
    return page


async def _enroll(page: Page, identity: str) -> None:
    await page.goto("/subscribers/new")
    await page.get_by_label("Identity", exact=True).fill(identity)
    await page.get_by_role("button", name="Enroll", exact=True).click()
    await expect(page.locator("h1")).to_have_text(f"Enrolled {identity}")


# ---------------------------------------------------------------- 1: forms, PRG, messages


async def test_bad_identity_keeps_the_input_and_shows_the_error_beside_the_field(
    ctx: BrowserContext,
) -> None:
    page = await _open(ctx, "/subscribers")
    await page.get_by_role("link", name="Enroll a subscriber").click()
    await page.get_by_label("Identity", exact=True).fill("not-an-identity")
    await page.get_by_label("FQDN").fill("kept.example.com")
    await page.get_by_role("button", name="Enroll", exact=True).click()
    field = page.get_by_label("Identity", exact=True)
    await expect(field).to_have_value("not-an-identity")
    await expect(page.get_by_label("FQDN")).to_have_value("kept.example.com")
    await expect(field).to_have_attribute("aria-invalid", "true")
    error = page.locator("#e-identity")
    await expect(error).to_contain_text("user@domain")
    await expect(field).to_have_accessible_description(re.compile("user@domain"))
    box_f, box_e = await field.bounding_box(), await error.bounding_box()
    assert box_f and box_e and 0 <= box_e["y"] - (box_f["y"] + box_f["height"]) < 60
    await page.get_by_label("Identity", exact=True).fill("mn@nowhere.example")
    await page.get_by_role("button", name="Enroll", exact=True).click()
    await expect(page.locator("#e-network")).to_contain_text("nowhere.example")
    await expect(page.locator("#e-network")).not_to_contain_text("bootstrapctl")
    await page.close()


async def test_reload_after_enroll_neither_enrolls_twice_nor_errors(
    ctx: BrowserContext, kind: str, world: World
) -> None:
    ident = f"reload-{kind}@example.com"
    page = await ctx.new_page()
    await _enroll(page, ident)
    await expect(page.locator("h1")).to_have_text(f"Enrolled {ident}")
    await expect(page).to_have_url(re.compile(r"/done/[\w-]+$"))
    secret = await page.locator("#secret").text_content()
    assert secret and len(secret) >= 16
    resp = await page.reload()
    assert resp is not None and resp.status == 200
    await expect(page.locator("h1")).to_have_text(f"Enrolled {ident}")
    await expect(page.locator("#secret-gone")).to_be_visible()
    assert secret not in await page.content()
    entries = audit.search(world.store, audit.AuditQuery(action="subscriber.enroll",
                                                         target=ident))
    assert len(entries) == 1
    await page.close()


async def test_suspend_asks_and_a_short_message_says_what_was_done(
    desk: BrowserContext, world: World
) -> None:
    page = await _open(desk, "/subscribers/user01@example.com")
    await page.get_by_role("link", name="Suspend").click()
    await expect(page.locator(".consequences")).to_contain_text("keeps its home address")
    assert subscribers.get(world.store, "user01@example.com").state.value == "active"
    await page.get_by_role("button", name="Suspend user01@example.com").click()
    await expect(page.locator(".flash")).to_contain_text("Suspended user01@example.com")
    await expect(page.locator("#state")).to_have_text("suspended")
    await page.get_by_role("button", name="Resume").click()
    await expect(page.locator(".flash")).to_contain_text("Resumed user01@example.com")
    await page.close()


# ---------------------------------------------------------------- 2: confirmations, results


async def test_drain_asks_first_and_reports_how_many_moved_where(
    desk: BrowserContext, world: World
) -> None:
    on_ha1 = subscribers.list_page(world.store, "example.com", None, None, 1000)[0]
    n = sum(1 for s in on_ha1 if s.home_agent == "ha1.example.com"
            and s.state.value != "revoked")
    assert n > 20
    page = await _open(desk, "/home-agents/ha1.example.com")
    await page.get_by_role("link", name="Drain").click()
    await expect(page.locator("h1")).to_have_text("Drain ha1.example.com?")
    await expect(page.locator(".consequences")).to_contain_text(
        f"{n:,} subscribers move to ha2.example.com.")
    assert home_agents.get(world.store, "ha1.example.com").state.value == "active"
    await page.get_by_role("button", name="Drain ha1.example.com").click()
    await expect(page.locator(".outcome")).to_contain_text(
        f"{n:,} subscribers moved: {n:,} to ha2.example.com.")
    assert home_agents.get(world.store, "ha2.example.com").assigned >= n
    await page.get_by_role("link", name="Back to ha1.example.com").click()
    await page.get_by_role("button", name="Activate").click()
    await expect(page.locator(".flash")).to_contain_text("Activated ha1.example.com")
    await page.close()


async def test_revoke_asks_then_reenrollment_gives_a_new_home_address(
    desk: BrowserContext, world: World
) -> None:
    old = subscribers.get(world.store, "dave@example.com").hoas[0]
    page = await _open(desk, "/subscribers/dave@example.com")
    await page.get_by_role("link", name="Revoke").click()
    await expect(page.locator(".consequences")).to_contain_text(str(old))
    await page.get_by_role("button", name="Revoke dave@example.com").click()
    await expect(page.locator("h1")).to_have_text("Revoked dave@example.com")
    await expect(page.locator(".outcome")).to_contain_text("quarantined")
    await page.get_by_role("link", name="Back to dave@example.com").click()
    await page.get_by_role("link", name="Enroll again").click()
    await expect(page.locator(".consequences")).to_contain_text("quarantine")
    await page.get_by_role("button", name="Enroll dave@example.com again").click()
    await expect(page.locator("h1")).to_have_text("Enrolled dave@example.com")
    new = subscribers.get(world.store, "dave@example.com")
    assert new.state.value == "active" and new.hoas[0] != old
    await expect(page.locator("#hoa")).to_have_text(str(new.hoas[0]))
    with world.store.session() as s:
        kept = s.query(HomeAddress).filter_by(address=str(old)).one()
        assert kept.released_at is not None and kept.quarantine_until is not None
    await page.close()


# ---------------------------------------------------------------- 4: lists


async def test_list_filters_sorting_page_numbers_and_size(ctx: BrowserContext) -> None:
    page = await _open(ctx, "/subscribers")
    await page.get_by_label("State").select_option("suspended")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#subscribers tbody")).to_contain_text("carol@example.com")
    await expect(page.locator("#subscribers tbody")).not_to_contain_text("alice@example.com")
    await page.goto("/subscribers?network=example.com&size=25")
    await page.get_by_role("link", name="Identity").click()  # already ascending: now descending
    await expect(page.locator("#subscribers thead th[aria-sort='descending']")).to_have_count(1)
    first = page.locator("#subscribers tbody tr").first
    await expect(first).to_contain_text("user59@example.com")
    await page.get_by_role("link", name="Page 2").click()
    await expect(page.locator("#count")).to_contain_text("page 2 of")
    await expect(page.locator("nav.pages [aria-current=page]")).to_have_text("2")
    await expect(page.locator("#subscribers tbody tr")).to_have_count(25)
    await page.goto("/subscribers?home_agent=ha.full.example")
    await expect(page.locator("#count")).to_contain_text("1 subscriber match")
    await page.close()


async def test_bulk_suspend_asks_first_and_reports(desk: BrowserContext, world: World) -> None:
    page = await _open(desk, "/subscribers?q=bulk")
    for i in range(3):
        await page.get_by_role("checkbox", name=f"Choose bulk{i}@example.com").check()
    await page.get_by_role("button", name="Suspend", exact=True).click()
    await expect(page.locator("h1")).to_have_text("Suspend 3 subscribers?")
    await expect(page.locator(".consequences")).to_contain_text("bulk2@example.com")
    assert subscribers.get(world.store, "bulk0@example.com").state.value == "active"
    await page.get_by_role("button", name="Suspend 3").click()
    await expect(page.locator("h1")).to_have_text("Suspended 3 of 3")
    for i in range(3):
        assert subscribers.get(world.store, f"bulk{i}@example.com").state.value == "suspended"
    assert subscribers.get(world.store, "bulk3@example.com").state.value == "active"
    await page.close()


# ---------------------------------------------------------------- 3: import, export, QR, CA


async def test_csv_upload_reports_progress_then_counts_and_its_export_reimports(
    desk: BrowserContext, world: World, tmp_path: Path
) -> None:
    rows = [f"imp{i:05d}@import.example,,import.example" for i in range(IMPORT_ROWS)]
    upload = tmp_path / "subscribers.csv"
    upload.write_text("identity,fqdn,network,auth\n" + "\n".join(rows) + "\nbad-line\n")
    page = await _open(desk, "/subscribers/import")
    await page.get_by_label("CSV file").set_input_files(str(upload))
    await page.get_by_role("button", name="Import").click()
    await expect(page.locator("#progress")).to_be_visible()
    await expect(page.locator("#progress-text")).to_contain_text(f"of {IMPORT_ROWS + 1:,} rows")
    await expect(page.locator("#import-summary")).to_contain_text(
        f"Done: {IMPORT_ROWS:,} subscribers enrolled, 0 already present, 1 rejected",
        timeout=240_000)
    await expect(page.locator("#rejected")).to_contain_text("bad-line")
    async with page.expect_download() as info:
        await page.get_by_role("button", name=re.compile("new EAP secrets")).click()
    got = (await info.value).path()
    secrets_rows = list(csv.reader(io.StringIO(Path(str(await got)).read_text())))
    assert len(secrets_rows) == IMPORT_ROWS + 1

    exported = await desk.request.get("/subscribers/export.csv?network=import.example")
    assert exported.ok
    lines = list(csv.reader(io.StringIO(await exported.text())))
    assert lines[0] == ["identity", "fqdn", "network", "auth"]
    assert sorted(r[0] for r in lines[1:]) == sorted(r.split(",")[0] for r in rows)
    assert all(r[1] == r[0].replace("@", ".") and r[2:] == ["import.example", "eap"]
               for r in lines[1:])
    again = tmp_path / "export.csv"
    again.write_text(await exported.text())
    before = subscribers.list_page(world.store, "import.example", None, None, 1)[1]
    await page.goto("/subscribers/import")
    await page.get_by_label("CSV file").set_input_files(str(again))
    await page.get_by_role("button", name="Import").click()
    await expect(page.locator("#import-summary")).to_contain_text(
        f"0 subscribers enrolled, {IMPORT_ROWS:,} already present, 0 rejected",
        timeout=120_000)
    assert subscribers.list_page(world.store, "import.example", None, None, 1)[1] == before
    await page.close()


async def test_mn_configuration_as_a_qr_code_once(desk: BrowserContext) -> None:
    page = await desk.new_page()
    await _enroll(page, "phone@example.com")
    await page.get_by_role("link", name=re.compile("MN configuration")).click()
    await page.get_by_role("button", name="Show swanctl.conf as a QR code").click()
    qr = page.get_by_role("img", name="QR code of the swanctl.conf of phone@example.com")
    await expect(qr).to_be_visible()
    box = await qr.bounding_box()
    assert box and box["width"] > 150
    await page.goto("/subscribers/phone@example.com/config")
    await expect(page.locator("main")).to_contain_text("handed out already")
    await page.close()


async def test_home_agent_edit_keeps_the_input_on_error_and_saves(desk: BrowserContext) -> None:
    page = await _open(desk, "/home-agents/spare.import.example")
    await page.get_by_label("Capacity").fill("0")
    await page.get_by_label("Weight").fill("7")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#e-capacity")).to_contain_text("capacity must be at least 1")
    await expect(page.get_by_label("Capacity")).to_have_value("0")
    await expect(page.get_by_label("Weight")).to_have_value("7")
    await page.get_by_label("Capacity").fill("12")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".flash")).to_contain_text("weight 7, capacity 12")
    await page.close()


# ---------------------------------------------------------------- 5: dashboard


async def test_dashboard_charts_banners_and_checklist_from_the_store(
    ctx: BrowserContext, world: World
) -> None:
    now = dt.datetime.now(dt.UTC)
    for hours in (30, 20, 10, 2):
        stats.sample(world.store, now - dt.timedelta(hours=hours))
    live = dashboard.live_bindings(world.store)
    page = await _open(ctx, "/")
    chart = page.locator("#chart-bindings svg")
    await expect(chart.locator("polyline.series")).to_have_count(1)
    points = await chart.locator("polyline.series").get_attribute("points")
    assert points and len(points.split()) >= 4
    await expect(chart.locator("desc")).to_contain_text(f"now live bindings {live}")
    bars = page.locator("#chart-enrollments rect.bar")
    await expect(bars).to_have_count(14)
    today = await bars.last.locator("title").text_content()
    assert today and int(today.split(": ")[1].replace(",", "")) > 60
    await expect(page.locator("#chart-ha-load polyline.series")).not_to_have_count(0)
    banners = page.locator(".banner")
    await expect(banners.filter(has_text="ha.full.example is full (1/1)")).to_have_count(1)
    await expect(banners.filter(has_text="DNS publisher is off")).to_have_count(1)
    checklist = page.locator(".checklist")
    await expect(checklist.get_by_role("link", name=re.compile("admin account"))).to_be_visible()
    await expect(checklist.locator("li.done")).to_have_count(3)
    await page.close()


# ---------------------------------------------------------------- 6: audit log


async def test_audit_log_reads_as_sentences_with_filters_and_links(ctx: BrowserContext) -> None:
    page = await _open(ctx, "/audit")
    await page.get_by_label("Action").select_option("subscriber.suspend")
    await page.get_by_role("button", name="Filter").click()
    rows = page.locator("#audit tbody tr")
    await expect(rows.first).to_contain_text("suspended")
    assert await rows.filter(has_text="revoked").count() == 0
    await page.goto("/audit?source=cli&target=carol%40example.com")
    await expect(rows.first).to_contain_text("pytest suspended carol@example.com")
    await rows.first.get_by_role("link", name="carol@example.com").click()
    await expect(page).to_have_url(re.compile(r"/subscribers/carol@example\.com$"))
    await page.goto("/audit?action=subscriber.enroll&target=alice%40example.com")
    await expect(rows.first).to_contain_text("enrolled alice@example.com on ")
    await expect(rows.first).not_to_contain_text("hoa=[")
    await page.close()


# ---------------------------------------------------------------- 7: phone, contrast, names


async def test_phone_menu_collapses_and_fits(phone: BrowserContext) -> None:
    page = await _open(phone, "/")
    nav = page.get_by_role("navigation", name="Main")
    toggle = page.get_by_role("button", name="Menu")
    await expect(nav).to_be_hidden()
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    for name in ("Dashboard", "Subscribers", "Home agents", "Networks", "DNS", "Audit log"):
        link = nav.get_by_role("link", name=name, exact=True)
        await expect(link).to_be_visible()
        box = await link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], name
    header = await page.locator("header").bounding_box()
    main = await page.locator("main").bounding_box()
    assert header and main and header["y"] + header["height"] <= main["y"] + 1
    await page.close()


async def test_controls_contrast_skip_link_and_row_specific_names(desk: BrowserContext) -> None:
    page = await _open(desk, "/subscribers/new")
    field = page.get_by_label("Identity", exact=True)
    border = await field.evaluate("e => getComputedStyle(e).borderTopColor")
    behind = await page.locator("form.grid").evaluate("e => getComputedStyle(e).backgroundColor")
    assert contrast(border, behind) >= 3.0, (border, behind)
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    await expect(skip).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    await page.goto("/operators")
    await expect(page.get_by_role("button", name="Set role of view")).to_have_count(1)
    await expect(page.get_by_role("link", name="Lock oper")).to_have_count(1)
    await expect(page.get_by_role("link", name="Revoke token t-viewer")).to_have_count(1)
    await page.goto("/subscribers?q=user0")
    await expect(page.get_by_role("checkbox", name="Choose user05@example.com")).to_have_count(1)
    await page.close()


# ---------------------------------------------------------------- every page: axe, shots


WIDER = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth && !e.closest('.scroll'))
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)"""
"""Elements that stick out of the viewport (outside a box that scrolls on its own)."""

PAGES = [
    ("dashboard", "/"),
    ("subscribers", "/subscribers"),
    ("subscriber", "/subscribers/alice@example.com"),
    ("enroll", "/subscribers/new"),
    ("confirm-revoke", "/subscribers/bob@example.com/revoke"),
    ("config", "/subscribers/alice@example.com/config"),
    ("import", "/subscribers/import"),
    ("home-agents", "/home-agents"),
    ("home-agent", "/home-agents/ha1.example.com"),
    ("home-agent-new", "/home-agents/new"),
    ("confirm-drain", "/home-agents/ha2.example.com/drain"),
    ("networks", "/networks"),
    ("network", "/networks/example.com"),
    ("network-new", "/networks/new"),
    ("dns", "/dns"),
    ("operators", "/operators"),
    ("audit", "/audit"),
]


async def test_every_page_passes_axe_fits_the_phone_and_is_photographed(
    ctx: BrowserContext, kind: str, browser: Browser, base: str, tmp_path: Path
) -> None:
    source = axe_source()
    where = shots_dir(tmp_path)
    page = await ctx.new_page()
    visited = []

    async def check(name: str) -> None:
        bad = await axe_violations(page, source)
        assert not bad, (name, bad)
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        view = await page.evaluate("() => window.innerWidth")
        assert width <= view, (name, width, view, await page.evaluate(WIDER))
        shot = await shoot(page, where, f"{name}-{kind}")
        assert shot.stat().st_size > 5_000
        visited.append(name)

    for name, path in PAGES:
        resp = await page.goto(path)
        assert resp is not None and resp.ok, (name, resp and resp.status)
        await check(name)
    # pages reached by doing something: an error at a field, a result, an import report
    await page.goto("/subscribers/new")
    await page.get_by_label("Identity", exact=True).fill("bad")
    await page.get_by_role("button", name="Enroll", exact=True).click()
    await check("enroll-error")
    await _enroll(page, f"shot-{kind}@example.com")
    await check("enrolled")
    await page.goto("/home-agents/spare.import.example/drain")
    await page.get_by_role("button", name="Drain spare.import.example").click()
    await check("drained")
    await page.goto("/home-agents/spare.import.example")
    await page.get_by_role("button", name="Activate").click()
    await page.goto(f"/subscribers/shot-{kind}@example.com/config")
    await expect(page.locator("main")).to_contain_text("handed out once")
    await page.get_by_role("button", name="Show swanctl.conf as a QR code").click()
    await check("qr-code")
    csv_file = tmp_path / "few.csv"
    csv_file.write_text(f"few-{kind}@import.example\nbad line\n")
    await page.goto("/subscribers/import")
    await page.get_by_label("CSV file").set_input_files(str(csv_file))
    await page.get_by_role("button", name="Import").click()
    await expect(page.locator("#import-summary")).to_be_visible()
    await check("import-report")
    await page.close()
    anon = await browser.new_page(viewport=PHONE if kind == "phone" else DESKTOP,
                                  base_url=base)  # type: ignore[arg-type]
    await anon.goto("/login")
    page = anon
    await check("login")
    await anon.close()
    assert len(visited) == len(PAGES) + 6


def test_screenshots_are_in_the_docs() -> None:
    """docs/web.md shows every page at both sizes, from the committed screenshots."""
    docs = Path(__file__).resolve().parents[3] / "docs"
    text = (docs / "web.md").read_text(encoding="utf-8")
    names = [n for n, _ in PAGES] + ["enroll-error", "enrolled", "drained", "qr-code",
                                     "import-report", "login"]
    for name in names:
        for kind in ("desktop", "phone"):
            rel = f"screenshots/{name}-{kind}.png"
            assert rel in text, rel
            assert (docs / rel).stat().st_size > 5_000, rel

