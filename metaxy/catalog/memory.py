"""``InMemoryCatalog``: records in a Python list; single process, lives as long as the object."""

from __future__ import annotations

import threading

from metaxy.catalog.base import MaterializationCatalog, RecordFilter, matches
from metaxy.catalog.records import MaterializationRecord


class InMemoryCatalog(MaterializationCatalog):
    """A dict-backed catalog for tests, notebooks and single-process pipelines."""

    def __init__(self) -> None:
        self._records: dict[str, list[MaterializationRecord]] = {}
        self._lock = threading.Lock()

    def _insert(self, records: list[MaterializationRecord]) -> None:
        with self._lock:
            for record in records:
                self._records.setdefault(record.feature_key, []).append(record)

    def _select(self, where: RecordFilter, *, limit: int | None = None) -> list[MaterializationRecord]:
        with self._lock:
            pool = (
                list(self._records.get(where.feature_key, []))
                if where.feature_key is not None
                else [r for rs in self._records.values() for r in rs]
            )
        found = []
        for record in pool:
            if matches(record, where):
                found.append(record)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def _delete(self, where: RecordFilter, feature_versions: list[str] | None) -> None:
        with self._lock:
            for key, records in list(self._records.items()):
                kept = [
                    r
                    for r in records
                    if not (
                        matches(r, where)
                        and (feature_versions is None or r.feature_version in feature_versions)
                    )
                ]
                if kept:
                    self._records[key] = kept
                else:
                    del self._records[key]

    def _keys(self, store: str | None) -> list[str]:
        with self._lock:
            return [
                key
                for key, records in self._records.items()
                if any(store in (None, r.store) for r in records)
            ]
