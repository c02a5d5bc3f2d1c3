"""The provenance digest recipe: frozen vectors, and the Polars form equal to the Python reference."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from metaxy.versioning.digest import DigestSums, digest_sums, digest_text_reference


def test_frozen_vectors() -> None:
    # a changed value changes every stored digest (and re-runs Dagster assets): a reviewed diff only
    assert digest_text_reference([]) == "03643c5bf1ded4946da2ced094660d3e"
    assert digest_text_reference([(1, "p1", "d1"), ("a", "p2", None)]) == "1f57643ca38d940da4adbd8d25b22bc1"
    assert DigestSums(0, 0, 0).render() == digest_text_reference([])


rows = st.lists(
    st.tuples(st.integers(-(2**40), 2**40), st.text(max_size=8), st.none() | st.text(max_size=8)),
    max_size=30,
    unique_by=lambda r: r[0],
)


@given(rows=rows, seed=st.randoms())
def test_polars_digest_equals_the_reference_in_any_order(
    rows: list[tuple[int, str, str | None]], seed
) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(rows)
    seed.shuffle(shuffled)
    frame = pl.LazyFrame(
        shuffled,
        schema={"id": pl.Int64, "metaxy_provenance": pl.String, "metaxy_data_version": pl.String},
        orient="row",
    )
    assert digest_sums(frame, ["id"]).render() == digest_text_reference(rows)
