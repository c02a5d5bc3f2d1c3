"""``store.provenance_digest``: one order-independent fingerprint of a feature's stored samples.

Every store must give the digest of the pure-Python recipe over the rows it reads; SQL stores that
compute it in the database must agree with their own Polars path bit for bit.
"""

from __future__ import annotations

import polars as pl
import pytest

import metaxy as mx
from metaxy.constants import DATA_VERSION, PROVENANCE
from metaxy.exceptions import FeatureNotFoundError
from metaxy.stores._read import ReadRequest
from metaxy.stores._sql import SQLMetadataStore
from metaxy.stores.base import MetadataStore
from metaxy.versioning.digest import digest_text_reference
from tests.stores.graphs import video_graph, videos


def oracle(store: mx.MetadataStore, feature: type[mx.Feature], filters: pl.Expr | None = None) -> str:
    ids = feature.spec().id_columns
    rows = store.read_metadata(feature, filters=filters).collect()
    return digest_text_reference(rows.select(*ids, PROVENANCE, DATA_VERSION).rows())


def test_digest_follows_the_recipe_and_ignores_row_order(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3, 4]))
    first = store.provenance_digest(g.video)
    assert first == oracle(store, g.video)
    store.write_metadata(g.video, videos([4, 2, 3, 1]))  # the same samples again, another order
    assert store.provenance_digest(g.video) == first


def test_digest_changes_with_any_sample_and_agrees_on_slices(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2, 3]))
    before = store.provenance_digest(g.video)
    slice_before = store.provenance_digest(g.video, filters=pl.col("sample_uid") <= 2)
    assert slice_before == oracle(store, g.video, pl.col("sample_uid") <= 2)
    store.write_metadata(g.video, videos([3], audio="b"))
    assert store.provenance_digest(g.video) not in (before, slice_before)
    assert store.provenance_digest(g.video, filters=pl.col("sample_uid") <= 2) == slice_before
    store.delete_metadata(g.video, filters=pl.col("sample_uid") == 3)
    assert store.provenance_digest(g.video) == slice_before  # samples 1 and 2 are all that is left


def test_derived_feature_digest_follows_upstream(store: mx.MetadataStore) -> None:
    g = video_graph()
    store.write_metadata(g.video, videos([1, 2]))
    store.write_metadata(g.transcript, store.resolve_update(g.transcript).new)
    before = store.provenance_digest(g.transcript)
    assert before == oracle(store, g.transcript)
    store.write_metadata(g.video, videos([2], frames="x"))  # frames only: transcripts read audio
    store.write_metadata(g.transcript, store.resolve_update(g.transcript).stale)
    assert store.provenance_digest(g.transcript) == before
    store.write_metadata(g.video, videos([2], audio="x"))
    store.write_metadata(g.transcript, store.resolve_update(g.transcript).stale)
    assert store.provenance_digest(g.transcript) != before


def test_digest_of_an_empty_write_and_of_nothing(store: mx.MetadataStore) -> None:
    g = video_graph()
    with pytest.raises(FeatureNotFoundError):
        store.provenance_digest(g.video)
    store.write_metadata(g.video, videos([1]).clear())
    assert store.provenance_digest(g.video) == digest_text_reference([])


def test_sql_stores_compute_the_digest_natively_and_bit_for_bit(store: mx.MetadataStore) -> None:
    if not isinstance(store, SQLMetadataStore) or not store.dialect.computes_digest:
        pytest.skip(f"{store.name} computes the digest with Polars only")
    g = video_graph()
    store.write_metadata(g.video, videos([5, 1, 9, 3]))
    store.write_metadata(g.video, videos([9], audio="z"))
    store.delete_metadata(g.video, filters=pl.col("sample_uid") == 1)
    key = g.video.spec().key
    for filters in ((), (pl.col("sample_uid") > 3,)):
        request = ReadRequest(
            key, ("sample_uid",), feature_version=g.video.feature_version(), filters=filters
        )
        table = store._sql_table(key, request.feature_version)
        assert table is not None
        assert store._computes_digest(request, table)
        assert store._digest_sums(request) == MetadataStore._digest_sums(store, request)
