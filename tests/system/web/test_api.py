"""The REST API /api/v1: every endpoint with a valid and an invalid request.

Errors must be JSON ``{"error": "..."}`` with a 4xx status and one clear
sentence, never a trace.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient

from bootstrap import migrate
from bootstrap.services import audit, home_agents, operators, subscribers
from bootstrap.store.engine import Store
from bootstrap.web.app import create_app, route_specs
from tests.support.web import SETUP, World


@pytest.fixture
def world(world_both: World) -> World:
    """The API tests run on both store backends."""
    return world_both


async def call(
    client: TestClient, world: World, method: str, path: str, role: str = "admin",
    body: Any = None, raw: str | None = None,
) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": world.bearer(role)}
    if body is not None:
        kwargs["json"] = body
    if raw is not None:
        kwargs["data"] = raw
        kwargs["headers"] = {**world.bearer(role), "Content-Type": "application/json"}
    resp = await client.request(method, path, **kwargs)
    if resp.content_type == "application/json":
        data = await resp.json()
        if resp.status < 300:
            check_documented(client, method, path, data)
        return resp.status, data
    return resp.status, await resp.read()


def check_documented(client: TestClient, method: str, path: str, data: Any) -> None:
    """A successful response has the shape the OpenAPI document promises."""
    bare = path.split("?")[0]
    for spec in route_specs(client.app):
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(spec.path))
        if spec.method == method and re.fullmatch(pattern, bare):
            assert spec.returns is not None, f"{method} {spec.path} documents no response"
            jsonschema.validate(data, spec.returns, cls=jsonschema.Draft202012Validator)
            return
    raise AssertionError(f"no route spec for {method} {path}")


def assert_error(status: int, data: Any, want: int, *words: str) -> None:
    assert status == want, (status, data)
    assert isinstance(data, dict) and set(data) == {"error"}, data
    msg = data["error"]
    assert "Traceback" not in msg and "File \"" not in msg
    for w in words:
        assert w in msg, msg


async def enroll(client: TestClient, world: World, identity: str = "mn@example.com",
                 **extra: Any) -> dict[str, Any]:
    status, data = await call(client, world, "POST", "/api/v1/subscribers", "operator",
                              {"identity": identity, **extra})
    assert status == 201, data
    return dict(data)


# ---------------------------------------------------------------- me, dashboard


async def test_me_names_the_token_and_its_role(client: TestClient, world: World) -> None:
    status, data = await call(client, world, "GET", "/api/v1/me", "viewer")
    assert (status, data) == (200, {"name": "t-viewer", "role": "viewer", "kind": "token"})


async def test_unknown_token_and_bad_scheme_are_401(client: TestClient) -> None:
    r = await client.get("/api/v1/me", headers={"Authorization": "Bearer mip6bs_nope"})
    assert_error(r.status, await r.json(), 401, "unknown")
    r = await client.get("/api/v1/me", headers={"Authorization": "Basic YTpi"})
    assert_error(r.status, await r.json(), 401, "Bearer")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_dashboard_counts_states(client: TestClient, world: World) -> None:
    await enroll(client, world)
    status, data = await call(client, world, "GET", "/api/v1/dashboard", "viewer")
    assert status == 200
    assert data["subscribers"] == {"active": 1, "suspended": 0, "revoked": 0}
    assert [h["fqdn"] for h in data["home_agents"]] == ["ha1.example.com"]
    assert data["home_agents"][0]["assigned"] == 1
    assert data["home_agents"][0]["offered"] is True  # active and never monitored
    timeout = world.settings.store.heartbeat_timeout
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=timeout + 5)
    home_agents.heartbeat(world.store, "ha1.example.com", now=stale)
    status, data = await call(client, world, "GET", "/api/v1/dashboard", "viewer")
    assert data["home_agents"][0]["offered"] is False
    assert data["dns_outbox"]["depth"] >= 1  # the enrollment's AAAA/PTR wait for the publisher
    assert data["live_bindings"] == 0


# ---------------------------------------------------------------- subscribers


async def test_enroll_returns_hoa_ha_and_secret_once(client: TestClient, world: World) -> None:
    data = await enroll(client, world, ipv4=True)
    assert data["identity"] == "mn@example.com"
    assert data["fqdn"] == "mn.example.com"
    assert data["hoa"].startswith("2001:db8:1:")
    assert data["hoa4"].startswith("192.0.2.")
    assert data["ha"] == {"fqdn": "ha1.example.com", "address": "2001:db8:1::1", "ipv4": None}
    assert data["credential"]["type"] == "eap" and len(data["credential"]["secret"]) >= 16
    status, shown = await call(client, world, "GET", "/api/v1/subscribers/mn@example.com",
                               "viewer")
    assert status == 200
    assert "credential" not in shown and data["credential"]["secret"] not in str(shown)
    entry = audit.recent(world.store, limit=5, target="mn@example.com")[0]
    assert (entry.action, entry.actor, entry.source) == ("subscriber.enroll", "t-operator", "api")


async def test_enroll_rejects_bad_payloads(client: TestClient, world: World) -> None:
    cases: list[tuple[Any, int, str]] = [
        ({}, 422, "'identity' is required"),
        ({"identity": "no-at-sign"}, 422, "user@domain"),
        ({"identity": "mn@example.com", "auth": "psk"}, 422, "'auth' must be one of"),
        ({"identity": "mn@example.com", "ipv4": "yes"}, 422, "'ipv4' must be true or false"),
        ({"identity": "mn@example.com", "colour": 1}, 422, "unknown field 'colour'"),
        ({"identity": "mn@nowhere.example"}, 404, "network 'nowhere.example' does not exist"),
        (["mn@example.com"], 422, "must be a JSON object"),
    ]
    for body, want, words in cases:
        status, data = await call(client, world, "POST", "/api/v1/subscribers", "operator", body)
        assert_error(status, data, want, words)
    status, data = await call(client, world, "POST", "/api/v1/subscribers", "operator",
                              raw="{not json")
    assert_error(status, data, 400, "not valid JSON")
    await enroll(client, world)
    status, data = await call(client, world, "POST", "/api/v1/subscribers", "operator",
                              {"identity": "mn@example.com"})
    assert_error(status, data, 409, "already enrolled")


async def test_viewer_cannot_enroll(client: TestClient, world: World) -> None:
    status, data = await call(client, world, "POST", "/api/v1/subscribers", "viewer",
                              {"identity": "mn@example.com"})
    assert_error(status, data, 403, "operator role")


async def test_list_search_filter_paginate(client: TestClient, world: World) -> None:
    for i in range(5):
        await enroll(client, world, f"mn{i}@example.com")
    await call(client, world, "POST", "/api/v1/subscribers/mn3@example.com/suspend", "operator")
    status, data = await call(client, world, "GET", "/api/v1/subscribers?limit=2&offset=1",
                              "viewer")
    assert status == 200
    assert data["total"] == 5 and [s["identity"] for s in data["items"]] == [
        "mn1@example.com", "mn2@example.com"]
    status, data = await call(client, world, "GET", "/api/v1/subscribers?state=suspended",
                              "viewer")
    assert [s["identity"] for s in data["items"]] == ["mn3@example.com"]
    status, data = await call(client, world, "GET", "/api/v1/subscribers?search=mn4", "viewer")
    assert [s["identity"] for s in data["items"]] == ["mn4@example.com"]
    status, data = await call(client, world, "GET", "/api/v1/subscribers?limit=0", "viewer")
    assert_error(status, data, 422, "'limit' must be between 1 and 500")
    status, data = await call(client, world, "GET", "/api/v1/subscribers?limit=x", "viewer")
    assert_error(status, data, 422, "'limit' must be an integer")
    # the schema says integer: an empty value is not one (schemathesis found /audit?offset=)
    status, data = await call(client, world, "GET", "/api/v1/audit?offset=", "viewer")
    assert_error(status, data, 422, "'offset' must be an integer")
    status, data = await call(client, world, "GET", "/api/v1/subscribers?state=gone", "viewer")
    assert_error(status, data, 422, "state must be one of")


async def test_get_subscriber_and_unknown_is_404(client: TestClient, world: World) -> None:
    made = await enroll(client, world)
    status, data = await call(client, world, "GET", "/api/v1/subscribers/mn@example.com",
                              "viewer")
    assert status == 200
    assert data["hoa"] == made["hoa"] and data["ha"]["fqdn"] == "ha1.example.com"
    assert data["bindings"] == []
    status, data = await call(client, world, "GET", "/api/v1/subscribers/who@example.com",
                              "viewer")
    assert_error(status, data, 404, "'who@example.com' does not exist")


async def test_suspend_resume_revoke(client: TestClient, world: World) -> None:
    await enroll(client, world)
    base = "/api/v1/subscribers/mn@example.com"
    status, data = await call(client, world, "POST", f"{base}/suspend", "operator")
    assert (status, data["state"]) == (200, "suspended")
    status, data = await call(client, world, "POST", f"{base}/suspend", "operator")
    assert_error(status, data, 409, "already suspended")
    status, data = await call(client, world, "POST", f"{base}/resume", "operator")
    assert (status, data["state"]) == (200, "active")
    status, data = await call(client, world, "POST", f"{base}/revoke", "operator")
    assert (status, data["state"], data["hoa"], data["ha"]) == (200, "revoked", None, None)
    status, data = await call(client, world, "POST", f"{base}/resume", "operator")
    assert_error(status, data, 409, "revoked and cannot be made active")
    status, data = await call(client, world, "POST",
                              "/api/v1/subscribers/x@example.com/revoke", "operator")
    assert_error(status, data, 404, "does not exist")
    status, data = await call(client, world, "POST", f"{base}/revoke", "viewer")
    assert_error(status, data, 403, "operator role")


async def test_bundle_is_a_swanctl_tarball_offered_once(client: TestClient, world: World) -> None:
    made = await enroll(client, world)
    status, data = await call(client, world, "POST",
                              "/api/v1/subscribers/mn@example.com/bundle", "operator")
    assert status == 200 and isinstance(data, bytes)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
        conf_member = tar.getmember("mn.example.com-swanctl/swanctl.conf")
        conf = tar.extractfile(conf_member).read().decode()  # type: ignore[union-attr]
    assert "mn.example.com-swanctl/x509ca/ca.pem" in names
    assert conf_member.mode == 0o600
    assert "remote_addrs = 2001:db8:1::1" in conf
    assert made["credential"]["secret"] in conf
    status, data = await call(client, world, "POST",
                              "/api/v1/subscribers/mn@example.com/bundle", "operator")
    assert_error(status, data, 409, "already downloaded once")
    status, data = await call(client, world, "POST",
                              "/api/v1/subscribers/none@example.com/bundle", "operator")
    assert_error(status, data, 404, "does not exist")


async def test_bundle_download_without_a_renderer_is_refused_and_spends_nothing(
    client: TestClient, world: World, aiohttp_client: Any
) -> None:
    await enroll(client, world)
    # an app built without the strongSwan face's writer (bootstrapd always passes one)
    bare = await aiohttp_client(create_app(world.settings, world.store))
    status, data = await call(bare, world, "POST",
                              "/api/v1/subscribers/mn@example.com/bundle", "operator")
    assert_error(status, data, 503, "bootstrapctl export")
    # the one download is still there for the real server
    status, data = await call(client, world, "POST",
                              "/api/v1/subscribers/mn@example.com/bundle", "operator")
    assert status == 200 and isinstance(data, bytes)


# ---------------------------------------------------------------- networks


async def test_networks_add_get_edit(client: TestClient, world: World) -> None:
    status, data = await call(client, world, "POST", "/api/v1/networks", "admin",
                              {"domain": "example.net", "prefix": "2001:db8:2::/64",
                               "zones": ["example.net"], "ha_info": "fqdn"})
    assert status == 201 and data == {"domain": "example.net", "prefix": "2001:db8:2::/64",
                                      "ipv4_pool": None, "zones": ["example.net"],
                                      "ha_info": "fqdn"}
    status, data = await call(client, world, "GET", "/api/v1/networks", "viewer")
    assert [n["domain"] for n in data] == ["example.com", "example.net"]
    status, data = await call(client, world, "GET", "/api/v1/networks/example.net", "viewer")
    assert (status, data["ha_info"]) == (200, "fqdn")
    status, data = await call(client, world, "PATCH", "/api/v1/networks/example.net", "admin",
                              {"zones": [], "ha_info": "both"})
    assert (status, data["zones"], data["ha_info"]) == (200, [], "both")


async def test_networks_reject_bad_payloads(client: TestClient, world: World) -> None:
    status, data = await call(client, world, "POST", "/api/v1/networks", "admin",
                              {"domain": "example.net", "prefix": "2001:db8:1:0:1::/80"})
    assert_error(status, data, 422, "prefix")
    status, data = await call(client, world, "POST", "/api/v1/networks", "admin",
                              {"domain": "example.net", "prefix": "2001:db8:1::/64"})
    assert_error(status, data, 409, "overlaps network 'example.com'")
    status, data = await call(client, world, "POST", "/api/v1/networks", "admin",
                              {"domain": "example.net"})
    assert_error(status, data, 422, "'prefix' is required")
    status, data = await call(client, world, "POST", "/api/v1/networks", "operator",
                              {"domain": "example.net", "prefix": "2001:db8:2::/64"})
    assert_error(status, data, 403, "admin role")
    status, data = await call(client, world, "PATCH", "/api/v1/networks/example.com", "admin",
                              {})
    assert_error(status, data, 422, "give zones or ha_info")
    status, data = await call(client, world, "PATCH", "/api/v1/networks/example.com", "admin",
                              {"ha_info": "all"})
    assert_error(status, data, 422, "'ha_info' must be one of")
    status, data = await call(client, world, "GET", "/api/v1/networks/nope.example", "viewer")
    assert_error(status, data, 404, "does not exist")


# ---------------------------------------------------------------- home agents


async def test_home_agents_add_get_drain_activate(client: TestClient, world: World) -> None:
    status, data = await call(client, world, "POST", "/api/v1/home-agents", "admin",
                              {"fqdn": "ha2.example.com", "network": "example.com",
                               "address": "2001:db8:1::2", "capacity": 5})
    assert status == 201 and data["state"] == "active" and data["capacity"] == 5
    status, data = await call(client, world, "GET", "/api/v1/home-agents", "viewer")
    assert [h["fqdn"] for h in data] == ["ha1.example.com", "ha2.example.com"]
    status, data = await call(client, world, "GET", "/api/v1/home-agents/ha2.example.com",
                              "viewer")
    assert (status, data["address"]) == (200, "2001:db8:1::2")
    status, data = await call(client, world, "POST",
                              "/api/v1/home-agents/ha2.example.com/drain", "admin")
    assert (status, data["state"]) == (200, "draining")
    status, data = await call(client, world, "POST",
                              "/api/v1/home-agents/ha2.example.com/activate", "admin")
    assert (status, data["state"]) == (200, "active")


async def test_home_agents_reject_bad_payloads(client: TestClient, world: World) -> None:
    good = {"fqdn": "ha2.example.com", "network": "example.com", "address": "2001:db8:1::2"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**good, "address": "2001:db8:9::2"}, 422, "not inside network"),
        ({**good, "address": "2001:db8:1::1"}, 409, "already belongs"),
        ({**good, "priority": 70000}, 422, "'priority' must be at most 65535"),
        ({**good, "capacity": "ten"}, 422, "'capacity' must be an integer"),
        ({**good, "network": "nope.example"}, 404, "does not exist"),
        ({"fqdn": "ha2.example.com"}, 422, "'network' is required"),
    ]
    for body, want, words in cases:
        status, data = await call(client, world, "POST", "/api/v1/home-agents", "admin", body)
        assert_error(status, data, want, words)
    status, data = await call(client, world, "POST",
                              "/api/v1/home-agents/nope.example.com/drain", "admin")
    assert_error(status, data, 404, "does not exist")
    status, data = await call(client, world, "POST",
                              "/api/v1/home-agents/ha1.example.com/drain", "operator")
    assert_error(status, data, 403, "admin role")
    status, data = await call(client, world, "GET", "/api/v1/home-agents/nope.example.com",
                              "viewer")
    assert_error(status, data, 404, "does not exist")


# ---------------------------------------------------------------- operators and tokens


async def test_operators_add_list_edit(client: TestClient, world: World) -> None:
    status, data = await call(client, world, "POST", "/api/v1/operators", "admin",
                              {"name": "carol", "role": "viewer",
                               "password": "carol-password-1"})
    assert status == 201 and data["role"] == "viewer" and "password" not in str(data)
    status, data = await call(client, world, "GET", "/api/v1/operators", "admin")
    assert [o["name"] for o in data] == ["admin", "carol", "oper", "view"]
    status, data = await call(client, world, "PATCH", "/api/v1/operators/carol", "admin",
                              {"role": "operator", "disabled": True})
    assert (status, data["role"], data["disabled"]) == (200, "operator", True)
    assert operators.authenticate(world.store, "carol", "carol-password-1") is None


async def test_operators_reject_bad_payloads(client: TestClient, world: World) -> None:
    status, data = await call(client, world, "POST", "/api/v1/operators", "admin",
                              {"name": "carol", "role": "viewer", "password": "short"})
    assert_error(status, data, 422, "at least 12 characters")
    status, data = await call(client, world, "POST", "/api/v1/operators", "admin",
                              {"name": "carol", "role": "root", "password": "x" * 12})
    assert_error(status, data, 422, "'role' must be one of")
    status, data = await call(client, world, "POST", "/api/v1/operators", "admin",
                              {"name": "oper", "role": "viewer", "password": "x" * 12})
    assert_error(status, data, 409, "already exists")
    status, data = await call(client, world, "POST", "/api/v1/operators", "admin",
                              {"name": "bad name", "role": "viewer", "password": "x" * 12})
    assert_error(status, data, 422, "letters, digits")
    status, data = await call(client, world, "PATCH", "/api/v1/operators/admin", "admin",
                              {"role": "viewer"})
    assert_error(status, data, 409, "last enabled admin")
    status, data = await call(client, world, "PATCH", "/api/v1/operators/nobody", "admin",
                              {"disabled": True})
    assert_error(status, data, 404, "does not exist")
    status, data = await call(client, world, "GET", "/api/v1/operators", "operator")
    assert_error(status, data, 403, "admin role")


async def test_tokens_create_use_revoke(client: TestClient, world: World) -> None:
    status, data = await call(client, world, "POST", "/api/v1/tokens", "admin",
                              {"name": "billing", "role": "operator", "days": 30})
    assert status == 201 and data["token"].startswith("mip6bs_") and data["expires_at"]
    raw = data["token"]
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert (await r.json())["role"] == "operator"
    status, listed = await call(client, world, "GET", "/api/v1/tokens", "admin")
    assert raw not in str(listed) and "billing" in [t["name"] for t in listed]
    status, data = await call(client, world, "DELETE", "/api/v1/tokens/billing", "admin")
    assert (status, data["revoked"]) == (200, True)
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert r.status == 401
    status, data = await call(client, world, "DELETE", "/api/v1/tokens/billing", "admin")
    assert_error(status, data, 409, "already revoked")
    status, data = await call(client, world, "DELETE", "/api/v1/tokens/nothing", "admin")
    assert_error(status, data, 404, "does not exist")
    status, data = await call(client, world, "POST", "/api/v1/tokens", "admin",
                              {"name": "x", "role": "operator", "days": 0})
    assert_error(status, data, 422, "'days' must be more than 0")
    status, data = await call(client, world, "POST", "/api/v1/tokens", "admin",
                              {"name": "t-admin", "role": "operator"})
    assert_error(status, data, 409, "already exists")


# ---------------------------------------------------------------- audit, misc


async def test_audit_lists_api_actions_with_the_token_name(
    client: TestClient, world: World
) -> None:
    await enroll(client, world)
    await call(client, world, "POST", "/api/v1/subscribers/mn@example.com/revoke", "operator")
    status, data = await call(client, world, "GET",
                              "/api/v1/audit?target=mn@example.com&limit=10", "viewer")
    assert status == 200
    assert [(e["action"], e["actor"], e["source"]) for e in data] == [
        ("subscriber.revoke", "t-operator", "api"),
        ("subscriber.enroll", "t-operator", "api"),
    ]
    status, data = await call(client, world, "GET", "/api/v1/audit?offset=-1", "viewer")
    assert_error(status, data, 422, "'offset' must be between")


async def test_unknown_api_path_and_method_are_json(client: TestClient, world: World) -> None:
    status, data = await call(client, world, "GET", "/api/v1/nothing-here", "viewer")
    assert_error(status, data, 404, "no such")
    status, data = await call(client, world, "PUT", "/api/v1/networks", "admin")
    assert_error(status, data, 405, "not allowed")


async def test_internal_errors_show_no_trace(client: TestClient, world: World,
                                             monkeypatch: Any) -> None:
    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(subscribers, "get", broken)
    status, data = await call(client, world, "GET", "/api/v1/subscribers/mn@example.com",
                              "viewer")
    assert_error(status, data, 500, "internal error")
    assert "secret internals" not in data["error"]


async def test_ca_certificate(client: TestClient, world: World, aiohttp_client: Any,
                              tmp_path: Path) -> None:
    status, data = await call(client, world, "GET", "/api/v1/ca", "viewer")
    assert status == 200 and data["ca_cert"].startswith("-----BEGIN CERTIFICATE-----")
    bare = Store(f"sqlite:///{tmp_path / 'bare.db'}")
    migrate.upgrade(bare)
    try:
        _, raw = operators.create_token(bare, SETUP, "v", "viewer")
        other = await aiohttp_client(create_app(world.settings, bare))
        resp = await other.get("/api/v1/ca", headers={"Authorization": f"Bearer {raw}"})
        assert_error(resp.status, await resp.json(), 404, "bootstrapctl ca init")
    finally:
        bare.dispose()
