"""Keys, keyrings and encrypted tokens: ``mxe1:<algorithm>:<key id>:<base64(nonce + ciphertext)>``.

Every value gets a fresh 96-bit random nonce; the authentication tag makes any change to a token (or
decrypting it with another key) fail instead of returning garbage. The key id is the first 12 hex
digits of a SHA-256 of the key, so a token names the key it needs without revealing it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from metaxy.exceptions import ConfigError
from metaxy.stores._drivers import import_driver

#: algorithm name → the one-letter code tokens carry
ALGORITHMS = {"aes-256-gcm": "a", "chacha20-poly1305": "c"}
_BY_CODE = {code: name for name, code in ALGORITHMS.items()}
TOKEN_VERSION = "mxe1"
_NONCE = 12
_TAG = 16
#: ``mxe1:a:0123456789ab:``: every token starts with 20 characters naming its cipher and key
PREFIX_LENGTH = len(TOKEN_VERSION) + 16
#: a regular expression matching the start of a token
TOKEN_START = rf"^{TOKEN_VERSION}:[{''.join(ALGORITHMS.values())}]:[0-9a-f]{{12}}:"
_AAD = b"metaxy encrypted value v1"


class TokenError(Exception):
    """A token cannot be decrypted; the wrapper turns it into a DecryptionError naming the column."""

    def __init__(self, reason: str, *, wrong_key: bool = False) -> None:
        super().__init__(reason)
        self.wrong_key = wrong_key


@dataclass(frozen=True)
class EncryptionKey:
    """A 256-bit key and the algorithm it encrypts with (``aes-256-gcm`` or ``chacha20-poly1305``)."""

    secret: bytes = field(repr=False)
    algorithm: str = "aes-256-gcm"

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(
                f"Unknown encryption algorithm {self.algorithm!r}.",
                hint="Use one of: " + ", ".join(ALGORITHMS) + ".",
            )
        if len(self.secret) != 32:
            raise ConfigError(
                f"An encryption key must be 32 bytes (256 bits); this one has {len(self.secret)}.",
                hint="Generate one with `EncryptionKey.generate()` or os.urandom(32), and keep it in a secret store.",
            )

    @classmethod
    def generate(cls, algorithm: str = "aes-256-gcm") -> EncryptionKey:
        """A new random key."""
        return cls(os.urandom(32), algorithm)

    @property
    def id(self) -> str:
        """12 hex digits naming this key in every token it encrypts (a hash: the key cannot be recovered)."""
        return hashlib.sha256(b"metaxy encryption key id\0" + self.secret).hexdigest()[:12]

    def prefix(self) -> str:
        """The start of every token this key encrypts."""
        return f"{TOKEN_VERSION}:{ALGORITHMS[self.algorithm]}:{self.id}:"


KeyLike = bytes | EncryptionKey


def as_key(key: KeyLike, algorithm: str) -> EncryptionKey:
    """``key`` as an :class:`EncryptionKey` (raw bytes use ``algorithm``)."""
    return key if isinstance(key, EncryptionKey) else EncryptionKey(bytes(key), algorithm)


class Keyring:
    """Keys by id: the first (primary) encrypts, every one decrypts."""

    def __init__(self, keys: Sequence[EncryptionKey]) -> None:
        if not keys:
            raise ConfigError(
                "An encryption keyring needs at least one key.", hint="Pass encryption_key=KEY."
            )
        unique: dict[str, EncryptionKey] = {}
        for key in keys:
            unique.setdefault(key.id, key)
        self.keys = list(unique.values())
        self._by_id = unique
        self._ciphers: dict[str, Any] = {}  # key id → the AEAD object of that key

    @property
    def primary(self) -> EncryptionKey:
        return self.keys[0]

    def with_primary(self, key: EncryptionKey) -> Keyring:
        """This ring with ``key`` first (kept if already present)."""
        return Keyring([key, *self.keys])

    def ids(self) -> list[str]:
        return [k.id for k in self.keys]

    def encrypt(self, name: str, plains: Sequence[bytes | None]) -> pl.Series:
        """Each value as a token under the primary key (nulls stay null), as a String series ``name``."""
        key = self.primary
        seal = self._cipher(key).encrypt
        nonces = os.urandom(_NONCE * len(plains))
        sealed = [
            None if plain is None else nonces[i : i + _NONCE] + seal(nonces[i : i + _NONCE], plain, _AAD)
            for i, plain in zip(range(0, len(nonces), _NONCE), plains, strict=True)
        ]
        encoded = pl.Series(name, sealed, dtype=pl.Binary).bin.encode("base64")
        return (key.prefix() + encoded).alias(name)

    def decrypt(self, tokens: pl.Series) -> list[bytes | None]:
        """The plaintext of every token (``None`` for a null).

        Raises:
            TokenError: not a token, a key id not in the ring, or a failed authentication check.
        """
        heads = tokens.str.slice(0, PREFIX_LENGTH).to_list()
        bodies = tokens.str.slice(PREFIX_LENGTH).str.decode("base64", strict=False).to_list()
        ciphers = {head: self._cipher_for(head).decrypt for head in set(heads) if head is not None}
        if sum(b is None for b in bodies) != sum(
            h is None for h in heads
        ):  # a token whose body is not base64
            bad = next(
                i for i, (h, b) in enumerate(zip(heads, bodies, strict=True)) if h is not None and b is None
            )
            raise TokenError(f"value {bad} fails its authentication check (not base64)")
        try:
            if len(ciphers) == 1:  # one key: the common case, kept tight
                (open_,) = ciphers.values()
                return [None if b is None else open_(b[:_NONCE], b[_NONCE:], _AAD) for b in bodies]
            return [
                None if h is None else ciphers[h](b[:_NONCE], b[_NONCE:], _AAD)
                for h, b in zip(heads, bodies, strict=True)
            ]
        except Exception as exc:  # InvalidTag, or a body too short: tampered
            raise TokenError(f"a value fails its authentication check ({type(exc).__name__})") from None

    def reencrypt(self, name: str, tokens: pl.Series) -> pl.Series:
        """``tokens`` decrypted and encrypted again under the primary key."""
        return self.encrypt(name, self.decrypt(tokens))

    def _cipher_for(self, head: str) -> Any:
        parts = head.split(":")
        if len(parts) != 4 or parts[0] != TOKEN_VERSION or parts[1] not in _BY_CODE or parts[3]:
            raise TokenError("a stored value is not an encrypted token")
        _, code, key_id, _ = parts
        key = self._by_id.get(key_id)
        if key is None or ALGORITHMS[key.algorithm] != code:
            raise TokenError(
                f"a value was encrypted with key {key_id} ({_BY_CODE[code]}), which is not in the keyring "
                f"(keys: {', '.join(self.ids())})",
                wrong_key=True,
            )
        return self._cipher(key)

    def _cipher(self, key: EncryptionKey) -> Any:
        slot = key.id + ALGORITHMS[key.algorithm]
        cipher = self._ciphers.get(slot)
        if cipher is None:
            aead = import_driver(
                "cryptography.hazmat.primitives.ciphers.aead", "crypto", needed_by="EncryptedMetadataStore"
            )
            cls = aead.AESGCM if key.algorithm == "aes-256-gcm" else aead.ChaCha20Poly1305
            cipher = self._ciphers[slot] = cls(key.secret)
        return cipher


def as_keyring(encryption_key: Any, algorithm: str) -> Keyring:
    """A keyring from one key, a sequence of keys (the first encrypts), or a keyring."""
    if isinstance(encryption_key, Keyring):
        return encryption_key
    if isinstance(encryption_key, bytes | bytearray | EncryptionKey):
        return Keyring([as_key(encryption_key, algorithm)])  # type: ignore[arg-type]
    if isinstance(encryption_key, Sequence) and not isinstance(encryption_key, str):
        return Keyring([as_key(k, algorithm) for k in encryption_key])
    raise ConfigError(
        f"encryption_key must be 32 bytes, an EncryptionKey, a list of them or a Keyring, not {type(encryption_key).__name__}.",
        hint="Read the key from your secret store as bytes (e.g. bytes.fromhex(os.environ['METAXY_KEY'])).",
    )
