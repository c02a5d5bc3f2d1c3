"""Foreign-key dependencies (``FeatureDep(on=...)``): definition checks, frozen vectors, both engines,
and a property test against a brute-force oracle with renamed id columns."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import metaxy as mx
from metaxy.exceptions import DefinitionError, MissingUpstreamWarning
from metaxy.versioning.hashing import HashSettings, hash_text
from tests.versioning.test_increment_oracle import oracle_hash

StoreMaker = Callable[[Path], mx.MetadataStore]
# the Polars engine (memory) and the SQL engine (DuckDB computing md5 in SQL, no fallback allowed)
ENGINES: dict[str, StoreMaker] = {
    "polars": lambda tmp: mx.InMemoryMetadataStore(hash_algorithm="md5"),
    "sql": lambda tmp: mx.DuckDBMetadataStore(
        tmp / "fk.duckdb", hash_algorithm="md5", versioning_engine="native"
    ),
}


def speaker_graph(
    speaker_id: str = "speaker_id", pointer: str = "speaker_id"
) -> tuple[type[mx.Feature], ...]:
    class Utterance(mx.Feature, spec=mx.FeatureSpec(key="fk/utterance", id_columns=["utt_id"])):
        pass

    class Speaker(
        mx.Feature,
        spec=mx.FeatureSpec(key="fk/speaker", id_columns=[speaker_id], fields=[mx.FieldSpec(key="profile")]),
    ):
        pass

    class Embedding(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="fk/embedding",
            id_columns=["utt_id"],
            deps=[
                mx.FeatureDep(feature=Utterance, columns=[pointer]),
                mx.FeatureDep(feature=Speaker, on={pointer: speaker_id}),
            ],
        ),
    ):
        pass

    return Utterance, Speaker, Embedding


def utterances(
    pointers: dict[int, int | None], version: str = "u", pointer: str = "speaker_id"
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "utt_id": list(pointers),
            pointer: list(pointers.values()),
            "metaxy_provenance_by_field": [{"default": f"{version}{i}"} for i in pointers],
        },
        schema_overrides={pointer: pl.Int64},
    )


def speakers(profiles: dict[int, str], speaker_id: str = "speaker_id") -> pl.DataFrame:
    return pl.DataFrame(
        {
            speaker_id: list(profiles),
            "metaxy_provenance_by_field": [{"profile": p} for p in profiles.values()],
        },
        schema_overrides={speaker_id: pl.Int64},
    )


@contextmanager
def quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingUpstreamWarning)
        yield


# -- definitions ----------------------------------------------------------------------------------


def test_a_foreign_key_on_a_column_no_dependency_carries_is_refused(graph: mx.FeatureGraph) -> None:
    Utterance, Speaker, _ = speaker_graph()
    with pytest.raises(DefinitionError, match=r"on= names column\(s\) \['speaker'\]"):
        mx.FeatureSpec(
            key="fk/bad",
            id_columns=["utt_id"],
            deps=[
                mx.FeatureDep(feature=Utterance, columns=["speaker_id"]),
                mx.FeatureDep(feature=Speaker, on={"speaker": "speaker_id"}),
            ],
        )


def test_a_mapping_that_does_not_cover_the_upstream_ids_is_refused(graph: mx.FeatureGraph) -> None:
    Utterance, Speaker, _ = speaker_graph()
    with pytest.raises(DefinitionError, match=r"must map onto exactly the id columns \['speaker_id'\]"):

        class Bad(
            mx.Feature,
            spec=mx.FeatureSpec(
                key="fk/bad",
                id_columns=["utt_id"],
                deps=[
                    mx.FeatureDep(feature=Utterance, columns=["speaker_id"]),
                    mx.FeatureDep(feature=Speaker, on={"speaker_id": "name"}),
                ],
            ),
        ):
            pass


def test_foreign_keys_needing_each_other_are_a_cycle(graph: mx.FeatureGraph) -> None:
    with pytest.raises(DefinitionError, match="need each other's columns"):
        mx.FeatureSpec(
            key="fk/bad",
            id_columns=["utt_id"],
            deps=[
                mx.FeatureDep(feature="fk/utterance", columns=[]),
                mx.FeatureDep(feature="fk/a", on={"a_id": "id"}, columns=["b_id"]),
                mx.FeatureDep(feature="fk/b", on={"b_id": "id"}, columns=["a_id"]),
            ],
        )


@pytest.mark.parametrize(
    ("deps", "message"),
    [
        (
            [mx.FeatureDep(feature="fk/speaker", on={"utt_id": "speaker_id"})],
            "every dependency is a foreign key",
        ),
        (
            [
                mx.FeatureDep(feature="fk/utterance", columns=["speaker_id"]),
                mx.FeatureDep(
                    feature="fk/speaker",
                    on={"speaker_id": "speaker_id"},
                    lineage=mx.LineageRelationship.aggregation(on=["utt_id"]),
                ),
            ],
            "cannot be combined with aggregation",
        ),
    ],
)
def test_other_impossible_foreign_keys_are_refused(deps: list[mx.FeatureDep], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        mx.FeatureSpec(key="fk/bad", id_columns=["utt_id"], deps=deps)


# -- versions -------------------------------------------------------------------------------------


def test_the_foreign_key_recipe_is_frozen(graph: mx.FeatureGraph) -> None:
    """A foreign-key upstream's fields hash like any upstream's: the row the key points at is read."""
    Utterance, Speaker, Embedding = speaker_graph()
    text = "default|__metaxy_initial__|fk/speaker.profile|p7|fk/utterance.default|u1"
    assert hash_text(text, HashSettings()) == "36263581"
    assert hash_text("36263581", HashSettings()) == "35641670"
    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Utterance, utterances({1: 7}))
        store.write_metadata(Speaker, speakers({7: "p7"}))
        new = store.resolve_update(Embedding).new
    assert new["metaxy_provenance_by_field"].to_list() == [{"default": "36263581"}]
    assert new["metaxy_provenance"].to_list() == ["35641670"]
    assert Embedding.feature_version() == graph.feature_version("fk/embedding")


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_a_changed_profile_makes_exactly_its_utterances_stale(
    engine: str, graph: mx.FeatureGraph, tmp_path: Path
) -> None:
    Utterance, Speaker, Embedding = speaker_graph("spk", "speaker_id")
    with ENGINES[engine](tmp_path) as store:
        store.write_metadata(Utterance, utterances({1: 7, 2: 7, 3: 8, 4: None, 5: 9}))
        store.write_metadata(Speaker, speakers({7: "p7", 8: "p8"}, "spk"))
        with pytest.warns(
            MissingUpstreamWarning, match=r"2 sample\(s\) point at no row of 'fk/speaker'"
        ) as seen:
            first = store.resolve_update(Embedding)
        assert "{'utt_id': 4, 'speaker_id': None}" in str(seen[0].message)
        assert sorted(first.new["utt_id"]) == [1, 2, 3]
        store.write_metadata(Embedding, first.new)
        store.write_metadata(Speaker, speakers({7: "p7 new"}, "spk"))
        with quiet():
            second = store.resolve_update(Embedding)
        assert (sorted(second.stale["utt_id"]), second.new.height) == ([1, 2], 0)
        store.write_metadata(Utterance, utterances({3: 7}, "v"))  # utterance 3 now points at speaker 7
        with quiet():
            assert sorted(store.resolve_update(Embedding).stale["utt_id"]) == [1, 2, 3]


def test_an_optional_foreign_key_hashes_a_missing_row_as_empty(graph: mx.FeatureGraph) -> None:
    Utterance, Speaker, _ = speaker_graph()

    class Loose(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="fk/loose",
            id_columns=["utt_id"],
            deps=[
                mx.FeatureDep(feature=Utterance, columns=["speaker_id"]),
                mx.FeatureDep(feature=Speaker, on={"speaker_id": "speaker_id"}, optional=True),
            ],
        ),
    ):
        pass

    with mx.InMemoryMetadataStore() as store:
        store.write_metadata(Utterance, utterances({1: 7, 2: None}))
        store.write_metadata(Speaker, speakers({7: "p7"}))
        new = store.resolve_update(Loose).new.sort("utt_id")
    text = "default|__metaxy_initial__|fk/speaker.profile||fk/utterance.default|u2"
    assert new["metaxy_provenance_by_field"].to_list()[1] == {"default": hash_text(text, HashSettings())}


# -- property test against an oracle ----------------------------------------------------------------


pointers = st.dictionaries(st.integers(0, 7), st.one_of(st.none(), st.integers(0, 4)), min_size=1)
profiles = st.dictionaries(st.integers(0, 4), st.sampled_from(["a", "b", "c"]))


def oracle(utts: dict[int, int | None], versions: dict[int, str], spk: dict[int, str]) -> dict[int, str]:
    """utt id -> md5 provenance of its one field, for utterances pointing at an existing speaker."""
    out = {}
    for utt, speaker in utts.items():
        if speaker is None or speaker not in spk:
            continue
        text = f"default|__metaxy_initial__|fk/speaker.profile|{spk[speaker]}|fk/utterance.default|{versions[utt]}"
        field = oracle_hash(text, "md5")
        out[utt] = oracle_hash(field, "md5")
    return out


@pytest.mark.parametrize("engine", sorted(ENGINES))
@settings(max_examples=10)  # a DuckDB store per example: kept short for the suite's time budget
@given(
    names=st.sampled_from([("speaker_id", "speaker_id"), ("spk", "speaker_id"), ("id", "points_to")]),
    steps=st.lists(st.tuples(pointers, profiles), min_size=1, max_size=3),
)
def test_foreign_key_increments_match_the_oracle(
    engine: str,
    names: tuple[str, str],
    steps: list[tuple[dict[int, int | None], dict[int, str]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    speaker_id, pointer = names
    graph = mx.FeatureGraph()
    with graph.use(), ENGINES[engine](tmp_path_factory.mktemp("fk")) as store:
        Utterance, Speaker, Embedding = speaker_graph(speaker_id, pointer)
        utts: dict[int, int | None] = {}
        versions: dict[int, str] = {}
        spk: dict[int, str] = {}
        stored: dict[int, str] = {}
        for n, (changed_utts, changed_speakers) in enumerate(steps):
            utts |= changed_utts
            versions |= dict.fromkeys(changed_utts, f"s{n}")
            spk |= changed_speakers
            frame = utterances(changed_utts, pointer=pointer).with_columns(
                pl.struct(pl.lit(f"s{n}").alias("default")).alias("metaxy_provenance_by_field")
            )
            store.write_metadata(Utterance, frame)
            if changed_speakers:
                store.write_metadata(Speaker, speakers(changed_speakers, speaker_id))
            if not spk:
                continue
            expected = oracle(utts, versions, spk)
            with quiet():
                increment = store.resolve_update(Embedding)
            assert set(increment.new["utt_id"]) == set(expected) - set(stored)
            assert set(increment.stale["utt_id"]) == {
                u for u in set(expected) & set(stored) if stored[u] != expected[u]
            }
            assert set(increment.orphaned["utt_id"]) == set(stored) - set(expected)
            for row in increment.to_recompute().iter_rows(named=True):
                assert row["metaxy_provenance"] == expected[row["utt_id"]]
            todo = increment.to_recompute()
            if todo.height:
                store.write_metadata(Embedding, todo)
            stored |= {u: expected[u] for u in todo["utt_id"]}
