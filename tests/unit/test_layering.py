"""Design rules checked on the source, so a wrong import fails a test instead of a review.

- The four faces (``dhcp_hinfo``, ``dns_updater``, ``ikev2_glue``, ``bootstrap.web``) never
  import each other.
- A face never imports the composition root ``bootstrap.daemon``: it gets a
  ``bootstrap.context.ServiceContext``.  It reaches the store through the service layer
  (``bootstrap.services``); where it names the store handle as a type it imports
  ``from bootstrap.context import Store``, not ``bootstrap.store.engine``.
- The core (``bootstrap`` without ``bootstrap.web``) imports a face only lazily, inside the
  functions of the ``bootstrapctl dns`` group that drives the publisher and of
  ``bootstrapctl export`` / ``radius config`` that the strongSwan face writes; the daemon and
  ``bootstrap.faces`` load faces by module name.
- The pure modules (codecs, policies, plans) import no asyncio, socket, SQLAlchemy or
  prometheus_client, neither themselves nor through any project module they import: they are
  functions of (state, input, now), and their unit tests need nothing else.

Imports are read with :mod:`ast` (also those inside functions and ``TYPE_CHECKING`` blocks);
relative imports are resolved to full module names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bootstrap", "dhcp_hinfo", "dns_updater", "ikev2_glue")
FACES = ("dhcp_hinfo", "dns_updater", "ikev2_glue", "bootstrap.web")
IO_MODULES = ("asyncio", "socket", "sqlalchemy", "prometheus_client")
# faces checked to import nothing of bootstrap.store (bootstrap.web still names the store
# type as bootstrap.store.engine.Store in app, metrics, pages and routing)
STORE_FREE_FACES = ("dhcp_hinfo", "dns_updater", "ikev2_glue", "bootstrap.web")
PURE = (
    "dhcp_hinfo.wire6",
    "dhcp_hinfo.wire4",
    "dhcp_hinfo.policy",
    "dhcp_hinfo.names",
    "dhcp_hinfo.links",
    "dhcp_hinfo.ratelimit",
    "dns_updater.wire",
    "dns_updater.plan",
    "dns_updater.sendplan",
    "ikev2_glue.plan",
    "ikev2_glue.profile",
    "ikev2_glue.drain",
    "ikev2_glue.model",
    "bootstrap.domain",
    "bootstrap.rules",
    "bootstrap.dnsrecords",
    "bootstrap.ha_health",
)
# the one core module allowed to import a face, and only inside its functions
LAZY_FACE_USERS = ("bootstrap.cli.dns", "bootstrap.cli.ikev2", "bootstrap.cli.ha_failover")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def path_of(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def project_modules() -> Iterator[tuple[str, Path]]:
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            yield module_name(path), path


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def imports_of(path: Path, top_level_only: bool = False) -> set[str]:
    """Full names of the modules ``path`` imports; ``from a import b`` yields a and a.b."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(p for p in [*base_parts, node.module or ""] if p)
            else:
                base = node.module or ""
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def face_of(module: str) -> str | None:
    # bootstrap.web is checked before the core it sits in
    return next((f for f in FACES if under(module, f)), None)


def test_faces_do_not_import_each_other() -> None:
    bad = []
    for name, path in project_modules():
        face = face_of(name)
        if face is None:
            continue
        others = {m for m in imports_of(path) if face_of(m) not in (None, face)}
        if others:
            bad.append(f"{name} imports {sorted(others)}")
    assert not bad, "\n".join(bad)


def test_faces_do_not_import_the_daemon() -> None:
    bad = []
    for name, path in project_modules():
        if face_of(name) is None:
            continue
        hits = {m for m in imports_of(path) if under(m, "bootstrap.daemon")}
        if hits:
            bad.append(f"{name} imports {sorted(hits)}")
    assert not bad, "\n".join(bad)


def test_faces_do_not_import_the_store() -> None:
    bad = []
    for name, path in project_modules():
        if face_of(name) not in STORE_FREE_FACES:
            continue
        hits = {m for m in imports_of(path) if under(m, "bootstrap.store")}
        if hits:
            bad.append(f"{name} imports {sorted(hits)}")
    assert not bad, "\n".join(bad)


def test_core_imports_faces_only_lazily_from_the_cli_groups() -> None:
    bad = []
    for name, path in project_modules():
        if not under(name, "bootstrap") or face_of(name) is not None:
            continue
        lazy_ok = name in LAZY_FACE_USERS
        found = imports_of(path, top_level_only=lazy_ok)
        faces = {m for m in found if face_of(m) is not None}
        if faces:
            bad.append(f"{name} imports {sorted(faces)}")
    assert not bad, "\n".join(bad)


def io_imports_reachable_from(start: str) -> dict[str, set[str]]:
    """For each project module reachable from ``start`` (parents included), its I/O imports."""
    seen: set[str] = set()
    todo = [start]
    found: dict[str, set[str]] = {}
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        path = path_of(mod)
        if path is None:
            continue
        parent = mod.rpartition(".")[0]
        if parent:
            todo.append(parent)  # importing a.b runs a/__init__.py first
        for imp in imports_of(path):
            if any(under(imp, io) for io in IO_MODULES):
                found.setdefault(mod, set()).add(imp)
            elif any(under(imp, p) for p in PACKAGES):
                todo.append(imp)
    return found


def test_pure_modules_import_no_io() -> None:
    bad = []
    for mod in PURE:
        assert path_of(mod) is not None, f"{mod} is listed as pure but does not exist"
        for via, hits in sorted(io_imports_reachable_from(mod).items()):
            bad.append(f"{mod}: {via} imports {sorted(hits)}")
    assert not bad, "\n".join(bad)
