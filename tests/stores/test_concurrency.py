"""Several processes writing one store: first writes racing to create a table, and steady appends.

Each test runs once per store that several processes can share: SQLite, PostgreSQL, Delta on disk and on
S3 write together; DuckDB lets one process hold its file, so its writers take turns (a writer finding the
file held gets a transient error and retries). Embedded ClickHouse (chdb) lets one process open a data
directory: a second one gets a clear transient error (tests/stores/clickhouse/test_chdb_open_errors.py),
and concurrent writers need a ClickHouse server. Small sizes here;
``make stress`` runs 4 writers x 250 appends (``METAXY_STRESS_WRITERS``/``_APPENDS``/``_APPEND_ROWS``).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.stores._stress import report, size, store_spec
from tests.stores._workers import STRIDE, StoreSpec, append_many, context, first_writes, race_features
from tests.stores.graphs import video_graph

SHARED_STORES = ["sqlite", "postgres", "delta", "delta-s3", "duckdb"]


@pytest.fixture(params=SHARED_STORES)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """A store several processes can open, as a recipe each process builds its own store from."""
    return store_spec(request.param, request, tmp_path)


def _run(target: object, args_of: list[tuple[object, ...]], timeout: float = 3600) -> None:
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


@pytest.mark.stress
def test_concurrent_appends_lose_and_duplicate_nothing(
    spec: StoreSpec, request: pytest.FixtureRequest
) -> None:
    writers, appends, rows = size("WRITERS"), size("APPENDS"), size("APPEND_ROWS")
    start = context().Event()
    ctx_args = [(spec, w, appends, rows, start) for w in range(writers)]
    start.set()
    _run(append_many, ctx_args)
    g = video_graph()
    with spec.build() as store:
        ids = store.read_metadata(g.video, history=True).collect()["sample_uid"]
    expected = pl.Series([w * STRIDE + i for w in range(writers) for i in range(appends * rows)])
    lost = expected.len() - expected.is_in(ids.implode()).sum()
    duplicated = ids.len() - ids.n_unique()
    report(
        f"{writers} writer processes x {appends} appends",
        request.node.callspec.id,
        rows_expected=expected.len(),
        rows_stored=ids.len(),
        lost=lost,
        duplicated=duplicated,
    )
    assert ids.len() == writers * appends * rows
    assert ids.n_unique() == ids.len()
    assert ids.sort().to_list() == expected.sort().to_list()
