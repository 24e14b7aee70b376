"""The MN agent's layering: it runs on the mobile node, not in the hub.

``mn_agent`` may import the pure DHCPv6 codec ``dhcp_hinfo.wire6`` (with the
two pure modules it needs, ``names`` and ``errors``, which reach only
``bootstrap.domain``'s value objects) so the bytes the agent
sends and reads are the ones the responder is tested with; nothing else of
the project (no store, no service layer, no face's I/O).  No project module
imports the agent.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("bootstrap", "dhcp_hinfo", "dns_updater", "ikev2_glue", "migrations", "mn_agent")
ALLOWED = {"dhcp_hinfo.wire6", "dhcp_hinfo.errors", "dhcp_hinfo.names", "dhcp_hinfo"}


def modules_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_agent_imports_only_the_dhcpv6_codec_of_the_project() -> None:
    files = sorted((ROOT / "mn_agent").rglob("*.py"))
    assert files
    for path in files:
        ours = {m for m in modules_of(path) if m.split(".")[0] in PROJECT[:-1]}
        ours = {m for m in ours if m in ALLOWED or m.rpartition(".")[0] not in ALLOWED}
        assert ours <= ALLOWED, f"{path.relative_to(ROOT)} imports {sorted(ours - ALLOWED)}"


def test_the_codec_it_shares_stays_pure() -> None:
    """The codec reaches only the stdlib, dnspython and the pure value objects."""
    for name in ("wire6", "names", "errors"):
        mods = modules_of(ROOT / "dhcp_hinfo" / f"{name}.py")
        tops = {m.split(".")[0] for m in mods}
        assert not tops & {"asyncio", "socket", "sqlalchemy", "prometheus_client"}, name
        ours = {m for m in mods if m.split(".")[0] == "bootstrap"}
        assert {m for m in ours if not m.startswith("bootstrap.domain")} == set(), name


def test_nothing_imports_the_agent() -> None:
    for pkg in PROJECT[:-1]:
        for path in (ROOT / pkg).rglob("*.py"):
            assert "mn_agent" not in {m.split(".")[0] for m in modules_of(path)}, path
