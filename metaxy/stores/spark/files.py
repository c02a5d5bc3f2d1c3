"""The table folders, through the JVM's Hadoop file system: the same calls work for a local path, HDFS,
``s3a://`` or any file system the session's Hadoop configuration knows, so the driver lists and
edits exactly what the executors read and write.

Each table is a folder of Parquet files plus ``_metaxy_schema.json``, the table's Spark schema (names
starting with ``_`` are skipped by Spark's readers).
"""

from __future__ import annotations

import json
from typing import Any

SCHEMA_FILE = "_metaxy_schema.json"


class HadoopFiles:
    """Small file-system operations on one session's Hadoop file systems (paths are URIs or local)."""

    def __init__(self, session: Any) -> None:
        self._jvm = session._jvm
        self._conf = session._jsc.hadoopConfiguration()

    def _path(self, uri: str) -> tuple[Any, Any]:
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path.getFileSystem(self._conf), path

    def exists(self, uri: str) -> bool:
        fs, path = self._path(uri)
        return bool(fs.exists(path))

    def is_dir(self, uri: str) -> bool:
        fs, path = self._path(uri)
        return bool(fs.exists(path) and fs.getFileStatus(path).isDirectory())

    def mkdirs(self, uri: str) -> None:
        fs, path = self._path(uri)
        if not fs.mkdirs(path):
            raise OSError(f"cannot create the folder {uri}")

    def delete(self, uri: str) -> None:
        fs, path = self._path(uri)
        fs.delete(path, True)

    def rename(self, source: str, target: str) -> None:
        fs, path = self._path(source)
        if not fs.rename(path, self._jvm.org.apache.hadoop.fs.Path(target)):
            raise OSError(f"cannot move {source} to {target}")

    def entries(self, uri: str) -> list[tuple[str, bool]]:
        """``(name, is_directory)`` of each entry of a folder ([] when it does not exist)."""
        fs, path = self._path(uri)
        if not fs.exists(path):
            return []
        return [(s.getPath().getName(), bool(s.isDirectory())) for s in fs.listStatus(path)]

    def data_files(self, uri: str) -> list[str]:
        """Names of the data files in a table folder (what Spark's readers read)."""
        return [name for name, is_dir in self.entries(uri) if not is_dir and not name.startswith(("_", "."))]

    def read_text(self, uri: str) -> str | None:
        fs, path = self._path(uri)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            text: str = self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
            return text
        finally:
            stream.close()

    def write_text(self, uri: str, text: str) -> None:
        """Write a small file whole: to a temporary name first, then moved over the old one."""
        fs, path = self._path(uri)
        temporary = self._jvm.org.apache.hadoop.fs.Path(uri + ".tmp")
        stream = fs.create(temporary, True)
        try:
            stream.write(bytearray(text.encode()))
        finally:
            stream.close()
        if fs.exists(path):
            fs.delete(path, False)
        if not fs.rename(temporary, path):
            raise OSError(f"cannot move {uri}.tmp to {uri}")

    def read_schema(self, table: str) -> dict[str, Any] | None:
        text = self.read_text(f"{table}/{SCHEMA_FILE}")
        return None if text is None else dict(json.loads(text))

    def write_schema(self, table: str, schema: dict[str, Any]) -> None:
        self.write_text(f"{table}/{SCHEMA_FILE}", json.dumps(schema))
