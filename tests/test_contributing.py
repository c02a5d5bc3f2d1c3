"""What docs/contributing.md promises a new store: one table row is enough, and forgetting a list fails here."""

from __future__ import annotations

import importlib

import metaxy as mx
import metaxy.stores
from metaxy.stores.backends import BACKENDS, WRAPPER_KINDS


def test_every_store_of_the_backend_table_is_exported_by_both_facades() -> None:
    classes = {b.class_name for b in BACKENDS}
    assert classes <= set(mx.__all__)
    assert classes <= set(metaxy.stores.__all__)


def test_every_backend_lives_in_its_own_folder_with_the_same_file_names() -> None:
    for backend in BACKENDS:
        if backend.kind in WRAPPER_KINDS or backend.kind == "memory":
            continue
        assert backend.module == f"metaxy.stores.{backend.kind}"
        for part in ("store", "schema"):
            importlib.import_module(f"{backend.module}.{part}")
        assert getattr(importlib.import_module(backend.module), backend.class_name).kind == backend.kind


def test_every_backend_extra_is_declared_in_pyproject() -> None:
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    assert {b.extra for b in BACKENDS if b.extra} <= set(extras)
