"""Metaxy 0.1.11's store spellings, in one place: accepted as thin aliases, or refused naming the new one.

:class:`Metaxy011StoreAPI` is mixed into :class:`~metaxy.stores.base.MetadataStore`; docs/migrating.md
lists every difference and what happens to it.
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, Self, cast

import polars as pl

from metaxy.constants import MATERIALIZATION_ID
from metaxy.exceptions import LegacyAPIError
from metaxy.models.fields import coerce_feature_key
from metaxy.models.keys import FeatureKey
from metaxy.versioning.frames import to_polars

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore

#: ``resolve_update`` arguments of 0.1.11 that have no equivalent, and what to use instead
RESOLVE_REPLACEMENTS: dict[str, str] = {
    "staleness_predicates": "recompute chosen samples yourself: filter increment.to_recompute() or pass "
    "samples=; staleness is decided by provenance and feature version only",
    "global_filters": "pass filters=[...] (Polars expressions on the feature's columns); for upstream "
    "rows put filters on the FeatureDep",
    "target_filters": "pass filters=[...] (Polars expressions on the feature's columns)",
    "skip_comparison": "read the upstream with read_metadata(...) if you want every sample",
    "versioning_engine": "set versioning_engine= on the store's constructor",
}
MODES = ("r", "w")
#: constructor arguments of 0.1.11's stores, and what to pass instead
CONSTRUCTOR_REPLACEMENTS: dict[str, str] = {
    "database": "pass the DuckDB file as the first argument, db_path",
    "root_path": "pass the Delta root as the first argument, table_uri",
    "connection_string": "pass the URL as the first argument, connection_url",
    "connection_params": "pass one connection_url (credentials in the URL)",
    "extensions": "drop it: metaxy never installs DuckDB extensions (it works offline)",
    "auto_create_tables": "drop it: tables are created on the first write",
    "layout": 'drop it: Delta tables use the nested layout ("<part1>/<part2>.delta")',
    "delta_write_options": "drop it: metaxy sets the Delta write options",
    "auto_cast_struct_for_map": "drop it: *_by_field columns are structs",
    "auto_cast_struct_for_jsonb": "drop it: *_by_field columns are stored as the backend's structs or JSON",
    "auto_create_namespace": "drop it: the Iceberg namespace is created when the store opens writable",
    "materialization_id": "pass it per write: store.write(feature, df, materialization_id=...)",
}


def legacy_error(what: str, hint: str) -> LegacyAPIError:
    """The error for a 0.1.11 spelling that is not accepted."""
    return LegacyAPIError(f"{what} is Metaxy 0.1.x API that this metaxy does not have.", hint=hint)


def check_resolve_arguments(legacy: Mapping[str, Any]) -> None:
    """Refuse 0.1.11-only ``resolve_update`` keywords, naming the replacement; unknown ones like Python."""
    for name in legacy:
        if name in RESOLVE_REPLACEMENTS:
            raise legacy_error(f"resolve_update({name}=...)", RESOLVE_REPLACEMENTS[name].capitalize() + ".")
        raise TypeError(f"resolve_update() got an unexpected keyword argument {name!r}")


def check_constructor_arguments(store: str, legacy: Mapping[str, Any]) -> None:
    """Refuse 0.1.11-only constructor arguments, naming what to pass instead."""
    for name in legacy:
        if name in CONSTRUCTOR_REPLACEMENTS:
            raise legacy_error(f"{store}({name}=...)", CONSTRUCTOR_REPLACEMENTS[name].capitalize() + ".")
        raise TypeError(f"{store}() got an unexpected keyword argument {name!r}")


@cache
def _parameters(cls: Any) -> frozenset[str]:
    """Keyword names a store's constructor takes (``database`` is ClickHouse's own, not 0.1.11's)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            params = inspect.signature(init).parameters.values()
            names |= {p.name for p in params}
            if not any(p.kind is p.VAR_KEYWORD for p in params):
                break
    return frozenset(names)


def target_filters(filters: Any, key: FeatureKey) -> Any:
    """0.1.11's ``filters={Feature: [exprs]}``: accepted for the resolved feature itself, else refused."""
    if not isinstance(filters, Mapping):
        return filters
    keys = {coerce_feature_key(k) for k in filters}
    if keys - {key}:
        others = ", ".join(sorted(str(k) for k in keys - {key}))
        raise legacy_error(
            f"resolve_update(filters={{...}}) keyed by upstream features ({others})",
            "Put upstream filters on the dependency, FeatureDep(feature=..., filters=[...]), and pass "
            "filters=[...] for the feature's own columns.",
        )
    return [expr for k, exprs in filters.items() for expr in _as_list(exprs)]


def _as_list(exprs: Any) -> list[Any]:
    return list(exprs) if isinstance(exprs, Sequence) and not isinstance(exprs, str) else [exprs]


def refuse_narwhals(filters: Any) -> None:
    """0.1.11 filtered with Narwhals expressions; this metaxy takes Polars ones."""
    for expr in _as_list(filters) if filters is not None else []:
        if type(expr).__module__.split(".")[0] == "narwhals":
            raise legacy_error(
                "A Narwhals filter expression",
                'Write the same filter with Polars: pl.col("x") > 1 instead of nw.col("x") > 1.',
            )


def check_mode(mode: str) -> None:
    """``open("r")`` / ``open("w")``: the mode is accepted; read-only is a constructor option here."""
    if mode not in MODES:
        raise LegacyAPIError(
            f"open({mode!r}): unknown access mode.",
            hint='Use `with store:`; open("r") and open("w") are accepted for Metaxy 0.1.x code.',
        )


@contextmanager
def opened(store: MetadataStore) -> Iterator[MetadataStore]:
    """0.1.11's ``with store.open("w"):``: open for the block, close after it."""
    store.open()
    try:
        yield store
    finally:
        store.close()


class Metaxy011StoreAPI:
    """The 0.1.11 method names ``read``, ``write`` and ``delete``, as thin aliases of the store's own."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        # before __init__, so a 0.1.11 argument is named with its replacement, not as a plain TypeError
        legacy = {k: v for k, v in kwargs.items() if k in CONSTRUCTOR_REPLACEMENTS}
        if legacy:
            own: frozenset[str] = _parameters(cast(Hashable, cls))
            check_constructor_arguments(cls.__name__, {k: v for k, v in legacy.items() if k not in own})
        return super().__new__(cls)

    if TYPE_CHECKING:  # provided by MetadataStore
        name: str

        def read_metadata(
            self,
            feature: Any,
            *,
            filters: Any = None,
            columns: Sequence[str] | None = None,
            feature_version: str | None = None,
            all_versions: bool = False,
            history: bool = False,
            include_deleted: bool = False,
            allow_fallback: bool = True,
        ) -> pl.LazyFrame: ...

        def write_metadata(self, feature: Any, df: Any) -> None: ...
        def delete_metadata(self, feature: Any, *, filters: Any = None, soft: bool = True) -> int: ...

    def read(
        self,
        feature: Any,
        *,
        feature_version: str | None = None,
        filters: Any = None,
        columns: Sequence[str] | None = None,
        allow_fallback: bool = True,
        with_feature_history: bool = False,
        with_sample_history: bool = False,
        include_soft_deleted: bool = False,
        with_store_info: bool = False,
    ) -> pl.LazyFrame:
        """0.1.11's ``read``: :meth:`read_metadata` (history flags: ``all_versions=``, ``history=``)."""
        if with_store_info:
            raise legacy_error(
                "read(with_store_info=True)",
                "Call store.has_feature(feature) on each store of the chain to see where it is stored.",
            )
        refuse_narwhals(filters)
        return self.read_metadata(
            feature,
            filters=filters,
            columns=columns,
            feature_version=feature_version,
            all_versions=with_feature_history,
            history=with_sample_history,
            include_deleted=include_soft_deleted,
            allow_fallback=allow_fallback,
        )

    def write(
        self,
        feature: Any,
        df: Any,
        materialization_id: str | None = None,
        preserve_feature_version: bool = False,
    ) -> None:
        """0.1.11's ``write``: :meth:`write_metadata` (``materialization_id`` fills that system column)."""
        if preserve_feature_version:
            raise legacy_error(
                "write(preserve_feature_version=True)",
                "Use copy_metadata(...) to copy rows as they are, or migrate_data_versions(...) to re-stamp them.",
            )
        if materialization_id is not None:
            frame = to_polars(df, where=f"{self.name}.write")
            df = frame.with_columns(pl.lit(materialization_id).alias(MATERIALIZATION_ID))
        self.write_metadata(feature, df)

    def delete(
        self,
        feature: Any,
        filters: Any = None,
        *,
        soft: bool = True,
        with_feature_history: bool = False,
        with_sample_history: bool = False,
    ) -> int:
        """0.1.11's ``delete``: :meth:`delete_metadata` (which always acts on every stored version)."""
        refuse_narwhals(filters)
        return self.delete_metadata(feature, filters=filters, soft=soft)
