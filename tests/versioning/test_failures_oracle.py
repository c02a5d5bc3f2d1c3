"""Property test: increments with failed samples equal the brute-force oracle extended with failures.

The graphs, edits and hashes are the increment oracle's (test_increment_oracle.py); at every step a
random part of each feature's samples to compute fails (``write_errors``) instead of being written.
The oracle's rule, written independently: a sample to compute is *failed* when an error was recorded
for exactly its current provenance after its latest stored row; it is then neither new nor stale,
unless the resolution asks to retry (then it is, and nothing is failed).
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import metaxy as mx
from metaxy.exceptions import FeatureNotFoundError
from tests.versioning.test_increment_oracle import Node, Oracle, draw_roots, graphs, samples_frame


class FailureOracle(Oracle):
    def __init__(self, nodes: list[Node], algorithm: str) -> None:
        super().__init__(nodes, algorithm)
        self.clock = 0
        self.written_at: dict[str, dict[int, int]] = {n.key: {} for n in nodes}
        self.errors: dict[str, dict[int, list[tuple[str, int]]]] = {n.key: {} for n in nodes}

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def failed(self, key: str, sample: int, provenance: str) -> bool:
        stored_at = self.written_at[key].get(sample, 0)
        return any(p == provenance and t > stored_at for p, t in self.errors[key].get(sample, []))


def step(
    store: mx.MetadataStore,
    oracle: FailureOracle,
    graph: mx.FeatureGraph,
    roots: dict[str, dict[int, dict[str, str]]],
    data: st.DataObject,
) -> None:
    oracle.feature_versions = {k.to_string(): graph.feature_version(k) for k in graph.keys}
    for key in graph.topological_order():
        name = key.to_string()
        expected, stored, fv = (
            oracle.expected(name, roots),
            oracle.stored[name],
            oracle.feature_versions[name],
        )
        todo_new = set(expected) - set(stored)
        todo_stale = {
            i
            for i in set(expected) & set(stored)
            if stored[i][1] != oracle.provenance(expected[i]) or stored[i][2] != fv
        }
        failed = {i for i in todo_new | todo_stale if oracle.failed(name, i, oracle.provenance(expected[i]))}
        retry = data.draw(st.integers(0, 3)) == 0
        samples = samples_frame(roots[name]) if name in roots else None
        node = oracle.nodes[name]
        if any(not node.optional[u] and not oracle.has_current(u) for u in node.deps):
            with pytest.raises(FeatureNotFoundError):
                store.resolve_update(name, samples=samples)
            continue
        inc = store.resolve_update(name, samples=samples, retry_failed=retry)
        blocked = set() if retry else failed
        assert set(inc.new["sample_uid"]) == todo_new - blocked, name
        assert set(inc.stale["sample_uid"]) == todo_stale - blocked, name
        assert set(inc.failed["sample_uid"]) == blocked, name
        todo = inc.to_recompute()
        failing = (
            set(data.draw(st.lists(st.sampled_from(sorted(todo["sample_uid"])), unique=True)))
            if todo.height
            else set()
        )
        fails, done = (
            todo.filter(pl.col("sample_uid").is_in(failing)),
            todo.filter(~pl.col("sample_uid").is_in(failing)),
        )
        if fails.height:
            store.write_errors(name, fails.with_columns(error_type=pl.lit("RuntimeError")))
            at = oracle.tick()
            for i in failing:
                oracle.errors[name].setdefault(i, []).append((oracle.provenance(expected[i]), at))
        if done.height:
            store.write_metadata(name, done)
            at = oracle.tick()
            for i in done["sample_uid"]:
                stored[i] = (expected[i], oracle.provenance(expected[i]), fv)
                oracle.written_at[name][i] = at


@given(nodes=graphs(), data=st.data())
def test_failed_samples_match_the_oracle_through_edits(nodes: list[Node], data: st.DataObject) -> None:
    graph = mx.FeatureGraph()
    with graph.use(), mx.InMemoryMetadataStore() as store:
        for node in nodes:
            graph.add_feature(node.spec())
        oracle = FailureOracle(nodes, "xxhash32")
        roots = draw_roots(nodes, data)
        for _ in range(data.draw(st.integers(2, 4))):
            step(store, oracle, graph, roots, data)
            edit = data.draw(st.sampled_from(["samples", "bump", "none"]))
            if edit == "samples":
                roots = draw_roots(nodes, data)
            elif edit == "bump":
                node = data.draw(st.sampled_from(nodes))
                name = data.draw(st.sampled_from(sorted(node.fields)))
                node.fields[name] = str(int(node.fields[name]) + 10)
                graph.add_feature(node.spec())
