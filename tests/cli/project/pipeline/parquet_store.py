"""A store keeping each feature as Parquet files in a folder: persistent across CLI processes.

It also shows that ``type = "pkg.module:Class"`` in ``metaxy.toml`` accepts a project's own store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

import metaxy as mx
from metaxy.models.keys import FeatureKey


class ParquetDirMetadataStore(mx.MetadataStore):
    """Every append is one Parquet file under ``<root>/<table>/``."""

    kind = "parquet-dir"
    path_options = ("root",)  # a relative root resolves against the folder of metaxy.toml

    def __init__(self, root: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = Path(root)

    @property
    def location(self) -> str:
        return str(self.root)

    def exists(self) -> bool:
        return self.root.is_dir()

    def _open_backend(self) -> None:
        if not self.read_only:
            self.root.mkdir(parents=True, exist_ok=True)

    def _close_backend(self) -> None:
        pass

    def _folder(self, key: FeatureKey) -> Path:
        return self.root / key.to_table_name()

    def _files(self, key: FeatureKey) -> list[Path]:
        return sorted(self._folder(key).glob("*.parquet"))

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        folder = self._folder(key)
        folder.mkdir(parents=True, exist_ok=True)
        df.write_parquet(folder / f"{len(self._files(key)):06d}.parquet")

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        files = self._files(key)
        if not files:
            return None
        return pl.concat([pl.read_parquet(f).lazy() for f in files], how="diagonal_relaxed")

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        lf = self._scan(key)
        kept = None if lf is None or predicate is None else lf.filter(~predicate.fill_null(False)).collect()
        for f in self._files(key):
            f.unlink()
        if kept is not None and kept.height:
            self._append(key, kept)

    def _list_keys(self) -> list[FeatureKey]:
        if not self.root.is_dir():
            return []
        return [
            FeatureKey(p.name.split("__")) for p in sorted(self.root.iterdir()) if any(p.glob("*.parquet"))
        ]
