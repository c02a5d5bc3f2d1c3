"""The shape of a metaxy project's settings (``metaxy.toml``, ``[tool.metaxy]``, ``METAXY_*`` env vars)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from metaxy.config.security import SecurityConfig
from metaxy.constants import DEFAULT_HASH_ALGORITHM, DEFAULT_HASH_TRUNCATION, MIN_HASH_TRUNCATION
from metaxy.versioning.hashing import HashAlgorithm

ENV_PREFIX = "METAXY_"
ENV_DELIMITER = "__"


class StoreConfig(BaseModel):
    """One named store: its ``type``, the names of its fallbacks, and its constructor options inline.

    Every key other than ``type`` and ``fallback_stores`` is passed to the store's constructor.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(min_length=1)
    fallback_stores: tuple[str, ...] = ()

    @property
    def options(self) -> dict[str, Any]:
        """The constructor options (every key besides ``type`` and ``fallback_stores``)."""
        return dict(self.model_extra or {})


class CatalogConfig(BaseModel):
    """The optional materialization catalog shared by every configured store."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(min_length=1)

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class MetaxyConfig(BaseSettings):
    """Project settings. Build with :func:`metaxy.config.load_config`, which finds the file.

    Sources, strongest first: ``METAXY_*`` environment variables (nested keys joined with ``__``),
    then the file (``metaxy.toml`` or ``[tool.metaxy]`` in ``pyproject.toml``), then defaults.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        frozen=True,
    )

    project: str | None = None
    entrypoints: tuple[str, ...] = ()
    store: str | None = None
    stores: dict[str, StoreConfig] = Field(default_factory=dict)
    catalog: CatalogConfig | None = None
    security: SecurityConfig | None = None
    hash_algorithm: HashAlgorithm = HashAlgorithm(DEFAULT_HASH_ALGORITHM)
    hash_truncation_length: int | None = Field(default=DEFAULT_HASH_TRUNCATION, ge=MIN_HASH_TRUNCATION)

    _source_file: Path | None = PrivateAttr(default=None)

    @field_validator("hash_algorithm", mode="before")
    @classmethod
    def _lower_algorithm(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the file's values arrive as init kwargs (see load_config); the environment overrides them
        return env_settings, init_settings

    @property
    def source_file(self) -> Path | None:
        """The file the settings were read from (``None``: defaults and environment only)."""
        return self._source_file

    @property
    def root(self) -> Path:
        """The project directory: where the config file lives (the working directory without one)."""
        return self._source_file.parent if self._source_file else Path.cwd()

    def where(self, *key: str | int) -> str:
        """Say where setting ``key`` comes from, for error messages (env var name or file)."""
        dotted = ".".join(str(k) for k in key)
        env_name = ENV_PREFIX + ENV_DELIMITER.join(str(k) for k in key).upper()
        if env_name in os.environ:
            return f"{dotted!r} (from ${env_name})"
        return f"{dotted!r} in {self._source_file or 'the default settings'}"
