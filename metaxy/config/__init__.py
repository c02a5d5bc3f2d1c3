"""Project configuration: ``metaxy.toml`` / ``[tool.metaxy]`` / ``METAXY_*`` settings and entrypoints."""

from metaxy.config.entrypoints import init, load_entrypoints
from metaxy.config.loader import CONFIG_ENV, find_config_file, load_config
from metaxy.config.settings import CatalogConfig, MetaxyConfig, StoreConfig

__all__ = [
    "CONFIG_ENV",
    "CatalogConfig",
    "MetaxyConfig",
    "StoreConfig",
    "find_config_file",
    "init",
    "load_config",
    "load_entrypoints",
]
