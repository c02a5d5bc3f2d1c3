"""Sample-level versioning: the hash recipe, the Polars engine (the reference) and increments."""

from metaxy.versioning.hashing import HashAlgorithm, HashSettings, hash_text
from metaxy.versioning.increment import Increment
from metaxy.versioning.polars_engine import PolarsEngine

__all__ = ["HashAlgorithm", "HashSettings", "Increment", "PolarsEngine", "hash_text"]
