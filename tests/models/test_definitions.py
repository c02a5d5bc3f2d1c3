"""Keys, specs and feature classes: valid definitions work, invalid ones fail with a clear error."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest

import metaxy as mx
from metaxy.exceptions import (
    CycleError,
    DefinitionError,
    DuplicateFeatureError,
    DuplicateFieldError,
    InvalidKeyError,
    UnknownFeatureError,
    UnknownFieldError,
)


def test_keys_from_string_and_parts_are_equal() -> None:
    assert mx.FeatureKey("video/processing") == mx.FeatureKey(["video", "processing"])
    assert mx.FeatureKey("video/raw-v2").to_table_name() == "video__raw_v2"
    assert mx.FieldKey("audio/french").to_struct_name() == "audio_french"
    assert {mx.FeatureKey("a/b"): 1}["a/b"] == 1


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        ("video//raw", "empty part"),
        ("Video/raw", "lowercase"),
        ("video/1raw", "start with a letter"),
        ("video/raw__v2", "'__'"),
        ("video/raw.v2", "lowercase"),
    ],
)
def test_invalid_keys_are_refused_with_the_rule(key: str, message: str) -> None:
    with pytest.raises(InvalidKeyError, match=message):
        mx.FeatureKey(key)


def test_errors_survive_pickling_with_their_hint() -> None:
    err = pickle.loads(pickle.dumps(InvalidKeyError("bad key", hint="fix it")))
    assert isinstance(err, InvalidKeyError)
    assert err.hint == "fix it"
    assert "Hint: fix it" in str(err)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: mx.FeatureDep(feature="a", bogus=1), r"FeatureDep: unknown argument\(s\) 'bogus'"),
        (
            lambda: mx.FeatureSpec(key="a", dep=["b"]),
            r"FeatureSpec: unknown argument\(s\) 'dep'(.|\n)*Did you mean 'deps'",
        ),
        (
            lambda: mx.FieldSpec(key="a", code_verison="2"),
            r"FieldSpec: unknown argument\(s\) 'code_verison'(.|\n)*Did you mean 'code_version'",
        ),
        (lambda: mx.FieldDep("a", fieldz=["x"]), r"FieldDep: unknown argument\(s\) 'fieldz'"),
    ],
)
def test_unknown_keyword_arguments_are_refused_naming_them(build: Callable[[], object], message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as info:
        build()
    assert "takes" in str(info.value.hint)


def test_the_0_1_spelling_select_is_still_accepted() -> None:
    assert mx.FeatureDep(feature="a", select=["path"]).columns == ("path",)


def test_duplicate_field_names_the_feature_and_field() -> None:
    with pytest.raises(DuplicateFieldError, match=r"'x' declares the field 'a' twice"):
        mx.FeatureSpec(key="x", fields=[mx.FieldSpec(key="a"), mx.FieldSpec(key="a")])


def test_field_keys_sharing_a_struct_name_are_refused_naming_both() -> None:
    with pytest.raises(DuplicateFieldError, match=r"fields 'a/b' and 'a_b' would both be stored as 'a_b'"):
        mx.FeatureSpec(key="x", fields=[mx.FieldSpec(key="a/b"), mx.FieldSpec(key="a_b")])


def test_an_id_column_listed_twice_is_refused() -> None:
    with pytest.raises(DefinitionError, match=r"id column\(s\) \['a'\] more than once"):
        mx.FeatureSpec(key="x", id_columns=["a", "a"])


def test_two_classes_with_one_key_in_a_module_is_an_error() -> None:
    class First(mx.Feature, spec=mx.FeatureSpec(key="dup")):
        pass

    with pytest.raises(DuplicateFeatureError, match="'dup' is defined twice"):

        class Second(mx.Feature, spec=mx.FeatureSpec(key="dup")):
            pass


def test_redefining_the_same_class_replaces_it(graph: mx.FeatureGraph) -> None:
    def define(code: str) -> type[mx.Feature]:
        class Cell(
            mx.Feature, spec=mx.FeatureSpec(key="cell", fields=[mx.FieldSpec(key="v", code_version=code)])
        ):
            pass

        return Cell

    define("1")
    second = define("2")
    assert graph.feature_class("cell") is second
    assert len(graph) == 1


def test_unknown_dependency_names_both_keys(graph: mx.FeatureGraph) -> None:
    class Child(mx.Feature, spec=mx.FeatureSpec(key="child", deps=["ghost"])):
        pass

    with pytest.raises(UnknownFeatureError, match="'child' depends on 'ghost'"):
        graph.topological_order()


def test_cycle_is_reported_with_its_path(graph: mx.FeatureGraph) -> None:
    graph.add_feature(mx.FeatureSpec(key="a", deps=["b"]))
    graph.add_feature(mx.FeatureSpec(key="b", deps=["a"]))
    with pytest.raises(CycleError, match="a -> b -> a"):
        graph.validate()


def test_field_dependency_on_unknown_field_lists_the_known_ones() -> None:
    class Up(mx.Feature, spec=mx.FeatureSpec(key="up", fields=[mx.FieldSpec(key="audio")])):
        pass

    class Down(
        mx.Feature,
        spec=mx.FeatureSpec(
            key="down",
            deps=[Up],
            fields=[mx.FieldSpec(key="x", deps=[mx.FieldDep(feature=Up, fields=["video"])])],
        ),
    ):
        pass

    with pytest.raises(UnknownFieldError, match="has fields: audio"):
        Down.feature_version()


def test_field_dependency_outside_the_feature_deps_is_refused() -> None:
    class Up(mx.Feature, spec=mx.FeatureSpec(key="up")):
        pass

    class Down(
        mx.Feature,
        spec=mx.FeatureSpec(key="down", fields=[mx.FieldSpec(key="x", deps=[mx.FieldDep(feature=Up)])]),
    ):
        pass

    with pytest.raises(UnknownFeatureError, match="not among the feature's deps"):
        Down.feature_version()


def test_system_column_as_id_is_refused() -> None:
    with pytest.raises(DefinitionError, match="reserved"):
        mx.FeatureSpec(key="x", id_columns=["metaxy_provenance"])


def test_defaults_match_metaxy_0_1() -> None:
    spec = mx.FeatureSpec(key="x")
    assert [f.key.to_string() for f in spec.fields] == ["default"]
    assert spec.fields[0].code_version == "__metaxy_initial__"
    assert spec.id_columns == ("sample_uid",)


def test_feature_class_methods() -> None:
    class Video(mx.Feature, spec=mx.FeatureSpec(key="video/raw", fields=[mx.FieldSpec(key="audio")])):
        path: str

    class Clip(mx.Feature, spec=mx.FeatureSpec(key="video/clip", deps=[Video])):
        pass

    assert Video.table_name() == "video__raw"
    assert Video.user_columns() == ["path"]
    assert Clip.upstream() == [mx.FeatureKey("video/raw")]
    assert Video.downstream() == [mx.FeatureKey("video/clip")]
    assert Video(path="a.mp4").path == "a.mp4"
