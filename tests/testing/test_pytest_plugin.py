"""metaxy's pytest plugin, used the way a user would: throwaway test files run by ``pytester``."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("installed_plugin")

USER_TESTS = """
import polars as pl
import pytest
import metaxy as mx
from metaxy.stores import LAZY_STORES
from metaxy.testing import example_videos, materialize_example


def test_empty_store_is_open_and_empty(empty_store):
    assert empty_store.is_open
    assert empty_store.list_features() == []


def test_populated_store_holds_the_documented_example(populated_store, example_features):
    keys = [key.to_string() for key in populated_store.list_features()]
    assert keys == ["example/faces", "example/summary", "example/transcript", "example/video"]
    summary = populated_store.read_metadata("example/summary").collect().sort("sample_uid")
    assert summary["sample_uid"].to_list() == [1, 2, 3]
    assert summary["title"].to_list() == ["summary 1", "summary 2", "summary 3"]
    faces = populated_store.read_metadata(example_features.faces).collect().sort("sample_uid")
    assert faces["n_faces"].to_list() == [1, 0, 1]
    for feature in example_features.in_order()[1:]:
        assert populated_store.resolve_update(feature).is_empty


def define(code_version):
    class Clip(mx.Feature, spec=mx.FeatureSpec(key="clip", fields=[mx.FieldSpec(key="default", code_version=code_version)])):
        pass
    return Clip


def test_graph_isolation_first():
    define("1")
    assert len(mx.FeatureGraph.get_active()) == 1


def test_graph_isolation_second(metaxy_graph):
    assert len(metaxy_graph) == 0  # nothing leaked from the previous test
    assert mx.FeatureGraph.get_active() is metaxy_graph
    define("2")


def test_multi_env_stores_fall_back_dev_staging_prod(multi_env_stores, example_features):
    dev, staging, prod = multi_env_stores["dev"], multi_env_stores["staging"], multi_env_stores["prod"]
    assert [s.name for s in dev.fallback_stores] == ["staging"]
    assert [s.name for s in staging.fallback_stores] == ["prod"]
    video = example_features.video
    prod.write_metadata(video, example_videos())
    assert dev.read_metadata(video).collect().height == 3
    increment = dev.resolve_update(example_features.transcript)
    assert increment.new.height == 3
    dev.write_metadata(example_features.transcript, increment.new.with_columns(text=pl.lit("t")))
    assert not prod.has_feature(example_features.transcript)
    assert dev.has_feature(example_features.transcript)


def test_store_factory_memory(metaxy_store_factory, example_features):
    store = metaxy_store_factory("memory", hash_algorithm="xxhash64")
    assert store.is_open
    materialize_example(store, example_features)
    assert len(store.list_features()) == 4


def test_store_factory_unknown_backend(metaxy_store_factory):
    with pytest.raises(mx.MetaxyError, match="unknown backend 'nosuch'") as info:
        metaxy_store_factory("nosuch")
    assert "memory" in info.value.hint


@pytest.mark.parametrize(
    "backend,name",
    [
        ("duckdb", "DuckDBMetadataStore"),
        ("delta", "DeltaMetadataStore"),
        ("sqlalchemy", "SQLAlchemyMetadataStore"),
        ("clickhouse", "ClickHouseMetadataStore"),
    ],
)
def test_store_factory_file_backends(metaxy_store_factory, example_features, tmp_path, backend, name):
    store = metaxy_store_factory(backend)
    assert type(store).__name__ == name
    materialize_example(store, example_features)
    assert store.read_metadata(example_features.summary).collect().height == 3
    assert any(tmp_path.iterdir())  # its files live in the test's tmp_path
"""


def test_every_fixture_works_in_a_user_test_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=11)


MODULE_LEVEL_FEATURES = """
import metaxy as mx


class Shared(mx.Feature, spec=mx.FeatureSpec(key="shared", fields=[mx.FieldSpec(key="default", code_version="1")])):
    pass


def test_module_level_features_are_visible_by_key(metaxy_graph, empty_store):
    assert "shared" in metaxy_graph
    assert metaxy_graph is not Shared.graph()  # the test's own graph, seeded from the import-time one
    empty_store.write_metadata("shared", {"sample_uid": [1], "metaxy_provenance_by_field": [{"default": "x"}]})
    assert empty_store.has_feature(Shared)


def test_a_feature_defined_in_a_test(metaxy_graph):
    class Local(mx.Feature, spec=mx.FeatureSpec(key="local", fields=[mx.FieldSpec(key="default")])):
        pass

    assert sorted(k.to_string() for k in metaxy_graph.keys) == ["local", "shared"]


def test_does_not_leak_into_the_next(metaxy_graph):
    assert [k.to_string() for k in metaxy_graph.keys] == ["shared"]
"""


def test_isolated_graph_keeps_module_level_features(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_module_level=MODULE_LEVEL_FEATURES)
    pytester.runpytest("-q").assert_outcomes(passed=3)


def test_plugin_is_loaded_by_its_entry_point(pytester: pytest.Pytester, installed_plugin: str) -> None:
    pytester.makepyfile(
        test_loaded="""
        def test_loaded(request):
            plugin = request.config.pluginmanager.get_plugin("metaxy")
            assert plugin is not None and plugin.__name__ == "metaxy.testing.pytest_plugin"
        """
    )
    pytester.runpytest("-q").assert_outcomes(passed=1)
    assert installed_plugin == "metaxy"


def test_opt_out_with_p_no_metaxy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_opt_out="def test_needs_store(empty_store):\n    pass\n")
    result = pytester.runpytest("-q", "-p", "no:metaxy")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'empty_store' not found*"])


def test_failing_user_test_is_reported_as_failed(pytester: pytest.Pytester) -> None:
    # the fixtures must not swallow failures of the test using them
    pytester.makepyfile(
        test_fails="def test_fails(populated_store):\n    assert populated_store.list_features() == []\n"
    )
    pytester.runpytest("-q").assert_outcomes(failed=1)
