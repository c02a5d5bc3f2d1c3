"""The shapes of the HTTP API's answers (pydantic models): the OpenAPI schema is generated from them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    """A document that may gain keys within the schema version (clients ignore unknown keys)."""

    model_config = ConfigDict(extra="allow")


class FeatureSummary(_Open):
    key: str
    description: str | None
    feature_version: str
    id_columns: list[str]
    fields: list[str]
    upstream: list[str]
    matches: list[str] | None = Field(default=None, description="Where a search matched.")


class FeaturePage(_Open):
    total: int = Field(description="Features matching, over all pages.")
    limit: int
    offset: int
    items: list[FeatureSummary]


class FieldInfo(_Open):
    key: str
    code_version: str
    version: str
    parents: list[str]


class DepInfo(_Open):
    feature: str
    lineage: str
    optional: bool
    columns: list[str] | None


class FeatureStatus(_Open):
    feature: str
    root: bool
    stored: int
    new: int
    stale: int
    orphaned: int
    state: str = Field(description="in-sync, empty, to-do or upstream-missing.")
    unit: str = Field(description="What new/stale/orphaned count: samples, or parents for an expansion.")


class FeatureStats(_Open):
    feature: str
    fields: int
    samples: int
    rows: int
    versions: int
    last_materialized_at: str | None
    source: str


class FeatureDetail(_Open):
    key: str
    description: str | None
    feature_version: str
    id_columns: list[str]
    columns: list[str]
    fields: list[FieldInfo]
    deps: list[DepInfo]
    upstream: list[str]
    downstream: list[str]
    schema_: dict[str, Any] | None = Field(alias="schema", description="JSON schema of the declared columns.")
    stored_schema: dict[str, str] | None = Field(
        description="Stored column types; null when nothing is stored."
    )
    stats: FeatureStats
    status: FeatureStatus


class GraphNode(_Open):
    key: str
    feature_version: str
    fields: dict[str, str]


class GraphEdge(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str


class Graph(_Open):
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    field_edges: list[GraphEdge]


class Mermaid(_Open):
    mermaid: str


class Status(_Open):
    store: str
    in_sync: bool
    features: list[FeatureStatus]


class Snapshot(_Open):
    snapshot_id: str
    pushed_at: str
    features: int
    is_current: bool


class Snapshots(_Open):
    store: str
    current: str
    snapshots: list[Snapshot]


class Diff(_Open):
    store: str
    old_project_version: str
    new_project_version: str
    added: list[Any]
    removed: list[Any]
    changed: list[dict[str, Any]]
    impacted: list[Any]
    samples_to_recompute: dict[str, int]


class SampleInFeature(_Open):
    """One row of ``store.lookup`` (docs/failures.md#lookup)."""

    feature: str
    sample: dict[str, Any] | None = Field(description="The sample's id values.")
    stored: bool
    status: str = Field(
        description="current, stale, new, failed, orphaned, upstream-missing or absent (docs/failures.md#lookup)."
    )
    stale_fields: list[str] | None
    reason: str | None
    feature_version: str | None
    provenance: str | None
    expected_provenance: str | None
    updated_at: str | None
    error_type: str | None
    error_message: str | None
    attempts: int | None


class Lookup(_Open):
    store: str
    ids: dict[str, str]
    features: list[SampleInFeature]


class ErrorBody(BaseModel):
    type: str
    message: str
    hint: str | None


class Error(BaseModel):
    error: ErrorBody
    status: int
