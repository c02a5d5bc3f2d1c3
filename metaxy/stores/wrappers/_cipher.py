"""Keys, keyrings and encrypted tokens: ``mxe1:<algorithm>:<key id>:<base64url(nonce + ciphertext)>``.

Every value gets a fresh 96-bit random nonce; the authentication tag makes any change to a token (or
decrypting it with another key) fail instead of returning garbage. The key id is the first 12 hex
digits of a SHA-256 of the key, so a token names the key it needs without revealing it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from metaxy.exceptions import ConfigError
from metaxy.stores._drivers import import_driver

#: algorithm name → the one-letter code tokens carry
ALGORITHMS = {"aes-256-gcm": "a", "chacha20-poly1305": "c"}
_BY_CODE = {code: name for name, code in ALGORITHMS.items()}
TOKEN_VERSION = "mxe1"
_NONCE = 12
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
        self._ciphers: dict[str, Any] = {}

    @property
    def primary(self) -> EncryptionKey:
        return self.keys[0]

    def with_primary(self, key: EncryptionKey) -> Keyring:
        """This ring with ``key`` first (kept if already present)."""
        return Keyring([key, *self.keys])

    def ids(self) -> list[str]:
        return [k.id for k in self.keys]

    def encrypt(self, plains: Sequence[bytes | None]) -> list[str | None]:
        """Each value as a token under the primary key (nulls stay null)."""
        key = self.primary
        seal, prefix = self._cipher(key).encrypt, key.prefix()
        out: list[str | None] = []
        for plain in plains:
            if plain is None:
                out.append(None)
                continue
            nonce = os.urandom(_NONCE)
            out.append(prefix + base64.urlsafe_b64encode(nonce + seal(nonce, plain, _AAD)).decode())
        return out

    def decrypt(self, token: str) -> bytes:
        """The plaintext of one token.

        Raises:
            TokenError: not a token, a key id not in the ring, or a failed authentication check.
        """
        parts = token.split(":", 3)
        if len(parts) != 4 or parts[0] != TOKEN_VERSION or parts[1] not in _BY_CODE:
            raise TokenError("the stored value is not an encrypted token")
        _, code, key_id, body = parts
        key = next((k for k in self.keys if k.id == key_id), None)
        if key is None or ALGORITHMS[key.algorithm] != code:
            raise TokenError(
                f"it was encrypted with key {key_id} ({_BY_CODE[code]}), which is not in the keyring "
                f"(keys: {', '.join(self.ids())})",
                wrong_key=True,
            )
        try:
            raw = base64.urlsafe_b64decode(body.encode())
            return bytes(self._cipher(key).decrypt(raw[:_NONCE], raw[_NONCE:], _AAD))
        except Exception as exc:  # InvalidTag, a short or malformed body: tampered either way
            raise TokenError(f"its authentication check failed ({type(exc).__name__})") from None

    def _cipher(self, key: EncryptionKey) -> Any:
        cipher = self._ciphers.get(key.id)
        if cipher is None:
            aead = import_driver(
                "cryptography.hazmat.primitives.ciphers.aead", "crypto", needed_by="EncryptedMetadataStore"
            )
            cls = aead.AESGCM if key.algorithm == "aes-256-gcm" else aead.ChaCha20Poly1305
            cipher = self._ciphers[key.id] = cls(key.secret)
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
