"""Session credentials: signed by the server, bound to a session, short-lived, strict."""

from __future__ import annotations

import pytest

from roomkey.errors import InvalidSessionError
from roomkey.secretbox import SecretBox
from roomkey.service.admission import SessionCredentials

KEY = SecretBox(bytes(range(32))).derive_key("session-credentials")


def test_a_credential_round_trips_until_it_expires() -> None:
    creds = SessionCredentials(KEY, ttl_s=60)
    token = creds.mint("ses_1", "prj_1", "standup", now=1000)
    claim = creds.check(token, now=1059)
    assert (claim.session_id, claim.project_id, claim.room, claim.expires_at) == (
        "ses_1",
        "prj_1",
        "standup",
        1060,
    )
    with pytest.raises(InvalidSessionError, match="expired"):
        creds.check(token, now=1060)


def test_the_key_is_derived_per_purpose_and_stable() -> None:
    box = SecretBox(bytes(range(32)))
    assert box.derive_key("session-credentials") == KEY
    assert box.derive_key("something-else") != KEY
    assert SecretBox(bytes(32)).derive_key("session-credentials") != KEY


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # another MAC
        lambda t: "rks2" + t[4:],
        lambda t: t + ".x",
        lambda t: t.replace(".", "=.", 1),
        lambda t: "",
        lambda t: "a" * 600,
    ],
)
def test_a_tampered_or_malformed_credential_is_refused(mangle: object) -> None:
    creds = SessionCredentials(KEY)
    token = creds.mint("ses_1", "prj_1", "standup", now=1000)
    with pytest.raises(InvalidSessionError):
        creds.check(mangle(token), now=1000)  # type: ignore[operator]


def test_another_servers_credential_is_refused() -> None:
    theirs = SessionCredentials(SecretBox(bytes(32)).derive_key("session-credentials"))
    token = theirs.mint("ses_1", "prj_1", "standup", now=1000)
    with pytest.raises(InvalidSessionError, match="does not verify"):
        SessionCredentials(KEY).check(token, now=1000)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError):
        SessionCredentials(b"short")
