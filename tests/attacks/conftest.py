"""Fixtures for the attack suite: a key per algorithm, a key ring, a verifier on a fixed clock."""

from __future__ import annotations

import pytest
from attack_support import API_KEY, NOW, OTHER_API_KEY, OTHER_SECRET, SECRET

from roomkey.keys import EcKey, Ed25519Key, HmacKey, KeyRing, RsaKey, generate_key
from roomkey.revocation import InMemoryRevocations
from roomkey.verifying import TokenVerifier


@pytest.fixture(scope="session")
def hmac_key() -> HmacKey:
    return HmacKey(API_KEY, SECRET)


@pytest.fixture(scope="session")
def other_hmac_key() -> HmacKey:
    return HmacKey(OTHER_API_KEY, OTHER_SECRET)


@pytest.fixture(scope="session")
def ed_key() -> Ed25519Key:
    key = generate_key("EdDSA", kid="ed-key")
    assert isinstance(key, Ed25519Key)
    return key


@pytest.fixture(scope="session")
def ec_key() -> EcKey:
    key = generate_key("ES256", kid="ec-key")
    assert isinstance(key, EcKey)
    return key


@pytest.fixture(scope="session")
def rsa_key() -> RsaKey:
    key = generate_key("RS256", kid="rsa-key")
    assert isinstance(key, RsaKey)
    return key


@pytest.fixture
def ring(
    hmac_key: HmacKey,
    other_hmac_key: HmacKey,
    ed_key: Ed25519Key,
    ec_key: EcKey,
    rsa_key: RsaKey,
) -> KeyRing:
    return KeyRing([hmac_key, other_hmac_key, ed_key, ec_key, rsa_key])


@pytest.fixture
def revocations() -> InMemoryRevocations:
    return InMemoryRevocations()


@pytest.fixture
def verifier(ring: KeyRing, revocations: InMemoryRevocations) -> TokenVerifier:
    return TokenVerifier(ring, revocations=revocations, now=lambda: NOW)
