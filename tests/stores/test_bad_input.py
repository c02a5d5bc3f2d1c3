"""The bad-input catalogue: one table of malformed inputs, each with the ``MetaxyError`` it must raise.

Every row runs on every store (the conformance ``store`` fixture). A row's outcome is *clear* (the expected
error class, a message containing the phrase, and a hint), *wrong* (a metaxy error, but another class or
message), *raw* (any other exception: a driver, Polars or pydantic error leaked out) or *silent* (no error
at all). Only *clear* passes. Store-independent rows (definitions,
backend URLs and files) run once in ``test_bad_input_outside_a_store_is_clear``; the CLI rows live in
``tests/cli/test_errors.py``.

Set ``METAXY_CATALOGUE_REPORT=FILE`` to record every row's outcome (raw / silent / wrong / clear) as JSON lines.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import metaxy as mx
from metaxy import exceptions
from metaxy.constants import PROVENANCE_BY_FIELD
from tests.stores.conftest import StoreFactory
from tests.stores.graphs import VideoGraph, video_graph, videos


@dataclass
class Ctx:
    """What a row acts on: an open store holding videos 1-3, the graph, and the store's factory."""

    store: mx.MetadataStore
    graph: VideoGraph
    factory: StoreFactory
    tmp_path: Path


@dataclass(frozen=True)
class Case:
    """One bad input: ``act`` must raise ``error`` (a class name in ``metaxy.exceptions``) saying ``phrase``."""

    name: str
    act: Callable[[Ctx], Any]
    error: str
    phrase: str
    after_close: bool = False  # run once the seeded store is closed


def _write(ctx: Ctx, frame: Any) -> None:
    ctx.store.write_metadata(ctx.graph.video, frame)


def _read(ctx: Ctx, **options: Any) -> pl.DataFrame:
    return ctx.store.read_metadata(ctx.graph.video, **options).collect()


def _with_ids(values: list[Any], dtype: Any = None) -> pl.DataFrame:
    frame = videos(list(range(100, 100 + len(values))))
    return frame.with_columns(pl.Series("sample_uid", values, dtype=dtype))


def _cycle(ctx: Ctx) -> Any:
    """Put the store (the innermost one, under wrappers) into its own fallback chain, then read."""
    inner = ctx.store
    while isinstance(getattr(inner, "inner", None), mx.MetadataStore):
        inner = inner.inner
    inner.fallback_stores.append(inner)
    try:
        return _read(ctx)
    finally:
        inner.fallback_stores.remove(inner)


def _mixed_hash(ctx: Ctx) -> Any:
    other = "sha256" if ctx.store.hash_settings.algorithm.value != "sha256" else "md5"
    return mx.InMemoryMetadataStore(hash_algorithm=other, fallback_stores=[ctx.store])


def _upstream_missing(ctx: Ctx) -> Any:
    ctx.store.delete_metadata(ctx.graph.video, soft=False)
    return ctx.store.resolve_update(ctx.graph.faces)


def _read_only_write(ctx: Ctx) -> None:
    with ctx.factory(read_only=True) as read_only:
        read_only.write_metadata(ctx.graph.video, videos([7]))


def _closed(ctx: Ctx) -> Any:
    return ctx.store.read_metadata(ctx.graph.video)


#: the catalogue: name, action, expected error class, a phrase of its message
CASES: list[Case] = [
    # ids
    Case("ids/missing", lambda c: _write(c, videos([4]).drop("sample_uid")), "SchemaError", "sample_uid"),
    Case("ids/null", lambda c: _write(c, _with_ids([None], pl.Int64)), "SchemaError", "null"),
    Case("ids/duplicate", lambda c: _write(c, videos([5, 5])), "SchemaError", "share an id"),
    Case(
        "ids/null-in-samples",
        lambda c: c.store.resolve_update(c.graph.video, samples=_with_ids([None], pl.Int64)),
        "SchemaError",
        "null",
    ),
    Case(
        "ids/duplicate-in-samples",
        lambda c: c.store.resolve_update(c.graph.video, samples=videos([5, 5])),
        "SchemaError",
        "share an id",
    ),
    # dtypes
    Case(
        "dtype/string-ids-after-int",
        lambda c: _write(c, _with_ids(["a"])),
        "SchemaError",
        "sample_uid",
    ),
    Case(
        "dtype/int-column-after-string",
        lambda c: _write(c, videos([8]).with_columns(path=pl.lit(1))),
        "SchemaError",
        "path",
    ),
    Case(
        "dtype/provenance-not-a-struct",
        lambda c: _write(c, videos([9]).with_columns(pl.lit("x").alias(PROVENANCE_BY_FIELD))),
        "SchemaError",
        PROVENANCE_BY_FIELD,
    ),
    Case(
        "dtype/provenance-wrong-fields",
        lambda c: _write(
            c, videos([9]).with_columns(pl.struct(audio=pl.lit("a")).alias(PROVENANCE_BY_FIELD))
        ),
        "SchemaError",
        PROVENANCE_BY_FIELD,
    ),
    Case(
        "dtype/feature-version-int",
        lambda c: _write(c, videos([10]).with_columns(metaxy_feature_version=pl.lit(7))),
        "SchemaError",
        "metaxy_feature_version",
    ),
    Case(
        "dtype/created-at-text",
        lambda c: _write(c, videos([11]).with_columns(metaxy_created_at=pl.lit("yesterday"))),
        "SchemaError",
        "metaxy_created_at",
    ),
    Case("dtype/not-a-frame", lambda c: _write(c, "sample_uid,path"), "SchemaError", "cannot read"),
    # features and keys
    Case(
        "feature/unknown-write",
        lambda c: c.store.write_metadata("nope/x", videos([1])),
        "UnknownFeatureError",
        "nope/x",
    ),
    Case("feature/unknown-read", lambda c: c.store.read_metadata("nope/x"), "UnknownFeatureError", "nope/x"),
    Case(
        "feature/unknown-resolve", lambda c: c.store.resolve_update("nope/x"), "UnknownFeatureError", "nope/x"
    ),
    Case(
        "feature/unknown-delete", lambda c: c.store.delete_metadata("nope/x"), "UnknownFeatureError", "nope/x"
    ),
    Case(
        "feature/other-version", lambda c: _read(c, feature_version="0" * 8), "FeatureNotFoundError", "0" * 8
    ),
    Case(
        "key/invalid-characters",
        lambda c: c.store.read_metadata("Video Raw!"),
        "InvalidKeyError",
        "Video Raw!",
    ),
    Case("key/empty", lambda c: c.store.read_metadata(""), "InvalidKeyError", "key"),
    Case("key/not-a-key", lambda c: c.store.read_metadata(5), "InvalidKeyError", "5"),
    # filters and columns
    Case(
        "filter/string",
        lambda c: _read(c, filters="sample_uid = 1"),
        "InvalidFilterError",
        "sample_uid = 1",
    ),
    Case("filter/bool", lambda c: _read(c, filters=True), "InvalidFilterError", "True"),
    Case(
        "filter/unknown-column-read",
        lambda c: _read(c, filters=pl.col("vidoe_id") == 1),
        "InvalidFilterError",
        "vidoe_id",
    ),
    Case(
        "filter/unknown-column-hard-delete",
        lambda c: c.store.delete_metadata(
            c.graph.video, filters=pl.col("vidoe_id").is_not_null(), soft=False
        ),
        "InvalidFilterError",
        "vidoe_id",
    ),
    Case(
        "filter/unknown-column-soft-delete",
        lambda c: c.store.delete_metadata(c.graph.video, filters=pl.col("vidoe_id").is_not_null()),
        "InvalidFilterError",
        "vidoe_id",
    ),
    Case(
        "filter/unknown-column-resolve",
        lambda c: c.store.resolve_update(c.graph.transcript, filters=pl.col("vidoe_id") == 1),
        "InvalidFilterError",
        "vidoe_id",
    ),
    Case("columns/unknown", lambda c: _read(c, columns=["nope"]), "SchemaError", "nope"),
    # resolution
    Case(
        "resolve/root-without-samples",
        lambda c: c.store.resolve_update(c.graph.video),
        "MissingSamplesError",
        "samples",
    ),
    Case(
        "resolve/samples-without-provenance",
        lambda c: c.store.resolve_update(c.graph.video, samples=videos([1]).drop(PROVENANCE_BY_FIELD)),
        "SchemaError",
        PROVENANCE_BY_FIELD,
    ),
    Case(
        "resolve/samples-not-a-frame",
        lambda c: c.store.resolve_update(c.graph.video, samples=[1, 2]),
        "SchemaError",
        "cannot read",
    ),
    Case(
        "resolve/upstream-missing",
        _upstream_missing,
        "FeatureNotFoundError",
        "video/raw",
    ),
    # constructor arguments and fallback chains
    Case("hash/unknown-algorithm", lambda c: c.factory(hash_algorithm="crc7"), "VersioningError", "crc7"),
    Case(
        "hash/truncation-too-short",
        lambda c: c.factory(hash_truncation_length=2),
        "VersioningError",
        "hash_truncation_length",
    ),
    Case(
        "hash/truncation-not-an-int",
        lambda c: c.factory(hash_truncation_length="8"),
        "VersioningError",
        "hash_truncation_length",
    ),
    Case("engine/unknown", lambda c: c.factory(versioning_engine="fast"), "VersioningError", "fast"),
    Case(
        "fallback/mixed-hash-settings",
        _mixed_hash,
        "HashSettingsMismatchError",
        "hash",
    ),
    Case("fallback/cycle", _cycle, "FallbackCycleError", "own fallback chain"),
    # lifecycle
    Case("closed/read", _closed, "StoreClosedError", "closed", after_close=True),
    Case(
        "closed/write",
        lambda c: c.store.write_metadata(c.graph.video, videos([7])),
        "StoreClosedError",
        "closed",
        after_close=True,
    ),
    Case("read-only/write", _read_only_write, "ReadOnlyStoreError", "read-only", after_close=True),
]


@dataclass
class Outcome:
    case: Case
    kind: str  # clear | wrong | raw | silent
    detail: str = ""


def classify(case: Case, act: Callable[[], Any]) -> Outcome:
    """Run one row and say how it failed (if it did)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a warning is not an answer to bad input: only the error counts
            act()
    except exceptions.MetaxyError as exc:
        expected = getattr(exceptions, case.error, None)
        text = str(exc)
        if expected is not None and isinstance(exc, expected) and case.phrase in text and exc.hint:
            return Outcome(case, "clear")
        return Outcome(case, "wrong", f"{type(exc).__name__}: {text.splitlines()[0][:160]}")
    except Exception as exc:
        return Outcome(case, "raw", f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:160]}")
    return Outcome(case, "silent", "no error")


def run_catalogue(factory: StoreFactory, tmp_path: Path, cases: list[Case] = CASES) -> Iterator[Outcome]:
    """Every store row on a fresh store holding videos 1-3; the seeded rows must survive every row."""
    graph = video_graph()
    seeded = videos([1, 2, 3])
    store = factory()
    ctx = Ctx(store, graph, factory, tmp_path)
    with store:
        store.write_metadata(graph.video, seeded)
        accepted = False
        for case in (c for c in cases if not c.after_close and not c.name.startswith("resolve/upstream")):
            outcome = classify(case, lambda case=case: case.act(ctx))
            if outcome.kind == "silent":  # the bad input may have changed the rows: start again from seeded
                accepted = True
                store.delete_metadata(graph.video, soft=False)
                store.write_metadata(graph.video, seeded)
            yield outcome
        if not accepted:  # a refused write, read or delete changed nothing
            yield classify(NOTHING_LOST, lambda: _check_kept(store, graph, seeded))
        for case in (c for c in cases if c.name.startswith("resolve/upstream")):  # empties the store: last
            yield classify(case, lambda case=case: case.act(ctx))
    for case in (c for c in cases if c.after_close):
        yield classify(case, lambda case=case: case.act(ctx))


def _check_kept(store: mx.MetadataStore, graph: VideoGraph, seeded: pl.DataFrame) -> None:
    kept = store.read_metadata(graph.video).select("sample_uid", "path").sort("sample_uid").collect()
    if not kept.equals(seeded.select("sample_uid", "path")):
        raise AssertionError(f"stored rows changed: {kept}")
    raise exceptions.MetaxyError("nothing lost", hint="-")  # the expected answer of this row


NOTHING_LOST = Case("nothing-lost", lambda c: None, "MetaxyError", "nothing lost")


def check(outcomes: list[Outcome]) -> None:
    failures = [o for o in outcomes if o.kind != "clear"]
    report = "\n".join(f"  {o.case.name}: {o.kind} ({o.detail})" for o in failures)
    assert not failures, f"bad input without a clear error:\n{report}"


def test_bad_input_gets_a_clear_error_on_every_store(
    store_factory: StoreFactory, tmp_path: Path, graph: mx.FeatureGraph, request: pytest.FixtureRequest
) -> None:
    where = request.node.callspec.id
    check(_report(where, list(run_catalogue(store_factory, tmp_path))))


def test_every_expected_error_class_exists() -> None:
    missing = [c.name for c in CASES if not hasattr(exceptions, c.error)]
    assert missing == []


@dataclass
class Outside:
    """A store-independent bad input (a definition, a backend URL or file)."""

    name: str
    act: Callable[[Path], Any]
    error: str
    phrase: str
    extra: dict[str, Any] = field(default_factory=dict)


def _spec(**options: Any) -> Any:
    return mx.FeatureSpec(key="bad/spec", **options)


def _duckdb(path: Path) -> None:
    with mx.DuckDBMetadataStore(path) as store:
        store.list_features()


def _sqlalchemy(url: str) -> None:
    with mx.SQLAlchemyMetadataStore(url) as store:
        store.list_features()


def _delta(uri: str, **options: Any) -> None:
    with mx.DeltaMetadataStore(uri, **options) as store:
        store.list_features()


def _clickhouse(url: str) -> None:
    with mx.ClickHouseMetadataStore(url) as store:
        store.list_features()


def _text_file(tmp: Path, name: str = "notes.txt") -> Path:
    path = tmp / name
    path.write_text("not a database\n" * 100)
    return path


_UNREACHABLE_S3 = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "k",
    "AWS_SECRET_ACCESS_KEY": "s",
    "AWS_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
}

OUTSIDE: list[Outside] = [
    Outside("definition/id-columns-int", lambda t: _spec(id_columns=5), "DefinitionError", "id_columns"),
    Outside(
        "definition/code-version-none",
        lambda t: mx.FieldSpec(key="f", code_version=None),
        "DefinitionError",
        "code_version",
    ),
    Outside(
        "definition/code-version-float",
        lambda t: mx.FieldSpec(key="f", code_version=1.0),
        "DefinitionError",
        "code_version",
    ),
    Outside("definition/fields-not-a-list", lambda t: _spec(fields=5), "DefinitionError", "fields"),
    Outside(
        "definition/dep-filters-string",
        lambda t: mx.FeatureDep(feature="a/b", filters="value > 1"),
        "DefinitionError",
        "filters",
    ),
    Outside(
        "definition/invalid-key", lambda t: mx.FeatureSpec(key="Bad Key!"), "InvalidKeyError", "Bad Key!"
    ),
    Outside(
        "duckdb/missing-directory",
        lambda t: _duckdb(t / "nope" / "meta.duckdb"),
        "StoreBackendError",
        "does not exist",
    ),
    Outside(
        "duckdb/not-a-duckdb-file", lambda t: _duckdb(_text_file(t)), "StoreBackendError", "not a DuckDB"
    ),
    Outside("duckdb/a-directory", lambda t: _duckdb(t), "StoreBackendError", "is a directory"),
    Outside("sqlalchemy/not-a-url", lambda t: _sqlalchemy("not a url"), "StoreBackendError", "not a url"),
    Outside(
        "sqlalchemy/unknown-driver",
        lambda t: _sqlalchemy("nosuchdb://host/db"),
        "StoreBackendError",
        "nosuchdb",
    ),
    Outside(
        "sqlalchemy/unreachable",
        lambda t: _sqlalchemy("postgresql+psycopg://u@127.0.0.1:9/db"),
        "StoreBackendError",
        "127.0.0.1:9",
    ),
    Outside(
        "sqlalchemy/sqlite-missing-directory",
        lambda t: _sqlalchemy(f"sqlite:///{t}/nope/meta.db"),
        "StoreBackendError",
        "nope",
    ),
    Outside(
        "delta/root-is-a-file", lambda t: _delta(str(_text_file(t))), "StoreBackendError", "not a directory"
    ),
    Outside(
        "delta/root-under-a-file",
        lambda t: _delta(str(_text_file(t) / "meta")),
        "StoreBackendError",
        "not a directory",
    ),
    Outside("delta/root-unwritable", lambda t: _delta("/proc/metaxy"), "StoreBackendError", "/proc/metaxy"),
    Outside(
        "delta/s3-unreachable",
        lambda t: _delta("s3://bucket/meta", storage_options=_UNREACHABLE_S3),
        "StoreBackendError",
        "s3://bucket/meta",
    ),
    Outside(
        "clickhouse/unreachable-server",
        lambda t: _clickhouse("http://127.0.0.1:9"),
        "StoreBackendError",
        "127.0.0.1:9",
    ),
]


def classify_outside(row: Outside, tmp_path: Path) -> Outcome:
    case = Case(row.name, lambda c: None, row.error, row.phrase)
    return classify(case, lambda: row.act(tmp_path))


@pytest.mark.parametrize("row", OUTSIDE, ids=[r.name for r in OUTSIDE])
def test_bad_input_outside_a_store_is_clear(row: Outside, tmp_path: Path) -> None:
    check(_report("outside", [classify_outside(row, tmp_path)]))


def _report(where: str, outcomes: list[Outcome]) -> list[Outcome]:
    """With ``METAXY_CATALOGUE_REPORT=FILE``, append one JSON line per row (for raw/silent/clear counts)."""
    target = os.environ.get("METAXY_CATALOGUE_REPORT")
    if target:
        with open(target, "a") as out:
            for o in outcomes:
                out.write(
                    json.dumps({"where": where, "case": o.case.name, "kind": o.kind, "detail": o.detail})
                    + "\n"
                )
    return outcomes
