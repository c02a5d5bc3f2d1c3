"""The public store operations and what one call did (feature, rows, bytes), for logs and metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from metaxy.models.fields import coerce_feature_key
from metaxy.versioning.increment import Increment

#: public operation -> short name used in metrics and log lines
OPERATIONS: dict[str, str] = {
    "write_metadata": "write",
    "read_metadata": "read",
    "delete_metadata": "delete",
    "resolve_update": "resolve",
    "calculate_and_write_data_versions": "calculate",
    "has_feature": "has_feature",
    "list_features": "list",
    "copy_metadata": "copy",
    "provenance_digest": "digest",
    "prune": "prune",
    "migrate_schema": "migrate_schema",
}

_TAKES_FEATURE = frozenset(OPERATIONS) - {"list_features", "copy_metadata"}


def describe_feature(feature: Any) -> str:
    """``feature`` as a key string, without ever raising (logging must not fail an operation)."""
    spec = getattr(feature, "spec", None)
    try:
        key = spec().key if callable(spec) else coerce_feature_key(feature)
        return str(key.to_string())
    except Exception:
        return repr(feature)


def frame_rows(frame: Any) -> int | None:
    """Row count of an eager frame (Polars, pandas, Arrow); ``None`` for lazy or unknown objects."""
    if isinstance(frame, pl.LazyFrame):
        return None
    height = getattr(frame, "height", None)
    if isinstance(height, int):
        return height
    rows = getattr(frame, "num_rows", None)
    if isinstance(rows, int):
        return rows
    try:
        return len(frame)
    except TypeError:
        return None


def frame_bytes(frame: Any) -> int | None:
    """Approximate in-memory size of an eager frame (``DataFrame.estimated_size()`` for Polars)."""
    if isinstance(frame, pl.DataFrame):
        return int(frame.estimated_size())
    nbytes = getattr(frame, "nbytes", None)  # pyarrow tables
    if isinstance(nbytes, int):
        return nbytes
    memory_usage = getattr(frame, "memory_usage", None)  # pandas
    if callable(memory_usage):
        try:
            return int(memory_usage(deep=True).sum())
        except Exception:
            return None
    return None


def summarize(operation: str, args: Sequence[Any], kwargs: Mapping[str, Any], result: Any) -> dict[str, Any]:
    """What one call did: feature, rows, bytes and operation-specific counts (``None`` when unknown).

    ``args`` excludes the store itself. Never raises, never collects a lazy frame.
    """
    info: dict[str, Any] = {"operation": OPERATIONS.get(operation, operation)}
    if operation in _TAKES_FEATURE and args:
        info["feature"] = describe_feature(args[0])
    if operation == "write_metadata" and len(args) > 1:
        info["rows"], info["bytes"] = frame_rows(args[1]), frame_bytes(args[1])
    elif operation == "calculate_and_write_data_versions":
        info["rows"], info["bytes"] = frame_rows(result), frame_bytes(result)
    elif operation == "read_metadata":
        info["filters"] = "applied" if kwargs.get("filters") is not None else "none"
        if isinstance(result, pl.DataFrame):
            info["rows"], info["bytes"] = result.height, int(result.estimated_size())
    elif operation == "delete_metadata":
        info["rows"], info["soft"] = result, kwargs.get("soft", True)
    elif operation == "resolve_update" and isinstance(result, Increment):
        info.update(_increment_counts(result))
    elif operation == "copy_metadata" and isinstance(result, dict):
        info["rows"], info["features"] = sum(result.values()), len(result)
    elif operation == "list_features" and isinstance(result, list):
        info["features"] = len(result)
    elif operation in ("prune", "migrate_schema") and result is not None:
        info["rows"] = getattr(result, "pruned", getattr(result, "rows", None))
        info["dry_run"] = kwargs.get("dry_run", False)
    elif operation == "has_feature":
        info["found"] = result
    return info


def _increment_counts(increment: Increment[Any]) -> dict[str, Any]:
    parts = {"new": increment.new, "stale": increment.stale, "orphaned": increment.orphaned}
    if not all(isinstance(frame, pl.DataFrame) for frame in parts.values()):
        return {}  # a lazy increment: counting would compute it
    counts = {name: frame.height for name, frame in parts.items()}
    return {**counts, "rows": counts["new"] + counts["stale"]}
