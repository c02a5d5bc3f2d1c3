"""Move a copied Iceberg warehouse to its new folder: rewrite the absolute paths its metadata holds.

Iceberg records absolute locations: the SQL catalog's ``metadata_location`` (SQLite), the metadata
JSON's table location, manifest-list paths and metadata log, the manifest list's manifest paths (Avro)
and the manifests' data-file paths (Avro). Parquet data files hold none. A warehouse copied elsewhere
(a committed fixture unpacked under ``tmp_path``) is therefore unreadable until those are rewritten.

Avro files are rewritten with PyIceberg's own Avro reader and writer: the header is kept as written
(schema text, codec, sync marker), the records are decoded with the file's schema and encoded again
with every string under the old root moved, and a manifest list's ``manifest_length`` is set to the
size of the rewritten manifest. Nothing else changes (``test_iceberg_relocation.py`` checks that a
rewrite without a move reproduces the original blocks byte for byte).
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse


@dataclass(frozen=True)
class Move:
    """Strings under ``old`` (a local folder, as a path or a ``file://`` URI) move under ``new``."""

    old: str
    new: str

    def __call__(self, text: str) -> str:
        for old, new in ((_uri(self.old), _uri(self.new)), (self.old, self.new)):
            if text == old or text.startswith(old + "/"):
                return new + text[len(old) :]
        if self.old != self.new and re.search(re.escape(self.old) + "(/|$)", text):
            raise ValueError(f"{text!r} names {self.old!r} in a form the relocation does not rewrite")
        return text


def relocate_warehouse(folder: Path, old_root: str) -> None:
    """Rewrite, in place, every path under ``old_root`` in the warehouse copied to ``folder``."""
    move = Move(old_root, str(folder.absolute()))
    avro = {path: read_avro(path) for path in sorted(folder.rglob("*.avro"))}
    lists = {path for path, (_, schema, _) in avro.items() if _has_field(schema, "manifest_path")}
    for path in sorted(avro.keys() - lists) + sorted(lists):  # manifests first: lists record their sizes
        header, schema, records = avro[path]
        records = [_moved(record, move) for record in records]
        if path in lists:
            length = _position(schema, "manifest_length")
            for record in records:
                record[length] = _local(record[_position(schema, "manifest_path")]).stat().st_size
        path.write_bytes(write_avro(header, schema, records))
    for path in folder.rglob("*.metadata.json"):
        path.write_text(json.dumps(_moved(json.loads(path.read_text()), move)))
    for path in folder.rglob("*.db"):
        _move_catalog(path, move)


def read_avro(path: Path) -> tuple[Any, Any, list[Any]]:
    """``(header, schema, records)`` of an Avro file, decoded by PyIceberg with the file's own schema."""
    from pyiceberg.avro.file import AvroFile
    from pyiceberg.io.pyarrow import PyArrowFileIO

    with AvroFile[Any](PyArrowFileIO().new_input(str(path))) as reader:
        return reader.header, reader.schema, list(reader)


def write_avro(header: Any, schema: Any, records: list[Any]) -> bytes:
    """An Avro file with ``header`` as it was and ``records`` encoded in one block."""
    from pyiceberg.avro.encoder import BinaryEncoder
    from pyiceberg.avro.file import META_SCHEMA
    from pyiceberg.avro.resolver import construct_writer

    out = io.BytesIO()
    encoder = BinaryEncoder(out)
    construct_writer(META_SCHEMA).write(encoder, header)
    encoder.write_int(len(records))
    block = encode_block(schema, records)
    codec = header.compression_codec()
    payload = codec.compress(block)[0] if codec else block
    encoder.write_int(len(payload))
    encoder.write(payload)
    encoder.write(header.sync)
    return out.getvalue()


def encode_block(schema: Any, records: list[Any]) -> bytes:
    """The records' Avro encoding, before compression."""
    from pyiceberg.avro.encoder import BinaryEncoder
    from pyiceberg.avro.resolver import construct_writer

    out = io.BytesIO()
    encoder, writer = BinaryEncoder(out), construct_writer(schema)
    for record in records:
        writer.write(encoder, record)
    return out.getvalue()


def _moved(value: Any, move: Move) -> Any:
    """``value`` (JSON, or a PyIceberg Avro record) with every string moved."""
    from pyiceberg.typedef import Record

    if isinstance(value, str):
        return move(value)
    if isinstance(value, list):
        return [_moved(v, move) for v in value]
    if isinstance(value, dict):
        return {k: _moved(v, move) for k, v in value.items()}
    if isinstance(value, Record):
        return Record(*(_moved(value[i], move) for i in range(len(value))))
    return value


def _move_catalog(path: Path, move: Move) -> None:
    """Every text value of every table of a SQL catalog on SQLite, moved."""
    with closing(sqlite3.connect(path)) as db, db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
            for rowid, *values in db.execute(f'SELECT rowid, * FROM "{table}"').fetchall():
                for column, value in zip(columns, values, strict=True):
                    if isinstance(value, str) and move(value) != value:
                        db.execute(
                            f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?', (move(value), rowid)
                        )


def _has_field(schema: Any, name: str) -> bool:
    return any(field.name == name for field in schema.fields)


def _position(schema: Any, name: str) -> int:
    return next(i for i, field in enumerate(schema.fields) if field.name == name)


def _uri(folder: str) -> str:
    return Path(folder).as_uri()


def _local(uri: str) -> Path:
    parsed = urlparse(uri)
    return Path(unquote(parsed.path) if parsed.scheme == "file" else uri)
