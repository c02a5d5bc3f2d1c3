#!/usr/bin/env python
"""Write stores with the public ``metaxy==0.1.11`` package, for ``test_metaxy_0_1.py`` to read.

Run it with a separate virtualenv (both packages import as ``metaxy``), from anywhere:

    python3 -m venv /work/compat-venv
    /work/compat-venv/bin/pip install 'metaxy[duckdb,delta,iceberg]==0.1.11' 'duckdb==1.4.3' \
        'sqlglot==28.10.0' 'pyiceberg[sql-sqlite,pyarrow]==0.12.0' numpy
    /work/compat-venv/bin/python tests/compat/generate_fixtures.py [delta] [duckdb] [iceberg]

With store kinds named, only those fixtures (and their part of ``expected.json``) are rewritten.

It rewrites ``tests/compat/fixtures/``:

* ``delta_v1/``, ``duckdb_v1.duckdb.gz``: root ``compat/root`` (fields audio, frames) and leaf
  ``compat/leaf`` (field ``embedding`` reads ``root.audio`` only; field ``summary`` reads every root
  field), written with 0.1.11's defaults; the leaf is up to date.
* ``delta_v2/``, ``duckdb_v2.duckdb.gz``: the same plus a second upstream version of the root in which the
  ``audio`` provenance of some samples changed.
* ``iceberg_v1.tar.gz``, ``iceberg_v2.tar.gz``: the same stages written by 0.1.11's Iceberg store (its
  defaults: SQL catalog ``metaxy`` on ``<warehouse>/catalog.db``, namespace ``metaxy``, tables
  ``compat__root`` and ``compat__leaf``), the warehouse folder packed as it was written.
* ``expected.json``: 0.1.11's versions and what its own ``resolve_update`` reported on v1 and v2.

Iceberg metadata holds absolute paths (catalog, metadata JSON, Avro manifest lists and manifests), so
an Iceberg fixture cannot be read where it is unpacked as it is: ``expected.json`` records the folder
it was written in (``iceberg.warehouse``) and the tests move the unpacked copy with
``relocate_iceberg.py`` (which rewrites only those paths) before our store opens it. The packed files
are 0.1.11's bytes, untouched.

Offline, 0.1.11's DuckDB store cannot download its ``hashfuncs`` extension, so that store drops it
and hashes with md5; the Delta store keeps 0.1.11's default algorithm.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

import metaxy as mx
from metaxy.config import MetaxyConfig
from metaxy.ext.duckdb import DuckDBMetadataStore
from metaxy.ext.polars.handlers.delta import DeltaMetadataStore
from metaxy.ext.polars.handlers.iceberg import IcebergMetadataStore
from metaxy.utils import collect_to_polars

assert mx.__version__ == "0.1.11", f"run this with metaxy 0.1.11, not {mx.__version__}"

HERE = Path(__file__).resolve().parent / "fixtures"
IDS = list(range(1, 9))
CHANGED = [2, 5, 7]  # samples whose root audio changes in v2


class OfflineDuckDBMetadataStore(DuckDBMetadataStore):
    """0.1.11's DuckDB store without the community ``hashfuncs`` extension (needs a download)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extensions = [e for e in self.extensions if e.name != "hashfuncs"]


def build_graph() -> tuple[mx.FeatureGraph, type[mx.BaseFeature], type[mx.BaseFeature]]:
    graph = mx.FeatureGraph()
    with graph.use():

        class Root(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="compat/root",
                fields=[
                    mx.FieldSpec(key="audio", code_version="1"),
                    mx.FieldSpec(key="frames", code_version="1"),
                ],
                id_columns=("sample_uid",),
            ),
        ):
            pass

        class Leaf(
            mx.BaseFeature,
            spec=mx.FeatureSpec(
                key="compat/leaf",
                deps=[Root],
                fields=[
                    mx.FieldSpec(
                        key="embedding",
                        code_version="2",
                        deps=[mx.FieldDep(feature=Root, fields=["audio"])],
                    ),
                    mx.FieldSpec(key="summary", code_version="1"),
                ],
                id_columns=("sample_uid",),
            ),
        ):
            pass

    return graph, Root, Leaf


def root_samples(bumped: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sample_uid": IDS,
            "path": [f"clip{i}.mp4" for i in IDS],
            "metaxy_provenance_by_field": [
                {"audio": f"a{i}" + ("-v2" if i in bumped else ""), "frames": f"f{i}"} for i in IDS
            ],
        }
    )


def resolve(store: mx.MetadataStore, leaf: type[mx.BaseFeature]) -> dict[str, list[int]]:
    inc = store.resolve_update(leaf)
    frames = {"new": inc.new, "stale": inc.stale, "orphaned": inc.orphaned}
    return {k: sorted(collect_to_polars(v)["sample_uid"].to_list()) for k, v in frames.items()}


def generate(name: str, make_store: Any, workdir: Path, expected: dict[str, Any]) -> None:
    graph, root, leaf = build_graph()
    workdir.mkdir(parents=True)
    store = make_store(workdir)
    with graph.use():
        with store.open("w"):
            store.write(root, root_samples([]))
            new = collect_to_polars(store.resolve_update(leaf).new)
            store.write(leaf, new)
            v1 = resolve(store, leaf)
        _snapshot(workdir, name, "v1")
        with store.open("w"):
            store.write(root, root_samples(CHANGED))
            v2 = resolve(store, leaf)
        _snapshot(workdir, name, "v2")
    expected[name] = {
        "hash_algorithm": store.hash_algorithm.value,
        "resolve_v1": v1,
        "resolve_v2": v2,
        "feature_versions": {f.spec().key.to_string(): f.feature_version() for f in (root, leaf)},
        "field_versions": {
            f.spec().key.to_string(): graph.get_feature_version_by_field(f.spec().key) for f in (root, leaf)
        },
    }


def _snapshot(workdir: Path, name: str, stage: str) -> None:
    if name == "delta":
        shutil.rmtree(HERE / f"delta_{stage}", ignore_errors=True)
        shutil.copytree(workdir / "delta", HERE / f"delta_{stage}")
    elif name == "iceberg":  # many small files with absolute paths inside: one archive per stage
        with tarfile.open(HERE / f"iceberg_{stage}.tar.gz", "w:gz") as tar:
            for path in sorted((workdir / "iceberg").rglob("*")):
                if path.is_file():
                    tar.add(path, arcname=path.relative_to(workdir / "iceberg").as_posix())
    else:  # a DuckDB file is mostly empty blocks: gzip keeps the committed fixture small
        with (
            (workdir / "store.duckdb").open("rb") as src,
            gzip.open(HERE / f"duckdb_{stage}.duckdb.gz", "wb") as dst,
        ):
            shutil.copyfileobj(src, dst)


STORES: dict[str, Any] = {
    "delta": lambda d: DeltaMetadataStore(root_path=d / "delta"),
    "duckdb": lambda d: OfflineDuckDBMetadataStore(
        database=str(d / "store.duckdb"), hash_algorithm=mx.HashAlgorithm.MD5
    ),
    "iceberg": lambda d: IcebergMetadataStore(warehouse=d / "iceberg"),
}


def main(kinds: list[str]) -> None:
    if unknown := sorted(set(kinds) - set(STORES)):
        sys.exit(f"unknown store kinds {unknown}; choose from {sorted(STORES)}")
    MetaxyConfig.set(MetaxyConfig(project="compat", auto_create_tables=True))
    HERE.mkdir(parents=True, exist_ok=True)
    previous = json.loads((HERE / "expected.json").read_text()) if (HERE / "expected.json").exists() else {}
    expected: dict[str, Any] = {**previous, "metaxy": mx.__version__, "ids": IDS, "changed": CHANGED}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds or sorted(STORES):
            generate(kind, STORES[kind], Path(tmp) / kind, expected)
            if kind == "iceberg":  # where its metadata points, for the tests to move it
                expected[kind]["warehouse"] = str((Path(tmp) / kind / "iceberg").resolve())
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
