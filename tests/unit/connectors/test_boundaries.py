"""connectors/ imports nothing of potok but itself (DESIGN.md: one folder per system)."""

from __future__ import annotations

import ast
from pathlib import Path

import connectors

OURS = ("engine", "handlers", "api", "tests")


def test_connectors_import_only_connectors() -> None:
    root = Path(connectors.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in OURS]
    assert offenders == []


def test_every_system_has_config_client_and_double() -> None:
    from connectors.sandboxes import SANDBOXES

    root = Path(connectors.__file__).parent
    for system in SANDBOXES:
        assert {"config.py", "client.py", "sandbox.py"} <= {
            p.name for p in (root / system).iterdir()
        }
    assert len(SANDBOXES) == 10
