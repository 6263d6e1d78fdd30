"""Secrets at rest: AES-256-GCM under one master key, each ciphertext bound to its key id.

A sealed secret is ``version (1 byte) || nonce (12 random bytes) || ciphertext+tag``. The key id is
the associated data, so a ciphertext copied onto another key's row fails to decrypt. The master key
is 32 bytes, given base64url in ``ROOMKEY_MASTER_KEY`` or kept in a 0600 key file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from roomkey.errors import ConfigurationError

MASTER_KEY_ENV = "ROOMKEY_MASTER_KEY"
MASTER_KEY_BYTES = 32
_NONCE_BYTES = 12
_VERSION = b"\x01"
_TAG_BYTES = 16


class SecretBox:
    """Encrypts and decrypts key secrets with AES-256-GCM. Its repr never shows the key."""

    __slots__ = ("_aead", "_kdf", "fingerprint")

    def __init__(self, master_key: bytes) -> None:
        """Wrap a 32-byte master key.

        Raises:
            ConfigurationError: the key is not exactly 32 bytes.
        """
        if not isinstance(master_key, bytes) or len(master_key) != MASTER_KEY_BYTES:
            raise ConfigurationError("the master key must be exactly 32 bytes")
        self._aead = AESGCM(master_key)
        self._kdf = hmac.new(master_key, digestmod=hashlib.sha256)
        # identifies which master key is in use (in logs, in `roomkey doctor`) without revealing it
        self.fingerprint = hashlib.sha256(b"roomkey-master-key\0" + master_key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"SecretBox(fingerprint={self.fingerprint!r})"

    @staticmethod
    def generate_key() -> str:
        """A new random master key, base64url without padding (for ``ROOMKEY_MASTER_KEY``)."""
        return _b64encode(secrets.token_bytes(MASTER_KEY_BYTES))

    @classmethod
    def from_b64(cls, value: str) -> SecretBox:
        """A box from a base64url master key (padding optional).

        Raises:
            ConfigurationError: the value is not base64url or does not decode to 32 bytes.
        """
        return cls(_b64decode(value.strip()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecretBox:
        """A box from ``ROOMKEY_MASTER_KEY`` in ``environ`` (default: the process environment).

        Raises:
            ConfigurationError: the variable is unset, empty or not a valid key.
        """
        value = (os.environ if environ is None else environ).get(MASTER_KEY_ENV, "")
        if not value.strip():
            raise ConfigurationError(f"{MASTER_KEY_ENV} is not set")
        return cls.from_b64(value)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SecretBox:
        """A box from a key file, creating it (mode 0600, atomically) with a new key if missing.

        Raises:
            ConfigurationError: the file is readable or writable by group or others, is not a
                regular file, cannot be read or created, or does not hold a valid key.
        """
        key_path = Path(path)
        if not key_path.exists():
            _create_key_file(key_path)
        return cls.from_b64(_read_private_file(key_path))

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (e.g. signing session credentials), derived from the
        master key so that it survives a restart and is the same on every node."""
        kdf = self._kdf.copy()
        kdf.update(b"roomkey-derived-key\0" + purpose.encode("utf-8"))
        return kdf.digest()

    def encrypt(self, plaintext: bytes, *, key_id: str) -> bytes:
        """Seal ``plaintext`` for the row whose key id is ``key_id``, with a fresh random nonce."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, key_id.encode("utf-8"))

    def decrypt(self, sealed: bytes, *, key_id: str) -> bytes:
        """Open a secret sealed by :meth:`encrypt` for the same ``key_id``.

        Raises:
            ConfigurationError: the master key is wrong, or the ciphertext was altered, truncated
                or sealed for another key id (deliberately indistinguishable).
        """
        if len(sealed) < 1 + _NONCE_BYTES + _TAG_BYTES or sealed[:1] != _VERSION:
            raise ConfigurationError("a stored secret is malformed", key_id=key_id)
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, key_id.encode("utf-8"))
        except InvalidTag as exc:
            raise ConfigurationError(
                "a stored secret cannot be decrypted: wrong master key, or the row was altered",
                key_id=key_id,
            ) from exc


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(value: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError("the master key is not valid base64url") from exc
    if len(raw) != MASTER_KEY_BYTES:
        raise ConfigurationError("the master key must decode to exactly 32 bytes")
    return raw


def _create_key_file(path: Path) -> None:
    """Write a new key to a private temp file, then link it into place (never overwrites)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(SecretBox.generate_key() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        # another process may have won the race: its key stands and ours is dropped
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    except OSError as exc:
        raise ConfigurationError("cannot create the master key file", path=str(path)) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _read_private_file(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise ConfigurationError("cannot open the master key file", path=str(path)) from exc
    try:
        _check_private(path, os.fstat(fd).st_mode)
        with os.fdopen(os.dup(fd), "r", encoding="ascii") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError("cannot read the master key file", path=str(path)) from exc
    finally:
        os.close(fd)


def _check_private(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise ConfigurationError("the master key file is not a regular file", path=str(path))
    if mode & 0o077:
        raise ConfigurationError(
            "the master key file is accessible by group or others; run chmod 600 on it",
            path=str(path),
            mode=oct(stat.S_IMODE(mode)),
        )


__all__ = ["MASTER_KEY_BYTES", "MASTER_KEY_ENV", "SecretBox"]
