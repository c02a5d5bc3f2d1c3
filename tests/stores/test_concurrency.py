"""Several processes writing one store: first writes racing to create a table, and steady appends.

Each test runs once per store that several processes can share (SQLite, PostgreSQL, Delta on disk and
on S3, DuckDB taking turns on its file). Small sizes here; ``make stress`` runs the full sizes.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import polars as pl
import pytest

from tests.servers import S3Server
from tests.stores._workers import STRIDE, StoreSpec, append_many, context, first_writes, race_features
from tests.stores.graphs import video_graph

SHARED_STORES = ["sqlite", "postgres", "delta", "delta-s3", "duckdb"]


@pytest.fixture(params=SHARED_STORES)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """A store several processes can open, as a recipe each process builds its own store from."""
    kind = request.param
    if kind == "sqlite":
        return StoreSpec("SQLAlchemyMetadataStore", (f"sqlite:///{tmp_path / 'meta.db'}",))
    if kind == "postgres":
        url = request.getfixturevalue("postgres_url")
        return StoreSpec("SQLAlchemyMetadataStore", (url,), {"table_prefix": f"c{uuid.uuid4().hex[:10]}_"})
    if kind == "delta":
        return StoreSpec("DeltaMetadataStore", (str(tmp_path / "delta"),))
    if kind == "delta-s3":
        server: S3Server = request.getfixturevalue("s3_server")
        uri = f"s3://{server.bucket}/concurrency-{tmp_path.name}"
        return StoreSpec("DeltaMetadataStore", (uri,), {"storage_options": server.storage_options()})
    return StoreSpec("DuckDBMetadataStore", (str(tmp_path / "meta.duckdb"),), reopen=True)


def _run(target: object, args_of: list[tuple[object, ...]], timeout: float = 600) -> None:
    ctx = context()
    workers = [ctx.Process(target=target, args=args) for args in args_of]  # type: ignore[arg-type]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=timeout)
    codes = [worker.exitcode for worker in workers]
    assert codes == [0] * len(workers), f"writer exit codes: {codes}"


def test_concurrent_first_writes_to_new_features_all_succeed(spec: StoreSpec) -> None:
    writers, features = 3, 4
    barrier = context().Barrier(writers)
    _run(first_writes, [(spec, w, features, 2, barrier) for w in range(writers)])
    with spec.build() as store:
        for feature in race_features(features):
            assert store.has_feature(feature)
            rows = store.read_metadata(feature, history=True).collect()
            assert sorted(rows["sample_uid"] // STRIDE) == sorted(
                [w for w in range(writers) for _ in range(2)]
            )
        assert len(store.list_features()) == features


def test_concurrent_appends_lose_and_duplicate_nothing(spec: StoreSpec) -> None:
    writers, appends, rows = 3, 10, 5
    start = context().Event()
    ctx_args = [(spec, w, appends, rows, start) for w in range(writers)]
    start.set()
    _run(append_many, ctx_args)
    g = video_graph()
    with spec.build() as store:
        ids = store.read_metadata(g.video, history=True).collect()["sample_uid"]
    assert ids.len() == writers * appends * rows
    assert ids.n_unique() == ids.len()
    expected = pl.Series([w * STRIDE + i for w in range(writers) for i in range(appends * rows)])
    assert ids.sort().to_list() == expected.sort().to_list()
