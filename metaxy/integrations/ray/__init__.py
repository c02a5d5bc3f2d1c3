"""Ray Data on metaxy stores (extra ``ray``): read shards of an increment, write blocks, version datasets.

- :class:`MetaxyDatasource`: ``ray.data.read_datasource(MetaxyDatasource(Feature, store=...))`` reads one
  shard per read task, each resolved (or read) inside the worker.
- :class:`MetaxyDatasink`: ``dataset.write_datasink(MetaxyDatasink(Feature, store=...))`` writes each
  block once, straight from the workers or through one writer actor (stores without concurrent writers).
- :class:`RayMetadataStore`: ``calculate_and_write_data_versions(Feature, dataset)``.
"""

from __future__ import annotations

from metaxy.integrations._worker import STATUS, import_engine

import_engine("ray.data", "ray")

from metaxy.integrations.ray.datasink import MetaxyDatasink, WriteReport  # noqa: E402
from metaxy.integrations.ray.datasource import MetaxyDatasource  # noqa: E402
from metaxy.integrations.ray.store import RayMetadataStore  # noqa: E402

__all__ = ["STATUS", "MetaxyDatasink", "MetaxyDatasource", "RayMetadataStore", "WriteReport"]
