"""Dask on metaxy stores (extra ``dask``): :class:`DaskMetadataStore` resolves increments as Dask
DataFrames (one delayed shard resolution per partition) and versions and writes Dask DataFrames."""

from __future__ import annotations

from metaxy.integrations._worker import STATUS, import_engine

import_engine("dask.dataframe", "dask")

from metaxy.integrations.dask.store import DaskMetadataStore  # noqa: E402

__all__ = ["STATUS", "DaskMetadataStore"]
