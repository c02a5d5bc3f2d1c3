"""``MaterializationCatalog``: an index of what was materialized, answered without reading storage."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import polars as pl

from metaxy.catalog.records import MaterializationRecord, feature_key_of, info_frame, records_from_frame
from metaxy.models.keys import FeatureKey, FieldKey


@dataclass(frozen=True)
class RecordFilter:
    """Which records a query wants; ``None`` means any."""

    feature_key: str | None = None
    store: str | None = None
    field_key: str | None = None
    data_version: str | None = None
    feature_version: str | None = None


class MaterializationCatalog(ABC):
    """Optional index of materialized features: metadata about metadata.

    A store given ``catalog=`` registers every successful write here (field keys, the fields'
    static versions, sample counts, a timestamp) and asks it, instead of probing tables, whether a
    feature version is stored. Records are tagged with the writing store's ``name``, so one catalog
    can serve several stores; every query takes ``store=`` (``None``: any store).

    Implementations provide four primitives: ``_insert``, ``_select``, ``_delete`` and ``_keys``.

    Example:
        >>> import metaxy as mx
        >>> catalog = mx.InMemoryCatalog()
        >>> catalog.list_features()
        []
    """

    # -- primitives -----------------------------------------------------------------------------

    @abstractmethod
    def _insert(self, records: list[MaterializationRecord]) -> None:
        """Store ``records`` atomically (all or none)."""

    @abstractmethod
    def _select(self, where: RecordFilter, *, limit: int | None = None) -> list[MaterializationRecord]:
        """Records matching ``where`` (at most ``limit``)."""

    @abstractmethod
    def _delete(self, where: RecordFilter, feature_versions: list[str] | None) -> None:
        """Remove records matching ``where`` and, when given, one of ``feature_versions``."""

    @abstractmethod
    def _keys(self, store: str | None) -> list[str]:
        """Feature keys with at least one record."""

    def close(self) -> None:
        """Release connections (the catalog reconnects on next use)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- public API -----------------------------------------------------------------------------

    def register_materialization(self, feature: Any, df: pl.DataFrame, *, store: str = "") -> None:
        """Record that ``df`` (a written frame, system columns included) was stored for ``feature``.

        Extracts each row group's feature version, the fields and their static versions, the
        sample count and a timestamp. An empty frame registers nothing.
        """
        records = records_from_frame(feature_key_of(feature), df, store=store)
        if records:
            self._insert(records)

    def has_feature(
        self,
        feature: Any,
        *,
        field: str | FieldKey | None = None,
        data_version: str | None = None,
        feature_version: str | None = None,
        store: str | None = None,
    ) -> bool:
        """Whether a matching materialization was registered (``None`` arguments match anything)."""
        where = self._filter(feature, field, data_version, feature_version, store)
        return bool(self._select(where, limit=1))

    def get_materialized_versions(
        self, feature: Any, field: str | FieldKey | None = None, *, store: str | None = None
    ) -> set[str]:
        """Static field versions ("data versions") registered for ``feature`` (one field, or all)."""
        records = self._select(self._filter(feature, field, None, None, store))
        return {r.data_version for r in records if r.data_version is not None}

    def list_features(self, *, store: str | None = None) -> list[FeatureKey]:
        """Keys with at least one registered materialization, sorted."""
        return sorted(FeatureKey(k) for k in self._keys(store))

    def get_materialization_info(self, feature: Any, *, store: str | None = None) -> pl.DataFrame:
        """One row per registered (write, field): ``field_key, data_version, sample_count,
        materialized_at, feature_version, store, materialization_id``, oldest first."""
        return info_frame(self._select(self._filter(feature, None, None, None, store)))

    def forget_materialization(
        self, feature: Any, *, feature_versions: Iterable[str] | None = None, store: str | None = None
    ) -> None:
        """Drop records of ``feature`` (only ``feature_versions`` when given); used after hard deletes."""
        versions = None if feature_versions is None else sorted(feature_versions)
        if versions == []:
            return
        self._delete(self._filter(feature, None, None, None, store), versions)

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _filter(
        feature: Any,
        field: str | FieldKey | None,
        data_version: str | None,
        feature_version: str | None,
        store: str | None,
    ) -> RecordFilter:
        return RecordFilter(
            feature_key=feature_key_of(feature).to_string(),
            store=store,
            field_key=None if field is None else FieldKey.coerce(field).to_string(),
            data_version=data_version,
            feature_version=feature_version,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def matches(record: MaterializationRecord, where: RecordFilter) -> bool:
    """Whether ``record`` satisfies ``where`` (the reference semantics SQL catalogs mirror)."""
    return all(
        wanted is None or wanted == actual
        for wanted, actual in (
            (where.feature_key, record.feature_key),
            (where.store, record.store),
            (where.field_key, record.field_key),
            (where.data_version, record.data_version),
            (where.feature_version, record.feature_version),
        )
    )
