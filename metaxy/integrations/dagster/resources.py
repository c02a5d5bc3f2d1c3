"""The store as a Dagster resource (opened once per run, writes stamped with the run id) and an IO
manager that loads upstream features as lazy frames and appends what an asset returns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from metaxy.config.loader import load_config
from metaxy.constants import MATERIALIZATION_ID
from metaxy.exceptions import IntegrationError
from metaxy.integrations.dagster.specs import FEATURE_KEY
from metaxy.models.feature import FeatureLike
from metaxy.models.keys import FeatureKey
from metaxy.stores.base import FrameLike, MetadataStore
from metaxy.stores.registry import store_from_config
from metaxy.stores.wrappers.base import WrappedMetadataStore
from metaxy.versioning.frames import to_polars

#: the resource key assets built here ask for by default
STORE_RESOURCE_KEY = "metaxy_store"


class RunStampedStore(WrappedMetadataStore):
    """A store whose writes carry a materialization id (the Dagster run id) unless they bring their own.

    The catalog, when the store has one, records that id for each write.
    """

    kind = "run-stamped"

    def __init__(self, store: MetadataStore, materialization_id: str) -> None:
        self.materialization_id = materialization_id
        super().__init__(store)

    def write_metadata(self, feature: FeatureLike, df: FrameLike) -> None:
        frame = to_polars(df, where=f"{self.name}, writing {feature!r}")
        if MATERIALIZATION_ID not in frame.columns:
            frame = frame.with_columns(pl.lit(self.materialization_id, pl.String).alias(MATERIALIZATION_ID))
        super().write_metadata(feature, frame)


def metaxy_store_resource(
    store: MetadataStore | str | None = None,
    *,
    config: str | Path | None = None,
    read_only: bool = False,
) -> dg.ResourceDefinition:
    """A resource yielding an open store for the run, its writes stamped with the run id.

    Args:
        store: a store object, or the name of a store in ``metaxy.toml`` (default: the configured
            default store).
        config: the ``metaxy.toml`` / ``pyproject.toml`` to read (default: found from the working
            directory up, or ``$METAXY_CONFIG``).
        read_only: open a store named in the configuration read-only.

    The store is opened when the run starts and closed when it ends, so lazy frames read in one step
    can be collected anywhere in that step.
    """

    @dg.resource(description="A metaxy metadata store, open for the run.")
    def _resource(context: dg.InitResourceContext) -> Iterator[MetadataStore]:
        base = store if isinstance(store, MetadataStore) else _configured(store, config, read_only)
        run = getattr(context, "run", None)  # None outside a run (a resource built in a test)
        with RunStampedStore(base, run.run_id if run is not None else "dagster") as opened:
            yield opened

    return _resource


def _configured(name: str | None, config: str | Path | None, read_only: bool) -> MetadataStore:
    return store_from_config(load_config(config), name, read_only=read_only)


class MetaxyIOManager(dg.IOManager):
    """Loads an upstream feature as a ``pl.LazyFrame`` (its partition's rows when partitioned by a
    column) and appends the frame an asset returns (``None``: the asset wrote itself)."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        key = _feature_key(context.asset_key, context.definition_metadata)
        frame = to_polars(obj, where=f"asset {context.asset_key.to_user_string()}")
        if frame.height or not self.store.has_feature(key):  # an empty first write records "no samples"
            self.store.write_metadata(key, frame)
        context.add_output_metadata({"metaxy/written": frame.height})

    def load_input(self, context: dg.InputContext) -> pl.LazyFrame:
        upstream = context.upstream_output
        metadata = upstream.definition_metadata if upstream is not None else {}
        key = _feature_key(context.asset_key, metadata)
        from metaxy.integrations.dagster.partitions import input_filters

        return self.store.read_metadata(key, filters=input_filters(context, metadata))


def metaxy_io_manager(store_key: str = STORE_RESOURCE_KEY) -> dg.IOManagerDefinition:
    """An IO manager over the store resource ``store_key`` (see :class:`MetaxyIOManager`)."""

    @dg.io_manager(required_resource_keys={store_key})
    def _io_manager(context: dg.InitResourceContext) -> MetaxyIOManager:
        return MetaxyIOManager(getattr(context.resources, store_key))

    return _io_manager


def _feature_key(key: dg.AssetKey, metadata: Any) -> FeatureKey:
    """The feature behind an asset: its ``metaxy/feature_key`` metadata, else the asset key's parts."""
    named = (metadata or {}).get(FEATURE_KEY)
    text = getattr(named, "value", named)
    if isinstance(text, str):
        return FeatureKey(text)
    if not key.path:
        raise IntegrationError(
            "An asset with an empty key has no feature.", hint="Use feature_asset_spec(...)."
        )
    return FeatureKey(list(key.path))
