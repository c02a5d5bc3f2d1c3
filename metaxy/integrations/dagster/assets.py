"""``metaxy_asset``: a feature as a Dagster asset whose body computes only the new and stale samples.

The body receives a :class:`FeatureContext`, calls ``resolve_update`` (restricted to the run's
partition), computes what is missing and returns it; the rows are then appended in one write (a
failing body writes nothing) and the materialization reports the provenance digest as its data
version, with the increment's counts and a preview in its metadata.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import dagster as dg
import polars as pl

from metaxy.exceptions import IntegrationError
from metaxy.integrations.dagster.partitions import PARTITION_COLUMN_KEY, PartitionBy, asset_filters
from metaxy.integrations.dagster.resources import STORE_RESOURCE_KEY
from metaxy.integrations.dagster.specs import feature_asset_spec, feature_key_of
from metaxy.integrations.dagster.versions import data_version
from metaxy.models.feature import Feature, FeatureLike
from metaxy.stores.base import FrameLike, MetadataStore
from metaxy.versioning.frames import to_polars
from metaxy.versioning.increment import Increment

PREVIEW_ROWS = 5

FeatureBody = Callable[["FeatureContext"], "FrameLike | None"]


class FeatureContext:
    """What a feature asset's body works with: the open store, the run's filters and the increment.

    Attributes:
        dagster: the Dagster execution context (logging, partition keys, run id).
        store: the store, open for the run (writes carry the run id).
        feature: the feature this asset materializes.
        filters: the conditions selecting the run's partition (empty when not partitioned).
    """

    def __init__(
        self,
        dagster: dg.AssetExecutionContext,
        store: MetadataStore,
        feature: FeatureLike,
        filters: Sequence[pl.Expr],
    ) -> None:
        self.dagster = dagster
        self.store = store
        self.feature = feature
        self.filters = tuple(filters)
        self.increment: Increment[pl.DataFrame] | None = None

    def resolve_update(self, *, samples: FrameLike | None = None) -> Increment[pl.DataFrame]:
        """The increment of the run's slice (``samples`` for root features); its counts are reported."""
        self.increment = self.store.resolve_update(self.feature, samples=samples, filters=list(self.filters))
        return self.increment

    def read(self, feature: FeatureLike, **options: Any) -> pl.LazyFrame:
        """``store.read_metadata`` of any feature (an upstream one, say), as a lazy frame."""
        return self.store.read_metadata(feature, **options)


def metaxy_asset(
    feature: type[Feature],
    *,
    store_key: str = STORE_RESOURCE_KEY,
    partitions_def: dg.PartitionsDefinition[Any] | None = None,
    partition_by: PartitionBy | None = None,
    prefix: Sequence[str] = (),
    kinds: Iterable[str] = (),
    group_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    delete_orphaned: bool = False,
) -> Callable[[FeatureBody], dg.AssetsDefinition]:
    """Turn a function ``body(ctx: FeatureContext) -> frame | None`` into the feature's asset.

    The asset's spec is :func:`~metaxy.integrations.dagster.feature_asset_spec`'s (key, upstream deps,
    code version = feature version, schema, lineage, kinds). ``partition_by`` maps a partition key to
    a filter: a column name (rows whose column equals the key) or a function ``key -> pl.Expr``.
    ``delete_orphaned`` soft-deletes the samples gone upstream after the write.

    The body returns the rows it computed (written in one append) or ``None`` when it wrote them
    itself. The materialization's data version is the feature's provenance digest over the run's
    slice; its metadata holds ``metaxy/new``, ``metaxy/stale``, ``metaxy/orphaned`` (when the body
    called ``ctx.resolve_update``), ``metaxy/written`` and ``metaxy/preview``.
    """
    if partitions_def is not None and partition_by is None:
        raise IntegrationError(
            f"metaxy_asset({feature_key_of(feature).to_string()!r}) has partitions but no partition_by, so "
            "every partition would resolve and write the whole feature.",
            hint='Pass partition_by="column" (rows whose column equals the partition key) or a function '
            "key -> pl.Expr.",
        )
    extra = dict(metadata or {})
    if isinstance(partition_by, str):
        extra[PARTITION_COLUMN_KEY] = partition_by
    spec = feature_asset_spec(
        feature,
        prefix=prefix,
        kinds=kinds,
        group_name=group_name,
        partitions_def=partitions_def,
        metadata=extra,
    )

    def decorator(body: FeatureBody) -> dg.AssetsDefinition:
        def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult[Any]:
            store: MetadataStore = getattr(context.resources, store_key)
            ctx = FeatureContext(context, store, feature, asset_filters(context, partition_by))
            returned = body(ctx)
            return materialize_result(ctx, returned, delete_orphaned=delete_orphaned)

        # Dagster reads the context's annotation as an object (this module's annotations are strings)
        _asset.__annotations__ = {"context": dg.AssetExecutionContext, "return": dg.MaterializeResult}
        return dg.multi_asset(
            name=_op_name(feature, prefix),
            specs=[spec],
            required_resource_keys={store_key},
            description=spec.description or body.__doc__,
        )(_asset)

    return decorator


def materialize_result(
    ctx: FeatureContext, returned: FrameLike | None, *, delete_orphaned: bool = False
) -> dg.MaterializeResult[Any]:
    """Append ``returned`` (one write), then report the data version, the counts and a preview."""
    written = pl.DataFrame() if returned is None else to_polars(returned, where=_where(ctx))
    if written.height or (returned is not None and not ctx.store.has_feature(ctx.feature)):
        ctx.store.write_metadata(ctx.feature, written)  # an empty first write records "no samples"
    inc = ctx.increment
    orphaned = 0
    if inc is not None and delete_orphaned and inc.orphaned.height:
        orphaned = ctx.store.delete_metadata(ctx.feature, samples=inc.orphaned)
    meta: dict[str, Any] = {"metaxy/written": written.height}
    if inc is not None:
        meta |= {f"metaxy/{name}": count for name, count in inc.counts.items()}
    if delete_orphaned:
        meta["metaxy/deleted"] = orphaned
    if written.height:
        meta["metaxy/preview"] = dg.MetadataValue.md(preview_markdown(written, PREVIEW_ROWS))
    return dg.MaterializeResult(
        data_version=data_version(ctx.store, ctx.feature, filters=ctx.filters), metadata=meta
    )


def preview_markdown(frame: pl.DataFrame, rows: int) -> str:
    """The first ``rows`` rows of ``frame`` as a Markdown table, without the system columns."""
    shown = frame.select([c for c in frame.columns if not c.startswith("metaxy_")]).head(rows)
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in shown.iter_rows()]
    more = [f"\n{frame.height - rows} more rows"] if frame.height > rows else []
    return "\n".join([header, rule, *body, *more])


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def _op_name(feature: FeatureLike, prefix: Sequence[str]) -> str:
    return re.sub(r"\W", "_", "__".join([*prefix, *feature_key_of(feature).parts]))


def _where(ctx: FeatureContext) -> str:
    return f"asset {ctx.dagster.asset_key.to_user_string()}"
