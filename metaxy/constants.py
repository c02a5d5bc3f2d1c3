"""Names and defaults shared by every layer: system columns, hash defaults, the default field."""

from __future__ import annotations

from typing import Final

PREFIX: Final = "metaxy_"

PROVENANCE_BY_FIELD: Final = "metaxy_provenance_by_field"
PROVENANCE: Final = "metaxy_provenance"
DATA_VERSION_BY_FIELD: Final = "metaxy_data_version_by_field"
DATA_VERSION: Final = "metaxy_data_version"
FEATURE_VERSION: Final = "metaxy_feature_version"
PROJECT_VERSION: Final = "metaxy_project_version"
CREATED_AT: Final = "metaxy_created_at"
UPDATED_AT: Final = "metaxy_updated_at"
DELETED_AT: Final = "metaxy_deleted_at"
MATERIALIZATION_ID: Final = "metaxy_materialization_id"

SYSTEM_COLUMNS: Final = (
    PROVENANCE_BY_FIELD,
    PROVENANCE,
    DATA_VERSION_BY_FIELD,
    DATA_VERSION,
    FEATURE_VERSION,
    PROJECT_VERSION,
    CREATED_AT,
    UPDATED_AT,
    DELETED_AT,
    MATERIALIZATION_ID,
)
VERSION_COLUMNS: Final = (PROVENANCE_BY_FIELD, PROVENANCE, DATA_VERSION_BY_FIELD, DATA_VERSION)
TIMESTAMP_COLUMNS: Final = (CREATED_AT, UPDATED_AT, DELETED_AT)

DEFAULT_FIELD_KEY: Final = "default"
DEFAULT_CODE_VERSION: Final = "__metaxy_initial__"
DEFAULT_ID_COLUMNS: Final = ("sample_uid",)
DEFAULT_HASH_ALGORITHM: Final = "xxhash32"
DEFAULT_HASH_TRUNCATION: Final = 8
MIN_HASH_TRUNCATION: Final = 8
STATIC_VERSION_LENGTH: Final = 8

#: first key part of the reserved system tables (graph snapshots, ...), hidden from list_features()
SYSTEM_NAMESPACE: Final = "metaxy_system"
