"""``EncryptedMetadataStore``: chosen user columns encrypted at rest, value by value, in any store.

Encrypted columns are stored as text tokens (see :mod:`metaxy.stores.wrappers._cipher`); ids and
system columns stay in clear, so versioning, increments and filters on them work unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from metaxy.constants import SYSTEM_NAMESPACE
from metaxy.exceptions import (
    ConfigError,
    DecryptionError,
    EncryptedFilterWarning,
    InvalidFilterError,
    SchemaError,
)
from metaxy.models.feature import resolve_feature
from metaxy.models.graph import FeatureGraph
from metaxy.models.keys import FeatureKey
from metaxy.stores._failures import RetryPolicy
from metaxy.stores._logging import logged
from metaxy.stores._read import ReadRequest, as_filters
from metaxy.stores._shard import ShardSpec
from metaxy.stores.base import FeatureLike, Filters, FrameLike, MetadataStore
from metaxy.stores.schema_rule import cast_expr, supertype
from metaxy.stores.wrappers._cipher import (
    TOKEN_START,
    EncryptionKey,
    KeyLike,
    Keyring,
    TokenError,
    as_key,
    as_keyring,
)
from metaxy.stores.wrappers._plain import decode_values, encode_values
from metaxy.stores.wrappers.base import WrappedMetadataStore
from metaxy.versioning.frames import to_polars
from metaxy.versioning.increment import Increment

__all__ = ["EncryptedMetadataStore", "EncryptionKey", "Keyring"]

#: a feature key → its encrypted columns, or the same columns for every feature
ColumnsSpec = Sequence[str] | Mapping[str, Sequence[str]]


class EncryptedMetadataStore(WrappedMetadataStore):
    """Encrypts ``encrypted_columns`` before they reach ``store``, decrypts them on the way back.

    Each non-null value is encrypted on its own with an authenticated cipher (AES-256-GCM, or
    ChaCha20-Poly1305) and a fresh nonce, and stored as a text token carrying the key id. A token
    that was changed, or whose key is not in the keyring, raises :class:`DecryptionError` naming
    the feature and column; garbage is never returned. Nulls stay null (whether a value is null is
    visible). Filters naming an encrypted column run after decryption, with an
    :class:`EncryptedFilterWarning`: they cannot be pushed into the store.

    Args:
        store: the store holding the data.
        encryption_key: a 32-byte key, an :class:`EncryptionKey`, a list of them (the first encrypts,
            all decrypt) or a :class:`Keyring`.
        encrypted_columns: column names encrypted in every feature that has them, or a mapping
            ``{"video/raw": ["path"]}``. Id columns and system columns cannot be encrypted.
        algorithm: the cipher of keys given as bytes: ``"aes-256-gcm"`` or ``"chacha20-poly1305"``.

    Example:
        >>> import os, metaxy as mx
        >>> store = EncryptedMetadataStore(
        ...     mx.InMemoryMetadataStore(), encryption_key=os.urandom(32), encrypted_columns=["path"]
        ... )
    """

    kind = "encrypted"

    def __init__(
        self,
        store: MetadataStore,
        *,
        encryption_key: KeyLike | Sequence[KeyLike] | Keyring,
        encrypted_columns: ColumnsSpec,
        algorithm: str = "aes-256-gcm",
        name: str | None = None,
        enable_logging: bool = False,
        log_level: int | str = "INFO",
    ) -> None:
        self.algorithm = algorithm
        self.keyring = as_keyring(encryption_key, algorithm)
        self._columns = _check_columns(encrypted_columns)
        self._types: dict[tuple[FeatureKey, str], pl.DataType] = {}
        super().__init__(store, name=name, enable_logging=enable_logging, log_level=log_level)

    def encrypted_columns(self, feature: FeatureLike) -> tuple[str, ...]:
        """The columns of ``feature`` this store encrypts (whether stored yet or not)."""
        key = feature if isinstance(feature, FeatureKey) else resolve_feature(feature)[0]
        if key.parts[0] == SYSTEM_NAMESPACE:
            return ()
        if isinstance(self._columns, dict):
            return self._columns.get(key.to_string(), ())
        return self._columns

    # -- writing ----------------------------------------------------------------------------------

    @logged("write_metadata")
    def write_metadata(self, feature: FeatureLike, df: FrameLike) -> None:
        key, graph = resolve_feature(feature)
        frame = to_polars(df, where=self._where(key))
        self.inner.write_metadata(feature, self._encrypt(key, frame, graph))

    @logged("calculate_and_write_data_versions")
    def calculate_and_write_data_versions(self, feature: FeatureLike, sample_df: FrameLike) -> pl.DataFrame:
        key, graph = resolve_feature(feature)
        frame = self._encrypt(key, to_polars(sample_df, where=self._where(key)), graph)
        return self._decrypt(key, self.inner.calculate_and_write_data_versions(feature, frame))

    @logged("copy_metadata")
    def copy_metadata(
        self,
        from_store: MetadataStore,
        features: Iterable[FeatureLike] | None = None,
        *,
        history: bool = False,
    ) -> dict[FeatureKey, int]:
        """Copy through this wrapper, so the copied rows are encrypted on their way in."""
        return MetadataStore.copy_metadata(self, from_store, features, history=history)

    def _append_registered(self, key: FeatureKey, frame: pl.DataFrame) -> None:
        frame = self._conform(key, frame)
        self.inner._append(key, frame)
        if self.inner.catalog is not None:
            self.inner.catalog.register_materialization(key, frame, store=self.inner.name)

    def _conform(self, key: FeatureKey, frame: pl.DataFrame) -> pl.DataFrame:
        return self.inner._conform(key, self._encrypt(key, frame, FeatureGraph.get_active()))

    def _encrypt(self, key: FeatureKey, frame: pl.DataFrame, graph: FeatureGraph) -> pl.DataFrame:
        columns = [c for c in self.encrypted_columns(key) if c in frame.columns]
        if not columns:
            return frame
        ids = graph.spec(key).id_columns if key in graph else ()
        clear = sorted(set(columns) & set(ids))
        if clear:
            raise ConfigError(
                f"{self._where(key)}: id column(s) {clear} cannot be encrypted (reads, increments and "
                "deletes find samples by their ids).",
                hint="Remove them from encrypted_columns; encrypt the columns holding sensitive values.",
            )
        for column in columns:
            self._check_type(key, column, frame.schema[column])
        return frame.with_columns(self.keyring.encrypt(c, encode_values(frame[c])) for c in columns)

    def _check_type(self, key: FeatureKey, column: str, written: pl.DataType) -> None:
        """The append-schema rule for an encrypted column (the store itself only sees text)."""
        if written == pl.Null:
            return
        stored = self._types.get((key, column))
        if stored is None:
            stored = self._stored_type(key, column)
        if stored is None:
            self._types[key, column] = written
            return
        merged = supertype(stored, written)
        if merged is None:
            raise SchemaError(
                f"{self._where(key)}: encrypted column {column!r} holds {stored} but the written frame has {written}.",
                hint=f"Cast {column!r} to {stored} (or a type that widens into it without loss) before writing.",
            )
        self._types[key, column] = merged

    def _stored_type(self, key: FeatureKey, column: str) -> pl.DataType | None:
        scanned = self.inner._scan(key)
        if scanned is None or column not in scanned.collect_schema().names():
            return None
        first = scanned.select(column).filter(pl.col(column).is_not_null()).head(1).collect()
        return None if first.height == 0 else self._decrypt_column(key, first[column]).dtype

    # -- reading ----------------------------------------------------------------------------------

    @logged("read_metadata")
    def read_metadata(self, feature: FeatureLike, **options: Any) -> pl.LazyFrame:
        """Like :meth:`MetadataStore.read_metadata`; encrypted columns come back decrypted."""
        key, _ = resolve_feature(feature)
        encrypted = self.encrypted_columns(key)
        pushed, local = self._split(key, options.pop("filters", None), encrypted)
        columns = options.pop("columns", None)
        wanted = encrypted if columns is None else [c for c in columns if c in encrypted]
        if not wanted and local is None:
            return self.inner.read_metadata(feature, filters=pushed, columns=columns, **options)
        inner_columns = columns if columns is None or local is None else None
        frame = self.inner.read_metadata(feature, filters=pushed, columns=inner_columns, **options).collect()
        frame = self._decrypt(key, frame)
        if local is not None:
            frame = frame.filter(local)
        return (frame if columns is None or inner_columns is not None else frame.select(columns)).lazy()

    def _read_rows(self, request: ReadRequest) -> pl.LazyFrame | None:
        pushed, local = self._split(request.key, request.filters, self.encrypted_columns(request.key))
        rows = self.inner._read_rows(
            ReadRequest(
                request.key,
                request.ids,
                feature_version=request.feature_version,
                latest=request.latest,
                include_deleted=request.include_deleted,
                filters=tuple(pushed),
                unread=request.unread,
            )
        )
        if rows is None:
            return None
        frame = self._decrypt(request.key, rows.collect())
        return (frame if local is None else frame.filter(local)).lazy()

    def _scan(self, key: FeatureKey) -> pl.LazyFrame | None:
        rows = self.inner._scan(key)
        if rows is None or not set(self.encrypted_columns(key)) & set(rows.collect_schema().names()):
            return rows
        return self._decrypt(key, rows.collect()).lazy()

    def _stored_schema(self, key: FeatureKey) -> pl.Schema | None:
        return self.inner._stored_schema(key)

    @logged("resolve_update")
    def resolve_update(
        self,
        feature: FeatureLike,
        *,
        samples: FrameLike | None = None,
        filters: Filters = None,
        lazy: bool = False,
        shard: ShardSpec = None,
        retry_failed: bool = False,
        retry: RetryPolicy | None = None,
        **legacy: Any,
    ) -> Increment[Any]:
        key, graph = resolve_feature(feature)
        keys = [key, *graph.plan(key).upstream] if key in graph else [key]
        encrypted = {c for k in keys for c in self.encrypted_columns(k)}
        self._refuse_encrypted_filters(key, filters, encrypted, "resolve_update")
        increment = self.inner.resolve_update(
            feature,
            samples=samples,
            filters=filters,
            lazy=lazy,
            shard=shard,
            retry_failed=retry_failed,
            retry=retry,
            **legacy,
        )
        parts = (increment.new, increment.stale, increment.orphaned, increment.failed)
        if not {c for f in parts for c in f.collect_schema().names()} & encrypted:
            return increment
        frames = [f.collect() if isinstance(f, pl.LazyFrame) else f for f in parts]
        plain = [self._decrypt_tokens(key, f, encrypted) for f in frames]
        return Increment(*(f.lazy() for f in plain)) if lazy else Increment(*plain)

    def _decrypt_tokens(self, key: FeatureKey, frame: pl.DataFrame, encrypted: set[str]) -> pl.DataFrame:
        """Decrypt the tokens of ``encrypted`` columns, keeping plain values: an increment mixes stored
        (encrypted) rows with the caller's ``samples`` (in clear)."""
        columns = []
        for name in sorted(encrypted & set(frame.columns)):
            values = frame[name]
            if values.dtype != pl.String:
                continue
            is_token = values.str.contains(TOKEN_START).fill_null(False)
            if not is_token.any():
                continue
            if is_token.sum() == values.len() - values.null_count():
                columns.append(self._decrypt_column(key, values))
                continue
            opened = self._decrypt_column(key, values.filter(is_token))
            if opened.dtype != pl.String:
                raise SchemaError(
                    f"{self._where(key)}: column {name!r} mixes stored {opened.dtype} values with strings.",
                    hint=f"Give {name!r} in samples as {opened.dtype}.",
                )
            columns.append(values.scatter(is_token.arg_true(), opened))
        return frame.with_columns(columns) if columns else frame

    @logged("provenance_digest")
    def provenance_digest(self, feature: FeatureLike, *, filters: Filters = None) -> str:
        key, _ = resolve_feature(feature)
        self._refuse_encrypted_filters(key, filters, set(self.encrypted_columns(key)), "provenance_digest")
        return self.inner.provenance_digest(feature, filters=filters)

    @logged("delete_metadata")
    def delete_metadata(
        self, feature: FeatureLike, *, filters: Filters = None, samples: Any = None, soft: bool = True
    ) -> int:
        """Like :meth:`MetadataStore.delete_metadata`; a filter on an encrypted column picks the samples
        (ids) with a matching row after decryption, and those samples are deleted."""
        key, graph = resolve_feature(feature)
        pushed, local = self._split(key, filters, self.encrypted_columns(key))
        if local is None:
            return self.inner.delete_metadata(feature, filters=pushed, samples=samples, soft=soft)
        ids = list(graph.spec(key).id_columns)
        matching = (
            self.read_metadata(feature, filters=[*pushed, local], history=not soft, include_deleted=not soft)
            .select(ids)
            .unique()
            .collect()
        )
        if samples is not None:
            given = to_polars(samples, where=self._where(key))
            matching = matching.join(
                given.select([c for c in ids if c in given.columns]).unique(),
                how="semi",
                on=[c for c in ids if c in given.columns],
            )
        if matching.height == 0:
            return 0
        return self.inner.delete_metadata(feature, filters=pushed, samples=matching, soft=soft)

    # -- key rotation -----------------------------------------------------------------------------

    def rotate_key(self, new_key: KeyLike) -> dict[FeatureKey, int]:
        """Make ``new_key`` the primary key and re-encrypt every stored value still under another key.

        Append-only: per feature, the rows holding old-key tokens are appended again re-encrypted (one
        append), then the old rows are removed (a hard delete of rows whose tokens are not under the
        new key). If interrupted, call it again with the same key: rows already re-encrypted are not
        appended twice. Until it finishes, keep the old keys in the keyring. Returns the rows
        re-encrypted per feature.
        """
        self.require_writable("rotate the encryption key")
        self.keyring = self.keyring.with_primary(as_key(new_key, self.algorithm))
        done: dict[FeatureKey, int] = {}
        for key in self.inner._list_keys():
            stored = self.inner._stored_columns(key) or []
            columns = [c for c in self.encrypted_columns(key) if c in stored]
            if columns:
                done[key] = self._rotate(key, columns)
        return done

    def _rotate(self, key: FeatureKey, columns: list[str]) -> int:
        prefix = self.keyring.primary.prefix()
        old = pl.any_horizontal(
            [pl.col(c).is_not_null() & ~pl.col(c).str.starts_with(prefix) for c in columns]
        )
        scanned = self.inner._scan(key)
        if scanned is None:
            return 0
        stale = scanned.filter(old).collect()
        if stale.height == 0:
            return 0
        fresh = stale.with_columns(self._reencrypt(key, stale[c]) for c in columns)
        identity = [
            c
            for c, t in stale.schema.items()
            if c not in columns and not isinstance(t, pl.Struct | pl.List | pl.Array)
        ]
        done = scanned.filter(~old).select(identity).collect()
        if done.height:  # resumed: these rows were appended re-encrypted before the interruption
            fresh = fresh.join(done, on=identity, how="anti", nulls_equal=True)
        if fresh.height:
            self.inner._append(key, self.inner._conform(key, fresh))
        self.inner._delete_rows(key, old)
        return stale.height

    def _reencrypt(self, key: FeatureKey, tokens: pl.Series) -> pl.Series:
        return self.keyring.encrypt(tokens.name, self._open(key, tokens))

    # -- decryption -------------------------------------------------------------------------------

    def _decrypt(
        self, key: FeatureKey, frame: pl.DataFrame, columns: Sequence[str] | None = None
    ) -> pl.DataFrame:
        names = self.encrypted_columns(key) if columns is None else columns
        present = [c for c in names if c in frame.columns and frame.schema[c] == pl.String]
        if not present:
            return frame
        return frame.with_columns(self._decrypt_column(key, frame[c]) for c in present)

    def _decrypt_column(self, key: FeatureKey, tokens: pl.Series) -> pl.Series:
        groups = decode_values(tokens.name, self._open(key, tokens))
        if not groups:
            return pl.Series(tokens.name, [None] * len(tokens), dtype=pl.String)
        if len(groups) == 1 and len(groups[0][2]) == len(tokens):
            return groups[0][1]
        return self._combine(key, tokens.name, len(tokens), groups)

    def _combine(
        self, key: FeatureKey, name: str, length: int, groups: list[tuple[pl.DataType, pl.Series, list[int]]]
    ) -> pl.Series:
        """Values written with different (widening) types, as one column of their common type."""
        target: pl.DataType | None = groups[0][0]
        for dtype, _, _ in groups[1:]:
            target = None if target is None else supertype(target, dtype)
        if target is None:
            raise SchemaError(
                f"{self._where(key)}: encrypted column {name!r} holds values of types "
                f"{sorted({str(g[0]) for g in groups})} with no common type.",
                hint="Rewrite the column with one type.",
            )
        parts = [
            pl.DataFrame({"__pos": positions, name: series}).select(
                "__pos", cast_expr(name, pl.col(name), dtype, target)
            )
            for dtype, series, positions in groups
        ]
        every = pl.DataFrame({"__pos": list(range(length))})
        return every.join(pl.concat(parts), on="__pos", how="left").sort("__pos")[name]

    def _open(self, key: FeatureKey, tokens: pl.Series) -> list[bytes | None]:
        try:
            return self.keyring.decrypt(tokens)
        except TokenError as exc:
            what = "a wrong key" if exc.wrong_key else "a tampered or corrupted value"
            raise DecryptionError(
                f"{self._where(key)}: cannot decrypt column {tokens.name!r} ({what}): {exc}.",
                hint="Open the store with the key the data was written with (keep old keys in the keyring "
                "until rotate_key finishes)."
                if exc.wrong_key
                else "The stored value was changed outside metaxy: restore it from a backup or rewrite the sample.",
            ) from None

    # -- filters ----------------------------------------------------------------------------------

    def _split(
        self, key: FeatureKey, filters: Any, encrypted: Iterable[str]
    ) -> tuple[list[pl.Expr], pl.Expr | None]:
        """Filters the store can run, and the AND of those naming an encrypted column (run locally)."""
        exprs = as_filters(filters, where=self._where(key))
        names = set(encrypted)
        local = [e for e in exprs if set(e.meta.root_names()) & names]
        if local:
            warnings.warn(
                f"{self._where(key)}: filters on encrypted column(s) "
                f"{sorted({n for e in local for n in e.meta.root_names()} & names)} run after decryption, "
                "not in the store (every row matching the other filters is read and decrypted).",
                EncryptedFilterWarning,
                stacklevel=4,
            )
        pushed = [e for e in exprs if not set(e.meta.root_names()) & names]
        return pushed, (pl.all_horizontal(local) if local else None)

    def _refuse_encrypted_filters(
        self, key: FeatureKey, filters: Any, encrypted: set[str], operation: str
    ) -> None:
        named = {
            n for e in as_filters(filters, where=self._where(key)) for n in e.meta.root_names()
        } & encrypted
        if named:
            raise InvalidFilterError(
                f"{self._where(key)}: {operation} cannot filter on encrypted column(s) {sorted(named)}.",
                hint="Filter on id or other clear columns, or read_metadata (which decrypts) and filter the result.",
            )


def _check_columns(spec: ColumnsSpec) -> tuple[str, ...] | dict[str, tuple[str, ...]]:
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, Mapping):
        checked = {FeatureKey(k).to_string(): tuple(v) for k, v in spec.items()}
        names = [c for cols in checked.values() for c in cols]
    else:
        checked, names = tuple(spec), list(spec)  # type: ignore[assignment]
    system = sorted(c for c in names if c.startswith("metaxy_"))
    if system:
        raise ConfigError(
            f"System column(s) {system} cannot be encrypted: versioning and increments read them.",
            hint="Encrypt only user columns.",
        )
    if not names:
        raise ConfigError("encrypted_columns is empty.", hint="Name the columns to encrypt, e.g. ['path'].")
    return checked
