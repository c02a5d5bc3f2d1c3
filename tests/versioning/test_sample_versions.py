"""Frozen sample-level hashes (docs/concepts.md#sample-level-versions) for every algorithm, in Python and in Polars."""

from __future__ import annotations

import polars as pl
import pytest

import metaxy as mx
from metaxy.exceptions import VersioningError
from metaxy.versioning.hashing import HashSettings, hash_columns, hash_text, rendered

# (text, algorithm, truncation) -> rendered hash; values computed with xxhash / hashlib directly
VECTORS = [
    ("derived|1|parent.value|fv_p1", "xxhash64", 8, "84751092"),
    ("84751092", "xxhash64", 8, "17901660"),
    ("frames|1|video.content|fv_v1", "xxhash64", 8, "63035291"),
    ("63035291", "xxhash64", 8, "54355038"),
    ("derived|1|parent.a|va|parent.b|vb", "xxhash32", 8, "32950282"),
    ("a|2|parent.a|va", "xxhash32", 8, "16211183"),
    ("16211183|32950282", "xxhash32", 8, "26835278"),
    ("derived|1|parent.value|fv_p1", "xxhash64", None, "8475109261492640533"),
    ("derived|1|parent.value|fv_p1", "xxhash32", None, "1618819688"),
    ("derived|1|parent.value|fv_p1", "md5", 8, "64e34300"),
    ("derived|1|parent.value|fv_p1", "md5", None, "64e34300442cf55753abf86cd7c9f72e"),
    ("derived|1|parent.value|fv_p1", "sha256", 12, "d29418634195"),
    ("", "xxhash32", None, "46947589"),
    ("é|1", "md5", 16, "0c9b128a3f6cfaff"),
]


@pytest.mark.parametrize(("text", "algorithm", "truncation", "expected"), VECTORS)
def test_python_hash_matches_frozen_vector(
    text: str, algorithm: str, truncation: int | None, expected: str
) -> None:
    assert hash_text(text, HashSettings(algorithm, truncation)) == expected


@pytest.mark.parametrize(("text", "algorithm", "truncation", "expected"), VECTORS)
def test_polars_hash_matches_frozen_vector(
    text: str, algorithm: str, truncation: int | None, expected: str
) -> None:
    out = hash_columns(pl.DataFrame({"s": [text]}), {"h": pl.col("s")}, HashSettings(algorithm, truncation))
    assert out["h"].item() == expected


@pytest.mark.parametrize("algorithm", ["xxhash32", "xxhash64", "md5", "sha256"])
def test_truncated_hashes_hold_only_their_own_characters(algorithm: str) -> None:
    """A column of cut hashes does not keep the whole rendered hashes alive beneath it: results are
    held by callers, and at 10M samples the difference was 185 MiB per column (Polars cuts strings
    without copying them)."""
    n = 50_000
    texts = pl.DataFrame({"s": pl.int_range(n, eager=True).cast(pl.String)})
    out = hash_columns(texts, {"s": pl.col("s")}, HashSettings(algorithm, 8))
    assert out.to_series().str.len_chars().max() == 8
    held = out.to_arrow(compat_level=pl.CompatLevel.newest()).column(0).get_total_buffer_size()
    assert held <= n * 17  # a 16-byte view per string (8 characters fit inside it) and a validity bit


@pytest.mark.parametrize(("algorithm", "dtype"), [("xxhash32", pl.UInt32), ("xxhash64", pl.UInt64)])
@pytest.mark.parametrize("truncation", [8, 9, 10, 12, 19, 20, None])
def test_xxhash_values_cut_as_numbers_render_like_cut_renderings(
    algorithm: str, dtype: pl.DataType, truncation: int | None
) -> None:
    """xxhash values are cut as numbers, not as rendered strings: every digit count, both sides of
    each power of ten, and the largest value give the strings of rendering whole, then cutting."""
    largest = 2 ** (32 if algorithm == "xxhash32" else 64) - 1
    values = {v for k in range(20) for v in (10**k - 1, 10**k, 10**k + 1)} | {0, largest}
    hashes = pl.DataFrame({"h": sorted(v for v in values if v <= largest)}, schema={"h": dtype})
    out = rendered(hashes, ["h"], HashSettings(algorithm, truncation))["h"].to_list()
    assert out == [str(v)[:truncation] for v in hashes["h"].to_list()]


@pytest.mark.parametrize("algorithm", ["xxhash32", "xxhash64"])
@pytest.mark.parametrize("truncation", [8, 11, 16, None])
def test_polars_xxhash_matches_python_on_many_texts(algorithm: str, truncation: int | None) -> None:
    texts = [f"field|{i}|parent.value|v{i * 7919}" for i in range(2_000)] + ["", "é", "|"]
    settings = HashSettings(algorithm, truncation)
    out = hash_columns(pl.DataFrame({"s": texts}), {"s": pl.col("s")}, settings)["s"].to_list()
    assert out == [hash_text(t, settings) for t in texts]


def test_truncation_below_eight_is_refused() -> None:
    with pytest.raises(VersioningError, match="too short"):
        HashSettings("xxhash64", 4)


def test_unknown_algorithm_names_the_choices() -> None:
    with pytest.raises(VersioningError, match="xxhash32, xxhash64, md5, sha256"):
        HashSettings("crc32")


def parent_child() -> tuple[type[mx.Feature], type[mx.Feature]]:
    class Parent(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="parent",
            fields=[mx.FieldSpec(key="a", code_version="1"), mx.FieldSpec(key="b", code_version="1")],
        ),
    ):
        pass

    class Child(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="child/x",
            deps=[Parent],
            fields=[mx.FieldSpec(key="derived", code_version="1"), mx.FieldSpec(key="a", code_version="2")],
        ),
    ):
        pass

    return Parent, Child


def test_child_provenance_matches_the_design_vector() -> None:
    parent, child = parent_child()
    samples = pl.DataFrame({"sample_uid": [1], "metaxy_provenance_by_field": [{"a": "va", "b": "vb"}]})
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(parent, samples)
        row = store.resolve_update(child).new.row(0, named=True)
    assert row["metaxy_provenance_by_field"] == {"a": "16211183", "derived": "32950282"}
    assert row["metaxy_provenance"] == "26835278"


@pytest.mark.parametrize(
    ("algorithm", "by_field", "provenance"),
    [
        ("xxhash64", {"a": "17227812", "derived": "16767201"}, "51322182"),
        ("md5", {"a": "14ff6840", "derived": "cf599362"}, "4f9c6778"),
        ("sha256", {"a": "ff5a5a09", "derived": "384c2bf6"}, "67f19d51"),
    ],
)
def test_child_provenance_per_algorithm(algorithm: str, by_field: dict[str, str], provenance: str) -> None:
    parent, child = parent_child()
    samples = pl.DataFrame({"sample_uid": [1], "metaxy_provenance_by_field": [{"a": "va", "b": "vb"}]})
    with mx.InMemoryMetadataStore(hash_algorithm=algorithm) as store:
        store.write_metadata(parent, samples)
        row = store.resolve_update(child).new.row(0, named=True)
    assert row["metaxy_provenance_by_field"] == by_field
    assert row["metaxy_provenance"] == provenance


def test_user_data_version_propagates_downstream() -> None:
    parent, child = parent_child()
    samples = pl.DataFrame(
        {
            "sample_uid": [1],
            "metaxy_provenance_by_field": [{"a": "pa", "b": "pb"}],
            "metaxy_data_version_by_field": [{"a": "va", "b": "vb"}],  # e.g. content hashes
        }
    )
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(parent, samples)
        row = store.resolve_update(child).new.row(0, named=True)
    assert row["metaxy_provenance"] == "26835278"  # computed from the data versions, not provenance
