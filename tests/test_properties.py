"""Property tests (Hypothesis): dialect round trips, mint→verify, role presets, deep merge.

For every dialect and any generated :class:`Claims`, ``to_wire`` either refuses with
:class:`UnsupportedByDialectError` exactly when the claims hold something the dialect cannot
express, or ``from_wire(to_wire(c))`` gives ``c`` back modulo the documented normalisations
(``docs/token-formats.md``): LiveKit carries metadata as a string and no role; VideoSDK carries no
role and reads a missing ``nbf`` as ``iat``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from roomkey import jws
from roomkey._codec import json_dumps
from roomkey.capabilities import CRAWLER_CAPABILITIES, Capability
from roomkey.claims import Claims
from roomkey.dialects import DIALECTS, Dialect
from roomkey.errors import UnsupportedByDialectError
from roomkey.grants import ALL_SOURCES, Grant, JoinMode, Scope, Source
from roomkey.keys import Ed25519Key, HmacKey, KeyRing
from roomkey.roles import PRESETS, Role, merge_overrides, resolve_role
from roomkey.verifying import TokenVerifier

SECRET = "test-secret-that-is-at-least-32-bytes-long!"
API_KEY = "APIkey1"
NOW = 1_795_000_000
HMAC = HmacKey(API_KEY, SECRET)
SETTINGS = settings(max_examples=200, deadline=None)

# ---- strategies ----------------------------------------------------------------------------

printable = st.text(
    st.characters(exclude_categories=("C", "Z"), include_characters=" "), min_size=1, max_size=24
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
times = st.none() | st.integers(0, 2**40)


@st.composite
def grants(draw: st.DrawFn) -> Grant:
    """Any consistent grant (the invariants of :class:`Grant` hold by construction)."""
    produce = draw(st.booleans())
    sources = draw(st.frozensets(st.sampled_from(Source), min_size=1)) if produce else frozenset()
    admin = draw(st.booleans())
    moderate = admin or draw(st.booleans())
    scope = draw(st.frozensets(st.sampled_from(Scope), min_size=1))
    capabilities = (
        draw(st.frozensets(st.sampled_from(Capability))) if Scope.API in scope else frozenset()
    )
    return Grant(
        admin=admin,
        can_consume=draw(st.booleans()),
        can_produce=produce,
        sources=sources,
        can_send_data=draw(st.booleans()),
        can_recv_data=draw(st.booleans()),
        can_update_metadata=draw(st.booleans()),
        join=JoinMode.DIRECT if moderate else draw(st.sampled_from(JoinMode)),
        moderate=moderate,
        hidden=draw(st.booleans()),
        recorder=draw(st.booleans()),
        scope=scope,
        capabilities=capabilities,
    )


@st.composite
def claims(draw: st.DrawFn, grant: st.SearchStrategy[Grant] = grants()) -> Claims:
    """Any claims a minter could produce (printable texts, JSON metadata, string attributes)."""
    maybe = st.none() | printable
    return Claims(
        api_key=draw(printable),
        identity=draw(maybe),
        room=draw(maybe),
        grant=draw(grant),
        issued_at=draw(times),
        not_before=draw(times),
        expires_at=draw(times),
        jti=draw(maybe),
        role=draw(maybe),
        name=draw(maybe),
        metadata=draw(json_values),
        attributes=draw(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)),
        audience=draw(maybe),
        kind=draw(maybe),
        room_config=draw(st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=3)),
    )


# ---- what each dialect can express (an oracle written from the docs, not from the code) -----


def _livekit_ok(c: Claims) -> bool:
    g = c.grant
    livekit_caps = {Capability.ROOMS_READ, Capability.ROOMS_WRITE}  # roomList, roomCreate
    return (
        g.capabilities <= livekit_caps
        and (Scope.API not in g.scope or bool(g.capabilities))
        and g.can_recv_data
        and g.join is JoinMode.DIRECT
        and g.moderate == g.admin
        and (c.audience is None)
    )


def _videosdk_ok(c: Claims) -> bool:
    g = c.grant
    implicit = (g.can_consume, g.can_produce, g.can_send_data, g.can_recv_data)
    crawler = g.capabilities == CRAWLER_CAPABILITIES
    return (
        (crawler or not g.capabilities)
        and (crawler or Scope.API not in g.scope or Scope.ROOM in g.scope)
        and all(implicit)
        and g.can_update_metadata
        and g.sources == ALL_SOURCES
        and g.moderate == g.admin
        and not (g.hidden or g.recorder)
        and all(v is None for v in (c.name, c.metadata, c.audience, c.kind, c.room_config))
        and not c.attributes
    )


def _huddle01_ok(c: Claims) -> bool:
    g = c.grant
    return (
        (Source.SCREEN in g.sources) == (Source.SCREEN_AUDIO in g.sources)
        and g.moderate == g.admin
        and g.join is JoinMode.DIRECT
        and g.scope == {Scope.ROOM}
        and not (g.hidden or g.recorder)
        and all(v is None for v in (c.audience, c.kind, c.room_config))
        and not c.attributes
    )


EXPRESSIBLE: dict[str, Callable[[Claims], bool]] = {
    "native": lambda c: True,
    "livekit": _livekit_ok,
    "videosdk": _videosdk_ok,
    "huddle01": _huddle01_ok,
}


def fit(name: str, c: Claims) -> Claims:
    """Change ``c`` just enough that dialect ``name`` can express it."""
    g = c.grant
    if name == "livekit":
        caps = g.capabilities & {Capability.ROOMS_READ, Capability.ROOMS_WRITE}
        if Scope.API in g.scope and not caps:
            caps = frozenset({Capability.ROOMS_READ})
        return c.replace(
            grant=g.replace(
                can_recv_data=True, join=JoinMode.DIRECT, moderate=g.admin, capabilities=caps
            ),
            audience=None,
        )
    if name == "videosdk":
        everything = dict.fromkeys(
            ("can_consume", "can_produce", "can_send_data", "can_recv_data", "can_update_metadata"),
            True,
        )
        caps = CRAWLER_CAPABILITIES if Scope.API in g.scope else frozenset()
        grant = g.replace(
            **everything,
            sources=ALL_SOURCES,
            moderate=g.admin,
            hidden=False,
            recorder=False,
            capabilities=caps,
        )
        plain = dict.fromkeys(("name", "metadata", "audience", "kind", "room_config"))
        return c.replace(grant=grant, attributes={}, **plain)
    if name == "huddle01":
        sources = set(g.sources) - {Source.SCREEN_AUDIO}
        sources |= {Source.SCREEN_AUDIO} if Source.SCREEN in sources else set()
        grant = g.replace(
            can_produce=bool(sources),
            sources=frozenset(sources),
            moderate=g.admin,
            join=JoinMode.DIRECT,
            scope=frozenset({Scope.ROOM}),
            capabilities=frozenset(),
            hidden=False,
            recorder=False,
        )
        return c.replace(grant=grant, attributes={}, audience=None, kind=None, room_config=None)
    return c


def normalised(name: str, c: Claims) -> Claims:
    """What dialect ``name`` reads back for ``c`` (the documented normalisations)."""
    if name == "livekit":
        meta = c.metadata
        if not isinstance(meta, str) and meta is not None:
            meta = json_dumps(meta).decode()
        return c.replace(role=None, metadata=meta or None)
    if name == "videosdk":
        nbf = c.not_before if c.not_before is not None else c.issued_at
        return c.replace(role=None, not_before=nbf)
    return c


def _either(name: str) -> st.SearchStrategy[Claims]:
    return st.one_of(claims(), claims().map(lambda c: fit(name, c)))


def _check_round_trip(name: str, c: Claims) -> None:
    dialect = DIALECTS[name]
    try:
        payload = dialect.to_wire(c)
    except UnsupportedByDialectError as exc:
        assert not EXPRESSIBLE[name](c), f"{name} refused an expressible claim set: {exc}"
        return
    assert EXPRESSIBLE[name](c), f"{name} silently dropped something from {c}"
    read = dialect.from_wire(payload)
    assert read.unknown_keys == ()
    assert read.claims == normalised(name, c)
    assert dialect.matches(payload)


@SETTINGS
@given(_either("native"))
def test_native_round_trips_every_field(c: Claims) -> None:
    _check_round_trip("native", c)


@SETTINGS
@given(_either("livekit"))
def test_livekit_round_trips_or_refuses(c: Claims) -> None:
    _check_round_trip("livekit", c)


@SETTINGS
@given(_either("videosdk"))
def test_videosdk_round_trips_or_refuses(c: Claims) -> None:
    _check_round_trip("videosdk", c)


@SETTINGS
@given(_either("huddle01"))
def test_huddle01_round_trips_or_refuses(c: Claims) -> None:
    _check_round_trip("huddle01", c)


@settings(max_examples=50, deadline=None)
@given(claims())
def test_fit_gives_claims_each_dialect_can_express(c: Claims) -> None:
    for name in DIALECTS:
        assert EXPRESSIBLE[name](fit(name, c))


# ---- full mint → sign → verify ---------------------------------------------------------------

# A fixed test key (seed of 32 zero bytes): never use it outside tests.
ED25519 = Ed25519Key("huddle-test", ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32)))
RING = KeyRing([HMAC, ED25519])


@st.composite
def verifiable(draw: st.DrawFn, name: str) -> Claims:
    """Claims a verifier at ``NOW`` accepts, fitted to dialect ``name``."""
    base = fit(name, draw(claims()))
    issued = NOW - draw(st.integers(0, 600))
    return base.replace(
        api_key=API_KEY,
        identity=draw(printable),
        issued_at=issued,
        not_before=draw(st.none() | st.integers(issued, NOW)),
        expires_at=NOW + draw(st.integers(1, 3600)),
        jti=draw(printable),
    )


def _mint_and_verify(name: str, c: Claims, data: st.DataObject) -> None:
    dialect: Dialect = DIALECTS[name]
    key = ED25519 if dialect.asymmetric_only else HMAC
    token = jws.encode(dialect.to_wire(c), key, kid=dialect.kid_header)
    scope = data.draw(st.sampled_from(sorted(c.grant.scope)))
    verifier = TokenVerifier(RING, audience=c.audience, now=lambda: NOW)
    verified = verifier.verify(token, room=c.room, identity=c.identity, scope=scope)
    assert (verified.dialect, verified.kid, verified.alg) == (name, key.kid, key.alg.value)
    assert verified.claims == normalised(name, c)


@SETTINGS
@given(
    st.sampled_from(sorted(DIALECTS)).flatmap(lambda n: st.tuples(st.just(n), verifiable(n))),
    st.data(),
)
def test_mint_then_verify_gives_the_claims_back(case: tuple[str, Claims], data: Any) -> None:
    _mint_and_verify(case[0], case[1], data)


# ---- roles: the preset table of docs/architecture.md, cell by cell -------------------------

PRESET_TABLE = """
| role | admin | consume | produce | cam | mic | screen | send | recv | metadata |
|---|---|---|---|---|---|---|---|---|---|
| host | T | T | T | T | T | T | T | T | T |
| coHost | T | T | T | T | T | T | T | T | T |
| guest | F | T | T | T | T | T | T | T | T |
| speaker | F | T | T | F | T | F | T | T | T |
| listener | F | T | F | F | F | F | T | T | T |
| bot | F | T | F | F | F | F | F | F | F |
"""
COLUMNS: dict[str, Callable[[Grant], bool]] = {
    "admin": lambda g: g.admin,
    "consume": lambda g: g.can_consume,
    "produce": lambda g: g.can_produce,
    "cam": lambda g: Source.CAM in g.sources,
    "mic": lambda g: Source.MIC in g.sources,
    "screen": lambda g: Source.SCREEN in g.sources,
    "send": lambda g: g.can_send_data,
    "recv": lambda g: g.can_recv_data,
    "metadata": lambda g: g.can_update_metadata,
}


def _table() -> dict[str, dict[str, bool]]:
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in PRESET_TABLE.strip().splitlines()
    ]
    head, body = rows[0], rows[2:]
    return {
        row[0]: {h: cell == "T" for h, cell in zip(head[1:], row[1:], strict=True)} for row in body
    }


def test_presets_match_the_design_table_cell_by_cell() -> None:
    table = _table()
    assert set(table) == {r.value for r in Role}
    for role, row in table.items():
        grant = PRESETS[Role(role)]
        for column, expected in row.items():
            assert COLUMNS[column](grant) is expected, f"{role}.{column}"
        # what the table has no column for
        assert (Source.SCREEN_AUDIO in grant.sources) is row["screen"], f"{role}.screen_audio"
        assert grant.moderate is grant.admin
        assert (grant.join, grant.hidden, grant.recorder) == (JoinMode.DIRECT, False, False)
        assert grant.scope == {Scope.ROOM}


@SETTINGS
@given(st.sampled_from(Role), st.sampled_from([None, {}]))
def test_a_role_without_overrides_is_exactly_its_preset(role: Role, empty: Any) -> None:
    name, base = resolve_role(role.value)
    assert name == role.value
    assert merge_overrides(base, empty) == PRESETS[role]


_RESTRICTIONS = st.dictionaries(
    st.sampled_from(
        ["can_consume", "can_produce", "can_send_data", "can_recv_data", "can_update_metadata"]
    ),
    st.just(False),
    max_size=5,
) | st.fixed_dictionaries(
    {"sources": st.dictionaries(st.sampled_from([s.value for s in Source]), st.just(False))}
)


@SETTINGS
@given(st.sampled_from(Role), _RESTRICTIONS)
def test_turning_things_off_never_grants_more_than_the_role(
    role: Role, overrides: dict[str, Any]
) -> None:
    merged = merge_overrides(PRESETS[role], overrides)
    assert merged.allows_at_most(PRESETS[role])


# ---- deep merge of the sources map -----------------------------------------------------------


@SETTINGS
@given(
    st.sampled_from(Role),
    st.dictionaries(st.sampled_from([s.value for s in Source]), st.booleans(), min_size=1),
)
def test_a_sources_map_changes_only_the_sources_it_names(
    role: Role, named: dict[str, bool]
) -> None:
    base = PRESETS[role]
    expected = frozenset(s for s in Source if named.get(s.value, s in base.sources))
    merged = merge_overrides(base, {"sources": named})
    assert merged.sources == expected
    assert merged.can_produce is bool(expected)
    unchanged = ("admin", "can_consume", "can_send_data", "can_recv_data")
    assert all(getattr(merged, f) == getattr(base, f) for f in unchanged)


@SETTINGS
@given(st.sampled_from(Role), st.frozensets(st.sampled_from(Source), min_size=1))
def test_a_sources_list_replaces_the_roles_sources(role: Role, chosen: frozenset[Source]) -> None:
    merged = merge_overrides(PRESETS[role], {"sources": sorted(s.value for s in chosen)})
    assert (merged.can_produce, merged.sources) == (True, chosen)


def test_the_preset_table_is_the_one_documented() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "architecture.md").read_text()
    assert PRESET_TABLE.strip() in doc
