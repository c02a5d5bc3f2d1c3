"""Stand-in for a lazily imported backend module (the registry must find it through the backend table)."""

from __future__ import annotations

from typing import Any

import metaxy as mx


class DuckDBMetadataStore(mx.InMemoryMetadataStore):
    kind = "fake-duckdb"

    def __init__(self, db_path: str = ":memory:", *, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(read_only=read_only, **kwargs)
        self.db_path = db_path
