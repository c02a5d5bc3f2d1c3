"""The operations layer and the CLI use the stores' public API only, and ``metaxy.ops`` exports it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import metaxy.ops

PACKAGE = Path(metaxy.ops.__file__).parent.parent
LAYERS = sorted([*(PACKAGE / "ops").glob("*.py"), *(PACKAGE / "cli").glob("*.py")])


def _private_calls(path: Path) -> list[str]:
    """``obj._name`` on anything but ``self``/``cls`` (a private member of another object)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id in ("self", "cls", "typer", "sys"):
            continue
        found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", LAYERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_private_member_of_a_store_is_used(path: Path) -> None:
    assert _private_calls(path) == []


def test_no_private_store_module_is_imported() -> None:
    for path in LAYERS:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("metaxy.stores._"), f"{path.name} imports {node.module}"


def test_ops_exports_its_named_api() -> None:
    assert {"copy_metadata", "count_impact", "migrate_data_versions", "store_status"} <= set(
        metaxy.ops.__all__
    )
    for name in metaxy.ops.__all__:
        assert getattr(metaxy.ops, name).__doc__, name
