"""The client's errors, and the translation of the server's error documents into roomkey errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roomkey import errors
from roomkey.errors import RoomkeyError


class ClientError(RoomkeyError):
    """A failure on the client's side of the admission API."""

    code = "client_error"


class ConnectionFailedError(ClientError):
    """The server cannot be reached, or the connection failed mid-way (``details.reason``)."""

    code = "connection_failed"


class StreamClosedError(ClientError):
    """The server closed the event stream without saying why (``details.close_code``)."""

    code = "stream_closed"


class WaitTimeoutError(ClientError):
    """No lobby decision arrived within the wait (``details.timeout_s``)."""

    code = "wait_timeout"


class NotJoinedError(ClientError):
    """A call that needs a session (events, refresh, leave) before :meth:`RoomClient.join`."""

    code = "not_joined"


class RemoteError(RoomkeyError):
    """A server error whose code this client does not know; ``code`` is the server's."""

    code = "remote_error"

    def __init__(self, message: str, code: str, **details: Any) -> None:
        super().__init__(message, **details)
        # the server's code, not the class's: callers compare error.code with the API's docs
        object.__setattr__(self, "code", code)


def _classes_by_code() -> dict[str, type[RoomkeyError]]:
    found: dict[str, type[RoomkeyError]] = {}
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, RoomkeyError):
            found[cls.code] = cls
    return found


_BY_CODE = _classes_by_code()


def server_error(document: object, status: int | None = None) -> RoomkeyError:
    """The roomkey error for an error document ``{"error", "message", "details"}``."""
    body = document if isinstance(document, Mapping) else {}
    raw = body.get("details")
    return error_for(
        str(body.get("error") or f"http_{status}"),
        str(body.get("message") or f"the server answered HTTP {status}"),
        dict(raw) if isinstance(raw, Mapping) else {},
        status,
    )


def error_for(
    code: str, message: str, details: Mapping[str, Any] | None = None, status: int | None = None
) -> RoomkeyError:
    """The roomkey error class of ``code`` (a :class:`RemoteError` for an unknown one)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return RemoteError(message, code, status=status, **(details or {}))
    return cls(message, **(details or {}))
