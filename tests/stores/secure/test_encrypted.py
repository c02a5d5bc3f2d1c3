"""``EncryptedMetadataStore``: nothing readable at rest, exact round trips, wrong keys, tampering, rotation."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import (
    ConfigError,
    DecryptionError,
    EncryptedFilterWarning,
    InvalidFilterError,
    SchemaError,
)
from metaxy.models.keys import FeatureKey
from metaxy.stores.wrappers.encrypted import EncryptedMetadataStore, EncryptionKey
from tests.stores.graphs import video_graph, videos

KEY_A, KEY_B = b"a" * 32, b"b" * 32
SECRET = "top-secret-path"


@pytest.fixture(autouse=True)
def graph() -> Iterator[None]:
    with mx.FeatureGraph().use():
        video_graph()
        yield


def secret_videos(ids: list[int]) -> pl.DataFrame:
    return videos(ids).with_columns(
        (pl.lit(SECRET + "-") + pl.col("sample_uid").cast(pl.String)).alias("path")
    )


# -- nothing readable at rest, read with each backend's own reader -------------------------------------


def _duckdb_values(path: Path) -> list[Any]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()]
        return [v for t in tables for row in con.execute(f'select * from "{t}"').fetchall() for v in row]
    finally:
        con.close()


def _delta_values(path: Path) -> list[Any]:
    import pyarrow.parquet as pq

    files = list(path.rglob("*.parquet"))
    assert files
    return [v for f in files for column in pq.read_table(f).to_pylist() for v in column.values()]


def _sqlite_values(path: Path) -> list[Any]:
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")]
        return [v for t in tables for row in con.execute(f'select * from "{t}"') for v in row]
    finally:
        con.close()


ON_DISK = {
    "duckdb": (lambda d: mx.DuckDBMetadataStore(d / "m.duckdb"), lambda d: _duckdb_values(d / "m.duckdb")),
    "delta": (lambda d: mx.DeltaMetadataStore(d / "delta"), lambda d: _delta_values(d / "delta")),
    "sqlite": (
        lambda d: mx.SQLAlchemyMetadataStore(f"sqlite:///{d / 'm.db'}"),
        lambda d: _sqlite_values(d / "m.db"),
    ),
}


@pytest.mark.parametrize("backend", sorted(ON_DISK))
def test_the_stored_bytes_hold_no_plaintext_of_an_encrypted_column(backend: str, tmp_path: Path) -> None:
    make, read_back = ON_DISK[backend]
    store = EncryptedMetadataStore(make(tmp_path), encryption_key=KEY_A, encrypted_columns=["path"])
    with store:
        store.write_metadata("video/raw", secret_videos([1, 2, 3]))
        assert sorted(store.read_metadata("video/raw").collect()["path"]) == [
            f"{SECRET}-{i}" for i in (1, 2, 3)
        ]
    values = [str(v) for v in read_back(tmp_path)]
    assert not [v for v in values if SECRET in v]
    tokens = [v for v in values if v.startswith("mxe1:a:")]
    assert len(tokens) == 3  # the reader does see the column: as tokens
    assert any("a1" in v for v in values)  # and clear columns in clear (the provenance struct)


# -- exact round trips of every type the append-schema rule allows -------------------------------------

EVERY_TYPE = pl.DataFrame(
    {
        "i8": pl.Series([-128, 127], dtype=pl.Int8),
        "i16": pl.Series([-1, 2], dtype=pl.Int16),
        "i32": pl.Series([-(2**31), 5], dtype=pl.Int32),
        "i64": pl.Series([-(2**63), 2**63 - 1], dtype=pl.Int64),
        "u8": pl.Series([0, 255], dtype=pl.UInt8),
        "u16": pl.Series([0, 65535], dtype=pl.UInt16),
        "u32": pl.Series([0, 2**32 - 1], dtype=pl.UInt32),
        "u64": pl.Series([0, 2**64 - 1], dtype=pl.UInt64),
        "f32": pl.Series([1.5, float("-inf")], dtype=pl.Float32),
        "f64": pl.Series([0.1, -0.0], dtype=pl.Float64),
        "nan": pl.Series([float("nan"), float("inf")], dtype=pl.Float64),
        "flag": [True, False],
        "text": ["héllo ✓", ""],
        "blob": pl.Series([b"\x00\xff", b""], dtype=pl.Binary),
        "day": [dt.date(1970, 1, 1), dt.date(2999, 12, 31)],
        "ms": pl.Series([dt.datetime(2020, 1, 1, 0, 0, 0, 1000), None], dtype=pl.Datetime("ms")),
        "us_utc": pl.Series(
            [dt.datetime(2020, 1, 1, 1, 2, 3, 4, tzinfo=dt.UTC)] * 2, dtype=pl.Datetime("us", "UTC")
        ),
        "ns": pl.Series([1, 2], dtype=pl.Int64).cast(pl.Datetime("ns")),
        "span": pl.Series([dt.timedelta(days=-1, microseconds=3), dt.timedelta(0)], dtype=pl.Duration("us")),
        "clock": [dt.time(23, 59, 59, 999999), dt.time(0)],
        "money": pl.Series([Decimal("12345678.91"), Decimal("-0.01")], dtype=pl.Decimal(12, 2)),
        "listed": pl.Series([[1, None, 3], []], dtype=pl.List(pl.Int64)),
        "fixed": pl.Series([[1.0, 2.0], [3.0, 4.0]], dtype=pl.Array(pl.Float32, 2)),
        "nested": pl.Series(
            [{"a": 1, "b": [dt.date(2020, 1, 1)]}, None],
            dtype=pl.Struct({"a": pl.Int16, "b": pl.List(pl.Date)}),
        ),
        "nothing": pl.Series([None, None], dtype=pl.Null),
    }
)
#: what reads return where the rule stores a wider type: categoricals as strings, all-null as strings
WIDENED = {"cat": pl.String, "nothing": pl.String}


@pytest.mark.parametrize("backend", ["memory", "duckdb"])
def test_every_type_round_trips_exactly(backend: str, tmp_path: Path) -> None:
    frame = EVERY_TYPE.with_columns(cat=pl.Series(["x", "y"], dtype=pl.Categorical))
    inner = (
        mx.InMemoryMetadataStore() if backend == "memory" else mx.DuckDBMetadataStore(tmp_path / "m.duckdb")
    )
    store = EncryptedMetadataStore(inner, encryption_key=KEY_A, encrypted_columns=frame.columns)
    rows = pl.concat([videos([1, 2]), frame], how="horizontal")
    with store:
        store.write_metadata("video/raw", rows)
        back = store.read_metadata("video/raw").sort("sample_uid").collect()
        raw = inner.read_metadata("video/raw").collect()
    for name in frame.columns:
        expected = frame[name].cast(WIDENED[name]) if name in WIDENED else frame[name]
        assert back[name].dtype == expected.dtype, name
        assert back[name].to_list() == expected.to_list() or name == "nan", name
        assert raw[name].dtype == pl.String, name
    assert back["nan"][0] != back["nan"][0]  # NaN stays NaN
    assert str(back["f64"][1]) == "-0.0"


def test_a_widening_write_reads_back_as_the_wider_type_and_a_narrowing_one_is_refused() -> None:
    store = EncryptedMetadataStore(
        mx.InMemoryMetadataStore(), encryption_key=KEY_A, encrypted_columns=["size"]
    )
    with store:
        store.write_metadata("video/raw", videos([1]).with_columns(size=pl.lit(1, pl.Int8)))
        store.write_metadata("video/raw", videos([2]).with_columns(size=pl.lit(2**40, pl.Int64)))
        back = store.read_metadata("video/raw").sort("sample_uid").collect()
        assert back["size"].dtype == pl.Int64
        assert back["size"].to_list() == [1, 2**40]
        with pytest.raises(SchemaError, match="encrypted column 'size' holds Int64"):
            store.write_metadata("video/raw", videos([3]).with_columns(size=pl.lit("big")))


# -- wrong key, tampering, bad configuration ---------------------------------------------------------


def test_a_wrong_key_raises_naming_feature_and_column() -> None:
    inner = mx.InMemoryMetadataStore()
    with EncryptedMetadataStore(inner, encryption_key=KEY_A, encrypted_columns=["path"]) as store:
        store.write_metadata("video/raw", secret_videos([1]))
    with (
        EncryptedMetadataStore(inner, encryption_key=KEY_B, encrypted_columns=["path"]) as other,
        pytest.raises(DecryptionError, match=r"feature 'video/raw'.*column 'path' \(a wrong key\)") as info,
    ):
        other.read_metadata("video/raw").collect()
    assert EncryptionKey(KEY_A).id in str(info.value)
    assert SECRET not in str(info.value)


def test_a_tampered_value_on_disk_raises_instead_of_returning_garbage(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "m.duckdb"
    with EncryptedMetadataStore(
        mx.DuckDBMetadataStore(path), encryption_key=KEY_A, encrypted_columns=["path"]
    ) as s:
        s.write_metadata("video/raw", secret_videos([1]))
    con = duckdb.connect(str(path))
    (table,) = con.execute(
        "select table_name from information_schema.tables where table_name like '%raw%'"
    ).fetchone()  # type: ignore[misc]
    (token,) = con.execute(f'select path from "{table}"').fetchone()  # type: ignore[misc]
    flipped = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    con.execute(f'update "{table}" set path = ?', [flipped])
    con.close()
    with (
        EncryptedMetadataStore(
            mx.DuckDBMetadataStore(path), encryption_key=KEY_A, encrypted_columns=["path"]
        ) as s,
        pytest.raises(DecryptionError, match="column 'path' \\(a tampered or corrupted value\\)"),
    ):
        s.read_metadata("video/raw").collect()


@pytest.mark.parametrize(
    ("columns", "message"),
    [(["metaxy_provenance"], "System column"), ([], "empty"), ({"video/raw": ["sample_uid"]}, "id column")],
)
def test_columns_that_cannot_be_encrypted_are_refused(columns: Any, message: str) -> None:
    def write() -> None:
        store = EncryptedMetadataStore(
            mx.InMemoryMetadataStore(), encryption_key=KEY_A, encrypted_columns=columns
        )
        with store:
            store.write_metadata("video/raw", videos([1]))

    with pytest.raises(ConfigError, match=message):
        write()


def test_a_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        EncryptedMetadataStore(
            mx.InMemoryMetadataStore(), encryption_key=b"short", encrypted_columns=["path"]
        )


def test_chacha20_poly1305_is_the_second_algorithm() -> None:
    inner = mx.InMemoryMetadataStore()
    key = EncryptionKey.generate("chacha20-poly1305")
    with EncryptedMetadataStore(inner, encryption_key=key, encrypted_columns=["path"]) as store:
        store.write_metadata("video/raw", secret_videos([1]))
        assert store.read_metadata("video/raw").collect()["path"].to_list() == [f"{SECRET}-1"]
        assert inner.read_metadata("video/raw").collect()["path"][0].startswith(f"mxe1:c:{key.id}:")


# -- what works unchanged, and what runs after decryption ---------------------------------------------


def test_increments_see_decrypted_upstream_columns_and_ids_filter_in_the_store() -> None:
    store = EncryptedMetadataStore(
        mx.InMemoryMetadataStore(), encryption_key=KEY_A, encrypted_columns=["path"]
    )
    with store:
        store.write_metadata("video/raw", secret_videos([1, 2]))
        increment = store.resolve_update("video/transcript")
        assert sorted(increment.new["path"]) == [f"{SECRET}-1", f"{SECRET}-2"]
        lazy = store.resolve_update("video/transcript", lazy=True)
        assert sorted(lazy.new.collect()["path"]) == [f"{SECRET}-1", f"{SECRET}-2"]
        assert store.read_metadata("video/raw", filters=pl.col("sample_uid") == 2).collect().height == 1
        with pytest.raises(InvalidFilterError, match="encrypted"):
            store.resolve_update("video/transcript", filters=pl.col("path") == "x")


def test_a_filter_on_an_encrypted_column_runs_after_decryption_with_a_warning() -> None:
    store = EncryptedMetadataStore(
        mx.InMemoryMetadataStore(), encryption_key=KEY_A, encrypted_columns=["path"]
    )
    with store:
        store.write_metadata("video/raw", secret_videos([1, 2, 3]))
        with pytest.warns(EncryptedFilterWarning, match="'path'"):
            found = store.read_metadata(
                "video/raw",
                filters=[pl.col("path") == f"{SECRET}-2", pl.col("sample_uid") > 0],
                columns=["sample_uid"],
            ).collect()
        assert found.to_dicts() == [{"sample_uid": 2}]
        with pytest.warns(EncryptedFilterWarning):
            assert store.delete_metadata("video/raw", filters=pl.col("path").str.ends_with("-3")) == 1
        assert sorted(store.read_metadata("video/raw").collect()["sample_uid"]) == [1, 2]


def test_copying_into_an_encrypted_store_encrypts_the_copied_rows() -> None:
    source, inner = mx.InMemoryMetadataStore(name="src"), mx.InMemoryMetadataStore(name="dst")
    with source, EncryptedMetadataStore(inner, encryption_key=KEY_A, encrypted_columns=["path"]) as target:
        source.write_metadata("video/raw", secret_videos([1, 2]))
        assert target.copy_metadata(source) == {FeatureKey("video/raw"): 2}
        assert target.copy_metadata(source) == {FeatureKey("video/raw"): 0}
        assert not any(SECRET in p for p in inner.read_metadata("video/raw").collect()["path"])
        assert sorted(target.read_metadata("video/raw").collect()["path"]) == [f"{SECRET}-1", f"{SECRET}-2"]


# -- key rotation ------------------------------------------------------------------------------------


class Interrupting(mx.InMemoryMetadataStore):
    """Fails once at a chosen primitive, like a process killed mid-rotation."""

    fail_at: str | None = None

    def _maybe_fail(self, where: str) -> None:
        if self.fail_at == where:
            self.fail_at = None
            raise KeyboardInterrupt(where)

    def _append(self, key: FeatureKey, df: pl.DataFrame) -> None:
        if key.to_string() == "video/transcript":
            self._maybe_fail("append transcript")
        super()._append(key, df)

    def _delete_rows(self, key: FeatureKey, predicate: pl.Expr | None) -> None:
        self._maybe_fail("delete")
        super()._delete_rows(key, predicate)


def _write_two_features(store: EncryptedMetadataStore) -> None:
    store.write_metadata("video/raw", secret_videos([1, 2, 3]))
    store.write_metadata("video/raw", secret_videos([1]))  # history: two rows of sample 1
    todo = store.resolve_update("video/transcript").new
    store.write_metadata("video/transcript", todo.with_columns(text=pl.lit("words")))


@pytest.mark.parametrize("fail_at", ["delete", "append transcript"])
def test_rotation_interrupted_then_resumed_leaves_every_value_under_the_new_key(fail_at: str) -> None:
    inner = Interrupting()
    store = EncryptedMetadataStore(inner, encryption_key=KEY_A, encrypted_columns=["path", "text"])
    new = EncryptionKey(KEY_B)
    with store:
        _write_two_features(store)
        before = {
            k: store.read_metadata(k, history=True).collect().sort(pl.all())
            for k in ("video/raw", "video/transcript")
        }
        inner.fail_at = fail_at
        with pytest.raises(KeyboardInterrupt):
            store.rotate_key(new)
        assert inner.fail_at is None  # the interruption happened
        store.rotate_key(new)  # resumed
        for name, rows in before.items():
            raw = inner.read_metadata(name, history=True).collect()
            assert raw.height == rows.height, name  # nothing appended twice, nothing lost
            for column in {"path", "text"} & set(raw.columns):
                assert all(t.startswith(new.prefix()) for t in raw[column]), (name, column)
    with EncryptedMetadataStore(inner, encryption_key=new, encrypted_columns=["path", "text"]) as only_new:
        for name, rows in before.items():
            assert only_new.read_metadata(name, history=True).collect().sort(pl.all()).equals(rows), name
        assert set(only_new.rotate_key(new).values()) == {0}  # nothing left to do


def test_old_keys_in_the_ring_still_decrypt() -> None:
    inner = mx.InMemoryMetadataStore()
    with EncryptedMetadataStore(inner, encryption_key=KEY_A, encrypted_columns=["path"]) as store:
        store.write_metadata("video/raw", secret_videos([1]))
    with EncryptedMetadataStore(inner, encryption_key=[KEY_B, KEY_A], encrypted_columns=["path"]) as both:
        both.write_metadata("video/raw", secret_videos([2]))
        assert sorted(both.read_metadata("video/raw").collect()["path"]) == [f"{SECRET}-1", f"{SECRET}-2"]
        tokens = inner.read_metadata("video/raw").sort("sample_uid").collect()["path"]
        assert [t.split(":")[2] for t in tokens] == [EncryptionKey(KEY_A).id, EncryptionKey(KEY_B).id]


def test_a_root_increment_keeps_the_callers_clear_samples_and_decrypts_stored_rows() -> None:
    store = EncryptedMetadataStore(
        mx.InMemoryMetadataStore(), encryption_key=KEY_A, encrypted_columns=["path"]
    )
    with store:
        store.write_metadata("video/raw", secret_videos([1, 2]))
        samples = secret_videos([1, 2, 3]).with_columns(
            pl.when(pl.col("sample_uid") == 2)
            .then(pl.struct(audio=pl.lit("changed"), frames=pl.lit("f2")))
            .otherwise(pl.col("metaxy_provenance_by_field"))
            .alias("metaxy_provenance_by_field")
        )
        increment = store.resolve_update("video/raw", samples=samples)
        assert increment.new["path"].to_list() == [f"{SECRET}-3"]
        assert increment.stale["path"].to_list() == [f"{SECRET}-2"]
        lazy = store.resolve_update("video/raw", samples=samples, lazy=True).collect()
        assert lazy.new["path"].to_list() == [f"{SECRET}-3"]
