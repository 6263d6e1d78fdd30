"""The 400 answers of each operation: the rules its JSON Schema cannot state, and their codes.

JSON Schema states what it can (types, lengths, patterns, ``oneOf``; see
:mod:`roomkey.api.constraints`). What it cannot (a rule about the server's state, the time, the
project's settings, printable text, a JSON value's size as text) is listed here per operation:
written into the operation's description, and into its 400 response, whose ``error`` is an
``enum`` of exactly the codes the operation may answer 400 with. A test holds every route to an
entry, and the suite's schemathesis run accepts a 400 for schema-valid data only when it is a
rule the schema does not state (its code, and the field it names: :func:`excused`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute

from roomkey._codec import MAX_JSON_DEPTH
from roomkey.api.schemas import ErrorPublic
from roomkey.claims import MAX_CLAIM_DEPTH, MAX_METADATA_CHARS


@dataclass(frozen=True)
class Rule:
    """One reason for a 400: the ``code`` answered and the rule, as the docs state it."""

    code: str
    text: str
    # the fields its answer names in ``details.field`` (empty: any field, or none)
    fields: tuple[str, ...] = ()
    # True when the JSON Schema states the rule too (listed for the code it is answered with)
    in_schema: bool = False

    def covers(self, code: str, field: object) -> bool:
        """Whether an answer with ``code`` naming ``field`` is this rule's."""
        return code == self.code and (not self.fields or field in self.fields)


def _listed(fields: tuple[str, ...]) -> str:
    names = [f"`{f}`" for f in fields]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def printable(*fields: str) -> Rule:
    """The fields hold printable text."""
    return Rule(
        "invalid_claim_value",
        f"{_listed(fields)} hold printable text: no control, format, private-use, surrogate or "
        "unassigned character, no separator but the space (Python's `str.isprintable`).",
        fields,
    )


def no_slash(room: str) -> Rule:
    """A room created on first use has no slash."""
    return Rule(
        "invalid_claim_value",
        f"A room created on first use (`auto_create_rooms`) has no `/` in `{room}`.",
        (room,),
    )


def metadata(value: str, attributes: str) -> Rule:
    """Metadata and attributes within the limit (the part the schema cannot state)."""
    return Rule(
        "metadata_too_large",
        f"`{value}` that is not a string is at most {MAX_METADATA_CHARS:,} characters as compact "
        f"JSON (for a string, the schema's `maxLength` states it); `{attributes}`, all together, "
        "too.",
        (value, attributes),
    )


ROOM_METADATA = Rule(
    "metadata_too_large",
    f"`metadata` is at most {MAX_METADATA_CHARS:,} characters as compact JSON.",
    ("metadata",),
)
HEADER = Rule("duplicate_header", "`Authorization` is sent at most once.")
NESTING = Rule(
    "nested_too_deep",
    f"The body nests objects and arrays at most {MAX_JSON_DEPTH} levels deep, and a member at "
    f"most {MAX_CLAIM_DEPTH}.",
)
TTL = Rule("invalid_claim_value", "`ttl_s` is at most the project's `max_ttl_s`.", ("ttl_s",))
ROLE = Rule(
    "invalid_role", "`role` names a preset or one of the project's custom roles.", ("role",)
)
GRANT = Rule(
    "invalid_grant",
    "Permissions contradict neither each other nor the role: `join: ask` with moderate or admin "
    "rights, `sources` with `can_produce: false`, `can_produce: true` with every source off, "
    "capabilities without the `api` scope, an empty scope; a server token hands out at most "
    "the capabilities it holds.",
)
DIALECT = Rule(
    "unsupported_by_dialect",
    "The dialect can carry what is asked (it never drops a field): e.g. LiveKit carries no "
    "capabilities but its own, VideoSDK no metadata.",
)
PROJECT = Rule(
    "project_required",
    "With several projects on the server, the project is named (`project`) or fixed by a server "
    "token with `tokens:verify`.",
    ("project",),
)
WEBHOOK_URL = Rule(
    "webhook_url_refused",
    "`url` is an http(s) URL without credentials whose host resolves to a public address (a "
    "private, loopback or link-local one only where the endpoint allows it and the server "
    "permits that), checked when it is set and again at every delivery (`details.url`).",
)
EVENT_TYPES = Rule(
    "invalid_claim_value",
    "`event_types` names known event types (or `*`), and only those its format can carry.",
    ("event_types",),
)
CURSOR = Rule("invalid_cursor", "`cursor` is a `next_cursor` this listing returned (it is opaque).")
TTLS = Rule(
    "invalid_configuration",
    "`default_ttl_s` is at most `max_ttl_s`: the one sent, else the project's.",
    ("default_ttl_s",),
)
ROLE_NAME = Rule(
    "invalid_role",
    "The name is printable and not a preset's in any spelling (`host`, `co-host`, `CO_HOST`...).",
    ("name", "role"),
)
REVOCATION_TARGET = Rule(
    "invalid_claim_value",
    "Exactly one target: `jti`, `identity` (with `room` or not), `room`, `kid` or `issued_before`.",
    ("target",),
    in_schema=True,
)
ISSUED_BEFORE = Rule(
    "invalid_claim_value",
    "`issued_before` is not in the future (it would revoke tokens not issued yet, the caller's "
    "own included).",
    ("issued_before",),
)

_LIVEKIT = (
    HEADER,
    NESTING,
    printable("participant_identity", "room_name", "participant_name"),
    no_slash("room_name"),
    metadata("participant_metadata", "participant_attributes"),
)
RULES: dict[str, tuple[Rule, ...]] = {
    "create_token": (
        HEADER,
        NESTING,
        printable("identity", "room", "name", "kind"),
        no_slash("room"),
        metadata("metadata", "attributes"),
        TTL,
        ROLE,
        GRANT,
        DIALECT,
    ),
    "livekit_token": _LIVEKIT,
    "template_token": (
        HEADER,
        NESTING,
        printable("participantName", "roomName"),
        no_slash("roomName"),
    ),
    "sandbox_token": _LIVEKIT[1:],
    "verify_token": (HEADER, NESTING, PROJECT),
    "rtc_validate": (HEADER, PROJECT),
    "create_key": (HEADER, NESTING),
    "list_keys": (HEADER,),
    "get_key": (HEADER,),
    "delete_key": (HEADER,),
    "rotate_key": (HEADER, NESTING),
    "disable_key": (HEADER,),
    "create_room": (HEADER, NESTING, printable("customRoomId"), ROOM_METADATA),
    "list_rooms": (HEADER, CURSOR),
    "validate_room": (HEADER,),
    "get_room": (HEADER,),
    "deactivate_room": (HEADER,),
    "join_room": (HEADER, NESTING, PROJECT),
    "list_participants": (HEADER,),
    "list_lobby": (HEADER,),
    "admit_knock": (HEADER,),
    "reject_knock": (HEADER, NESTING),
    "mute_participant": (HEADER, NESTING),
    "request_unmute": (HEADER, NESTING),
    "remove_participant": (HEADER,),
    "update_participant": (HEADER, NESTING, ROLE, GRANT),
    "lock_room": (HEADER,),
    "unlock_room": (HEADER,),
    "get_session": (HEADER,),
    "leave_session": (HEADER,),
    "cancel_knock": (HEADER,),
    "refresh_session": (HEADER,),
    "list_bans": (HEADER,),
    "create_ban": (HEADER, NESTING, printable("identity")),
    "lift_ban": (HEADER,),
    "put_role": (HEADER, NESTING, ROLE_NAME, GRANT),
    "get_role": (HEADER,),
    "delete_role": (HEADER,),
    "list_roles": (HEADER,),
    "create_revocation": (
        HEADER,
        NESTING,
        REVOCATION_TARGET,
        ISSUED_BEFORE,
        printable("jti", "identity", "room", "kid"),
    ),
    "list_revocations": (HEADER,),
    "lift_revocation": (HEADER,),
    "get_project": (HEADER,),
    "update_project": (HEADER, NESTING, TTLS),
    "list_audit": (HEADER, CURSOR),
    "create_project": (HEADER, NESTING),
    "create_dashboard_link": (HEADER, NESTING),
    "create_webhook": (HEADER, NESTING, WEBHOOK_URL, EVENT_TYPES),
    "list_webhooks": (HEADER,),
    "get_webhook": (HEADER,),
    "update_webhook": (HEADER, NESTING, WEBHOOK_URL, EVENT_TYPES),
    "delete_webhook": (HEADER,),
    "rotate_webhook_secret": (HEADER, NESTING),
    "list_deliveries": (HEADER, CURSOR),
    "redeliver_webhook": (HEADER,),
    "healthz": (),
    "readyz": (),
    "metrics": (),
    "jwks": (),
}


def codes(operation_id: str) -> list[str]:
    """The codes ``operation_id`` may answer 400 with, sorted."""
    return sorted({rule.code for rule in RULES[operation_id]})


def excused(operation_id: str, code: str | None, field: object) -> bool:
    """Whether a 400 with ``code`` naming ``field`` is one of the operation's rules that its
    JSON Schema does not state (schema-valid data may meet those)."""
    rules = RULES[operation_id]
    return any(rule.covers(code or "", field) for rule in rules if not rule.in_schema)


def error_400(operation_id: str) -> dict[str, Any]:
    """The operation's documented 400 response: the error shape, ``error`` one of its codes."""
    schema = ErrorPublic.model_json_schema()  # the one error shape, with its error narrowed
    schema["properties"]["error"]["enum"] = codes(operation_id)
    schema["description"] = "The one error shape, `error` one of this operation's 400 codes."
    return {
        "description": "A rule the schema does not state (listed in the description)",
        "content": {"application/json": {"schema": schema}},
    }


def _note(rules: Sequence[Rule]) -> str:
    lines = ["**400** when one of these rules is broken (its code in `error`); the JSON Schema"]
    lines[0] += " cannot state them, unless marked:"
    lines += [
        f"- `{rule.code}`: {rule.text}{' (stated by the schema too)' if rule.in_schema else ''}"
        for rule in rules
    ]
    return "\n".join(lines)


def document_rules(routers: Sequence[APIRouter]) -> None:
    """Write each route's 400 rules into its description and its 400 response (idempotent).

    Raises KeyError for a route with no entry in :data:`RULES`.
    """
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            operation = route.operation_id or ""
            rules = RULES[operation]
            if not rules:
                continue
            note = _note(rules)
            if note not in route.description:
                route.description = f"{route.description.rstrip()}\n\n{note}"
            route.responses[400] = error_400(operation)


__all__ = ["RULES", "Rule", "codes", "document_rules", "error_400", "excused"]
