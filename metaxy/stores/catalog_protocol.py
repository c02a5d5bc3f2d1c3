"""What a store needs from a materialization catalog (the full ABC lives in ``metaxy.catalog``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import polars as pl


class CatalogLike(Protocol):
    """The calls stores make: register a successful write, ask whether rows exist, forget hard-deleted
    versions. ``store`` is the calling store's name, so one catalog can serve several stores."""

    def register_materialization(self, feature: Any, df: pl.DataFrame, *, store: str = "") -> None: ...

    def has_feature(
        self, feature: Any, *, feature_version: str | None = None, store: str | None = None
    ) -> bool: ...

    def forget_materialization(
        self, feature: Any, *, feature_versions: Iterable[str] | None = None, store: str | None = None
    ) -> None: ...
