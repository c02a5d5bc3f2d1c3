"""``InstrumentedMetadataStore``: metrics after a known sequence of calls, exports, tracing, delegation."""

from __future__ import annotations

import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families

import metaxy as mx
from metaxy.exceptions import SchemaError
from metaxy.testing import ExampleFeatures, example_videos, materialize_example

STEP = 0.002  # every operation "takes" 2 ms on the fake clock: bucket le=0.005


class StepClock:
    """Advances by a fixed step at every reading, so each operation's latency is exactly one step."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _known_sequence(store: mx.InstrumentedMetadataStore, f: ExampleFeatures) -> None:
    with store:
        store.write_metadata(f.video, example_videos())
        store.read_metadata(f.video)
        store.read_metadata(f.video, filters=pl.col("sample_uid") > 1)
        todo = store.resolve_update(f.transcript).new
        store.write_metadata(f.transcript, todo.with_columns(text=pl.lit("t")))
        store.delete_metadata(f.video, filters=pl.col("sample_uid") == 1)
        with pytest.raises(SchemaError):
            store.write_metadata(f.video, pl.DataFrame({"path": ["no ids"]}))
        store.has_feature(f.video)
        store.list_features()


def test_metrics_after_a_known_sequence_of_calls(example_features: ExampleFeatures) -> None:
    store = mx.InstrumentedMetadataStore(mx.InMemoryMetadataStore(), clock=StepClock(STEP))
    _known_sequence(store, example_features)
    metrics = store.export_metrics()
    ops = metrics["operations"]
    assert {name: m["calls"] for name, m in ops.items()} == {
        "delete": 1,
        "has_feature": 1,
        "list": 1,
        "read": 2,
        "resolve": 1,
        "write": 3,
    }
    assert ops["write"]["errors"] == 1
    assert metrics["errors"] == {"SchemaError": 1}
    assert ops["write"]["rows"] == 6  # 3 videos + 3 transcripts; the failed write counts no rows
    assert ops["write"]["bytes"] > example_videos().estimated_size()
    assert ops["read"]["rows"] == 3 + 2
    assert ops["read"]["bytes"] > 0
    assert ops["resolve"]["rows"] == 3
    assert ops["delete"]["rows"] == 1
    latency = ops["write"]["latency_seconds"]
    assert latency["count"] == 3
    assert latency["sum"] == pytest.approx(3 * STEP)
    assert latency["buckets"]["0.001"] == 0
    assert latency["buckets"]["0.005"] == 3
    assert latency["buckets"]["+Inf"] == 3
    assert "cache" not in metrics
    store.reset_metrics()
    assert store.export_metrics()["operations"] == {}


def test_reads_stay_lazy_with_collect_reads_false(example_features: ExampleFeatures) -> None:
    store = mx.InstrumentedMetadataStore(mx.InMemoryMetadataStore(), collect_reads=False)
    with store:
        materialize_example(store, example_features)
        frame = store.read_metadata(example_features.video)
        assert isinstance(frame, pl.LazyFrame)
        assert frame.collect().height == 3
    assert store.export_metrics()["operations"]["read"]["rows"] == 0  # unknown without collecting


def test_cache_hit_rate_when_wrapping_a_cached_store(example_features: ExampleFeatures) -> None:
    store = mx.InstrumentedMetadataStore(mx.CachedMetadataStore(mx.InMemoryMetadataStore()))
    with store:
        materialize_example(store, example_features)
        for _ in range(3):
            store.read_metadata(example_features.summary)
    cache = store.export_metrics()["cache"]
    assert (cache["hits"], cache["misses"]) == (2, 1)
    assert cache["hit_rate"] == pytest.approx(2 / 3)


def test_prometheus_exposition(example_features: ExampleFeatures) -> None:
    store = mx.InstrumentedMetadataStore(mx.InMemoryMetadataStore(name="prom"), clock=StepClock(STEP))
    _known_sequence(store, example_features)
    families = {f.name: f for f in text_string_to_metric_families(store.prometheus_text())}
    calls = {
        s.labels["operation"]: s.value
        for s in families["metaxy_store_operations"].samples
        if s.name.endswith("_total")
    }
    assert calls["write"] == 3.0
    assert calls["read"] == 2.0
    buckets = {
        s.labels["le"]: s.value
        for s in families["metaxy_store_operation_duration_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["operation"] == "write"
    }
    assert buckets["0.005"] == 3.0
    errors = [s for s in families["metaxy_store_errors"].samples if s.name.endswith("_total")]
    assert [(s.labels["error"], s.value) for s in errors] == [("SchemaError", 1.0)]


def test_opentelemetry_spans_per_operation(example_features: ExampleFeatures) -> None:
    sdk = pytest.importorskip("opentelemetry.sdk.trace", reason="OpenTelemetry SDK not installed")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = mx.InstrumentedMetadataStore(mx.InMemoryMetadataStore(), tracer=provider.get_tracer("test"))
    with store:
        store.write_metadata(example_features.video, example_videos())
        store.list_features()
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["metaxy.write", "metaxy.list"]
    assert spans[0].attributes["metaxy.feature"] == "example/video"
    assert spans[0].attributes["metaxy.rows"] == 3
    provider.shutdown()


def test_auto_tracer_is_optional() -> None:
    store = mx.InstrumentedMetadataStore(mx.InMemoryMetadataStore(), tracer="auto")
    with store:
        assert store.list_features() == []
    with pytest.raises(mx.MetaxyError, match="tracer='jaeger'"):
        mx.InstrumentedMetadataStore(mx.InMemoryMetadataStore(), tracer="jaeger")


def test_instrumented_store_works_as_a_fallback_and_copy_source(example_features: ExampleFeatures) -> None:
    prod = mx.InstrumentedMetadataStore(mx.InMemoryMetadataStore(name="prod"))
    dev = mx.InMemoryMetadataStore(name="dev", fallback_stores=[prod])
    with dev:
        materialize_example(prod, example_features)
        assert dev.read_metadata(example_features.summary).collect().height == 3
        assert dev.resolve_update(example_features.summary).new.height == 3  # upstream read from prod
        copied = dev.copy_metadata(prod, [example_features.video])
    assert copied == {example_features.video.spec().key: 3}
    assert prod.export_metrics()["operations"]["write"]["calls"] == 4
    assert not prod.is_open
    assert not prod.inner.is_open
