"""API keys (HMAC, shown once) and server signing keys (asymmetric, published as a JWKS)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, cast

from roomkey.errors import ConfigurationError, RoomkeyError
from roomkey.keys import Algorithm, HmacKey, Key, generate_key, load_pem_key
from roomkey.service.context import Context
from roomkey.service.ids import new_api_key, new_secret
from roomkey.service.settings import DEV_API_KEY, DEV_API_SECRET
from roomkey.service.webhooks.events import WebhookEvent, on_key
from roomkey.store import ConflictError, KeyAlg, KeyRecord, NotFoundError

log = logging.getLogger("roomkey.keys")
MAX_OVERLAP_S = 30 * 24 * 3600


class KeyService:
    """Create, list, rotate, disable and delete keys; keep the in-memory key ring in step."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def create_api_key(
        self,
        project_id: str,
        description: str = "",
        *,
        kid: str | None = None,
        secret: str | None = None,
        rotated_from: str | None = None,
    ) -> tuple[KeyRecord, str]:
        """A new HMAC API key; returns the record and the secret (its only appearance)."""
        record, secret = self._api_key(project_id, description, kid, secret, rotated_from)
        return await self._store_new(record), secret

    def _api_key(
        self,
        project_id: str,
        description: str,
        kid: str | None = None,
        secret: str | None = None,
        rotated_from: str | None = None,
    ) -> tuple[KeyRecord, str]:
        self.ctx.project(project_id)
        kid = kid or new_api_key()
        secret = secret or new_secret()
        HmacKey(kid, secret)  # refuses weak secrets before anything is stored
        record = KeyRecord(
            kid=kid,
            project_id=project_id,
            alg="HS256",
            purpose="api",
            secret_ciphertext=self.ctx.box.encrypt(secret.encode(), key_id=kid),
            created_at=self.ctx.now(),
            description=description,
            rotated_from=rotated_from,
        )
        return record, secret

    async def _store_new(self, record: KeyRecord) -> KeyRecord:
        events = on_key(WebhookEvent.KEY_CREATED, record.created_at)
        async with self.ctx.write_lock:  # see WriteLock
            record = await self.ctx.store.create_key(record, events=events)
            self.load(record)
        self.ctx.events_written()
        return record

    async def create_signing_key(
        self,
        project_id: str,
        alg: str = "EdDSA",
        description: str = "",
        rotated_from: str | None = None,
    ) -> KeyRecord:
        """A new asymmetric signing key (for huddle01-style tokens), published in the JWKS."""
        return await self._store_new(self._signing_key(project_id, alg, description, rotated_from))

    def _signing_key(
        self, project_id: str, alg: str, description: str, rotated_from: str | None
    ) -> KeyRecord:
        self.ctx.project(project_id)
        try:
            algorithm = Algorithm(alg)
        except ValueError:
            raise ConfigurationError(f"unsupported algorithm {alg!r}") from None
        if algorithm is Algorithm.HS256:
            raise ConfigurationError("a signing key is asymmetric: EdDSA, ES256 or RS256")
        key = generate_key(algorithm)
        return KeyRecord(
            kid=key.kid,
            project_id=project_id,
            alg=cast(KeyAlg, algorithm.value),
            purpose="signing",
            secret_ciphertext=self.ctx.box.encrypt(key.private_pem(), key_id=key.kid),
            created_at=self.ctx.now(),
            public_jwk=key.public_jwk(),
            description=description,
            rotated_from=rotated_from,
        )

    async def list_keys(self, project_id: str) -> list[KeyRecord]:
        """Every key of the project (no secrets)."""
        return await self.ctx.store.list_keys(project_id)

    async def get(self, project_id: str, kid: str) -> KeyRecord:
        """One key of the project; raises NotFoundError."""
        record = await self.ctx.store.get_key(kid)
        if record is None or record.project_id != project_id:
            raise NotFoundError(f"key {kid!r} does not exist in this project", resource="key")
        return record

    async def rotate(
        self, project_id: str, kid: str, overlap_s: int = 3600
    ) -> tuple[KeyRecord, str | None]:
        """A new key replacing ``kid``; the old one keeps verifying for ``overlap_s`` seconds.

        One transaction: the new key, the old one's expiry and the ``key.rotated`` event.
        """
        if not 0 <= overlap_s <= MAX_OVERLAP_S:
            raise ConfigurationError(f"overlap_s must be between 0 and {MAX_OVERLAP_S}")
        old = await self.get(project_id, kid)
        if old.status != "active":
            raise ConflictError(f"key {kid!r} is disabled; create a new key instead")
        if old.expires_at is not None and old.expires_at <= self.ctx.now():
            raise ConflictError(f"key {kid!r} has expired; create a new key instead")
        secret: str | None = None
        if old.purpose == "api":
            new, secret = self._api_key(project_id, old.description, rotated_from=kid)
        else:
            new = self._signing_key(project_id, old.alg, old.description, kid)
        expires = self.ctx.now() + overlap_s
        events = on_key(WebhookEvent.KEY_ROTATED, new.created_at)
        async with self.ctx.write_lock:
            new = await self.ctx.store.rotate_key(new, old_expires_at=expires, events=events)
            self.load(new)
            self.load(dataclasses.replace(old, expires_at=expires))
        self.ctx.events_written()
        return new, secret

    async def disable(self, project_id: str, kid: str) -> KeyRecord:
        """Stop a key from signing or verifying at once (it can't be re-enabled)."""
        await self._refuse_last_api_key(project_id, kid)
        now = self.ctx.now()
        events = on_key(WebhookEvent.KEY_DISABLED, now)
        async with self.ctx.write_lock:
            record = await self.ctx.store.update_key_status(kid, "disabled", now=now, events=events)
            self.unload(kid)
        self.ctx.events_written()
        return record

    async def delete(self, project_id: str, kid: str) -> None:
        """Remove a key for good."""
        await self._refuse_last_api_key(project_id, kid)
        async with self.ctx.write_lock:
            await self.ctx.store.delete_key(kid)
            self.unload(kid)

    async def _refuse_last_api_key(self, project_id: str, kid: str) -> None:
        record = await self.get(project_id, kid)
        if record.purpose != "api":
            return
        others = [
            k
            for k in await self.list_keys(project_id)
            if k.purpose == "api"
            and k.status == "active"
            and k.kid != kid
            and (k.expires_at is None or k.expires_at > self.ctx.now())
        ]
        if not others:
            raise ConflictError(
                "this is the project's last active API key; create another first",
                resource="key",
            )

    def load(self, record: KeyRecord) -> Key | None:
        """Decrypt a stored key into the ring (skipping what must not be served)."""
        if record.status != "active":
            self.unload(record.kid)
            return None
        if record.kid == DEV_API_KEY and not self.ctx.settings.dev:
            log.warning(
                "key %r is the development key; it is not loaded outside --dev", DEV_API_KEY
            )
            return None
        key = self._decrypt(record)
        self.ctx.state.keyring.add(key)
        self.ctx.state.keys[record.kid] = record
        return key

    def unload(self, kid: str) -> None:
        """Forget a key in memory."""
        self.ctx.state.keyring.remove(kid)
        self.ctx.state.keys.pop(kid, None)

    def _decrypt(self, record: KeyRecord) -> Key:
        try:
            plain = self.ctx.box.decrypt(record.secret_ciphertext, key_id=record.kid)
        except RoomkeyError:
            log.error("key %r cannot be decrypted with this master key", record.kid)
            raise
        expires = float(record.expires_at) if record.expires_at is not None else None
        if record.purpose == "api":
            return HmacKey(record.kid, plain, expires_at=expires)
        return load_pem_key(plain, record.kid, expires_at=expires)

    def signing_key(self, project_id: str) -> Key:
        """The project's newest active signing key; raises ConfigurationError if it has none."""
        now = self.ctx.now()
        candidates = [
            r
            for r in self.ctx.state.keys.values()
            if r.project_id == project_id
            and r.purpose == "signing"
            and (r.expires_at is None or r.expires_at > now)
        ]
        if not candidates:
            raise ConfigurationError("the project has no signing key; create one first")
        newest = max(candidates, key=lambda r: r.created_at)
        key = self.ctx.state.keyring.get(newest.kid)
        assert key is not None
        return key

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """Public keys of every usable signing key."""
        return self.ctx.state.keyring.jwks()

    async def ensure_dev_key(self, project_id: str) -> None:
        """Create the fixed development key if it is missing (``--dev`` only)."""
        if await self.ctx.store.get_key(DEV_API_KEY) is None:
            await self.create_api_key(
                project_id, "development key", kid=DEV_API_KEY, secret=DEV_API_SECRET
            )
