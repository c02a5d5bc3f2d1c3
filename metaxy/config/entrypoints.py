"""Import the modules listed in ``entrypoints`` so their feature classes register in the active graph."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from metaxy.config.loader import load_config
from metaxy.config.settings import MetaxyConfig
from metaxy.exceptions import ConfigError, MetaxyError


def load_entrypoints(config: MetaxyConfig) -> list[str]:
    """Import every entrypoint module (the project directory is importable); return their names.

    Raises:
        ConfigError: an entrypoint cannot be imported (the message names the key and the file).
    """
    root = str(config.root)
    if root not in sys.path:  # like pytest's rootdir: project modules import without installing
        sys.path.insert(0, root)
    for index, module in enumerate(config.entrypoints):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(
                f"Entrypoint {module!r} ({config.where('entrypoints', index)}) cannot be imported: {exc}.",
                hint=f"List importable module names; {root} is on the import path.",
            ) from exc
        except MetaxyError:  # a bad definition says what is wrong itself
            raise
        except Exception as exc:  # the project's own code failed while importing
            raise ConfigError(
                f"Entrypoint {module!r} ({config.where('entrypoints', index)}) raised "
                f"{type(exc).__name__} while importing: {exc}.",
                hint="Fix the error in that module (rerun with --debug for the traceback).",
            ) from exc
    return list(config.entrypoints)


def init(config: MetaxyConfig | str | Path | None = None) -> MetaxyConfig:
    """Load the project's configuration and import its entrypoints, as Metaxy 0.1.x's ``mx.init`` did.

    Args:
        config: a loaded configuration, or the path of a config file; by default the nearest
            ``metaxy.toml`` / ``pyproject.toml`` from the working directory up.

    Returns:
        The configuration; open its default store with ``metaxy.stores.registry.store_from_config``.
    """
    loaded = config if isinstance(config, MetaxyConfig) else load_config(config)
    load_entrypoints(loaded)
    return loaded
