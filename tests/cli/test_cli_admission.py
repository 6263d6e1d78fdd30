"""``roomkey rooms participants|lobby|admit|reject|mute|remove|lock|unlock``: the request each
command sends and how it shows the answer.

Their routes are the admission API's; here they are answered by a small recording HTTP server,
so these tests pin the wire contract of the commands (method, path, query, body, credentials,
the error line), not the server's behaviour (the end-to-end suite covers that).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cli_support import one_error_line
from remote_support import Server, ok, run

PARTICIPANT = {"identity": "alice", "name": "Alice", "role": "host", "joined_at": 1_795_000_000}
KNOCK = {"session_id": "ses_1", "identity": "guest", "position": 1}


@dataclass
class Seen:
    """One request the recording server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None


@dataclass
class Recorder:
    """What the server answers per path (default ``{}``), and every request it got."""

    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            auth = self.headers.get("Authorization")
            recorder.seen.append(Seen(self.command, url.path, parse_qs(url.query), body, auth))
            status, document = recorder.answers.get(url.path, (200, {}))
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    return Handler


@pytest.fixture
def recorder(tmp_path: Path) -> Iterator[tuple[Server, Recorder]]:
    record = Recorder()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(record))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield Server(url, tmp_path, tmp_path / "log", admin_token=""), record
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("args", "method", "path", "query", "body"),
    [
        (["participants", "weekly"], "GET", "/v1/rooms/weekly/participants", {}, None),
        (["lobby", "weekly"], "GET", "/v1/rooms/weekly/lobby", {}, None),
        (["admit", "weekly", "ses_1"], "POST", "/v1/rooms/weekly/lobby/ses_1/admit", {}, {}),
        (["reject", "weekly", "ses_1"], "POST", "/v1/rooms/weekly/lobby/ses_1/reject", {}, {}),
        (
            ["reject", "weekly", "ses_1", "--reason", "not today"],
            "POST",
            "/v1/rooms/weekly/lobby/ses_1/reject",
            {},
            {"reason": "not today"},
        ),
        (
            ["mute", "weekly", "bob", "--sources", "mic, cam"],
            "POST",
            "/v1/rooms/weekly/participants/bob/mute",
            {},
            {"sources": ["mic", "cam"]},
        ),
        (["remove", "weekly", "bob"], "DELETE", "/v1/rooms/weekly/participants/bob", {}, None),
        (
            ["remove", "weekly", "bob", "--ban"],
            "DELETE",
            "/v1/rooms/weekly/participants/bob",
            {"ban": ["true"]},
            None,
        ),
        (["lock", "weekly"], "POST", "/v1/rooms/weekly/lock", {}, {}),
        (["unlock", "weekly"], "POST", "/v1/rooms/weekly/unlock", {}, {}),
    ],
)
def test_each_command_sends_its_request(
    recorder: tuple[Server, Recorder],
    args: list[str],
    method: str,
    path: str,
    query: dict[str, list[str]],
    body: Any,
) -> None:
    server, record = recorder
    ok(server, "rooms", *args, "--token", "a-server-token")
    (seen,) = record.seen
    assert (seen.method, seen.path, seen.query, seen.body) == (method, path, query, body)
    assert seen.authorization == "Bearer a-server-token"


def test_room_names_are_sent_as_one_encoded_path_segment(
    recorder: tuple[Server, Recorder],
) -> None:
    server, record = recorder
    ok(server, "rooms", "mute", "week ly", "bob@example.com", "--sources", "mic")
    assert record.seen[0].path == "/v1/rooms/week%20ly/participants/bob%40example.com/mute"
    refused = run(server, ["rooms", "admit", "weekly", "../keys"])
    assert refused.exit_code == 2 and one_error_line(refused).endswith("[usage_error]")
    assert len(record.seen) == 1  # nothing sent for the refused one


def test_participants_and_lobby_as_tables_and_json(recorder: tuple[Server, Recorder]) -> None:
    server, record = recorder
    # the server's shapes: {"data": [...]} (ParticipantsPublic, LobbyPublic)
    record.answers["/v1/rooms/weekly/participants"] = (200, {"data": [PARTICIPANT]})
    record.answers["/v1/rooms/weekly/lobby"] = (200, {"data": [KNOCK]})
    table = ok(server, "rooms", "participants", "weekly").stdout
    assert "IDENTITY" in table and "Alice" in table and "2026-" in table
    document = json.loads(ok(server, "rooms", "participants", "weekly", "--json").stdout)
    assert document == {"data": [PARTICIPANT]}
    lobby = ok(server, "rooms", "lobby", "weekly").stdout
    assert "SESSION" in lobby and "ses_1" in lobby and "guest" in lobby
    record.answers["/v1/rooms/weekly/lobby"] = (200, {"data": []})
    assert "nobody is waiting" in ok(server, "rooms", "lobby", "weekly").stdout


def test_a_refusal_is_the_servers_error_line_and_exit_1(
    recorder: tuple[Server, Recorder],
) -> None:
    server, record = recorder
    conflict = {"error": "conflict", "message": "already admitted", "details": {}}
    record.answers["/v1/rooms/weekly/lobby/ses_1/admit"] = (409, conflict)
    result = run(server, ["rooms", "admit", "weekly", "ses_1"])
    assert result.exit_code == 1
    assert one_error_line(result) == "error: already admitted [conflict]"


@pytest.mark.parametrize("sources", ["", " , "])
def test_mute_needs_at_least_one_source(recorder: tuple[Server, Recorder], sources: str) -> None:
    server, record = recorder
    result = run(server, ["rooms", "mute", "weekly", "bob", "--sources", sources])
    assert result.exit_code == 2 and one_error_line(result).endswith("[usage_error]")
    assert record.seen == []
