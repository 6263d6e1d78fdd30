"""One error tree for roomkey: every failure a caller can see, each with a stable ``code``.

Codes are part of the public contract (the server returns them, scripts match on them); messages
are for humans and may be reworded. No message ever contains a secret, a whole token, or which
part of a signature check failed. The server's errors live here too, so that codes are unique
across the tree; the HTTP status of each code is in one table, ``roomkey.api.errors.HTTP_STATUS``
(listed in docs/api.md), and :meth:`RoomkeyError.to_dict` is the one writer of the JSON body.
"""

from __future__ import annotations

from typing import Any, ClassVar


class RoomkeyError(Exception):
    """Root of every roomkey error. ``code`` is stable; ``details`` is JSON-safe context."""

    code: ClassVar[str] = "roomkey_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """The error as the one JSON shape roomkey uses everywhere (its only builder)."""
        return {"error": self.code, "message": self.message, "details": self.details}


# ---- configuration and input errors (raised while building grants, keys or tokens) ----------


class ConfigurationError(RoomkeyError):
    """A setting or argument is out of range or inconsistent."""

    code = "invalid_configuration"


class InvalidGrantError(RoomkeyError):
    """A requested permission set is contradictory, misspelt or otherwise unusable."""

    code = "invalid_grant"


class InvalidRoleError(InvalidGrantError):
    """A role name is unknown or a custom role is malformed."""

    code = "invalid_role"


class InvalidClaimValueError(RoomkeyError):
    """A claim given to the minter (identity, room, name, attributes, TTL...) is not acceptable."""

    code = "invalid_claim_value"


class MetadataTooLargeError(InvalidClaimValueError):
    """Metadata (or attributes) over 5,120 characters as text (a string's own, else its JSON)."""

    code = "metadata_too_large"


class NestedTooDeepError(InvalidClaimValueError):
    """A JSON value nests objects and arrays deeper than a token may carry."""

    code = "nested_too_deep"


class UnsupportedByDialectError(RoomkeyError):
    """A wire format cannot express a field of the grant; nothing is silently dropped."""

    code = "unsupported_by_dialect"


class KeyMaterialError(RoomkeyError):
    """Base for key problems (each raised one has a more precise code)."""

    code = "key_error"


class WeakKeyError(KeyMaterialError):
    """A key is too weak to load: an HMAC secret under 32 bytes, an RSA key under 2048 bits."""

    code = "weak_key"


class InvalidKeyError(KeyMaterialError):
    """Key material cannot be parsed or does not fit the algorithm it is bound to."""

    code = "invalid_key"


class UnknownKeyIdError(KeyMaterialError):
    """A key ring has no key under that id (raised by key management, never by verification)."""

    code = "unknown_key_id"


# ---- verification errors --------------------------------------------------------------------


class TokenError(RoomkeyError):
    """Base for every reason a token is refused."""

    code = "invalid_token"


class TokenTooLargeError(TokenError):
    """The token is longer than the verifier's size cap; nothing was decoded."""

    code = "token_too_large"


class MalformedTokenError(TokenError):
    """Not a strict compact JWS: dots, base64url, UTF-8 or JSON are wrong."""

    code = "malformed"


class ForbiddenHeaderError(TokenError):
    """The header carries a parameter roomkey never honours (crit, jku, jwk, x5u, x5c, zip, ...)."""

    code = "forbidden_header"


class DisallowedAlgorithmError(TokenError):
    """The header's ``alg`` is not the algorithm bound to the key (``none`` never is)."""

    code = "disallowed_algorithm"


class BadSignatureError(TokenError):
    """The signature does not verify with a known key. Deliberately the same for an unknown key."""

    code = "bad_signature"


class InvalidClaimsError(TokenError):
    """A registered or dialect claim is missing or has the wrong type or value."""

    code = "invalid_claims"


class MissingClaimError(InvalidClaimsError):
    """A required claim (``exp``, ``sub``, ``jti``...) is absent."""

    code = "missing_claim"


class TokenExpiredError(TokenError):
    """``exp`` is in the past, beyond the leeway."""

    code = "expired"


class TokenNotYetValidError(TokenError):
    """``nbf`` or ``iat`` is in the future beyond the leeway (often a clock out of step)."""

    code = "not_yet_valid"


class LifetimeTooLongError(TokenError):
    """``exp`` lies further ahead than the verifier's maximum lifetime."""

    code = "lifetime_too_long"


class WrongIssuerError(TokenError):
    """``iss`` is not the one the verifier expects."""

    code = "wrong_issuer"


class WrongAudienceError(TokenError):
    """``aud`` is not the one the verifier expects."""

    code = "wrong_audience"


class WrongScopeError(TokenError):
    """The token is of another kind (an API token used to join, a room token used for the API)."""

    code = "wrong_scope"


class WrongRoomError(TokenError):
    """The token is bound to another room (compared exactly, never normalised)."""

    code = "wrong_room"


class WrongIdentityError(TokenError):
    """The token is bound to another participant identity."""

    code = "wrong_identity"


class RevokedTokenError(TokenError):
    """The token matches a revocation (by jti, identity, room, key, or issued-before)."""

    code = "revoked"


class RoomInactiveError(TokenError):
    """The room the token names has been deactivated."""

    code = "room_inactive"


class UnknownRoomError(TokenError):
    """The room the token names does not exist and the project does not create rooms on use."""

    code = "unknown_room"


class WrongProjectError(TokenError):
    """A genuine token of another project than the one the verification is bound to."""

    code = "wrong_project"


# ---- server errors: callers, projects, storage (raised by roomkey's server) ----------------


class AuthenticationError(RoomkeyError):
    """No usable server token; ``details.reason`` holds the precise code."""

    code = "unauthorized"


class ForbiddenError(RoomkeyError):
    """A valid token that may not do this; ``details.missing`` names the capability."""

    code = "forbidden"


class ProjectRequiredError(RoomkeyError):
    """The server holds several projects and the verification names none."""

    code = "project_required"


class UnknownProjectError(RoomkeyError):
    """The verification names a project the server does not hold."""

    code = "unknown_project"


class AuditUnavailableError(RoomkeyError):
    """The audit row could not be written, so the token is not handed out."""

    code = "audit_unavailable"


class StoreError(RoomkeyError):
    """The database could not be reached, migrated, read or written."""

    code = "store_error"


class NotFoundError(StoreError):
    """What the request names (a project, key, room, role, sandbox, route...) does not exist."""

    code = "not_found"


class ConflictError(StoreError):
    """A write collides with an existing row: a duplicate id, kid, custom room id or jti."""

    code = "conflict"


class InvalidCursorError(StoreError):
    """A pagination cursor was not produced by this store (tampered, truncated or foreign)."""

    code = "invalid_cursor"


class NotReadyError(RoomkeyError):
    """The server cannot serve yet: its database does not answer."""

    code = "not_ready"


# ---- HTTP request errors (raised while the server reads a request) --------------------------


class InvalidSessionError(RoomkeyError):
    """A session credential that is malformed, forged, expired, or of a session that ended."""

    code = "invalid_session"


class InvalidRequestError(RoomkeyError):
    """The body is not JSON, or a field or parameter does not validate (``details.problems``)."""

    code = "validation_error"


class BodyTooLargeError(RoomkeyError):
    """The request body is over the server's cap (``details.limit``, in bytes)."""

    code = "body_too_large"


class DuplicateHeaderError(RoomkeyError):
    """A header that must appear once (``Authorization``) appears several times."""

    code = "duplicate_header"


class RateLimitedError(RoomkeyError):
    """Too many requests a minute; ``details.retry_after_s`` says when to try again."""

    code = "rate_limited"


class MethodNotAllowedError(RoomkeyError):
    """The path exists, but not with this method (the ``Allow`` header lists those it has)."""

    code = "method_not_allowed"


class MalformedRequestError(RoomkeyError):
    """The HTTP request itself cannot be read (request line, headers, framing, WS handshake)."""

    code = "malformed_request"


class HttpError(RoomkeyError):
    """Any other HTTP-level refusal, with the framework's own 4xx status."""

    code = "http_error"


class InternalServerError(RoomkeyError):
    """The server failed unexpectedly; the details are in its log, never in the answer."""

    code = "internal_error"


# ---- admission (joining a room, the lobby, moderation of live sessions) ---------------------


class AdmissionError(RoomkeyError):
    """Base for refusals of the admission server (each raised one has a more precise code)."""

    code = "admission_refused"


class RejectedError(AdmissionError):
    """A moderator rejected the knock (``details.reason`` when one was given)."""

    code = "rejected"


class BannedError(AdmissionError):
    """The identity is banned from the room: no admission and no new token until it is lifted.

    ``details.room`` and ``details.identity`` say which ban.
    """

    code = "banned"


class RoomLockedError(AdmissionError):
    """The room is locked and this join cannot wait in its lobby."""

    code = "room_locked"


class RoomFullError(AdmissionError):
    """The room holds its maximum of admitted participants (``details.max_participants``)."""

    code = "room_full"


class AdmissionUnavailableError(AdmissionError):
    """Live admission cannot act now: the nodes' Redis does not answer, or the node holding the
    session does not (``details.reason``: ``redis_unreachable``, ``node_unreachable``)."""

    code = "admission_unavailable"


class AlreadyDecidedError(AdmissionError):
    """A knock was already admitted, rejected, cancelled or expired: the first decision won."""

    code = "already_decided"


class NotInRoomError(AdmissionError):
    """No live session of that identity (or id) is in the room."""

    code = "not_in_room"


class ModerationRefusedError(AdmissionError):
    """A moderation rule forbids the change (granting more than one holds, acting on the host,
    moderating oneself up); ``details.rule`` names it."""

    code = "moderation_refused"


# ---- live event streams (WebSocket frames a client sends) -----------------------------------


class BadFrameError(RoomkeyError):
    """A WebSocket message that is not a JSON object with a string ``type``."""

    code = "bad_frame"


class UnknownMessageTypeError(BadFrameError):
    """A WebSocket message whose ``type`` the server does not know (``details.type``)."""

    code = "unknown_message_type"


class FrameTooLargeError(BadFrameError):
    """A WebSocket message over the stream's cap (``details.limit``, in bytes)."""

    code = "frame_too_large"


# ---- webhooks: receiving them (roomkey.webhooks.verify) and registering endpoints ---------


class WebhookError(RoomkeyError):
    """A webhook could not be registered, sent or verified."""

    code = "webhook_error"


class WebhookUrlRefusedError(WebhookError):
    """An endpoint URL roomkey will not post to: not http(s), credentials in it, or a host that
    resolves to a private, loopback or link-local address (``details.address``) where that is
    not allowed."""

    code = "webhook_url_refused"


class WebhookVerificationError(WebhookError):
    """A received webhook failed verification (raised by :func:`roomkey.webhooks.verify`)."""

    code = "webhook_invalid"


class WebhookHeaderError(WebhookVerificationError):
    """A Standard Webhooks header is missing or malformed (``details.header``)."""

    code = "webhook_bad_header"


class WebhookTimestampError(WebhookVerificationError):
    """``webhook-timestamp`` is outside the replay window (``details.age_s``, negative when in
    the future; ``details.tolerance_s``): a replay, or a clock that is off."""

    code = "webhook_timestamp_out_of_window"


class WebhookSignatureError(WebhookVerificationError):
    """No ``v1`` signature matches the body with any of the given secrets."""

    code = "webhook_bad_signature"


__all__ = [
    "AdmissionError",
    "AdmissionUnavailableError",
    "AlreadyDecidedError",
    "AuditUnavailableError",
    "AuthenticationError",
    "BadFrameError",
    "BadSignatureError",
    "BannedError",
    "BodyTooLargeError",
    "ConfigurationError",
    "ConflictError",
    "DisallowedAlgorithmError",
    "DuplicateHeaderError",
    "ForbiddenError",
    "ForbiddenHeaderError",
    "FrameTooLargeError",
    "HttpError",
    "InternalServerError",
    "InvalidClaimValueError",
    "InvalidClaimsError",
    "InvalidCursorError",
    "InvalidGrantError",
    "InvalidKeyError",
    "InvalidRequestError",
    "InvalidRoleError",
    "InvalidSessionError",
    "KeyMaterialError",
    "LifetimeTooLongError",
    "MalformedRequestError",
    "MalformedTokenError",
    "MetadataTooLargeError",
    "MethodNotAllowedError",
    "MissingClaimError",
    "ModerationRefusedError",
    "NestedTooDeepError",
    "NotFoundError",
    "NotInRoomError",
    "NotReadyError",
    "ProjectRequiredError",
    "RateLimitedError",
    "RejectedError",
    "RevokedTokenError",
    "RoomFullError",
    "RoomInactiveError",
    "RoomLockedError",
    "RoomkeyError",
    "StoreError",
    "TokenError",
    "TokenExpiredError",
    "TokenNotYetValidError",
    "TokenTooLargeError",
    "UnknownKeyIdError",
    "UnknownMessageTypeError",
    "UnknownProjectError",
    "UnknownRoomError",
    "UnsupportedByDialectError",
    "WeakKeyError",
    "WebhookError",
    "WebhookHeaderError",
    "WebhookSignatureError",
    "WebhookTimestampError",
    "WebhookUrlRefusedError",
    "WebhookVerificationError",
    "WrongAudienceError",
    "WrongIdentityError",
    "WrongIssuerError",
    "WrongProjectError",
    "WrongRoomError",
    "WrongScopeError",
]
