"""The spark store: `store.py` (the store), `schema.py` (types, schema merge and the Spark SQL dialect),
`session.py` (the session and the xxhash UDFs), `files.py` (table folders), `frames.py` (Spark in, Spark out)."""

from __future__ import annotations

from metaxy.stores.spark.store import SparkMetadataStore

__all__ = ["SparkMetadataStore"]
