"""Find and read the project's config file, apply ``METAXY_*`` overrides, and check the result."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from metaxy.config import legacy
from metaxy.config.settings import MetaxyConfig
from metaxy.exceptions import ConfigError

CONFIG_FILE = "metaxy.toml"
PYPROJECT = "pyproject.toml"
#: an explicit config file, like ``--config`` (the CLI flag wins over it)
CONFIG_ENV = "METAXY_CONFIG"


def find_config_file(start: Path | None = None) -> Path | None:
    """The nearest ``metaxy.toml``, or ``pyproject.toml`` with a ``[tool.metaxy]`` table, from ``start`` up."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and "metaxy" in _read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def load_config(path: str | Path | None = None, *, start: Path | None = None) -> MetaxyConfig:
    """Read the project configuration.

    Args:
        path: an explicit ``metaxy.toml`` / ``pyproject.toml``; otherwise ``$METAXY_CONFIG``, otherwise
            the nearest config file from ``start`` (default: the working directory) upwards.
        start: where the upward search begins.

    Raises:
        ConfigError: the file is missing or unreadable, or a setting is invalid (the message names the
            key and the file, or the environment variable it came from).
    """
    explicit = path or os.environ.get(CONFIG_ENV) or None
    source = Path(explicit) if explicit else find_config_file(start)
    if explicit and not Path(explicit).is_file():
        raise ConfigError(
            f"Config file {explicit} does not exist.",
            hint=f"Pass the path of a {CONFIG_FILE} (or a {PYPROJECT} with [tool.metaxy]).",
        )
    values = _file_values(source) if source else {}
    try:
        config = MetaxyConfig(**values)
    except ValidationError as exc:
        raise _as_config_error(exc, source) from None
    config._source_file = source.resolve() if source else None
    check_store_names(config)
    return config


def _file_values(path: Path) -> dict[str, Any]:
    data = _read_toml(path)
    if path.name == PYPROJECT:
        section = data.get("tool", {}).get("metaxy", {})
        data = dict(section) if isinstance(section, Mapping) else {}
    return legacy.translate(data, path) if legacy.is_legacy(data) else data


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.", hint="Fix the syntax at that line.") from None
    except OSError as exc:
        raise ConfigError(
            f"Cannot read config file {path}: {exc.strerror}.", hint="Check the path."
        ) from None


def _as_config_error(exc: ValidationError, source: Path | None) -> ConfigError:
    first = exc.errors()[0]
    loc = [str(p) for p in first["loc"]]
    env_name = "METAXY_" + "__".join(loc).upper()
    origin = f"${env_name}" if env_name in os.environ else str(source or "the default settings")
    key = ".".join(loc) or "<root>"
    more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
    problem = first["msg"]
    if first["type"] == "extra_forbidden":
        problem = "unknown setting"
    return ConfigError(
        f"Invalid configuration key {key!r} in {origin}: {problem}{more}.",
        hint=_hint_for(first["type"], loc),
    )


def _hint_for(error_type: str, loc: list[str]) -> str:
    if error_type == "extra_forbidden":
        return (
            "Known top-level keys: project, entrypoints, store, stores, catalog, hash_algorithm, "
            "hash_truncation_length; store options go under [stores.NAME]."
        )
    if loc and loc[0] == "hash_algorithm":
        return "Use one of: xxhash32, xxhash64, md5, sha256."
    if loc and loc[0] == "stores" and loc[-1] == "type":
        return 'Every [stores.NAME] table needs type = "memory" | "duckdb" | ... or "pkg.module:Class".'
    return "See docs/configuration.md for the expected type of each key."


def check_store_names(config: MetaxyConfig) -> None:
    """Refuse a default store or fallback that names no configured store, and fallback cycles."""
    if config.store is not None and config.store not in config.stores:
        raise ConfigError(
            f"The default store {config.store!r} ({config.where('store')}) is not configured.",
            hint=_known_stores(config),
        )
    for name, store in config.stores.items():
        for fallback in store.fallback_stores:
            if fallback not in config.stores:
                raise ConfigError(
                    f"Store {name!r} names an unknown fallback {fallback!r} "
                    f"({config.where('stores', name, 'fallback_stores')}).",
                    hint=_known_stores(config),
                )
    for name in config.stores:
        _refuse_cycle(config, name, [])


def _refuse_cycle(config: MetaxyConfig, name: str, path: list[str]) -> None:
    if name in path:
        cycle = " -> ".join([*path[path.index(name) :], name])
        raise ConfigError(
            f"Fallback stores form a cycle: {cycle} ({config.where('stores', path[-1], 'fallback_stores')}).",
            hint="A store cannot fall back to itself, directly or through other stores.",
        )
    for fallback in config.stores[name].fallback_stores:
        _refuse_cycle(config, fallback, [*path, name])


def _known_stores(config: MetaxyConfig) -> str:
    names = ", ".join(sorted(config.stores)) or "none"
    return f"Configured stores: {names}. Define it under [stores.NAME]."
