"""The list query, bulk actions, re-enrollment and HA edit as the API and the CLI offer them
(the same service functions as the pages), on both store backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bootstrap.services import home_agents, subscriber_list, subscribers
from bootstrap.store.models import HomeAddress
from tests.support.web import SETUP, World

BOOTSTRAPCTL = Path(sys.executable).parent / "bootstrapctl"


@pytest.fixture
def world(world_both: World) -> World:
    return world_both


def _fill(world: World) -> None:
    home_agents.add(world.store, SETUP, "ha2.example.com", "example.com", "2001:db8:1::2",
                    settings=world.settings)
    for i in range(12):
        subscribers.enroll(world.store, world.settings, SETUP, f"m{i:02d}@example.com",
                           auth="cert" if i % 4 == 0 else "eap")
    subscribers.suspend(world.store, world.settings, SETUP, "m03@example.com")


async def test_api_list_filters_sorts_and_pages(client: TestClient, world: World) -> None:
    _fill(world)
    h = world.bearer("viewer")
    r = await client.get("/api/v1/subscribers?auth=cert&sort=identity&order=desc", headers=h)
    body = await r.json()
    assert r.status == 200 and [s["identity"] for s in body["items"]] == [
        "m08@example.com", "m04@example.com", "m00@example.com"]
    r = await client.get("/api/v1/subscribers?state=suspended", headers=h)
    assert [s["identity"] for s in (await r.json())["items"]] == ["m03@example.com"]
    on_ha2 = [s.identity for s in subscriber_list.page(
        world.store, subscriber_list.Query(home_agent="ha2.example.com", size=100)).items]
    r = await client.get("/api/v1/subscribers?home_agent=ha2.example.com&limit=100", headers=h)
    assert [s["identity"] for s in (await r.json())["items"]] == on_ha2
    r = await client.get("/api/v1/subscribers?sort=identity&limit=5&offset=10", headers=h)
    body = await r.json()
    assert body["total"] == 12 and [s["identity"] for s in body["items"]] == [
        "m10@example.com", "m11@example.com"]
    for bad, word in (("sort=colour", "sort"), ("order=up", "order"), ("auth=psk", "auth"),
                      ("home_agent=nope.example.com", "nope.example.com")):
        r = await client.get(f"/api/v1/subscribers?{bad}", headers=h)
        assert r.status in (404, 422) and word in (await r.json())["error"], bad
    r = await client.get("/api/v1/subscribers?search=_", headers=h)
    assert (await r.json())["total"] == 0  # '_' is a character, not a LIKE wildcard


async def test_api_bulk_changes_each_and_reports_refusals(
    client: TestClient, world: World
) -> None:
    _fill(world)
    r = await client.post("/api/v1/subscribers/bulk", headers=world.bearer("operator"), json={
        "action": "suspend", "identities": ["m01@example.com", "m03@example.com", "x@example.com"]})
    body = await r.json()
    assert r.status == 200 and body["done"] == ["m01@example.com"]
    assert {x["identity"] for x in body["refused"]} == {"m03@example.com", "x@example.com"}
    assert subscribers.get(world.store, "m01@example.com").state.value == "suspended"
    r = await client.post("/api/v1/subscribers/bulk", headers=world.bearer("viewer"),
                          json={"action": "revoke", "identities": ["m02@example.com"]})
    assert r.status == 403
    r = await client.post("/api/v1/subscribers/bulk", headers=world.bearer("operator"),
                          json={"action": "explode", "identities": ["m02@example.com"]})
    assert r.status == 422 and "action" in (await r.json())["error"]


def test_reenrollment_keeps_the_old_address_quarantined(world: World) -> None:
    first = subscribers.enroll(world.store, world.settings, SETUP, "again@example.com")
    old = first.subscriber.hoas[0]
    with pytest.raises(Exception, match="only a revoked subscriber"):
        subscribers.reenroll(world.store, world.settings, SETUP, "again@example.com")
    subscribers.revoke(world.store, world.settings, SETUP, "again@example.com")
    with pytest.raises(Exception, match="was revoked; enroll it again"):
        subscribers.enroll(world.store, world.settings, SETUP, "again@example.com")
    e = subscribers.reenroll(world.store, world.settings, SETUP, "again@example.com")
    assert e.secret and e.secret != first.secret and e.subscriber.hoas[0] != old
    sub = subscribers.get(world.store, "again@example.com")
    assert sub.state.value == "active" and sub.hoas == e.subscriber.hoas
    assert sub.fqdn == first.subscriber.fqdn and sub.home_agent is not None
    with world.store.session() as s:
        row = s.query(HomeAddress).filter_by(address=str(old)).one()
        assert row.released_at is not None and row.quarantine_until is not None


def _ctl(world: World, tmp: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    config = tmp / "bootstrap.toml"
    if not config.exists():
        config.write_text(f'[database]\nurl = "{world.settings.database.url}"\n'
                          f'[store]\nsecret_key_file = "{world.settings.store.secret_key_file}"\n'
                          f'credentials_dir = "{tmp / "creds"}"\n')
    r = subprocess.run([BOOTSTRAPCTL, "--config", str(config), *args], capture_output=True,
                       text=True, timeout=120, cwd=tmp,
                       env={**os.environ, "BOOTSTRAP_DATABASE_URL": ""})
    assert r.returncode == code, (args, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    return r


def test_cli_list_filters_reenroll_and_ha_edit(world: World, tmp_path: Path) -> None:
    _fill(world)
    out = json.loads(_ctl(world, tmp_path, "list", "--auth", "cert", "--sort", "identity",
                          "--desc", "--json").stdout)
    assert [s["identity"] for s in out] == ["m08@example.com", "m04@example.com",
                                           "m00@example.com"]
    out = json.loads(_ctl(world, tmp_path, "list", "--ha", "ha2.example.com", "--json").stdout)
    assert all(s["ha"] == "ha2.example.com" for s in out)
    r = _ctl(world, tmp_path, "list", "--sort", "colour", code=2)
    assert "sort must be one of" in r.stderr
    subscribers.revoke(world.store, world.settings, SETUP, "m05@example.com")
    again = json.loads(_ctl(world, tmp_path, "reenroll", "m05@example.com", "--json").stdout)
    assert again["identity"] == "m05@example.com" and again["secret"]
    r = _ctl(world, tmp_path, "reenroll", "m05@example.com", code=1)
    assert "only a revoked subscriber" in r.stderr
    ha = json.loads(_ctl(world, tmp_path, "ha", "edit", "ha2.example.com", "--weight", "7",
                         "--capacity", "900", "--json").stdout)
    assert (ha["weight"], ha["capacity"]) == (7, 900)
    r = _ctl(world, tmp_path, "ha", "edit", "ha2.example.com", "--capacity", "0", code=2)
    assert "capacity must be at least 1" in r.stderr
