"""Names for what the store API accepts: the engine choice and the options every store takes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, TypedDict

if TYPE_CHECKING:
    from metaxy.stores.base import MetadataStore
    from metaxy.stores.catalog_protocol import CatalogLike
    from metaxy.versioning.hashing import HashAlgorithm

EngineChoice = Literal["auto", "native", "polars"]


class StoreOptions(TypedDict, total=False):
    """The options every store takes (see :class:`~metaxy.stores.base.MetadataStore`).

    Backends accept them as ``**store_kwargs: Unpack[StoreOptions]``, so a misspelt option is a type
    error as well as a runtime one.
    """

    fallback_stores: Sequence[MetadataStore] | None
    catalog: CatalogLike | None
    hash_algorithm: HashAlgorithm | str
    hash_truncation_length: int | None
    versioning_engine: EngineChoice
    read_only: bool
    name: str | None
    enable_logging: bool
    log_level: int | str
