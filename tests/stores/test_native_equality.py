"""Native SQL versioning equals the reference: hypothesis graphs resolved inside each database.

Every store here runs with ``versioning_engine="native"``, so non-root features are versioned by SQL in
the database; the increments and hashes must equal the independent oracle of
``tests/versioning/test_increment_oracle.py`` (itself checked against the Polars engine).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metaxy as mx
from tests.stores.conftest import SPARK_FULL_ENV
from tests.stores.spark.session import skip_without_java
from tests.versioning.test_increment_oracle import Node, Oracle, check_and_materialize, draw_roots, graphs

NativeFactory = Callable[[str], mx.MetadataStore]

#: backend -> algorithms it hashes in SQL
NATIVE = {
    "clickhouse": ["xxhash32", "xxhash64", "md5", "sha256"],
    "postgres": ["md5", "sha256"],
    "spark": ["xxhash32", "xxhash64", "md5", "sha256"],  # xxhash through metaxy's Arrow UDFs
}


@pytest.fixture(params=sorted(NATIVE))
def native(request: pytest.FixtureRequest) -> tuple[str, NativeFactory]:
    backend = request.param
    if backend == "clickhouse":
        path: Path = request.getfixturevalue("chdb_path")

        def make(algorithm: str) -> mx.MetadataStore:
            return mx.ClickHouseMetadataStore(
                f"chdb://{path}",
                database=f"eq_{uuid.uuid4().hex[:12]}",
                hash_algorithm=algorithm,
                versioning_engine="native",
            )

        return backend, make
    if backend == "spark":
        skip_without_java()
        if not os.environ.get(SPARK_FULL_ENV):
            pytest.skip(f"hypothesis graphs on Spark run with {SPARK_FULL_ENV}=1 (make test-spark)")
        folder: Path = request.getfixturevalue("tmp_path")

        def make_spark(algorithm: str) -> mx.MetadataStore:
            return mx.SparkMetadataStore(
                folder / uuid.uuid4().hex, hash_algorithm=algorithm, versioning_engine="native"
            )

        return backend, make_spark
    url: str = request.getfixturevalue("postgres_url")

    def make_pg(algorithm: str) -> mx.MetadataStore:
        return mx.SQLAlchemyMetadataStore(
            url,
            table_prefix=f"eq{uuid.uuid4().hex[:10]}_",
            enable_native_computation=True,
            hash_algorithm=algorithm,
            versioning_engine="native",
        )

    return backend, make_pg


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nodes=graphs(), data=st.data())
def test_native_increments_equal_the_reference(
    native: tuple[str, NativeFactory], nodes: list[Node], data: st.DataObject
) -> None:
    backend, make = native
    algorithm = data.draw(st.sampled_from(NATIVE[backend]))
    graph = mx.FeatureGraph()
    with graph.use(), make(algorithm) as store:
        assert store.supports_native_versioning()
        for node in nodes:
            graph.add_feature(node.spec())
        oracle = Oracle(nodes, algorithm)

        first = draw_roots(nodes, data)
        check_and_materialize(store, oracle, graph, first)
        check_and_materialize(store, oracle, graph, first)  # idempotent
        check_and_materialize(
            store, oracle, graph, draw_roots(nodes, data)
        )  # samples added, removed, changed
