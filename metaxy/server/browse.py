"""``MetadataBrowser``: the read-only questions the web API and the MCP server answer, as plain data.

Every method returns JSON-able dicts and lists; the HTTP routes and the MCP tools only translate
arguments and errors. One browser holds one open store and the project's feature graph; calls are
serialized (a store is opened once and shared by the server's worker threads).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from metaxy.exceptions import FeatureNotFoundError, RequestError, SnapshotNotFoundError, VersioningError
from metaxy.models.describe import describe_feature, describe_graph
from metaxy.models.diff import diff_graphs
from metaxy.models.fields import coerce_feature_key
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.models.render import graph_mermaid
from metaxy.models.search import search_features
from metaxy.ops.impact import count_impact
from metaxy.ops.snapshots import list_graph_snapshots, load_graph_snapshot
from metaxy.ops.stats import feature_stats
from metaxy.ops.status import feature_status, store_status
from metaxy.stores.base import MetadataStore

#: ``new`` in :meth:`MetadataBrowser.diff` meaning the graph of the code
CURRENT = "current"
#: the most items one page of a list holds
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100

T = TypeVar("T")


class MetadataBrowser:
    """Read-only views of one open store and a feature graph.

    Args:
        store: an open store (the caller opens and closes it).
        graph: the project's features.
    """

    def __init__(self, store: MetadataStore, graph: FeatureGraph) -> None:
        self.store = store
        self.graph = graph
        self._lock = threading.RLock()

    @contextmanager
    def _using(self) -> Iterator[None]:
        with self._lock, self.graph.use():
            yield

    def _run(self, call: Callable[[], T]) -> T:
        with self._using():
            return call()

    # -- features ---------------------------------------------------------------------------------

    def features(
        self,
        query: str | None = None,
        *,
        prefix: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
    ) -> dict[str, Any]:
        """A page of features (upstream first, or best match first for ``query``) with a total count."""
        check_page(limit, offset)
        with self._using():
            if query:
                hits = search_features(self.graph, query)
                keys = [h.key for h in hits]
                matches = {h.key: list(h.matches) for h in hits}
            else:
                keys = self.graph.topological_order()
                matches = {}
            if prefix:
                keys = [k for k in keys if k.to_string().startswith(prefix)]
            page = keys[offset : offset + limit]
            items = [self._summary(k, matches.get(k)) for k in page]
        return {"total": len(keys), "limit": limit, "offset": offset, "items": items}

    def _summary(self, key: FeatureKey, matches: list[str] | None) -> dict[str, Any]:
        spec = self.graph.spec(key)
        item = {
            "key": key.to_string(),
            "description": spec.description,
            "feature_version": self.graph.feature_version(key),
            "id_columns": list(spec.id_columns),
            "fields": [f.key.to_string() for f in spec.fields],
            "upstream": [d.feature.to_string() for d in spec.deps],
        }
        if matches is not None:
            item["matches"] = matches
        return item

    def feature(self, name: str) -> dict[str, Any]:
        """One feature: fields, versions, deps both ways, the declared and stored schema, stats."""
        with self._using():
            key = self._key(name)
            info = describe_feature(self.graph, key)
            info["schema"] = self._declared_schema(key)
            info["stored_schema"] = self._stored_schema(key)
            info["stats"] = feature_stats(self.store, key, self.graph).to_dict()
            info["status"] = feature_status(self.store, key, self.graph).to_dict()
        return info

    def _key(self, name: str) -> FeatureKey:
        key = coerce_feature_key(name)
        self.graph.spec(key)  # UnknownFeatureError listing the known features
        return key

    def _declared_schema(self, key: FeatureKey) -> dict[str, Any] | None:
        cls = self.graph.feature_class(key)
        return None if cls is None else dict(cls.model_json_schema())

    def _stored_schema(self, key: FeatureKey) -> dict[str, str] | None:
        try:
            schema = self.store.read_metadata(key, history=True).collect_schema()
        except FeatureNotFoundError:
            return None
        return {name: str(dtype) for name, dtype in schema.items()}

    # -- graph, status, snapshots -------------------------------------------------------------------

    def graph_data(self, feature: str | None = None) -> dict[str, Any]:
        """Nodes and edges (feature and field level) of the graph, or of one feature's neighbourhood."""
        with self._using():
            center = self._key(feature) if feature else None
            return describe_graph(self.graph, center)

    def mermaid(self) -> str:
        """The graph as a Mermaid flowchart."""
        return self._run(lambda: graph_mermaid(self.graph))

    def status(self, features: list[str] | None = None) -> dict[str, Any]:
        """Per feature: stored, new, stale and orphaned counts and a state (``metaxy status``)."""
        with self._using():
            keys = [self._key(f) for f in features] if features else None
            rows = store_status(self.store, self.graph, keys)
        return {
            "store": self.store.name,
            "in_sync": all(r.in_sync for r in rows),
            "features": [r.to_dict() for r in rows],
        }

    def snapshots(self) -> dict[str, Any]:
        """The graph snapshots pushed to the store, oldest first (``metaxy history``)."""
        with self._using():
            frame = list_graph_snapshots(self.store)
            current = self.graph.project_version()
        return {
            "store": self.store.name,
            "current": current,
            "snapshots": [
                {
                    "snapshot_id": r["snapshot_id"],
                    "pushed_at": r["pushed_at"].isoformat(),
                    "features": r["feature_count"],
                    "is_current": r["snapshot_id"] == current,
                }
                for r in frame.iter_rows(named=True)
            ],
        }

    def diff(self, old: str | None = None, new: str = CURRENT) -> dict[str, Any]:
        """What changed between two graphs (snapshot ids or ``current``), with samples to recompute."""
        with self._using():
            changes = diff_graphs(self._graph_at(old), self._graph_at(new))
            counts = {k.to_string(): n for k, n in count_impact(self.store, changes).items()}
        return {**changes.to_dict(), "store": self.store.name, "samples_to_recompute": counts}

    def _graph_at(self, ref: str | None) -> FeatureGraph:
        if ref == CURRENT:
            return self.graph
        if ref is None:
            ids = list_graph_snapshots(self.store)["snapshot_id"].to_list()
            if not ids:
                raise SnapshotNotFoundError(
                    f"No graph snapshot was pushed to store {self.store.name} yet, so there is nothing to compare with.",
                    hint="Run `metaxy push` to record the current graph, or name two snapshots.",
                )
            ref = ids[-1]
        return load_graph_snapshot(self.store, ref)

    # -- samples --------------------------------------------------------------------------------------

    def lookup(self, ids: Mapping[str, str]) -> dict[str, Any]:
        """One sample in every feature keyed by the given ids (:meth:`MetadataStore.lookup`): stored or
        not; current, stale (which fields, and why), new, failed, orphaned, upstream-missing or absent.

        ``ids`` maps id columns to their values as text (as a URL carries them); the store converts
        them to the stored type. Each row of the store's lookup frame becomes one object, its
        ``sample`` parsed from JSON and ``updated_at`` in ISO 8601.
        """
        if not ids:
            raise RequestError(
                "A lookup needs at least one id column and value.",
                hint="Pass them as id=value pairs, e.g. /api/lookup?sample_uid=42.",
            )
        with self._using():
            try:
                frame = self.store.lookup(dict(ids), graph=self.graph)
            except VersioningError as exc:  # no feature has these ids, or a value of the wrong type
                raise RequestError(exc.message, hint=exc.hint) from exc
        rows = frame.to_dicts()
        for row in rows:
            row["sample"] = json.loads(row["sample"]) if row["sample"] else None
            stamp = row["updated_at"]
            row["updated_at"] = stamp.isoformat() if stamp is not None else None
        return {"store": self.store.name, "ids": dict(ids), "features": rows}


def check_page(limit: int, offset: int) -> None:
    """Refuse pages larger than :data:`MAX_PAGE_SIZE`, empty pages and negative offsets."""
    if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
        raise RequestError(
            f"A page holds 1 to {MAX_PAGE_SIZE} items from offset 0 or more; asked for limit={limit}, offset={offset}.",
            hint=f"Ask for limit <= {MAX_PAGE_SIZE} and follow with offset=offset+limit.",
        )
