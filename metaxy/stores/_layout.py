"""One place that adapts stored tables written by other metaxy versions to this version's layout."""

from __future__ import annotations

import polars as pl


def normalize_stored(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Stored rows in this version's column layout (see ``docs/compatibility.md``)."""
    return lf
