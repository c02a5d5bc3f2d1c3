"""What docs/contributing.md promises a new store: six files, docs included, and everything else derived
from the backend table. Each test names what a new backend forgot."""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

import polars as pl
import pytest

import metaxy as mx
import metaxy.stores
from metaxy.stores import backends
from metaxy.stores._sql import SQLMetadataStore
from metaxy.stores.backends import BACKENDS, WRAPPER_KINDS, Backend, sql_dialect, sql_dialects
from metaxy.stores.base import MetadataStore
from metaxy.versioning.sql.dialects import SQLDialect
from tests.stores.spark.session import skip_without_java

REPO = Path(__file__).resolve().parents[1]
FOLDER_FILES = ("__init__.py", "store.py", "schema.py")
#: files that must never list stores one by one again (they derive from the backend table)
DERIVED_FILES = (
    "metaxy/__init__.py",
    "metaxy/stores/__init__.py",
    "metaxy/testing/pytest_plugin.py",
    "metaxy/versioning/sql/__init__.py",
    "metaxy/versioning/sql/dialects.py",
    "metaxy/versioning/sql/engine.py",
)
FOLDER_BACKENDS = [b for b in BACKENDS if (REPO / "metaxy/stores" / b.kind).is_dir()]


def _store_class(backend: Backend) -> type[MetadataStore]:
    store_class = getattr(importlib.import_module(backend.module), backend.class_name)
    assert issubclass(store_class, MetadataStore)
    return store_class


SQL_BACKENDS = [b for b in FOLDER_BACKENDS if issubclass(_store_class(b), SQLMetadataStore)]


def _typed_exports() -> dict[str, str]:
    """class name -> module, from the ``if TYPE_CHECKING:`` imports of backends.py."""
    tree = ast.parse((REPO / "metaxy/stores/backends.py").read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom) and imp.module and imp.module.startswith("metaxy.stores"):
                    found.update({alias.name: imp.module for alias in imp.names})
    return found


def test_the_guide_lists_six_files_and_duckdb_fits_them_exactly() -> None:
    guide = (REPO / "docs/contributing.md").read_text()
    section = guide[guide.index("## Adding a store") :]
    rows = re.findall(r"^\| \d \| `([^`]+)`", section, flags=re.MULTILINE)
    assert len(rows) <= 6, (
        f"docs/contributing.md promises a store in at most six files, its table lists {rows}"
    )
    duckdb = [r.replace("<kind>", "duckdb") for r in rows]
    assert all((REPO / path).is_file() for path in duckdb), duckdb
    folder = REPO / "metaxy/stores/duckdb"
    assert sorted(p.name for p in folder.glob("*.py")) == sorted(FOLDER_FILES)
    assert sorted(f"metaxy/stores/duckdb/{name}" for name in FOLDER_FILES) == sorted(
        p for p in duckdb if p.startswith("metaxy/stores/duckdb/")
    )
    shared = {p: (REPO / p).read_text() for p in duckdb if not p.startswith("metaxy/stores/duckdb/")}
    assert set(shared) == {"metaxy/stores/backends.py", "pyproject.toml", "docs/stores.md"}
    assert (
        'Backend("duckdb", "DuckDBMetadataStore", "metaxy.stores.duckdb", "duckdb")'
        in shared["metaxy/stores/backends.py"]
    )
    assert re.search(r"^duckdb = \[", shared["pyproject.toml"], flags=re.MULTILINE)
    assert "`DuckDBMetadataStore`" in shared["docs/stores.md"]


@pytest.mark.parametrize("backend", FOLDER_BACKENDS, ids=lambda b: b.kind)
def test_every_backend_lives_in_its_own_folder_with_the_same_file_names(backend: Backend) -> None:
    folder = REPO / "metaxy/stores" / backend.kind
    missing = [name for name in FOLDER_FILES if not (folder / name).is_file()]
    assert not missing, f"metaxy/stores/{backend.kind}/ lacks {missing} (docs/contributing.md, files 1-3)"
    assert backend.module == f"metaxy.stores.{backend.kind}"
    assert _store_class(backend).kind == backend.kind


def test_every_class_of_the_table_is_in_the_typed_exports_and_nothing_else() -> None:
    rows = {b.class_name: b.module for b in BACKENDS}
    assert sorted(backends.__all__) == sorted(rows), (
        "metaxy/stores/backends.py: __all__ must list exactly the classes of BACKENDS "
        f"(missing {sorted(set(rows) - set(backends.__all__))}, extra {sorted(set(backends.__all__) - set(rows))})"
    )
    typed = _typed_exports()
    for name, module in rows.items():
        assert name in typed, (
            f"metaxy/stores/backends.py: add `from {module} import {name}` under TYPE_CHECKING"
        )
        assert typed[name] == module or typed[name].startswith(module + "."), (name, typed[name], module)


def test_both_facades_export_every_class_of_the_table() -> None:
    classes = {b.class_name for b in BACKENDS}
    assert classes <= set(mx.__all__)
    assert classes <= set(metaxy.stores.__all__)
    for name in classes:
        assert getattr(mx, name) is getattr(metaxy.stores, name)


def test_no_file_lists_the_stores_one_by_one_again() -> None:
    names = {b.class_name for b in BACKENDS} | {d.__name__ for d in sql_dialects().values()}
    names -= {"InMemoryMetadataStore"}  # the shipped test double is imported by name where it is used
    for path in DERIVED_FILES:
        text = (REPO / path).read_text()
        named = sorted(n for n in names if re.search(rf"\b{re.escape(n)}\b", text))
        assert not named, f"{path} names {named}: derive it from metaxy.stores.backends instead"


def test_every_backend_extra_is_declared_in_pyproject_and_installed_by_all() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras = pyproject["project"]["optional-dependencies"]
    everything = " ".join(extras["all"])
    for backend in BACKENDS:
        if backend.extra is None:
            continue
        assert backend.extra in extras, f"pyproject.toml: add the extra {backend.extra!r}"
        assert re.search(rf"[\[,]{backend.extra}[,\]]", everything), (
            f"pyproject.toml: add {backend.extra} to `all`"
        )


@pytest.mark.parametrize(
    "backend", [b for b in BACKENDS if b.kind not in WRAPPER_KINDS], ids=lambda b: b.kind
)
def test_every_backend_has_a_scratch_store_that_writes_and_reads(backend: Backend, tmp_path: Path) -> None:
    store_class = _store_class(backend)
    if backend.kind == "spark":
        skip_without_java()
    owner = next(c for c in store_class.__mro__ if "scratch" in vars(c))
    assert owner is not MetadataStore, f"{backend.class_name} needs its own scratch() (docs/contributing.md)"

    class Sample(
        mx.Feature, spec=mx.FeatureSpec(key=f"contributing/{backend.kind}", fields=[mx.FieldSpec(key="a")])
    ):
        pass

    with store_class.scratch(tmp_path) as store:
        assert type(store) is store_class
        store.write_metadata(
            Sample, pl.DataFrame({"sample_uid": [1], "metaxy_provenance_by_field": [{"a": "x"}]})
        )
        assert store.read_metadata(Sample).collect()["sample_uid"].to_list() == [1]


@pytest.mark.parametrize("backend", SQL_BACKENDS, ids=lambda b: b.kind)
def test_a_sql_backend_keeps_its_dialect_in_its_own_folder(backend: Backend, tmp_path: Path) -> None:
    store_class = _store_class(backend)
    if backend.kind == "spark":
        skip_without_java()
    with store_class.scratch(tmp_path) as store:
        dialect = store.dialect
    assert isinstance(dialect, SQLDialect)
    assert type(dialect).__module__ == f"{backend.module}.schema", (
        f"{type(dialect).__name__} belongs in metaxy/stores/{backend.kind}/schema.py"
    )
    assert type(sql_dialect(dialect.name)) is type(dialect)


def test_every_backend_has_its_section_in_the_store_docs() -> None:
    docs = (REPO / "docs/stores.md").read_text()
    headings = re.findall(r"^## .*$", docs, flags=re.MULTILINE)
    for backend in FOLDER_BACKENDS:
        assert any(f"`{backend.class_name}`" in h for h in headings), (
            f"docs/stores.md: add a section '## <Name> — `{backend.class_name}`'"
        )


def test_an_unknown_dialect_name_lists_the_known_ones() -> None:
    with pytest.raises(mx.MetaxyError, match="oracle") as info:
        sql_dialect("oracle")
    assert "duckdb" in (info.value.hint or "")
