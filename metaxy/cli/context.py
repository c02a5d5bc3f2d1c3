"""What every command shares: the global options, and the config, graph and store built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from metaxy.config import MetaxyConfig, load_config, load_entrypoints
from metaxy.models.graph import FeatureGraph
from metaxy.ops.stores import require_existing
from metaxy.stores.base import MetadataStore
from metaxy.stores.registry import store_from_config
from metaxy.stores.wrappers.access import secured


@dataclass
class CliContext:
    """Global options, with the project's config, feature graph and stores built on first use."""

    config_path: Path | None = None
    store_name: str | None = None
    debug: bool = False
    graph: FeatureGraph = field(default_factory=FeatureGraph)
    api_key: str | None = field(default=None, repr=False)
    _config: MetaxyConfig | None = None
    _loaded: bool = False

    @property
    def config(self) -> MetaxyConfig:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def feature_graph(self) -> FeatureGraph:
        """The project's features: the entrypoints imported into this context's graph (once)."""
        if not self._loaded:
            with self.graph.use():
                load_entrypoints(self.config)
            self._loaded = True
        return self.graph

    def store(
        self, name: str | None = None, *, read_only: bool = False, checked: bool = True
    ) -> MetadataStore:
        """A (closed) store: ``name``, else ``--store``, else the config's default store.

        ``read_only=True`` (commands that only read) opens the whole fallback chain read-only and
        refuses a store that does not exist, rather than creating an empty one. With a ``[security]``
        table the store is checked for the principal of ``--api-key``; ``checked=False`` is for servers,
        which check each request's key themselves.
        """
        store = store_from_config(self.config, name or self.store_name, read_only=read_only)
        store = require_existing(store) if read_only else store
        return secured(store, self.config, self.api_key) if checked else store
