"""Ready-to-paste code for what the playground did: mint the same token from a backend (curl,
Python) and join its room from a browser (JavaScript). No credential is ever written in them:
they read ``$ROOMKEY_TOKEN`` (a server token with tokens:issue) and the token minted."""

from __future__ import annotations

import json
import pprint
from typing import Any


def snippets(origin: str, body: dict[str, Any]) -> dict[str, str]:
    """``{"curl", "python", "javascript"}`` for a ``POST /v1/tokens`` with ``body``."""
    compact = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    room = body.get("room") or "ROOM"
    return {
        "curl": _curl(origin, compact),
        "python": _python(origin, body),
        "javascript": _javascript(origin, str(room)),
    }


def _curl(origin: str, compact: str) -> str:
    quoted = "'" + compact.replace("'", "'\\''") + "'"
    return (
        f'curl -X POST "{origin}/v1/tokens" \\\n'
        '     -H "Authorization: Bearer $ROOMKEY_TOKEN" \\\n'
        '     -H "Content-Type: application/json" \\\n'
        f"     -d {quoted}"
    )


def _python(origin: str, body: dict[str, Any]) -> str:
    pretty = pprint.pformat(body, indent=4, width=88, sort_dicts=False)
    return (
        "import os\n\nimport httpx\n\n"
        "answer = httpx.post(\n"
        f'    "{origin}/v1/tokens",\n'
        '    headers={"Authorization": "Bearer " + os.environ["ROOMKEY_TOKEN"]},\n'
        f"    json={pretty.replace(chr(10), chr(10) + '    ')},\n"
        ")\n"
        "answer.raise_for_status()\n"
        'token = answer.json()["token"]'
    )


def _javascript(origin: str, room: str) -> str:
    return (
        "// token: the one minted above, handed to this browser by your backend\n"
        f"const room = {json.dumps(room)};\n"
        "const answer = await fetch(\n"
        f"  `{origin}/v1/rooms/${{encodeURIComponent(room)}}/join`,\n"
        '  { method: "POST", headers: { Authorization: `Bearer ${token}` } },\n'
        ");\n"
        "const session = await answer.json(); // admitted, or waiting in the lobby"
    )
