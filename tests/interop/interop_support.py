"""Constants and small builders shared by the interop tests (real third-party libraries only).

Third-party verifiers (LiveKit's ``TokenVerifier``, PyJWT, joserfc) read the machine's clock, so
tokens handed to them are minted with ``time.time`` injected; tokens that roomkey verifies are
checked at an explicit ``now``.
"""

from __future__ import annotations

import time
from typing import Any

from roomkey.keys import HmacKey, KeyRing, generate_key
from roomkey.minting import MintedToken, TokenMinter

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"
NOW = 1_795_000_000
HS256_DIALECTS = ("native", "livekit", "videosdk")
ASYMMETRIC_ALGS = ("EdDSA", "ES256", "RS256")
HMAC = HmacKey(API_KEY, SECRET)
# One asymmetric key per algorithm for the whole run (RSA generation is slow).
ASYMMETRIC = {alg: generate_key(alg) for alg in ASYMMETRIC_ALGS}


def hmac_ring() -> KeyRing:
    """A ring holding the shared test secret under the API key."""
    ring = KeyRing()
    ring.add_hmac(API_KEY, SECRET)
    return ring


def mint_now(dialect: str, key: Any = HMAC, **fields: Any) -> MintedToken:
    """Mint at the real clock (for verifiers that cannot be given a time)."""
    return TokenMinter(key, dialect, api_key=API_KEY, now=time.time).mint(**fields)
