"""Design rules checked on the source: the three protocol faces never import each other,
and the core imports a face only from its composition roots (the daemon and the lazy CLI map)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FACES = ("dhcp_hinfo", "dns_updater", "ikev2_glue")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_faces_do_not_import_each_other() -> None:
    for face in FACES:
        for path in (ROOT / face).rglob("*.py"):
            others = imports_of(path) & (set(FACES) - {face})
            assert not others, f"{path.relative_to(ROOT)} imports {sorted(others)}"


def test_core_does_not_import_faces_statically() -> None:
    for path in (ROOT / "bootstrap").rglob("*.py"):
        faces = imports_of(path) & set(FACES)
        if path.name == "dns.py" and path.parent.name == "cli":
            continue  # the 'bootstrapctl dns' group drives the DNS publisher (loaded lazily)
        if path.name == "ikev2.py" and path.parent.name == "cli":
            continue  # 'bootstrapctl export/radius' (loaded lazily)
        assert not faces, f"{path.relative_to(ROOT)} imports {sorted(faces)}"
