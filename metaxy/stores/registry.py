"""Build stores (and their shared catalog) from configuration: short type names or import paths."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from metaxy.config.paths import resolve_locations
from metaxy.config.settings import MetaxyConfig
from metaxy.exceptions import ConfigError, FallbackCycleError, MetaxyError
from metaxy.stores.backends import backend_named, store_kinds
from metaxy.stores.base import MetadataStore

#: short catalog type -> import path (catalogs live in a higher layer, so they are named, not imported)
CATALOG_TYPES: dict[str, str] = {
    "memory": "metaxy.catalog:InMemoryCatalog",
    "sqlite": "metaxy.catalog:SQLiteCatalog",
    "postgres": "metaxy.catalog:PostgresCatalog",
}

_OWN_KEYS = ("fallback_stores", "catalog", "name")


def store_from_config(
    config: MetaxyConfig, name: str | None = None, *, read_only: bool = False
) -> MetadataStore:
    """Build the store ``name`` (default: ``config.store``) with its fallbacks and the catalog.

    The store is returned closed; use it as ``with store:``. Stores get the project's hash settings
    unless their own table sets ``hash_algorithm`` / ``hash_truncation_length``. Relative locations
    (the options a store class lists in ``path_options``) resolve against the config file's folder.
    ``read_only=True`` opens every store of the chain read-only (nothing is created).

    Raises:
        ConfigError: no such store, an unknown ``type``, or an option the store does not accept.
    """
    chosen = name or config.store
    if chosen is None:
        if len(config.stores) != 1:
            raise ConfigError(
                f"No store chosen and no default store set ({config.where('store')}).",
                hint='Set store = "NAME" in the config, or pass --store NAME.',
            )
        chosen = next(iter(config.stores))
    catalog = catalog_from_config(config, read_only=read_only)
    return _build(config, chosen, catalog, {}, read_only=read_only)


def catalog_from_config(config: MetaxyConfig, *, read_only: bool = False) -> Any:
    """The configured catalog object, or ``None`` when the project has none.

    ``read_only=True`` is passed on to catalogs that take it (``SQLiteCatalog``: nothing is created).
    """
    if config.catalog is None:
        return None
    path = CATALOG_TYPES.get(config.catalog.type, config.catalog.type)
    cls = _import_class(path, config, ("catalog", "type"))
    options = resolve_locations(config.catalog.options, getattr(cls, "path_options", ()), config.root)
    own: dict[str, Any] = {}
    if read_only:
        options.pop("read_only", None)
        own["read_only"] = True
    return _construct(cls, options, own, config, ("catalog",))


def _build(
    config: MetaxyConfig,
    name: str,
    catalog: Any,
    built: dict[str, MetadataStore],
    *,
    read_only: bool,
    path: tuple[str, ...] = (),
) -> MetadataStore:
    if name in built:  # a store reached twice through fallbacks is one object
        return built[name]
    if name in path:
        cycle = " -> ".join((*path[path.index(name) :], name))
        raise FallbackCycleError(
            f"Store {name!r} is in its own fallback chain ({cycle}) in {config.source_file or 'the configuration'}.",
            hint="Remove one of these names from the fallback_stores of the stores in the cycle.",
        )
    settings = config.stores.get(name)
    if settings is None:
        known = ", ".join(sorted(config.stores)) or "none"
        raise ConfigError(
            f"There is no store named {name!r} in {config.source_file or 'the configuration'}.",
            hint=f"Configured stores: {known}.",
        )
    cls = resolve_store_class(config, name)
    fallbacks = [
        _build(config, f, catalog, built, read_only=read_only, path=(*path, name))
        for f in settings.fallback_stores
    ]
    own = {
        "hash_algorithm": config.hash_algorithm.value,
        "hash_truncation_length": config.hash_truncation_length,
        "fallback_stores": fallbacks,
        "catalog": catalog,
        "name": name,
    }
    for option in ("hash_algorithm", "hash_truncation_length"):  # a store's own setting wins
        if option in settings.options:
            del own[option]
    options = resolve_locations(settings.options, cls.path_options, config.root)
    if read_only:  # as an own option: a store class without the parameter is still built
        options.pop("read_only", None)
        own["read_only"] = True
    store = _construct(cls, options, own, config, ("stores", name))
    assert isinstance(store, MetadataStore)
    built[name] = store
    return store


def resolve_store_class(config: MetaxyConfig, name: str) -> type[MetadataStore]:
    """The class for ``[stores.NAME] type``: a kind from :data:`~metaxy.stores.backends.BACKENDS` or ``pkg.module:Class``."""
    type_name = config.stores[name].type
    backend = backend_named(type_name)
    if backend is not None:
        path = f"{backend.module}:{backend.class_name}"
    elif ":" in type_name:
        path = type_name
    else:
        raise ConfigError(
            f"Unknown store type {type_name!r} for {config.where('stores', name, 'type')}.",
            hint="Use one of " + ", ".join(sorted(store_kinds())) + ', or an import path "pkg.module:Class".',
        )
    cls = _import_class(path, config, ("stores", name, "type"))
    if not (isinstance(cls, type) and issubclass(cls, MetadataStore)):
        raise ConfigError(
            f"{path} ({config.where('stores', name, 'type')}) is not a MetadataStore subclass.",
            hint="Point type at a class deriving from metaxy.MetadataStore.",
        )
    return cls


def _import_class(path: str, config: MetaxyConfig, key: tuple[str, ...]) -> Any:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except MetaxyError:
        raise
    except ImportError as exc:
        raise ConfigError(
            f"Cannot import {module_name!r} for {config.where(*key)}: {exc}.",
            hint='Check the import path ("pkg.module:Class") and that the package is installed.',
        ) from exc
    found = getattr(module, attr, None) if attr else None
    if found is None:
        raise ConfigError(
            f"{module_name!r} has no attribute {attr!r} ({config.where(*key)}).",
            hint='Write the type as "pkg.module:Class".',
        )
    return found


def _construct(
    cls: Any, options: dict[str, Any], own: dict[str, Any], config: MetaxyConfig, key: tuple[str, ...]
) -> Any:
    accepted, open_ended = _accepted_parameters(cls)
    for option in options:
        if option in _OWN_KEYS or (not open_ended and option not in accepted):
            raise ConfigError(
                f"{cls.__name__} does not accept the option {option!r} ({config.where(*key, option)}).",
                hint="Accepted options: " + ", ".join(sorted(accepted - set(_OWN_KEYS))) + ".",
            )
    own = {k: v for k, v in own.items() if k in accepted or open_ended}
    try:
        return cls(**options, **own)
    except MetaxyError as exc:
        raise type(exc)(f"{exc.message} (building {config.where(*key)})", hint=exc.hint) from exc
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"Cannot build {cls.__name__} from {config.where(*key)}: {exc}.",
            hint="Check the options against the class's constructor.",
        ) from exc


def _accepted_parameters(cls: type[Any]) -> tuple[set[str], bool]:
    """Keyword names the constructor takes, following ``**kwargs`` up the class hierarchy."""
    accepted: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        accepted |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} - {"self"}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return accepted, False
    return accepted, True
