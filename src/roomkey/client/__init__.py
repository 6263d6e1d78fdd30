"""An asyncio client for roomkey's admission API: join, wait in the lobby, watch events, moderate.

::

    async with RoomClient("https://roomkey.example") as client:
        joined = await client.join("standup", participant_token)
        if joined.status == "waiting":
            admitted = await client.wait_admitted(timeout_s=300)
        async for event in client.events():
            ...

Every failure is a :class:`~roomkey.errors.RoomkeyError`, translated once, here: an error answer
of the server becomes the roomkey error class of its code (``error.code`` is the server's code,
``error.details`` its details; a code this version does not know is a :class:`RemoteError`
carrying it), and a network or protocol failure is a :class:`ConnectionFailedError`. No httpx or
websockets exception reaches the caller. ``websockets`` is imported only by :meth:`events`.

The event stream authenticates with its first message (the credential is never in the URL)
and, when the server drops it for a reason worth retrying (slow consumer, server error, lost
connection), reconnects with ``since`` = the last ``seq`` seen, so no event is missed.
"""

from roomkey.client._errors import (
    ClientError,
    ConnectionFailedError,
    NotJoinedError,
    RemoteError,
    StreamClosedError,
    WaitTimeoutError,
    error_for,
    server_error,
)
from roomkey.client._room import JoinResult, RoomClient

__all__ = [
    "ClientError",
    "ConnectionFailedError",
    "JoinResult",
    "NotJoinedError",
    "RemoteError",
    "RoomClient",
    "StreamClosedError",
    "WaitTimeoutError",
    "error_for",
    "server_error",
]
