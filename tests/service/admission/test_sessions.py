"""The session registry: lookups, joining order, and the admitted index it keeps as sessions
change (a join of a big room reads it instead of scanning the room)."""

from __future__ import annotations

from roomkey.grants import Grant
from roomkey.service.admission.sessions import Session, SessionRegistry, SessionStatus


def session(identity: str, *, at: float = 0.0, hidden: bool = False, room: str = "r") -> Session:
    return Session(
        id=f"ses_{identity}_{at}",
        project_id="prj",
        room=room,
        identity=identity,
        grant=Grant(hidden=hidden),
        dialect="native",
        status=SessionStatus.WAITING,
        created_at=at,
    )


def admitted(registry: SessionRegistry) -> list[str]:
    return [s.identity for s in registry.admitted("prj", "r")]


def test_admitted_sessions_are_listed_in_the_order_they_were_admitted() -> None:
    registry = SessionRegistry()
    a, b, c = session("a", at=1), session("b", at=2), session("c", at=3)
    for s in (a, b, c):
        registry.add(s)
    c.status = SessionStatus.ADMITTED
    a.status = SessionStatus.ADMITTED
    assert admitted(registry) == ["c", "a"]  # b still waits
    assert registry.admitted_count("prj", "r") == 2
    assert [s.identity for s in registry.in_room("prj", "r")] == ["a", "b", "c"]


def test_the_index_follows_endings_grants_and_forgetting() -> None:
    registry = SessionRegistry()
    a, b = session("a"), session("b")
    for s in (a, b):
        registry.add(s)
        s.status = SessionStatus.ADMITTED
    b.grant = Grant(hidden=True)
    assert registry.admitted_count("prj", "r") == 2
    assert registry.admitted_count("prj", "r", hidden=False) == 1
    assert registry.admitted_count("prj", "r", besides="a") == 1
    assert registry.admitted_count("prj", "r", besides="b", hidden=False) == 1
    a.status = SessionStatus.LEFT
    assert admitted(registry) == ["b"]
    registry.forget(b)
    assert admitted(registry) == [] and registry.admitted_count("prj", "r") == 0


def test_a_replaced_identity_leaves_the_index_and_its_new_session_takes_its_place() -> None:
    registry = SessionRegistry()
    old, other = session("a", at=1), session("b", at=2)
    for s in (old, other):
        registry.add(s)
        s.status = SessionStatus.ADMITTED
    new = session("a", at=3)
    assert registry.add(new) is old
    old.status = SessionStatus.REPLACED
    new.status = SessionStatus.ADMITTED
    assert admitted(registry) == ["b", "a"]
    assert registry.of_identity("prj", "r", "a") is new
    assert [s.identity for s in registry.in_room("prj", "r")] == ["b", "a"]  # joining order


def test_a_session_not_registered_is_never_indexed() -> None:
    registry = SessionRegistry()
    loose = session("x")
    loose.status = SessionStatus.ADMITTED
    assert admitted(registry) == []
    other_room = session("y", room="s")
    registry.add(other_room)
    other_room.status = SessionStatus.ADMITTED
    assert admitted(registry) == [] and registry.admitted_count("prj", "s") == 1


def test_knocks_and_rooms_with_admitted_sessions_are_indexed_for_the_sweep() -> None:
    registry = SessionRegistry()
    a, b, c = session("a"), session("b"), session("c", room="s")
    for s in (a, b, c):
        registry.add(s)
    assert {s.identity for s in registry.waiting()} == {"a", "b", "c"}
    a.status = SessionStatus.ADMITTED
    c.status = SessionStatus.EXPIRED
    assert [s.identity for s in registry.waiting()] == ["b"] and registry.waiting_count() == 1
    assert [(key, [s.identity for s in ss]) for key, ss in registry.admitted_rooms()] == [
        (("prj", "r"), ["a"])
    ]
