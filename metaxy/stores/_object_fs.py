"""Listing tables under a root URI with fsspec (deltalake opens tables but cannot list them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metaxy.stores._drivers import import_driver

#: deltalake/object_store option names (case-insensitive) -> where s3fs expects them
_S3_OPTIONS = {
    "aws_access_key_id": ("key",),
    "aws_secret_access_key": ("secret",),
    "aws_session_token": ("token",),
    "aws_endpoint_url": ("client_kwargs", "endpoint_url"),
    "aws_endpoint": ("client_kwargs", "endpoint_url"),
    "aws_region": ("client_kwargs", "region_name"),
}


def fsspec_options(uri: str, storage_options: Mapping[str, str] | None) -> dict[str, Any]:
    """Translate deltalake ``storage_options`` into fsspec keyword arguments for ``uri``'s protocol."""
    if not storage_options or not uri.startswith(("s3://", "s3a://")):
        return {}
    options: dict[str, Any] = {}
    for name, value in storage_options.items():
        target = _S3_OPTIONS.get(name.lower())
        if target is None:
            continue
        if len(target) == 1:
            options[target[0]] = value
        else:
            options.setdefault(target[0], {})[target[1]] = value
    return options


def list_delta_tables(root: str, storage_options: Mapping[str, str] | None, *, suffix: str) -> list[str]:
    """Paths (relative to ``root``, ``/``-separated) of directories named ``*<suffix>`` holding a Delta log.

    Walks breadth-first and never descends into a table, so the cost is the number of directories
    above the tables, not the number of data files.
    """
    fsspec = import_driver("fsspec", "delta")
    fs, base = fsspec.core.url_to_fs(root, **fsspec_options(root, storage_options))
    if not fs.exists(base):
        return []
    base = base.rstrip("/")
    found: list[str] = []
    pending = [base]
    while pending:
        directory = pending.pop()
        for entry in fs.ls(directory, detail=True, refresh=True):
            if entry.get("type") != "directory":
                continue
            path = entry["name"].rstrip("/")
            if path.endswith(suffix):
                if fs.exists(f"{path}/_delta_log"):
                    found.append(path[len(base) + 1 :])
            else:
                pending.append(path)
    return sorted(found)


def object_root_exists(root: str, storage_options: Mapping[str, str] | None) -> bool:
    """Whether any object lies under ``root`` (a bucket prefix); ``True`` when the store cannot be
    asked (no s3fs, unreachable, refused), so that opening it reports what is wrong. Never creates
    anything."""
    try:
        fsspec = import_driver("fsspec", "delta")
        fs, base = fsspec.core.url_to_fs(root, **fsspec_options(root, storage_options))
        fs.invalidate_cache(base)  # fsspec shares filesystem objects and their listings
        return bool(fs.exists(base))
    except Exception:  # missing driver, unreachable endpoint, refused credentials: cannot tell
        return True
