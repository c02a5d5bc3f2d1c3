"""Graph snapshots kept in any store, through the store primitives, under a reserved system key."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl

from metaxy.constants import SYSTEM_NAMESPACE
from metaxy.exceptions import SnapshotNotFoundError
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.stores.base import MetadataStore

#: the system table holding one row per pushed graph snapshot
SNAPSHOTS_KEY = FeatureKey([SYSTEM_NAMESPACE, "graph_snapshots"])

_SCHEMA: dict[str, pl.DataType] = {
    "snapshot_id": pl.String(),
    "pushed_at": pl.Datetime("us", "UTC"),
    "feature_count": pl.Int64(),
    "snapshot": pl.String(),
}


def push_graph_snapshot(store: MetadataStore, graph: FeatureGraph | None = None) -> str:
    """Store ``graph`` (default: the active graph) in ``store``; returns its id, the project version.

    Idempotent: pushing a graph whose id is already stored writes nothing.

    Example:
        >>> import metaxy as mx
        >>> from metaxy.ops.snapshots import list_graph_snapshots, push_graph_snapshot
        >>> with mx.FeatureGraph().use() as g, mx.InMemoryMetadataStore() as store:
        ...     sid = push_graph_snapshot(store)
        ...     list_graph_snapshots(store)["feature_count"].to_list()
        [0]
    """
    store.require_writable("push a graph snapshot")
    graph = graph or FeatureGraph.get_active()
    snapshot = graph.snapshot()
    snapshot_id = str(snapshot["project_version"])
    if snapshot_id in set(list_graph_snapshots(store)["snapshot_id"]):
        return snapshot_id
    row = {
        "snapshot_id": [snapshot_id],
        "pushed_at": [datetime.now(UTC)],
        "feature_count": [len(snapshot["features"])],
        "snapshot": [json.dumps(snapshot, sort_keys=True)],
    }
    store.append_system_rows(SNAPSHOTS_KEY, pl.DataFrame(row, schema=_SCHEMA))
    return snapshot_id


def _stored(store: MetadataStore) -> pl.LazyFrame:
    lf = store.read_system_table(SNAPSHOTS_KEY)
    return pl.LazyFrame(schema=_SCHEMA) if lf is None else lf.select(list(_SCHEMA))


def list_graph_snapshots(store: MetadataStore) -> pl.DataFrame:
    """Pushed snapshots, oldest first: ``snapshot_id, pushed_at, feature_count``."""
    return (
        _stored(store)
        .drop("snapshot")
        .sort("pushed_at")
        .unique("snapshot_id", keep="first", maintain_order=True)
        .collect()
    )


def load_graph_snapshot(store: MetadataStore, snapshot_id: str) -> FeatureGraph:
    """Rebuild the graph pushed as ``snapshot_id`` (a prefix is enough when unique); no user code runs.

    Raises:
        SnapshotNotFoundError: no snapshot (or several) match ``snapshot_id``.
    """
    return FeatureGraph.from_snapshot(load_snapshot_dict(store, snapshot_id))


def load_snapshot_dict(store: MetadataStore, snapshot_id: str) -> dict[str, object]:
    """The raw JSON-able snapshot pushed as ``snapshot_id`` (see :func:`load_graph_snapshot`)."""
    rows = (
        _stored(store)
        .filter(pl.col("snapshot_id").str.starts_with(snapshot_id))
        .unique("snapshot_id", keep="first")
        .collect()
    )
    if rows.height != 1:
        known = ", ".join(list_graph_snapshots(store)["snapshot_id"]) or "none"
        raise SnapshotNotFoundError(
            f"{store.name}: {'no' if rows.height == 0 else 'more than one'} graph snapshot matches {snapshot_id!r}.",
            hint=f"Push one with push_graph_snapshot (`metaxy push`); stored: {known}.",
        )
    loaded: dict[str, object] = json.loads(rows["snapshot"][0])
    return loaded
