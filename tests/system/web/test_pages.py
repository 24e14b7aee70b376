"""The server-rendered pages without JavaScript: login, roles, forms, headers, sessions."""

from __future__ import annotations

import io
import re
import tarfile
from typing import Any

from aiohttp.test_utils import TestClient

from bootstrap.freshness import FRESHNESS
from bootstrap.services import audit, operators, subscribers
from bootstrap.store.engine import Store
from bootstrap.web.app import create_app
from tests.support.web import World, csrf_of, login


async def test_login_sets_a_hardened_cookie_and_logout_ends_the_session(
    client: TestClient, world: World
) -> None:
    page = await client.get("/login")
    token = csrf_of(await page.text())
    resp = await client.post("/login", data={"name": "view", "password": "view-password-123",
                                             "csrf_token": token, "next": "/audit"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/audit"
    cookie = resp.cookies["mip6bs_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert operators.session_count(world.store, "view") == 1
    home = await client.get("/")
    assert home.status == 200 and "view (viewer)" in await home.text()
    csrf = csrf_of(await home.text())
    resp = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login"
    assert operators.session_count(world.store, "view") == 0
    client.session.cookie_jar.update_cookies({"mip6bs_session": cookie.value})
    resp = await client.get("/", allow_redirects=False)
    assert resp.status == 303  # the old cookie no longer opens a session
    actions = [e.action for e in audit.recent(world.store, limit=5, target="view")]
    assert actions[:2] == ["operator.logout", "operator.login"]


async def test_open_redirect_is_refused(client: TestClient) -> None:
    page = await client.get("/login")
    resp = await client.post("/login", data={
        "name": "view", "password": "view-password-123", "csrf_token": csrf_of(await page.text()),
        "next": "//evil.example/"}, allow_redirects=False)
    assert resp.headers["Location"] == "/"


async def test_wrong_password_then_rate_limit(client: TestClient, world: World) -> None:
    page = await client.get("/login")
    token = csrf_of(await page.text())
    for _ in range(3):
        resp = await client.post("/login", data={"name": "oper", "password": "wrong-password!",
                                                 "csrf_token": token})
        assert resp.status == 401 and "wrong name or password" in await resp.text()
    resp = await client.post("/login", data={"name": "oper", "password": "oper-password-123",
                                             "csrf_token": token})
    assert resp.status == 429 and "too many failed logins" in await resp.text()
    fails = [e for e in audit.recent(world.store, limit=10, target="oper")
             if e.action == "operator.login_failed"]
    assert len(fails) == 3 and "wrong-password" not in str(fails)


async def test_security_headers_and_no_store(client: TestClient, world: World) -> None:
    await login(client, "admin")
    for path in ("/", "/login", "/subscribers", "/api/v1/me"):
        resp = await client.get(path)
        h = resp.headers
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], path
        assert "script-src 'self'" in h["Content-Security-Policy"]
        assert h["X-Frame-Options"] == "DENY"
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Cache-Control"] == "no-store", path
    resp = await client.get("/static/live.js")
    assert resp.headers["Cache-Control"].startswith("public")


async def test_enroll_show_suspend_resume_revoke_through_forms(
    client: TestClient, world: World
) -> None:
    csrf = await login(client, "oper")
    resp = await client.post("/subscribers", data={"identity": "mn@example.com",
                                                   "csrf_token": csrf, "ipv4": "on"},
                             allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/done/")
    result_url = resp.headers["Location"]
    resp = await client.get(result_url)
    html = await resp.text()
    sub = subscribers.get(world.store, "mn@example.com")
    assert str(sub.hoas[0]) in html and "ha1.example.com (2001:db8:1::1)" in html
    secret = re.search(r'id="secret">([^<]+)<', html)
    assert secret and resp.headers["Cache-Control"] == "no-store"
    # a reload shows the result again, without the secret, and enrolls nothing
    again = await client.get(result_url)
    text = await again.text()
    assert again.status == 200 and secret.group(1) not in text and "shown once already" in text
    assert len(audit.search(world.store, audit.AuditQuery(action="subscriber.enroll"))) == 1
    page = await (await client.get("/subscribers/mn@example.com")).text()
    assert str(sub.hoas[0]) in page and "mn.example.com" in page and str(sub.hoa4) in page
    assert secret.group(1) not in page
    # suspend asks first, then does it and says so on the subscriber's page
    ask = await client.post("/subscribers/mn@example.com/suspend", data={"csrf_token": csrf})
    assert ask.status == 200 and "What this will do" in await ask.text()
    assert subscribers.get(world.store, "mn@example.com").state.value == "active"
    resp = await client.post("/subscribers/mn@example.com/suspend",
                             data={"csrf_token": csrf, "confirm": "yes"})
    assert resp.url.path == "/subscribers/mn@example.com"
    text = await resp.text()
    assert 'id="state">suspended<' in text and "Suspended mn@example.com" in text
    resp = await client.post("/subscribers/mn@example.com/resume", data={"csrf_token": csrf})
    assert 'id="state">active<' in await resp.text()
    resp = await client.post("/subscribers/mn@example.com/revoke",
                             data={"csrf_token": csrf, "confirm": "yes"})
    assert resp.url.path.startswith("/done/")
    text = await resp.text()
    assert "Revoked mn@example.com" in text and f"{sub.hoas[0]}" in text and "quarantined" in text
    resp = await client.post("/subscribers/mn@example.com/resume", data={"csrf_token": csrf})
    assert resp.status == 409 and "cannot be made active" in await resp.text()


async def test_enroll_error_is_shown_at_the_field_with_the_input_kept(
    client: TestClient,
) -> None:
    csrf = await login(client, "oper")
    resp = await client.post("/subscribers", data={"identity": "bad", "fqdn": "kept.example.com",
                                                   "csrf_token": csrf})
    text = await resp.text()
    assert resp.status == 422 and "Traceback" not in text
    assert 'value="bad"' in text and 'value="kept.example.com"' in text
    field = re.search(r'<input id="f-identity"[^>]*>', text)
    assert field and 'aria-invalid="true"' in field.group(0)
    assert 'aria-describedby="e-identity' in field.group(0)
    error = re.search(r'<p class="field-error" id="e-identity">([^<]+)</p>', text)
    assert error and "user@domain" in error.group(1)
    resp = await client.post("/subscribers", data={"identity": "mn@nowhere.example",
                                                   "csrf_token": csrf})
    text = await resp.text()
    assert resp.status == 404 and 'id="e-network"' in text and "bootstrapctl" not in text


async def test_bundle_download_once_from_the_page(client: TestClient, world: World) -> None:
    csrf = await login(client, "oper")
    await client.post("/subscribers", data={"identity": "mn@example.com", "csrf_token": csrf})
    resp = await client.post("/subscribers/mn@example.com/bundle", data={"csrf_token": csrf})
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(await resp.read()), mode="r:gz") as tar:
        assert "mn.example.com-swanctl/swanctl.conf" in tar.getnames()
    page = await (await client.get("/subscribers/mn@example.com")).text()
    assert "downloaded already" in page and "/config" not in page
    resp = await client.post("/subscribers/mn@example.com/bundle", data={"csrf_token": csrf})
    assert resp.status == 409


async def test_search_and_pages(client: TestClient, world: World) -> None:
    for i in range(55):
        subscribers.enroll(world.store, world.settings, operators.Principal(
            "x", "admin", "token").actor, f"user{i:02d}@example.com")
    await login(client, "view")
    first = await (await client.get("/subscribers")).text()
    assert "55 subscribers match; page 1 of 2" in first and "user49@example.com" in first
    assert "user50@example.com" not in first and 'rel="next"' in first
    second = await (await client.get("/subscribers?page=2")).text()
    assert "user54@example.com" in second and 'rel="prev"' in second
    found = await (await client.get("/subscribers?q=user07")).text()
    assert "1 subscriber match;" in found and "user07@example.com" in found
    assert "/subscribers/new" not in first  # a viewer is not offered enrollment
    bad = await client.get("/subscribers?page=0")
    assert bad.status == 422


async def test_viewer_is_refused_changes_and_admin_pages(client: TestClient) -> None:
    csrf = await login(client, "view")
    resp = await client.post("/subscribers", data={"identity": "mn@example.com",
                                                   "csrf_token": csrf})
    assert resp.status == 403 and "needs the operator role" in await resp.text()
    assert (await client.get("/operators")).status == 403
    home = await (await client.get("/")).text()
    assert 'href="/operators"' not in home


async def test_admin_pages_networks_home_agents_operators_tokens(
    client: TestClient, world: World
) -> None:
    csrf = await login(client, "admin")
    resp = await client.post("/networks", data={
        "domain": "example.net", "prefix": "2001:db8:2::/64", "zones": "example.net",
        "ha_info": "fqdn", "csrf_token": csrf})
    assert resp.status == 200 and "Added network example.net" in await resp.text()
    resp = await client.post("/networks/example.net", data={
        "zones": "", "ha_info": "address", "csrf_token": csrf})
    assert resp.status == 200 and "Saved network example.net" in await resp.text()
    listing = await (await client.get("/networks")).text()
    assert 'href="/ca.pem"' in listing
    pem = await client.get("/ca.pem")
    assert (await pem.text()).startswith("-----BEGIN CERTIFICATE-----")
    edit = await (await client.get("/networks/example.net")).text()
    assert "<td>address</td>" in edit
    resp = await client.post("/home-agents", data={
        "fqdn": "ha2.example.net", "network": "example.net", "address": "2001:db8:2::1",
        "priority": "5", "weight": "", "capacity": "100", "csrf_token": csrf})
    assert resp.status == 200 and "Added home agent ha2.example.net" in await resp.text()
    resp = await client.post("/home-agents", data={
        "fqdn": "ha3.example.net", "network": "example.net", "address": "2001:db8:2::3",
        "priority": "high", "csrf_token": csrf})
    text = await resp.text()
    assert resp.status == 422 and 'id="e-priority">priority must be a whole number' in text
    assert 'value="ha3.example.net"' in text
    resp = await client.post("/home-agents/ha2.example.net",
                             data={"capacity": "250", "csrf_token": csrf})
    assert "capacity 250" in await resp.text()
    resp = await client.post("/home-agents/ha2.example.net/drain", data={"csrf_token": csrf})
    assert "What this will do" in await resp.text()
    resp = await client.post("/home-agents/ha2.example.net/drain",
                             data={"csrf_token": csrf, "confirm": "yes"})
    text = await resp.text()
    assert "now draining" in text and "No subscriber moved" in text
    resp = await client.post("/home-agents/ha2.example.net/activate", data={"csrf_token": csrf})
    assert "Activated ha2.example.net" in await resp.text()
    resp = await client.post("/operators", data={"name": "dave", "role": "operator",
                                                 "password": "dave-password-1",
                                                 "csrf_token": csrf})
    assert resp.status == 200 and "Added operator dave" in await resp.text()
    resp = await client.post("/operators/dave", data={"role": "operator", "action": "disable",
                                                      "csrf_token": csrf})
    assert "What this will do" in await resp.text() and not operators.get(
        world.store, "dave").disabled
    resp = await client.post("/operators/dave", data={"action": "disable", "confirm": "yes",
                                                      "csrf_token": csrf})
    assert operators.get(world.store, "dave").disabled
    await client.post("/operators/dave", data={"role": "viewer", "action": "enable",
                                               "password": "ignored-password", "csrf_token": csrf})
    dave = operators.get(world.store, "dave")
    assert (dave.disabled, dave.role) == (False, "operator")
    await client.post("/operators/dave", data={"role": "viewer", "action": "role",
                                               "csrf_token": csrf})
    await client.post("/operators/dave", data={"role": "viewer", "action": "password",
                                               "password": "dave-password-2", "csrf_token": csrf})
    assert operators.get(world.store, "dave").role == "viewer"
    assert operators.authenticate(world.store, "dave", "dave-password-2") is not None
    resp = await client.post("/operators/dave", data={"action": "password", "password": "short",
                                                      "csrf_token": csrf})
    assert resp.status == 422 and "at least 12 characters" in await resp.text()
    resp = await client.post("/tokens", data={"name": "script", "role": "viewer", "days": "",
                                              "csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 303
    shown = await client.get(resp.headers["Location"])
    raw = re.search(r'id="token">([^<]+)<', await shown.text())
    assert raw and operators.token_principal(world.store, raw.group(1)) is not None
    assert raw.group(1) not in await (await client.get(resp.headers["Location"])).text()
    await client.post("/tokens/script/revoke", data={"csrf_token": csrf})
    assert operators.token_principal(world.store, raw.group(1)) is not None  # asked first
    await client.post("/tokens/script/revoke", data={"csrf_token": csrf, "confirm": "yes"})
    assert operators.token_principal(world.store, raw.group(1)) is None
    log = await (await client.get("/audit")).text()
    for action in ("network.add", "network.update", "ha.add", "ha.update", "ha.draining",
                   "ha.active", "operator.add", "operator.update", "token.create",
                   "token.revoke"):
        assert f"({action})" in log, action


async def test_metrics_and_healthz(client: TestClient, world: World) -> None:
    subscribers.enroll(world.store, world.settings, operators.Principal(
        "x", "admin", "token").actor, "mn@example.com")
    resp = await client.get("/metrics", headers=world.bearer("viewer"))
    text = await resp.text()
    assert resp.status == 200 and resp.content_type == "text/plain"
    assert 'mip6bs_subscribers{state="active"} 1.0' in text
    assert 'mip6bs_home_agents{state="active"} 1.0' in text
    assert re.search(r"^mip6bs_dns_outbox_depth [1-9]", text, re.M)
    assert "mip6bs_bindings_live 0.0" in text
    assert "mip6bs_home_agents_offered 1.0" in text
    assert "mip6bs_web_requests_total" in text
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["status"] == "ok"


async def test_healthz_and_metrics_say_since_when_a_service_is_stale(
    client: TestClient, world: World
) -> None:
    """What a DHCP follower records when its refresh fails (bootstrap.freshness)."""
    FRESHNESS.refreshed("dhcp", "snapshot")
    FRESHNESS.failed("dhcp", "answering from the last snapshot")
    try:
        body = await (await client.get("/healthz")).json()
        dhcp = body["services"]["dhcp"]
        assert dhcp["stale_since"] is not None and dhcp["data_age_seconds"] >= 0
        assert dhcp["detail"] == "answering from the last snapshot"
        text = await (await client.get("/metrics", headers=world.bearer("viewer"))).text()
        assert re.search(r'^mip6bs_store_stale_seconds\{service="dhcp"\} [0-9.e-]+$', text, re.M)
    finally:
        FRESHNESS.refreshed("dhcp", "snapshot")
    body = await (await client.get("/healthz")).json()
    assert body["services"]["dhcp"]["stale_since"] is None


async def test_healthz_is_503_when_the_store_is_unreachable(
    aiohttp_client: Any, world: World
) -> None:
    broken = Store("sqlite:////nonexistent-dir/store.db")
    try:
        client = await aiohttp_client(create_app(world.settings, broken))
        resp = await client.get("/healthz")
        body = await resp.json()
        assert resp.status == 503 and body["status"] == "unavailable"
        assert "cannot be read" in body["error"]
        resp = await client.get("/api/v1/me", headers=world.bearer("viewer"))
        assert resp.status == 503
        assert await resp.json() == {
            "error": "store unavailable: it cannot be reached right now; try again later"}
    finally:
        broken.dispose()


async def test_login_again_ends_the_previous_session(client: TestClient, world: World) -> None:
    await login(client, "oper")
    await login(client, "oper")
    assert operators.session_count(world.store, "oper") == 1


async def test_metrics_include_the_faces_counters(client: TestClient, world: World) -> None:
    """bootstrapd runs every face in one process: their default-registry counters show up."""
    import importlib

    dhcp = importlib.import_module("dhcp_hinfo.metrics")
    importlib.import_module("dns_updater.publisher")
    importlib.import_module("ikev2_glue.bridge")
    dhcp.DROPPED.labels("6", "malformed").inc()
    text = await (await client.get("/metrics", headers=world.bearer("viewer"))).text()
    assert 'mip6bs_dhcp_dropped_total{family="6",reason="malformed"}' in text
    assert "# TYPE mip6bs_dns_updates_total counter" in text
    assert "# TYPE mip6bs_vici_events_total counter" in text
    assert 'mip6bs_subscribers{state="active"}' in text


async def test_hostile_login_names_are_escaped_in_the_audit_log(client: TestClient) -> None:
    page = await client.get("/login")
    token = csrf_of(await page.text())
    await client.post("/login", data={"name": "<script>alert(1)</script>", "password": "x",
                                      "csrf_token": token})
    await login(client, "view")
    log = await (await client.get("/audit")).text()
    assert "<script>alert(1)</script>" not in log
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in log
