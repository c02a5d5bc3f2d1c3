"""FieldsMapping variants decide which upstream fields feed each field's provenance."""

from __future__ import annotations

import polars as pl
import pytest

import metaxy as mx

# xxhash32, truncation 8, of the strings in the ids below (computed with the xxhash package)
EXPECTED = {
    "default": "28543389",  # x|1|up.a|A|up.b|B  (no field "x" upstream: all fields)
    "all": "28543389",  # x|1|up.a|A|up.b|B
    "specific": "31087560",  # x|1|up.b|B
    "none": "25378124",  # x|1
}


@pytest.mark.parametrize(
    ("name", "mapping"),
    [
        ("default", mx.FieldsMapping.default()),
        ("all", mx.FieldsMapping.all()),
        ("specific", mx.FieldsMapping.specific({"x": ["b"]})),
        ("none", mx.FieldsMapping.none()),
    ],
)
def test_mapping_selects_the_upstream_fields(name: str, mapping: mx.FieldsMapping) -> None:
    class Up(
        mx.Feature, spec=mx.FeatureSpec(key="up", fields=[mx.FieldSpec(key="a"), mx.FieldSpec(key="b")])
    ):
        pass

    class Down(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="down",
            deps=[mx.FeatureDep(feature=Up, fields_mapping=mapping)],
            fields=[mx.FieldSpec(key="x", code_version="1")],
        ),
    ):
        pass

    frame = pl.DataFrame({"sample_uid": [1], "metaxy_provenance_by_field": [{"a": "A", "b": "B"}]})
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Up, frame)
        by_field = store.resolve_update(Down).new["metaxy_provenance_by_field"].item()
    assert by_field == {"x": EXPECTED[name]}


def test_default_mapping_prefers_the_namesake_field() -> None:
    class Up(
        mx.Feature, spec=mx.FeatureSpec(key="up", fields=[mx.FieldSpec(key="a"), mx.FieldSpec(key="b")])
    ):
        pass

    class Down(
        mx.Feature,
        spec=mx.FeatureSpec(key="down", deps=[Up], fields=[mx.FieldSpec(key="a", code_version="1")]),
    ):
        pass

    assert [p.label for p in Down.graph().plan("down").fields[0].parents] == ["up.a"]
    frame = pl.DataFrame({"sample_uid": [1], "metaxy_provenance_by_field": [{"a": "A", "b": "B"}]})
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Up, frame)
        assert store.resolve_update(Down).new["metaxy_provenance_by_field"].item() == {"a": "42208809"}
