"""What a store needs from a materialization catalog (the full ABC lives in ``metaxy.catalog``)."""

from __future__ import annotations

from typing import Any, Protocol

import polars as pl


class CatalogLike(Protocol):
    """The two calls stores make: register a successful write, and ask whether rows exist."""

    def register_materialization(self, feature: Any, df: pl.DataFrame) -> None: ...

    def has_feature(self, feature: Any, *, feature_version: str | None = None) -> bool: ...
