"""``shard=(i, n)`` on every store: the shards of a read or an increment partition it (each sample in
exactly one shard, none lost), and each sample's shard is the reference rule's, bit for bit, whether the
store filters in Polars or pushes the rule into its SQL."""

from __future__ import annotations

import itertools
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import metaxy as mx
from metaxy.exceptions import FeatureNotFoundError, InvalidShardError
from metaxy.versioning.shard import shard_of
from tests.stores.conftest import StoreFactory
from tests.versioning.test_increment_oracle import Node, draw_roots, graphs, samples_frame

PARTS = ("new", "stale", "orphaned")
_EXAMPLES = itertools.count()


def _prefixed(nodes: list[Node], prefix: str) -> list[Node]:
    """The same graph under keys no earlier example used (file stores keep their tables between examples)."""
    name = {n.key: f"{prefix}{n.key}" for n in nodes}
    return [
        Node(
            name[n.key],
            dict(n.fields),
            [name[d] for d in n.deps],
            {name[d]: o for d, o in n.optional.items()},
            {f: {name[u]: fs for u, fs in ups.items()} for f, ups in n.explicit.items()},
        )
        for n in nodes
    ]


def _ids(frame: pl.DataFrame | pl.LazyFrame, keys: list[str]) -> list[tuple[Any, ...]]:
    rows = frame.lazy().select(keys).collect().rows()
    return sorted(rows, key=repr)


def assert_shards_partition(whole: list[tuple[Any, ...]], shards: list[list[tuple[Any, ...]]]) -> None:
    """Every row of ``whole`` in exactly one shard, the one the reference rule names; nothing else."""
    count = len(shards)
    for index, rows in enumerate(shards):
        assert all(shard_of(list(r), count) == index for r in rows), (index, count)
    assert sorted((r for rows in shards for r in rows), key=repr) == whole


def check_increment_shards(store: mx.MetadataStore, feature: Any, count: int, **kwargs: Any) -> mx.Increment:
    full = store.resolve_update(feature, **kwargs)
    keys = ["sample_uid"]
    parts = [store.resolve_update(feature, shard=(i, count), **kwargs) for i in range(count)]
    for part in PARTS:
        assert_shards_partition(
            _ids(getattr(full, part), keys), [_ids(getattr(p, part), keys) for p in parts]
        )
    return full


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(nodes=graphs(), data=st.data())
def test_shards_partition_reads_and_increments(
    request: pytest.FixtureRequest, store_factory: StoreFactory, nodes: list[Node], data: st.DataObject
) -> None:
    if "delta-s3" in request.node.name:
        pytest.skip("the Delta store on local disk runs the same Polars shard filter; over S3 it costs ~50 s")
    nodes = _prefixed(nodes, f"s{next(_EXAMPLES)}")
    graph = mx.FeatureGraph()
    count = data.draw(st.integers(2, 3), label="shards")
    with graph.use(), store_factory() as store:
        for node in nodes:
            graph.add_feature(node.spec())
        _materialize(store, graph, draw_roots(nodes, data))
        roots = draw_roots(nodes, data)  # samples added, removed and changed: new, stale and orphaned
        for key in graph.topological_order():
            name = key.to_string()
            samples = samples_frame(roots[name]) if name in roots else None
            try:
                full = check_increment_shards(store, name, count, samples=samples)
            except FeatureNotFoundError:
                continue  # a required upstream with no rows: nothing to shard
            if full.to_recompute().height:
                store.write_metadata(name, full.to_recompute())
            if store.has_feature(name):
                whole = _ids(store.read_metadata(name), ["sample_uid"])
                shards = [
                    _ids(store.read_metadata(name, shard=(i, count)), ["sample_uid"]) for i in range(count)
                ]
                assert_shards_partition(whole, shards)


def _materialize(store: mx.MetadataStore, graph: mx.FeatureGraph, roots: dict[str, Any]) -> None:
    for key in graph.topological_order():
        name = key.to_string()
        try:
            todo = store.resolve_update(name, samples=samples_frame(roots[name]) if name in roots else None)
        except FeatureNotFoundError:
            continue
        store.write_metadata(name, todo.to_recompute())


Lineage = tuple[type[mx.Feature], type[mx.Feature]]


@pytest.fixture
def lineage() -> Lineage:
    """A video and its clips (expansion on ``vid``), defined in the test's own graph."""

    class Video(
        mx.Feature, spec=mx.FeatureSpec(key="shard/video", id_columns=["vid"], fields=[mx.FieldSpec(key="f")])
    ):
        pass

    class Clip(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="shard/clip",
            id_columns=["vid", "i"],
            deps=[mx.FeatureDep(feature=Video, lineage=mx.LineageRelationship.expansion(on=["vid"]))],
            fields=[mx.FieldSpec(key="f")],
        ),
    ):
        pass

    return Video, Clip


def _videos(ids: list[str], version: str = "1") -> pl.DataFrame:
    return pl.DataFrame({"vid": ids, "metaxy_provenance_by_field": [{"f": f"{v}{version}"} for v in ids]})


def _clips(parents: pl.DataFrame, per_parent: int) -> pl.DataFrame:
    return parents.join(pl.DataFrame({"i": list(range(per_parent))}), how="cross")


def test_expansion_shards_keep_a_parent_and_its_children_together(
    store: mx.MetadataStore, lineage: Lineage
) -> None:
    Video, Clip = lineage
    ids = [f"v{k}" for k in range(12)]
    store.write_metadata(Video, _videos(ids))
    store.write_metadata(Clip, _clips(store.resolve_update(Clip).new, 3))
    store.write_metadata(Video, _videos(ids[:4], "2"))  # 4 stale parents
    store.delete_metadata(Video, filters=pl.col("vid").is_in(ids[-3:]))  # 3 gone: their 9 clips orphaned
    store.write_metadata(Video, _videos(["new1", "new2"]))  # 2 new parents
    full = store.resolve_update(Clip)
    assert full.counts == {"new": 2, "stale": 4, "orphaned": 9}
    count = 3
    parts = [store.resolve_update(Clip, shard=(i, count)) for i in range(count)]
    for part in PARTS:
        assert_shards_partition(
            _ids(getattr(full, part), ["vid"]), [_ids(getattr(p, part), ["vid"]) for p in parts]
        )
    clips = [store.read_metadata(Clip, shard=(i, count)).collect() for i in range(count)]
    assert sum(c.height for c in clips) == 36
    for index, frame in enumerate(clips):  # children follow their parent's shard, never their own ids
        assert all(shard_of([vid], count) == index for vid in frame["vid"])


TRICKY = ["", "a|b", "it's", 'say "hi"', "back\\slash", "naïve ☃ 日本", "tab\tnew\nline", "%_like", "0", "-1"]


def test_string_ids_shard_by_the_reference_rule(store: mx.MetadataStore, lineage: Lineage) -> None:
    Video, Clip = lineage
    store.write_metadata(Video, _videos(TRICKY))
    for count in (2, 5):
        shards = [_ids(store.read_metadata(Video, shard=(i, count)), ["vid"]) for i in range(count)]
        assert_shards_partition(sorted([(v,) for v in TRICKY], key=repr), shards)
        parts = [store.resolve_update(Clip, shard=(i, count)).new for i in range(count)]
        assert_shards_partition(sorted([(v,) for v in TRICKY], key=repr), [_ids(p, ["vid"]) for p in parts])


def test_integer_ids_at_the_edges_shard_by_the_reference_rule(store: mx.MetadataStore) -> None:
    class Big(mx.Feature, spec=mx.FeatureSpec(key="shard/big", fields=[mx.FieldSpec(key="f")])):
        pass

    values = [0, 1, -1, 2**31, -(2**31), 2**62, -(2**63), 2**63 - 1]
    frame = pl.DataFrame(
        {"sample_uid": values, "metaxy_provenance_by_field": [{"f": "x"}] * len(values)},
        schema_overrides={"sample_uid": pl.Int64},
    )
    store.write_metadata(Big, frame)
    shards = [_ids(store.read_metadata(Big, shard=(i, 3)), ["sample_uid"]) for i in range(3)]
    assert_shards_partition(sorted([(v,) for v in values], key=repr), shards)


@pytest.mark.parametrize("shard", [(3, 3), (0, 0), (-1, 2), "1/2"])
def test_a_bad_shard_is_refused_before_anything_runs(
    store: mx.MetadataStore, lineage: Lineage, shard: Any
) -> None:
    Video, Clip = lineage
    store.write_metadata(Video, _videos(["a"]))
    with pytest.raises(InvalidShardError, match="Hint:"):
        store.resolve_update(Clip, shard=shard)
    with pytest.raises(InvalidShardError, match="Hint:"):
        store.read_metadata(Video, shard=shard)


def test_a_shard_on_float_ids_is_refused(store: mx.MetadataStore) -> None:
    class Measured(
        mx.Feature,
        spec=mx.FeatureSpec(key="shard/measured", id_columns=["x"], fields=[mx.FieldSpec(key="f")]),
    ):
        pass

    store.write_metadata(
        Measured, pl.DataFrame({"x": [0.5, 1.5], "metaxy_provenance_by_field": [{"f": "a"}] * 2})
    )
    with pytest.raises(InvalidShardError, match="'x' is Float64"):
        store.read_metadata(Measured, shard=(0, 2))
